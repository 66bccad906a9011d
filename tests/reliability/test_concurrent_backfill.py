"""30 days of quality backfilled by 4 concurrent workers, then 10 days re-run concurrently.

A scale-1 shop is seeded over 30 days with one defect day. Four worker processes (as Airflow runs
a backfill's task instances: one process each, here long-lived to pay the imports once) call
:func:`assay.quality.run_quality` for the days in turn; then ten of the days are re-run, two of
them submitted twice so two workers race on the same day. Afterwards:

* every day succeeded, except the defect day, whose only failure is the one the data carries;
* exactly one quality run per suite x asset x partition x day, one scorecard per asset and day;
* no expectation result twice, none orphaned, none lost; no row left ``running`` or with an
  attempt in progress;
* the re-run kept the same rows (ids) and values as the backfill.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.db import rows
from support.worlds import shop_world

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START = date(2026, 10, 1)
DAYS = [START + timedelta(days=i) for i in range(30)]
DEFECT_DAY = START + timedelta(days=12)
WORKERS = 4
RERUN = DAYS[::3]  # 10 days
TWICE = [DAYS[0], DEFECT_DAY]  # also submitted a second time: two workers race on them


def _validate(settings: Any, day: date, run_key: str) -> tuple[date, bool, list[str]]:
    """One worker's job: the day's quality run; (day, ok, "suite target: error" of failures)."""
    from assay.quality import run_quality

    report = run_quality(settings, day, run_key, raise_on_failure=False)
    return day, report.ok, report.failure_text().splitlines()


def _concurrently(
    settings: Any, jobs: list[tuple[date, str]]
) -> tuple[dict[tuple[date, str], tuple[bool, list[str]]], float]:
    t0 = time.perf_counter()
    # spawn: a forked worker would inherit the test's pooled connections.
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {(day, key): pool.submit(_validate, settings, day, key) for day, key in jobs}
        done = {job: f.result()[1:] for job, f in futures.items()}
    return done, time.perf_counter() - t0


def _runs(url: str, current: bool = True) -> list[tuple]:
    """The current attempt of each key (issue #14 item 4: every attempt is a row), or every attempt."""
    return rows(
        url,
        """
        SELECT suite_name, asset_id, partition_key, logical_date, id, status, success, critical_failures,
               warning_failures, error, gx_run_id FROM quality_runs r"""
        + (" WHERE id IN (SELECT quality_run_id FROM quality_current)" if current else "")
        + " ORDER BY id",
    )


def _missing_pages(url: str) -> list[str]:
    """Data Docs pages the catalog links to that are not on disk."""
    from urllib.parse import unquote, urlparse

    links = [
        u for (u,) in rows(url, "SELECT data_docs_url FROM quality_runs WHERE data_docs_url IS NOT NULL")
    ]
    assert links
    return [u for u in links if not Path(unquote(urlparse(u).path)).is_file()]


def _targets(url: str) -> dict[int, str]:
    """Asset id -> the target a suite names (a table, or ``feeds/<supplier>`` for each day's file)."""
    from assay.quality.overview import target_of

    return {
        i: target_of(ns, name, kind)
        for i, ns, name, kind in rows(url, "SELECT id, namespace, name, kind FROM assets")
    }


def _results(url: str) -> list[tuple]:
    return rows(
        url,
        """
        SELECT id, quality_run_id, expectation_id, severity, success, observed_value::text, unexpected_count,
               details::text, waived FROM expectation_results ORDER BY id""",
    )


def _cards(url: str) -> list[tuple]:
    return rows(url, "SELECT id, asset_id, day, dimension_scores::text, overall FROM scorecards ORDER BY id")


@pytest.fixture(scope="module")
def world(scratch_db, tmp_path_factory):
    from assay.seed import DefectSchedule, SeedConfig

    config = SeedConfig(
        start_date=START,
        days=len(DAYS),
        write_truth=False,
        defects=DefectSchedule.parse(f"{DEFECT_DAY}:duplicated_events"),
    )
    with shop_world(scratch_db, tmp_path_factory.mktemp("cbf"), "cbf", config) as w:
        yield w


@pytest.fixture(scope="module")
def backfilled(world):
    done, seconds = _concurrently(world.settings, [(d, f"backfill/{d}") for d in DAYS])
    print(f"\nconcurrent backfill of {len(DAYS)} days by {WORKERS} workers: {seconds:.1f} s")
    return done


def test_thirty_days_by_four_workers_all_succeed_one_result_set_each(world, backfilled):
    url = world.catalog_url
    failed = {day: failures for (day, _), (ok, failures) in backfilled.items() if not ok}
    assert set(failed) == {DEFECT_DAY}, failed
    runs = _runs(url)
    # exactly one run per suite x asset x partition x day, and every day has the same targets
    keys = Counter(r[:4] for r in runs)
    assert max(keys.values()) == 1
    # every day the same targets (a supplier feed is an asset per day's file: named by its target)
    target = _targets(url)
    per_day: dict[date, Counter[tuple]] = defaultdict(Counter)
    for suite, asset, part, day, *_ in runs:
        per_day[day][(suite, target[asset], part if part == "__all__" else "day")] += 1
        assert part in ("__all__", day.isoformat()), (suite, part, day)
    assert sorted(per_day) == DAYS
    targets = per_day[DAYS[0]]
    assert len(targets) >= 5 and set(targets.values()) == {1}
    assert all(t == targets for t in per_day.values())
    assert len(runs) == len(DAYS) * len(targets) == len(_runs(url, current=False))  # one attempt each
    # failures only where the data says: the defect day's interactions
    bad = [(r[0], r[3], r[5], r[9]) for r in runs if r[5] != "ok"]
    assert {(suite, day) for suite, day, _, _ in bad} == {("interactions", DEFECT_DAY)}, bad
    assert all(error is None for *_, error in bad), bad  # failed on data, not on an error
    assert rows(
        url, "SELECT count(*) FROM quality_runs WHERE status = 'running'"
    ) == [(0,)]
    # results: none twice, none orphaned, every run has its results
    results = _results(url)
    assert len({(r[1], r[2]) for r in results}) == len(results)
    run_ids = {r[4] for r in runs}
    assert {r[1] for r in results} == run_ids
    assert _missing_pages(url) == []
    cards = Counter((asset, day) for _, asset, day, _, _ in _cards(url))
    assert max(cards.values()) == 1 and {d for _, d in cards} == set(DAYS)


def test_ten_days_rerun_concurrently_change_no_row(world, backfilled):
    """Since issue #14 item 4 a rerun adds attempts (was: rewrote the same rows): none changes, one current each."""
    url = world.catalog_url
    before = (_runs(url), _results(url), _cards(url))
    attempts_before = _runs(url, current=False)
    assert set(TWICE) <= set(RERUN)
    jobs = [(d, f"rerun-1/{d}") for d in RERUN] + [(d, f"rerun-2/{d}") for d in TWICE]
    done, seconds = _concurrently(world.settings, jobs)
    print(
        f"\nconcurrent re-run of {len(jobs)} day runs ({len(RERUN)} days) by {WORKERS} workers: {seconds:.1f} s"
    )
    failed = {day for (day, _), (ok, _) in done.items() if not ok}
    assert failed <= {DEFECT_DAY}, {job: r for job, r in done.items() if not r[0]}
    after = (_runs(url), _results(url), _cards(url))
    attempts = _runs(url, current=False)
    assert set(attempts_before) <= set(attempts) and set(before[1]) <= set(after[1])  # no row changed
    per_day = len(before[0]) // len(DAYS)
    assert len(attempts) == len(attempts_before) + len(jobs) * per_day  # raced days: both attempts kept
    def what(runs: list[tuple]) -> list[tuple]:  # a run without its attempt's id and GX run id
        return sorted(r[:4] + r[5:10] for r in runs)
    assert what(after[0]) == what(before[0])  # one current per key, saying what it said
    assert len({(r[1], r[2]) for r in after[1]}) == len(after[1])  # no result twice
    assert after[2] == before[2]
    assert _missing_pages(url) == []
    assert rows(
        url, "SELECT count(*) FROM quality_runs WHERE status = 'running'"
    ) == [(0,)]
    rerun_keys = Counter(
        k.split("/")[0].split("-")[0]
        for (k,) in rows(url, "SELECT run_key FROM quality_runs WHERE id IN (SELECT quality_run_id FROM quality_current)")
    )
    assert rerun_keys["rerun"] == len(RERUN) * len(before[0]) // len(DAYS)
