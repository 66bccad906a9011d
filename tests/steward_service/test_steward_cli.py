"""``assay steward …`` end to end (#15 item 2): the queue, ack/assign/resolve (with a waiver), waive,
waivers, revoke, override and audit through Typer's CliRunner on a real catalog; bad input through
the real ``assay`` executable is one line ``assay: error: …`` and exit 2."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from steward_service.test_steward_service import DAY, failure_item
from support.db import rows
from typer.testing import CliRunner

pytestmark = pytest.mark.integration

ASSAY = str(Path(sys.executable).with_name("assay"))


@pytest.fixture
def cli(gate_world, monkeypatch):
    """Run ``assay steward ARGS`` in-process against the world's catalog; returns (exit code, output)."""
    from assay.cli import steward
    from assay.cli.app import app

    monkeypatch.setattr(steward, "get_settings", lambda: gate_world.settings)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        res = runner.invoke(app, ["steward", *args], catch_exceptions=False)
        return res.exit_code, res.output

    return run


def test_the_queue_and_an_item_from_ack_to_resolve_with_a_waiver(gate_world, cli):
    w = gate_world
    item = failure_item(w)
    code, out = cli("items", "--kind", "quality_failure")
    assert code == 0 and f"{item}" in out and "quality_failure" in out and "new" in out and "1-1 of 1" in out
    assert cli("ack", str(item), "--actor", "ana") == (0, f"review item {item} (quality_failure, "
                                                          "public.search_sessions): acknowledged\n")
    code, out = cli("assign", str(item), "bob", "--actor", "ana")
    assert code == 0 and "assigned to bob" in out
    assert "bob" in cli("items", "--assignee", "bob")[1]
    until = (DAY + dt.timedelta(days=7)).isoformat()
    code, out = cli("resolve", str(item), "--reason", "expected", "--comment", "known outage",
                    "--waive-until", until, "--actor", "bob")
    assert code == 0 and "resolved expected by bob: known outage" in out and "waiver #" in out
    assert cli("items")[1] == "no open review items match\n"

    code, out = cli("waivers")
    assert code == 0 and "query_not_null" in out and until in out and "known outage" in out
    (wid,) = [r[0] for r in rows(w.catalog, "SELECT id FROM waivers")]
    code, out = cli("audit", "--item", str(item))
    assert code == 0 and [ln.split()[4] for ln in out.splitlines()[1:]] == ["resolve", "assign", "acknowledge"]
    code, out = cli("revoke", str(wid), "--actor", "lead", "--comment", "fixed")
    assert code == 0 and f"waiver #{wid} (query_not_null on public.search_sessions) revoked by lead" in out
    assert cli("waivers")[1] == "no waivers\n" and "lead" in cli("waivers", "--all")[1]
    code, out = cli("audit")
    assert code == 0 and "revoke_waiver" in out and "waive " in out


def test_waive_and_override_commands(gate_world, cli):
    w = gate_world
    w.dataset()
    code, out = cli("waive", "search_sessions", "search_sessions", "query_not_null", "--from", DAY.isoformat(),
                    "--until", (DAY + dt.timedelta(days=3)).isoformat(), "--reason", "backfill pending",
                    "--actor", "ana")
    assert code == 0 and out.startswith("waiver #") and "by ana" in out
    assert rows(w.catalog, "SELECT created_by, reason FROM waivers") == [("ana", "backfill pending")]
    from support.db import execute

    execute(w.catalog, "INSERT INTO asset_columns (asset_id, name, ordinal, data_type, nullable) "
                       "VALUES (:a, 'device', 1, 'text', true)", a=w.asset_ids["search_sessions"])
    code, out = cli("override", "public.search_sessions", "device", "--kind", "semantic", "--label", "category",
                    "--reason", "device family", "--actor", "ana")
    assert code == 0 and "steward label category; effective category" in out, out
    assert rows(w.catalog, "SELECT label, decided_by FROM classifications WHERE source = 'steward'") == [
        ("category", "ana")]


def test_bad_input_is_one_line_and_exit_2(gate_world, tmp_path):
    w = gate_world
    item = failure_item(w)
    env = {**os.environ, "ASSAY_DATABASE_URL": w.catalog, "ASSAY_HOME": str(tmp_path / "state"),
           "ASSAY_LOG_LEVEL": "WARNING"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ASSAY, "steward", *args], capture_output=True, text=True, timeout=300, env=env)

    res = run("resolve", str(item), "--reason", "other")
    assert res.returncode == 2
    assert res.stderr == f"assay: error: review item {item}: resolving with reason 'other' needs a comment\n"
    res = run("ack", "424242")
    assert (res.returncode, res.stderr) == (2, "assay: error: no review item with id 424242\n")
    res = run("waive", "search_sessions", "search_sessions", "query_not_null", "--from", "2026-11-04",
              "--until", "someday", "--reason", "x")
    assert (res.returncode, res.stderr) == (2, "assay: error: not a date (YYYY-MM-DD): 'someday'\n")
    assert rows(w.catalog, "SELECT count(*) FROM steward_audit") == [(0,)]
    res = run("items", "--status", "open")
    assert res.returncode == 0 and str(item) in res.stdout
