"""Immutable quality evidence (issue #14 item 4) on a real shop, PostgreSQL and GX.

Each validation attempt is its own ``quality_runs`` row with its expectation results, never
changed after it finished; ``quality_current`` names the current attempt per (suite, asset,
partition, logical date). A rerun adds an attempt and moves the pointer; the attempt a training
set cites keeps saying what it said; every attempt has its own GX result file and Data Docs page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from support.db import execute
from support.worlds import ShopWorld, shop_world

from assay.errors import QualityError

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 1)
TABLES = ["products", "search_sessions", "interactions"]


@pytest.fixture(scope="module")
def env(scratch_db, tmp_path_factory) -> Iterator[ShopWorld]:
    from assay.seed import SeedConfig

    with shop_world(scratch_db, tmp_path_factory.mktemp("evq"), "evq", SeedConfig(start_date=DAY, days=1,
                                                                                   write_truth=False)) as world:
        yield world


@pytest.fixture(scope="module")
def first(env):
    """The first validation of the day: what a training set would have cited."""
    from assay.quality import run_quality

    report = run_quality(env.settings, DAY, "test/first", assets=TABLES)
    assert report.ok
    return report


def attempt_row(env: ShopWorld, run_id: int) -> str:
    """The attempt row as PostgreSQL's own text of it (every column, byte for byte)."""
    return execute(env.catalog_url, "SELECT row_to_json(r)::text FROM quality_runs r WHERE id = :r", r=run_id)[0][0]


def results_text(env: ShopWorld, run_id: int) -> list[str]:
    return [r for (r,) in execute(env.catalog_url, """
        SELECT row_to_json(e)::text FROM expectation_results e WHERE quality_run_id = :r ORDER BY id""", r=run_id)]


def current_counts(env: ShopWorld) -> list[tuple]:
    """(key, current attempts) per quality key that does not have exactly one current attempt."""
    return execute(env.catalog_url, """
        SELECT r.suite_name, r.asset_id, r.partition_key, r.logical_date, count(c.id) FROM quality_runs r
        LEFT JOIN quality_current c USING (suite_name, asset_id, partition_key, logical_date)
        GROUP BY 1, 2, 3, 4 HAVING count(DISTINCT c.id) <> 1""")


def current_id(env: ShopWorld, target: str) -> int:
    ((rid,),) = execute(env.catalog_url, """
        SELECT c.quality_run_id FROM quality_current c JOIN assets a ON a.id = c.asset_id
        WHERE a.name = :t AND c.logical_date = :d""", t=target, d=DAY)
    return int(rid)


def test_a_rerun_leaves_the_cited_attempt_and_its_results_byte_for_byte_and_adds_a_current_one(env, first):
    from assay.quality import run_quality

    cited = first.partition("products").quality_run_id
    assert current_id(env, "products") == cited
    row, results = attempt_row(env, cited), results_text(env, cited)
    assert results

    again = run_quality(env.settings, DAY, "test/again", assets=TABLES)

    new = again.partition("products").quality_run_id
    assert new != cited and current_id(env, "products") == new
    assert attempt_row(env, cited) == row  # run_key, finished_at, gx_run_id, docs URL: all as they were
    assert results_text(env, cited) == results
    assert json.loads(attempt_row(env, new))["run_key"] == "test/again"
    assert len(results_text(env, new)) == len(results)


def test_every_attempt_keeps_its_own_gx_result_file_and_data_docs_page(env, first):
    from assay.quality import run_quality
    from assay.quality.gxrun import validations_dir

    again = run_quality(env.settings, DAY, "test/files", assets=["products"])
    old, new = first.partition("products"), again.partition("products")
    pages = [Path(p.data_docs_url.removeprefix("file://")) for p in (old, new)]
    assert pages[0] != pages[1] and all(p.exists() for p in pages)
    gx_ids = [json.loads(attempt_row(env, p.quality_run_id))["gx_run_id"] for p in (old, new)]
    assert gx_ids[0] != gx_ids[1]
    results = sorted(validations_dir(env.settings.state_dir).rglob("*.json"))
    mine = [r for r in results if f"attempt-{old.quality_run_id}" in str(r) or f"attempt-{new.quality_run_id}" in str(r)]
    assert len(mine) == 2, results  # one masked result file per attempt, neither overwritten


