"""Suggested expectations from profile history: proposal file, steward accepts or rejects."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from assay.errors import ConfigError

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DAY0 = dt.date(2026, 11, 1)


def profile_history(url: str, table: str, runs: list[tuple[int, dict[str, dict]]], pii: dict[str, str] | None = None) -> int:
    """A source, an asset and one successful profile run per (row_count, {column: metrics})."""
    from assay.catalog import runs as attempts
    from assay.catalog.db import session
    from assay.catalog.models import (
        AssetColumn,
        AssetKind,
        Classification,
        ColumnMetrics,
        SourceKind,
    )
    from assay.catalog.upsert import upsert
    from assay.quality import store

    with session(url) as s:
        source_id = store.ensure_source(s, "shop", SourceKind.SQL, "settings:shop")
        asset_id = store.ensure_asset(s, source_id, "public", table, AssetKind.TABLE, f"public.{table}", "day")
        for i, (rows, columns) in enumerate(runs):
            # one profiling attempt per day, the current one of its key (issue #14 item 4)
            run_id = attempts.start_attempt(s, attempts.PROFILE, {
                "asset_id": asset_id, "partition_key": (DAY0 + dt.timedelta(days=i)).isoformat(),
                "logical_date": DAY0 + dt.timedelta(days=i), "run_key": f"t/{i}"}, dt.datetime.now(dt.UTC))
            upsert(s, ColumnMetrics, [{"profile_run_id": run_id, "column_name": c, "metrics": m} for c, m in columns.items()],
                   key=["profile_run_id", "column_name"])
            attempts.finish_attempt(s, attempts.PROFILE, run_id, {"status": "success", "row_count": rows}, dt.datetime.now(dt.UTC))
        for column, label in (pii or {}).items():
            (col_id,) = upsert(s, AssetColumn, [{"asset_id": asset_id, "name": column, "ordinal": 1, "data_type": "text",
                                                 "nullable": True}], key=["asset_id", "name"])
            upsert(s, Classification, [{"column_id": col_id, "kind": "pii", "label": label, "score": 0.9,
                                        "method": "pattern", "source": "auto"}], key=["column_id", "kind", "source"])
    return asset_id


def metrics(i: int) -> dict[str, dict]:
    return {
        "position": {"row_count": 100 + i, "null_count": 0, "null_ratio": 0.0, "min": 1, "max": 10, "distinct": 10},
        "query": {"row_count": 100 + i, "null_count": i, "null_ratio": i / 100, "distinct": 90,
                  "top_values": [{"value": "sofa", "count": 3}]},
        "device": {"row_count": 100 + i, "null_count": 0, "null_ratio": 0.0, "distinct": 3,
                   "top_values": [{"value": "app", "count": 10}, {"value": "mobile", "count": 60 + i},
                                  {"value": "desktop", "count": 30}]},
        "email": {"row_count": 100 + i, "null_count": 0, "null_ratio": 0.0, "distinct": 2,
                  "top_values": [{"value": "a@example.com", "count": 50 + i}, {"value": "b@example.com", "count": 50}]},
    }


@pytest.fixture
def qsettings(catalog_url, tmp_path):
    from assay.config import Settings

    return Settings(home=tmp_path / "state", database_url=catalog_url)


def test_proposal_for_a_new_suite_suggests_bounds_tolerances_ranges_and_sets(qsettings, catalog_url, tmp_path):
    from assay.quality import accept_proposal, propose_suite
    from assay.quality.suites import build_gx_suite, load_suites

    folder = tmp_path / "expectations"
    profile_history(catalog_url, "clicks", [(100 + i, metrics(i)) for i in range(5)], pii={"email": "email"})
    path = propose_suite(qsettings, "clicks", folder=folder)
    assert path == folder / "shop" / "proposed" / "clicks.json"
    doc = json.loads(path.read_text())
    by_name = {e["meta"]["name"]: e for e in doc["expectations"]}
    assert by_name["proposed_row_count"]["kwargs"] == {"min_value": 50, "max_value": 156}
    assert by_name["proposed_position_not_null"]["kwargs"] == {"column": "position"}
    assert by_name["proposed_query_mostly_not_null"]["kwargs"]["mostly"] == 0.93  # worst 4 % -> 1 - 0.06 - 0.01
    # Sign and magnitude apart (issue 13 item 6): > 0 always seen; the upper bound widened by half the spread (5 runs).
    assert by_name["proposed_position_positive"]["kwargs"] == {"column": "position", "min_value": 0, "strict_min": True}
    assert by_name["proposed_position_range"]["kwargs"] == {"column": "position", "max_value": 14.5}
    assert by_name["proposed_device_in_set"]["kwargs"]["value_set"] == ["app", "desktop", "mobile"]
    assert "proposed_query_in_set" not in by_name  # top values did not cover the column
    assert not any("email" in json.dumps(e["kwargs"]) and "value_set" in e["kwargs"] for e in doc["expectations"])
    assert "a@example.com" not in path.read_text()  # PII values never reach a suite file
    assert all(e["meta"]["severity"] == "warning" and e["meta"]["proposed_from"]["runs"] == 5 for e in doc["expectations"])
    assert doc["meta"]["assay"] == {"source": "shop", "table": "public.clicks", "partition_column": "day"}

    assert load_suites(folder).suites == []  # not live until accepted
    live = accept_proposal(qsettings, "clicks", folder=folder)
    assert live == folder / "shop" / "clicks.json" and not path.exists()
    (suite,) = load_suites(folder).suites
    assert "proposal" not in suite.document["meta"]
    build_gx_suite(suite)


def test_proposal_extends_the_live_suite_without_duplicating_it(qsettings, catalog_url, tmp_path):
    from assay.quality import propose_suite, reject_proposal

    folder = tmp_path / "expectations"
    shutil.copytree(ROOT / "expectations", folder)
    live_before = (folder / "shop" / "impressions.json").read_text()
    profile_history(catalog_url, "impressions", [(2000 + i, {"position": metrics(i)["position"]}) for i in range(3)])
    path = propose_suite(qsettings, "impressions", folder=folder)
    doc = json.loads(path.read_text())
    live = json.loads(live_before)
    assert doc["expectations"][: len(live["expectations"])] == live["expectations"]
    added = doc["meta"]["proposal"]["added"]
    # position already has a range check in the live suite; the row count and not-null are new
    assert "proposed_position_range" not in added and "proposed_row_count" in added
    assert (folder / "shop" / "impressions.json").read_text() == live_before
    reject_proposal(qsettings, "impressions", folder=folder)
    assert not path.exists()
    with pytest.raises(ConfigError, match="no proposal"):
        reject_proposal(qsettings, "impressions", folder=folder)


def test_too_little_history_is_refused(qsettings, catalog_url, tmp_path):
    from assay.quality import propose_suite

    profile_history(catalog_url, "clicks", [])  # one profiled partition is enough since issue 13; none is not
    with pytest.raises(ConfigError, match="at least 1 needed"):
        propose_suite(qsettings, "clicks", folder=tmp_path)


def test_a_broken_proposal_is_not_accepted(qsettings, tmp_path):
    from assay.quality import accept_proposal

    folder = tmp_path / "expectations"
    (folder / "proposed").mkdir(parents=True)
    (folder / "proposed" / "x.json").write_text(json.dumps({
        "name": "x", "meta": {"assay": {"source": "shop", "table": "public.x"}},
        "expectations": [{"type": "expect_nonsense", "kwargs": {}, "meta": {"name": "n", "dimension": "validity",
                                                                              "severity": "warning"}}],
    }))
    with pytest.raises(ConfigError, match="unknown expectation type 'expect_nonsense'"):
        accept_proposal(qsettings, "x", folder=folder)
    assert (folder / "proposed" / "x.json").exists() and not (folder / "x.json").exists()
