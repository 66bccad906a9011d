"""Symbolic links out of a file source's root, at every reader (not only the inventory), and Data Docs
built by several processes at once.

* The reader: ``read_table(path, root=...)`` refuses a file whose resolved target is outside the
  root, naming the file; a link that stays inside is read.
* Quality: a supplier's day file (or a whole supplier folder) linked from outside the landing root is
  not validated: its partition is an error naming the file, no expectation result and no Data Docs
  page holds its values; the other suppliers are validated as usual.
* Profiling: a link that was inside the root at inventory time and re-pointed outside before the
  profile is not followed: the profile records an error naming the file.
* Data Docs: the build holds an exclusive lock on ``<state>/gx/data_docs.lock`` (Linux ``flock``),
  so concurrent quality runs never interleave their writes of the one site.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.db import records

from assay.config import Settings
from assay.errors import SourceError
from assay.sources.files import read_table

DAY = dt.date(2026, 11, 20)
GOOD = "sku,price\nA-1,1.5\nA-2,2.5\n"
SECRET = "sku,price\nhunter2-sku,99.5\n"
REFUSED = "a symbolic link to a path outside the source root: not followed"


def write(folder: Path, name: str, data: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    return path


# ---- the reader ---------------------------------------------------------------------------------
def test_read_table_refuses_a_link_leading_outside_its_root(tmp_path: Path) -> None:
    secret = write(tmp_path / "outside", "secret.csv", SECRET)
    root = tmp_path / "landing"
    inner = write(root, "sub/inner.csv", GOOD)
    (root / "alias.csv").symlink_to(inner)
    (root / "link.csv").symlink_to(secret)
    (root / "dir").symlink_to(secret.parent)

    assert read_table(root / "alias.csv", root=root).num_rows == 2
    for name in ("link.csv", "dir/secret.csv"):
        with pytest.raises(SourceError) as info:
            read_table(root / name, root=root)
        assert str(info.value) == f"{root / name}: {REFUSED}"
    with pytest.raises(SourceError, match="sub/gone.csv: cannot read"):
        read_table(root / "sub" / "gone.csv", root=root)
    (root / "loop.csv").symlink_to(root / "loop.csv")
    with pytest.raises(SourceError, match="loop.csv: cannot read"):
        read_table(root / "loop.csv", root=root)
    # Without a root nothing is checked (a file given on the command line).
    assert read_table(root / "link.csv").num_rows == 1


# ---- quality ------------------------------------------------------------------------------------
SUITE = {
    "name": "feeds",
    "meta": {"assay": {"source": "feeds", "files": "feeds/*/{day}/products.*"}},
    "expectations": [
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "sku", "regex": "^A-[0-9]+$"},
         "meta": {"name": "sku_format", "dimension": "validity", "severity": "critical"}},
    ],
}


def _world(catalog_url: str, tmp_path: Path) -> tuple[Settings, Path, Path]:
    """A landing root with one honest supplier, a secret file outside, the sources and a suite."""
    root = tmp_path / "landing"
    write(root, f"feeds/acme/{DAY}/products.csv", GOOD)
    secret = write(tmp_path / "outside", f"rogue/{DAY}/products.csv", SECRET)
    decls = tmp_path / "sources.yaml"
    decls.write_text(yaml.safe_dump({"sources": [
        {"name": "feeds", "kind": "files", "root": str(root), "patterns": ["feeds/*/*/products.csv"]},
    ]}))
    (tmp_path / "expectations").mkdir()
    (tmp_path / "expectations" / "feeds.json").write_text(json.dumps(SUITE))
    settings = Settings(home=tmp_path / "state", database_url=catalog_url, sources_file=decls, landing_dir=root)
    return settings, root, secret


def _docs_text(settings: Settings) -> str:
    from assay.config import data_docs_dir

    return "".join(p.read_text(errors="replace") for p in data_docs_dir(settings.state_dir).rglob("*.html"))


@pytest.mark.integration
def test_quality_does_not_validate_a_feed_linked_from_outside_the_root(catalog_url: str, tmp_path: Path) -> None:
    from assay.quality import run_quality

    settings, root, secret = _world(catalog_url, tmp_path)
    (root / f"feeds/evil/{DAY}").mkdir(parents=True)
    (root / f"feeds/evil/{DAY}/products.csv").symlink_to(secret)  # a day file linked out
    (root / "feeds/rogue").symlink_to(secret.parents[1])  # a whole supplier folder linked out

    report = run_quality(settings, DAY, "test/links", suites=tmp_path / "expectations", raise_on_failure=False)
    by_target = {p.target: p for p in report.partitions}
    assert by_target["feeds/acme"].status == "ok"
    assert by_target["feeds/evil"].error == f"feeds/evil/{DAY}/products.csv: {REFUSED}"
    assert by_target["feeds/rogue"].error == f"feeds/rogue: {REFUSED}"
    rows = records(catalog_url, """
        SELECT a.namespace, r.status, r.error, r.data_docs_url,
               (SELECT count(*) FROM expectation_results e WHERE e.quality_run_id = r.id) AS results
        FROM quality_runs r JOIN assets a ON a.id = r.asset_id""")
    stored = {r["namespace"].split("/")[1]: r for r in rows}
    assert stored["acme"]["status"] == "ok" and stored["acme"]["results"] == 1
    for supplier in ("evil", "rogue"):
        assert stored[supplier]["status"] == "error", supplier
        assert REFUSED in stored[supplier]["error"]
        assert stored[supplier]["results"] == 0 and stored[supplier]["data_docs_url"] is None
    assert "hunter2" not in json.dumps(rows, default=str)
    assert "hunter2" not in _docs_text(settings)


# ---- profiling ----------------------------------------------------------------------------------
@pytest.mark.integration
def test_profile_does_not_follow_a_link_repointed_outside_after_the_inventory(
    catalog_url: str, tmp_path: Path
) -> None:
    from assay.inventory import run_inventory
    from assay.profiling import run_profile
    from assay.profiling.report import ProfilingError

    settings, root, secret = _world(catalog_url, tmp_path)
    alias = root / f"feeds/alias/{DAY}/products.csv"
    alias.parent.mkdir(parents=True)
    alias.symlink_to(root / f"feeds/acme/{DAY}/products.csv")  # inside the root: inventoried
    run_inventory(settings, DAY, "test/inventory", use_embeddings=False)
    alias.unlink()
    alias.symlink_to(secret)  # re-pointed outside after the inventory

    with pytest.raises(ProfilingError):
        run_profile(settings, DAY, "test/profile")
    rows = records(catalog_url, """
        SELECT a.location, r.status, r.error, r.row_count FROM profile_runs r JOIN assets a ON a.id = r.asset_id""")
    found = {r["location"]: r for r in rows}
    assert found[f"feeds/acme/{DAY}/products.csv"]["status"] == "success"
    bad = found[f"feeds/alias/{DAY}/products.csv"]
    assert bad["status"] == "failed" and bad["row_count"] is None
    assert bad["error"] == f"{alias}: {REFUSED}"
    metrics = records(catalog_url, "SELECT * FROM column_metrics")
    assert "hunter2" not in json.dumps(metrics, default=str)


# ---- Data Docs ----------------------------------------------------------------------------------
class _RecordingContext:
    """Stands in for GX's context: records whether another opener could take the docs lock mid-build."""

    def __init__(self, lock_path: Path) -> None:
        self.lock_path = lock_path
        self.locked_during_build: bool | None = None

    def build_data_docs(self, **_: Any) -> None:
        with self.lock_path.open("a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.locked_during_build = True
            else:
                self.locked_during_build = False
                fcntl.flock(fh, fcntl.LOCK_UN)


def _session(docs_dir: Path, context: Any) -> Any:
    from assay.quality.gxrun import GxSession

    gx = GxSession.__new__(GxSession)  # no GX context: only build_docs is under test
    gx.docs_dir, gx.context, gx._suites, gx.built = docs_dir, context, {}, []
    return gx


def test_data_docs_build_holds_an_exclusive_lock_and_waits_for_another(tmp_path: Path) -> None:
    from assay.quality.gxrun import docs_lock_path

    docs = tmp_path / "gx" / "data_docs"
    docs.mkdir(parents=True)
    lock = docs_lock_path(docs)
    assert lock.parent == docs.parent and not lock.is_relative_to(docs)  # never served with the site
    context = _RecordingContext(lock)
    gx = _session(docs, context)
    gx.build_docs()
    assert context.locked_during_build is True

    # Another process holds the lock: the build waits for it.
    context.locked_during_build = None
    with lock.open("a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        worker = threading.Thread(target=gx.build_docs)
        worker.start()
        worker.join(0.5)
        assert worker.is_alive() and context.locked_during_build is None
        fcntl.flock(other, fcntl.LOCK_UN)
    worker.join(10)
    assert not worker.is_alive() and context.locked_during_build is True
    # Released after the build: the next opener takes it at once.
    with lock.open("a") as after:
        fcntl.flock(after, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert os.path.exists(lock)
