"""`assay promote`, `assay registry history` and `assay registry rollback` as real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_gate_run import GOOD, MODEL, NOW, POLICY, rows, shop_urls, world  # noqa: F401  (fixtures)

from assay import names

pytestmark = pytest.mark.integration

ASSAY = str(Path(sys.executable).with_name("assay"))


def assay(w, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ASSAY_DATABASE_URL": w.settings.catalog_url(),
        "MLFLOW_TRACKING_URI": w.settings.mlflow_uri(),
        "ASSAY_SHOP_URL": w.settings.shop_database_url(),
    }
    return subprocess.run([ASSAY, *args], capture_output=True, text=True, timeout=300, env=env)


def test_promote_dry_run_then_for_real_then_history_and_rollback(world, tmp_path):  # noqa: F811
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    v1 = world.candidate(GOOD)
    common = ["--policy", str(policy), "--now", NOW.isoformat(), "--actor", "jane"]

    dry = assay(world, "promote", MODEL, v1, "--dry-run", *common)
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stdout and "decision: pass" in dry.stdout
    header = dry.stdout.splitlines()[1].split()
    assert header == ["CHECK", "OBSERVED", "THRESHOLD", "VERDICT"]
    assert any(line.startswith("quality.critical") and line.rstrip().endswith("pass") for line in dry.stdout.splitlines())
    assert rows(world.catalog, "SELECT count(*) FROM gate_decisions") == [(0,)]
    assert names.CHAMPION not in world.aliases()

    real = assay(world, "promote", MODEL, v1, *common)
    assert real.returncode == 0, real.stderr
    assert "decision #1" in real.stdout and f"champion: v{v1}" in real.stdout

    v2 = world.candidate({**GOOD, "ndcg_at_10": 0.5})
    refused = assay(world, "promote", MODEL, v2, *common)
    assert refused.returncode == 1, refused.stderr
    assert "FAIL" in refused.stdout and "decision: fail" in refused.stdout
    assert "regresses against champion" in refused.stdout

    bad_rollback = assay(world, "registry", "rollback", MODEL, "--to", v2)
    assert bad_rollback.returncode == 2
    assert f"v{v2} has no recorded passing gate decision" in bad_rollback.stderr
    assert world.aliases()[names.CHAMPION] == v1

    hist = assay(world, "registry", "history", MODEL)
    assert hist.returncode == 0, hist.stderr
    lines = hist.stdout.splitlines()
    assert lines[0].split()[:5] == ["MOVED_AT", "ALIAS", "FROM", "TO", "DECISION"]
    moves = [(ln.split()[2], ln.split()[3], ln.split()[4], ln.split()[5]) for ln in lines[1:]]
    assert moves == [("challenger", "-", f"v{v1}", "#1"), ("champion", "-", f"v{v1}", "#1"),
                     ("challenger", f"v{v1}", f"v{v2}", "#2")]
    assert all("jane" in ln for ln in lines[1:])


def test_bad_policy_file_is_a_clear_error(world, tmp_path):  # noqa: F811
    policy = tmp_path / "policy.yaml"
    policy.write_text("metrics:\n  - {metric: ndcg, threshold: 0.3}\n")
    res = assay(world, "promote", MODEL, "1", "--policy", str(policy))
    assert res.returncode == 2
    assert f"{policy}: metrics[0].metric: unknown metric 'ndcg'" in res.stderr