def test_the_current_view_has_one_row_per_key_after_reruns_and_a_crashed_retry(env, first, monkeypatch):
    from assay.quality import run_quality
    from assay.quality.gxrun import GxSession

    for i in range(3):
        run_quality(env.settings, DAY, f"test/n{i}", assets=TABLES)

    original = GxSession.validate_sql

    def crash(self, **kw):
        if kw["table"] == "search_sessions":
            raise SystemExit("worker killed mid-validation")  # not caught by the stage: the attempt stays running
        return original(self, **kw)

    monkeypatch.setattr(GxSession, "validate_sql", crash)
    with pytest.raises(SystemExit):
        run_quality(env.settings, DAY, "test/crash", assets=TABLES)
    monkeypatch.setattr(GxSession, "validate_sql", original)
    crashed = execute(env.catalog_url, "SELECT id FROM quality_runs WHERE run_key = 'test/crash' AND status = 'running'")
    assert len(crashed) == 1

    report = run_quality(env.settings, DAY, "test/crash", assets=TABLES)  # the retry of the same task
    assert report.ok
    assert current_counts(env) == []
    ((status, error),) = execute(env.catalog_url, "SELECT status, error FROM quality_runs WHERE id = :r",
                                 r=crashed[0][0])
    assert status == "error" and error.startswith("interrupted:")
    assert current_id(env, "search_sessions") == report.partition("search_sessions").quality_run_id
    per_key = execute(env.catalog_url, """
        SELECT count(*) FROM quality_current c JOIN assets a ON a.id = c.asset_id WHERE a.name = 'search_sessions'
        AND c.logical_date = :d""", d=DAY)
    assert per_key == [(1,)]
    attempts = execute(env.catalog_url, """
        SELECT count(*) FROM quality_runs r JOIN assets a ON a.id = r.asset_id WHERE a.name = 'search_sessions'
        AND r.logical_date = :d""", d=DAY)
    assert attempts[0][0] >= 5  # every attempt kept


def test_a_failed_rerun_keeps_the_successful_attempt_current_and_records_its_own(env, first, monkeypatch):
    from assay.quality import run_quality
    from assay.quality.gxrun import GxSession

    good = current_id(env, "interactions")
    row = attempt_row(env, good)
    original = GxSession.validate_sql

    def flaky(self, **kw):
        if kw["table"] == "interactions":
            raise RuntimeError("connection lost")
        return original(self, **kw)

    monkeypatch.setattr(GxSession, "validate_sql", flaky)
    with pytest.raises(QualityError, match="connection lost"):
        run_quality(env.settings, DAY, "test/flaky", assets=["interactions"])
    assert current_id(env, "interactions") == good and attempt_row(env, good) == row
    ((status, error),) = execute(env.catalog_url, """
        SELECT r.status, r.error FROM quality_runs r JOIN assets a ON a.id = r.asset_id
        WHERE a.name = 'interactions' AND r.run_key = 'test/flaky'""")
    assert (status, error) == ("error", "RuntimeError: connection lost")
    assert current_counts(env) == []


def test_review_items_keep_their_steward_status_across_attempts(env, first):
    import datetime as dt

    from sqlalchemy import update

    from assay.catalog.db import session
    from assay.catalog.models import ReviewItem
    from assay.quality import run_quality

    # the last test of the module: it breaks the day's search sessions for good
    execute(env.shop_url, "UPDATE search_sessions SET query = NULL WHERE day = :d AND session_id IN "
                          "(SELECT session_id FROM search_sessions WHERE day = :d LIMIT 50)", d=DAY)
    report = run_quality(env.settings, DAY, "test/review-1", assets=["search_sessions"], raise_on_failure=False)
    run_id = report.partition("search_sessions").quality_run_id
    ((ref, item_id),) = execute(env.catalog_url, """
        SELECT ref, id FROM review_items WHERE quality_run_id = :r AND ref LIKE '%/query_not_null'""", r=run_id)
    with session(env.catalog_url) as s:  # a steward closes it: known upstream issue
        s.execute(update(ReviewItem).where(ReviewItem.id == item_id).values(
            status="closed", resolution="known upstream issue", closed_by="jane", closed_at=dt.datetime.now(dt.UTC)))
    again = run_quality(env.settings, DAY, "test/review-2", assets=["search_sessions"], raise_on_failure=False)
    new_id = again.partition("search_sessions").quality_run_id
    assert new_id != run_id
    rows = execute(env.catalog_url, "SELECT id, status, closed_by, quality_run_id FROM review_items WHERE ref = :ref",
                   ref=ref)
    assert rows == [(item_id, "closed", "jane", new_id)]  # one item per key, the steward's word kept
