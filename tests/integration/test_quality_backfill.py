"""Issue #4: "a backfill of 14 days gives 14 results per suite" -- and re-running days keeps one current result
per suite and day (issue #14 item 4: as a new attempt, the earlier one kept as it was).

A scale-1 shop is seeded over 14 days (one defect day, so failed runs are counted too); ``run_quality``
(the function the DAG's ``validate`` task calls) runs once per day, then three days again.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest
from support.db import rows
from support.worlds import shop_world

pytestmark = pytest.mark.integration

START = date(2026, 11, 1)
DAYS = [START + timedelta(days=i) for i in range(14)]
DEFECT_DAY = date(2026, 11, 5)
RERUN = [DAYS[0], DEFECT_DAY, DAYS[-1]]
FEEDS = ["feeds/brightline", "feeds/cascade", "feeds/meridian", "feeds/northwind"]
#: (suite, target) -> partition style: the day for event tables and feeds, __all__ for whole tables
EXPECTED = {
    ("customers", "customers"): "__all__",
    ("products", "products"): "__all__",
    ("search_sessions", "search_sessions"): "day",
    ("impressions", "impressions"): "day",
    ("interactions", "interactions"): "day",
    **{("supplier_feeds", f): "day" for f in FEEDS},
}


def quality_runs(url: str, current: bool = False) -> list[tuple]:
    """Every stored attempt (or the current ones) without its wall-clock parts (timestamps, elapsed time, run key)."""
    from assay.quality.overview import target_of

    return sorted(
        (suite, target_of(ns, name, kind), part, day, rid, status, success, crit, warn, error, gx_run_id)
        for suite, ns, name, kind, part, day, rid, status, success, crit, warn, error, gx_run_id in rows(url, """
            SELECT r.suite_name, a.namespace, a.name, a.kind, r.partition_key, r.logical_date, r.id, r.status,
                   r.success, r.critical_failures, r.warning_failures, r.error, r.gx_run_id
            FROM quality_runs r JOIN assets a ON a.id = r.asset_id"""
            + (" JOIN quality_current c ON c.quality_run_id = r.id" if current else ""))
    )


def stored_results(url: str) -> list[tuple]:
    return rows(url, """
        SELECT id, quality_run_id, expectation_id, severity, success, observed_value::text, unexpected_count,
               unexpected_percent, details::text, waived
        FROM expectation_results ORDER BY id""")


def scorecards(url: str) -> list[tuple]:
    return rows(url, "SELECT id, asset_id, day, dimension_scores::text, overall FROM scorecards ORDER BY id")


@pytest.fixture(scope="module")
def backfilled(scratch_db, tmp_path_factory):
    from assay.quality import run_quality
    from assay.seed import DefectSchedule, SeedConfig

    config = SeedConfig(start_date=START, days=len(DAYS), write_truth=False,
                        defects=DefectSchedule.parse(f"{DEFECT_DAY}:duplicated_events"))
    with shop_world(scratch_db, tmp_path_factory.mktemp("qbf"), "qbf", config) as world:
        settings = world.settings
        t0 = time.perf_counter()
        reports = {d: run_quality(settings, d, f"backfill/{d}", raise_on_failure=False) for d in DAYS}
        print(f"\nbackfill of {len(DAYS)} days: {time.perf_counter() - t0:.1f} s")
        yield settings, reports


def test_fourteen_days_give_fourteen_runs_per_suite_and_asset_one_per_day(backfilled):
    settings, reports = backfilled
    stored = quality_runs(settings.catalog_url())
    per_pair: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for run in stored:
        per_pair[run[:2]].append(run)
    assert set(per_pair) == set(EXPECTED)
    for pair, runs in per_pair.items():
        assert len(runs) == 14, pair
        assert sorted(r[3] for r in runs) == DAYS, pair  # one per day, every day
        style = EXPECTED[pair]
        assert all(r[2] == (r[3].isoformat() if style == "day" else "__all__") for r in runs), pair
    assert len(stored) == 14 * len(EXPECTED)

    # the defect fails its partition on its day only; every other run passed
    failed = sorted((r[1], r[3]) for r in stored if r[5] != "ok")
    assert failed == [("interactions", DEFECT_DAY)]
    assert [d for d, r in reports.items() if not r.ok] == [DEFECT_DAY]
    # one scorecard per asset and day: tables 14 each, one per supplier file per day
    cards = Counter(day for _, _, day, _, _ in scorecards(settings.catalog_url()))
    assert cards == {d: len(EXPECTED) for d in DAYS}


def test_rerunning_three_days_changes_no_count_and_no_stored_result(backfilled):
    from assay.quality import run_quality

    settings, _ = backfilled
    url = settings.catalog_url()
    before = (quality_runs(url), stored_results(url), scorecards(url))
    t0 = time.perf_counter()
    for d in RERUN:
        run_quality(settings, d, f"backfill-rerun/{d}", raise_on_failure=False)
    print(f"\nre-run of {len(RERUN)} days: {time.perf_counter() - t0:.1f} s")
    after = (quality_runs(url), stored_results(url), scorecards(url))
    current = quality_runs(url, current=True)
    assert len(current) == 14 * len(EXPECTED) and len(before[0]) == 14 * len(EXPECTED)
    # Since issue #14 item 4 a rerun adds attempts and changes none (was: the same rows rewritten in place).
    assert set(before[0]) <= set(after[0]) and len(after[0]) == len(before[0]) + 3 * len(EXPECTED)
    assert set(before[1]) <= set(after[1])  # every earlier result row as it was
    def what(runs: list[tuple]) -> list[tuple]:  # a run without its attempt's id and GX run id
        return sorted(r[:4] + r[5:10] for r in runs)
    assert what(current) == what(before[0])  # the current view says what it said: statuses, counts, errors
    assert after[2] == before[2]  # scorecards recomputed to the same values in place
    keys = Counter(k.split("/")[0] for (k,) in rows(url, """
        SELECT run_key FROM quality_runs r JOIN quality_current c ON c.quality_run_id = r.id"""))
    assert keys == {"backfill": 11 * len(EXPECTED), "backfill-rerun": 3 * len(EXPECTED)}  # the rerun did write
