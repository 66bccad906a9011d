"""run_quality on real PostgreSQL and GX: idempotent reruns, waivers, review items, and bad inputs.

Every bad input is a clear error recorded for its asset while the other suites still run.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from support.db import execute
from support.worlds import ShopWorld, shop_world

from assay.errors import ConfigError, QualityError

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
START = date(2026, 11, 1)
CLEAN, DEFECT, UNSEEDED = date(2026, 11, 1), date(2026, 11, 3), date(2026, 11, 10)
SOME = ["products", "customers", "search_sessions", "impressions"]


@pytest.fixture(scope="module")
def env(scratch_db, tmp_path_factory) -> Iterator[ShopWorld]:
    from assay.seed import DefectSchedule, SeedConfig

    config = SeedConfig(start_date=START, days=3, write_truth=False,
                        defects=DefectSchedule.parse("2026-11-03:null_burst,duplicated_events"))
    with shop_world(scratch_db, tmp_path_factory.mktemp("qrun"), "qrun", config) as world:
        yield world


@pytest.fixture(scope="module")
def baseline(env):
    """A clean day validated once: every later run compares with it, and broken suites find their assets."""
    from assay.quality import run_quality

    report = run_quality(env.settings, CLEAN, "test/baseline")
    assert report.ok
    return report


@pytest.fixture
def suites(tmp_path) -> Path:
    """A private copy of the shipped suites, for tests that break one."""
    folder = tmp_path / "expectations"
    shutil.copytree(ROOT / "expectations", folder)
    return folder


def edit_suite(folder: Path, name: str, change) -> None:
    (path,) = folder.glob(f"*/{name}.json")  # expectations/<source>/<suite>.json
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def run_rows(env: ShopWorld, day: date) -> dict[str, tuple]:
    """target -> (run id, status, error) of the day's current quality attempts."""
    rows = execute(env.catalog_url, """
        SELECT a.namespace, a.name, r.id, r.status, r.error, r.suite_name FROM quality_runs r
        JOIN quality_current c ON c.quality_run_id = r.id
        JOIN assets a ON a.id = r.asset_id WHERE r.logical_date = :d""", d=day)
    return {(n if "/" not in ns else ns.rsplit("/", 1)[0]): (rid, status, error, suite)
            for ns, n, rid, status, error, suite in rows}


def attempt_error_of(env: ShopWorld, run_id: int) -> str:
    """Why the newest attempt of run ``run_id``'s key did not replace it (recorded as its own row)."""
    return execute(env.catalog_url, """
        SELECT a.error FROM quality_runs a JOIN quality_runs r USING (suite_name, asset_id, partition_key, logical_date)
        WHERE r.id = :r AND a.id > r.id ORDER BY a.id DESC LIMIT 1""", r=run_id)[0][0]


def results_of(env: ShopWorld, run_id: int) -> dict[str, tuple]:
    rows = execute(env.catalog_url, """
        SELECT expectation_id, id, success, waived, waiver_id, details FROM expectation_results
        WHERE quality_run_id = :r""", r=run_id)
    return {eid: (rid, ok, waived, wid, details) for eid, rid, ok, waived, wid, details in rows}


# ---- reruns -----------------------------------------------------------------------------------
def test_rerunning_a_partition_replaces_its_results(env, baseline, suites):
    from assay.quality import run_quality

    before = run_rows(env, CLEAN)
    products_before = results_of(env, before["products"][0])
    page = Path(baseline.partition("products").data_docs_url.removeprefix("file://"))
    page_before = page.read_bytes()

    edit_suite(suites, "products", lambda d: d["expectations"].pop())  # drop catalog_size
    report = run_quality(env.settings, CLEAN, "test/rerun", assets=["products", "interactions"], suites=suites)

    after = run_rows(env, CLEAN)
    # Since issue #14 item 4 a rerun is a new attempt (was: the same row rewritten in place); the
    # products and interactions keys now point at it, the others are untouched.
    rerun = {"products", "interactions"}
    assert all(after[t][0] > before[t][0] for t in rerun)
    assert {t: v[0] for t, v in after.items() if t not in rerun} == {t: v[0] for t, v in before.items() if t not in rerun}
    products_after = results_of(env, after["products"][0])
    assert set(products_before) - set(products_after) == {"catalog_size"}
    assert results_of(env, before["products"][0]) == products_before  # the earlier attempt's results stay
    count = execute(env.catalog_url, "SELECT count(*), count(DISTINCT (quality_run_id, expectation_id)) FROM expectation_results")
    assert count[0][0] == count[0][1]
    run_key = execute(env.catalog_url, "SELECT run_key FROM quality_runs WHERE id = :r", r=after["products"][0])
    assert run_key == [("test/rerun",)]
    # each attempt has its own Data Docs page: the earlier one is kept as it was
    new_page = Path(report.partition("products").data_docs_url.removeprefix("file://"))
    assert new_page != page and new_page.exists()
    assert page.read_bytes() == page_before


# ---- waivers ---------------------------------------------------------------------------------
def test_waived_critical_failure_does_not_fail_and_revoking_restores_it(env, baseline):
    from assay.quality import add_waiver, revoke, run_quality

    with pytest.raises(QualityError, match="search_sessions:2026-11-03 .* critical failed: query_not_null"):
        run_quality(env.settings, DEFECT, "test/waiver", assets=["search_sessions"])

    waiver_id = add_waiver(env.settings, asset="search_sessions", suite="search_sessions",
                           expectation="query_not_null", reason="upstream bug INC-42, fixed on the 4th",
                           created_by="jane", valid_from=DEFECT, valid_until=date(2026, 11, 4))
    report = run_quality(env.settings, DEFECT, "test/waiver", assets=["search_sessions"])  # no raise
    p = report.partition("search_sessions")
    assert p.status == "ok" and report.validated_partitions == ["search_sessions:2026-11-03"]
    assert report.summary()["waivers"] == [waiver_id]
    assert report.summary()["partitions"]["search_sessions:2026-11-03"]["waived"] == {"query_not_null": waiver_id}
    (_, ok, waived, wid, _) = results_of(env, p.quality_run_id)["query_not_null"]
    assert (ok, waived, wid) == (False, True, waiver_id)
    assert execute(env.catalog_url, "SELECT status FROM quality_runs WHERE id = :r", r=p.quality_run_id) == [("ok",)]

    # the window is honoured: the same waiver does not cover another day
    from assay.catalog.db import session
    from assay.quality.waivers import active_waivers

    with session(env.catalog_url) as s:
        assert active_waivers(s, p.asset_id, "search_sessions", DEFECT) == {"query_not_null": waiver_id}
        assert active_waivers(s, p.asset_id, "search_sessions", date(2026, 11, 4)) == {}
        assert active_waivers(s, p.asset_id, "search_sessions", date(2026, 11, 2)) == {}

    revoke(env.settings, waiver_id, revoked_by="lead")
    with pytest.raises(QualityError, match="query_not_null"):
        run_quality(env.settings, DEFECT, "test/waiver", assets=["search_sessions"])
    with pytest.raises(ConfigError, match="already revoked"):
        revoke(env.settings, waiver_id, revoked_by="lead")


def test_waivers_refuse_unknown_names_and_empty_windows(env, baseline):
    from assay.quality import add_waiver

    base = {"asset": "search_sessions", "suite": "search_sessions", "reason": "r", "created_by": "jane",
            "valid_from": DEFECT}
    with pytest.raises(ConfigError, match="has no expectation 'nope'"):
        add_waiver(env.settings, expectation="nope", **base)
    with pytest.raises(ConfigError, match="window is empty"):
        add_waiver(env.settings, expectation="query_not_null", **{**base, "valid_until": DEFECT})
    with pytest.raises(ConfigError, match="no suite 'nope'"):
        add_waiver(env.settings, expectation="query_not_null", **{**base, "suite": "nope"})
    with pytest.raises(ConfigError, match="validates public.search_sessions"):
        add_waiver(env.settings, expectation="query_not_null", **{**base, "asset": "products"})


# ---- review items ------------------------------------------------------------------------------
def test_review_items_open_on_failure_and_close_when_the_partition_passes(env, baseline):
    from assay.quality import run_quality

    report = run_quality(env.settings, DEFECT, "test/review", assets=["interactions"], raise_on_failure=False)
    run_id = report.partition("interactions").quality_run_id
    items = dict(execute(env.catalog_url, "SELECT ref, status FROM review_items WHERE quality_run_id = :r", r=run_id))
    # refs name the key's stable id (quality_current.id), so they outlive the attempt
    ((key_id,),) = execute(env.catalog_url, "SELECT id FROM quality_current WHERE quality_run_id = :r", r=run_id)
    assert items == {f"{key_id}/event_id_unique": "open", f"{key_id}/no_duplicate_judgments": "open"}

    # the source team removes the replayed events; the rerun passes and closes the items
    execute(env.shop_url, """
        DELETE FROM interactions i USING interactions j
        WHERE i.day = :d AND j.day = :d AND i.event_id = j.event_id AND i.ctid > j.ctid""", d=DEFECT)
    report = run_quality(env.settings, DEFECT, "test/review", assets=["interactions"])
    assert report.partition("interactions").status == "ok"
    rows = execute(env.catalog_url, "SELECT status, resolution FROM review_items WHERE quality_run_id = :r", r=run_id)
    assert rows and all(r == ("closed", "passed on re-run") for r in rows)


# ---- bad inputs: each a clear error for its asset, the rest still runs ----------------------
def assert_others_ran(report, broken: str) -> None:
    others = [p for p in report.partitions if p.target != broken]
    assert others and all(p.status == "ok" for p in others), report.summary()


def test_suite_that_does_not_parse(env, baseline, suites):
    from assay.quality import run_quality

    (suites / "shop" / "products.json").write_text('{"name": "products", "expectations": [')
    with pytest.raises(QualityError) as err:
        run_quality(env.settings, CLEAN, "test/bad-json", assets=SOME, suites=suites)
    assert "products.json: not valid JSON" in str(err.value)
    # A failed rerun keeps the baseline's record current (issue #12 item 6); its own attempt has the reason.
    run_id, status = run_rows(env, CLEAN)["products"][:2]
    assert status == "ok" and "products.json: not valid JSON" in attempt_error_of(env, run_id)
    summary = err.value.summary
    assert summary["partitions"]["products:__all__"]["status"] == "error"
    assert all(p["status"] == "ok" for k, p in summary["partitions"].items() if not k.startswith("products"))


def test_broken_feed_suite_is_recorded_on_each_supplier_s_file_of_the_day(env, baseline, suites):
    from assay.quality import run_quality

    before, after = date(2026, 11, 20), date(2026, 11, 21)  # later than any other test's run
    run_quality(env.settings, before, "test/feeds-before", assets=["supplier_feeds"], raise_on_failure=False)
    (suites / "supplier_feeds" / "supplier_feeds.json").write_text("not json at all")
    with pytest.raises(QualityError, match="supplier_feeds.json: not valid JSON"):
        run_quality(env.settings, after, "test/feeds-broken", assets=["supplier_feeds", "products"], suites=suites)
    rows = execute(env.catalog_url, """
        SELECT a.namespace, a.name, r.partition_key, r.status FROM quality_runs r JOIN assets a ON a.id = r.asset_id
        WHERE r.logical_date = :d AND r.suite_name = 'supplier_feeds' ORDER BY 1""", d=after)
    assert [r[0] for r in rows] == [f"feeds/{s}/2026-11-21" for s in ("brightline", "cascade", "meridian", "northwind")]
    assert {r[1] for r in rows} == {"products.csv", "products.tsv", "products.parquet", "products.jsonl"}
    assert all(r[2:] == ("2026-11-21", "error") for r in rows)


def test_unknown_expectation_type(env, baseline, suites):
    from assay.quality import run_quality

    edit_suite(suites, "customers", lambda d: d["expectations"][0].update(type="expect_column_values_to_be_purple"))
    report = run_quality(env.settings, CLEAN, "test/bad-type", assets=SOME, suites=suites, raise_on_failure=False)
    p = report.partition("customers")
    assert p.status == "error"
    assert "customers.json" in p.error and "unknown expectation type 'expect_column_values_to_be_purple'" in p.error
    run_id, status = run_rows(env, CLEAN)["customers"][:2]  # the baseline's record is kept
    assert status == "ok" and "expect_column_values_to_be_purple" in attempt_error_of(env, run_id)
    assert_others_ran(report, "customers")


def test_suite_naming_a_column_that_no_longer_exists(env, baseline, suites):
    from assay.quality import run_quality

    def rename(doc):
        for e in doc["expectations"]:
            if e["meta"]["name"] == "query_not_null":
                e["kwargs"]["column"] = "search_query"

    edit_suite(suites, "search_sessions", rename)
    report = run_quality(env.settings, CLEAN, "test/gone-column", assets=SOME, suites=suites, raise_on_failure=False)
    p = report.partition("search_sessions")
    assert p.status == "error"
    (bad,) = p.errored
    assert bad.expectation_id == "query_not_null" and "search_query" in bad.error
    # the suite's other expectations still ran and were recorded
    results = results_of(env, p.quality_run_id)
    assert results["session_id_unique"][1] is True and results["query_not_null"][1] is False
    assert "search_query" in results["query_not_null"][4]["error"]
    assert "could not evaluate: query_not_null" in report.failure_text()
    assert_others_ran(report, "search_sessions")


def test_asset_that_vanished(env, baseline, suites):
    from assay.quality import run_quality

    execute(env.shop_url, "CREATE TABLE public.vanishing AS SELECT * FROM public.products")

    def retarget(doc):
        doc["name"] = "vanishing"
        doc["meta"]["assay"]["table"] = "public.vanishing"

    shutil.copy(suites / "shop" / "products.json", suites / "shop" / "vanishing.json")
    edit_suite(suites, "vanishing", retarget)
    assert run_quality(env.settings, CLEAN, "test/vanish", assets=["vanishing"], suites=suites).ok

    execute(env.shop_url, "DROP TABLE public.vanishing")
    report = run_quality(env.settings, CLEAN, "test/vanish", assets=["vanishing", *SOME], suites=suites,
                         raise_on_failure=False)
    p = report.partition("vanishing")
    assert p.status == "error" and "vanishing" in p.error and "does not exist" in p.error
    run_id, status = run_rows(env, CLEAN)["vanishing"][:2]  # the good validation before is kept
    assert status == "ok" and "does not exist" in attempt_error_of(env, run_id)
    assert_others_ran(report, "vanishing")


def test_partition_with_zero_rows_fails_its_arrival_check(env, baseline):
    from assay.quality import run_quality

    with pytest.raises(QualityError) as err:
        run_quality(env.settings, UNSEEDED, "test/empty", assets=["interactions", "feeds/meridian", "products"])
    partitions = err.value.summary["partitions"]
    assert partitions["interactions:2026-11-10"]["critical"][0] == "partition_arrived"
    assert "partition_arrived" in partitions["feeds/meridian:2026-11-10"]["critical"]
    assert partitions["products:__all__"]["status"] == "ok"
    rows = run_rows(env, UNSEEDED)
    assert rows["interactions"][1] == "failed" and rows["feeds/meridian"][1] == "failed"


def test_gx_raising_mid_run_is_recorded_for_that_asset(env, baseline, monkeypatch):
    from assay.quality import run_quality
    from assay.quality.gxrun import GxSession

    original = GxSession.validate_sql

    def flaky(self, **kw):
        if kw["table"] == "impressions":
            raise RuntimeError("boom inside GX")
        return original(self, **kw)

    monkeypatch.setattr(GxSession, "validate_sql", flaky)
    with pytest.raises(QualityError, match="impressions:2026-11-01 .* RuntimeError: boom inside GX") as err:
        run_quality(env.settings, CLEAN, "test/gx-raises", assets=SOME)
    run_id, status = run_rows(env, CLEAN)["impressions"][:2]  # the baseline's record is kept
    assert (status, attempt_error_of(env, run_id)) == ("ok", "RuntimeError: boom inside GX")
    summary = err.value.summary
    assert [k for k, p in summary["partitions"].items() if p["status"] != "ok"] == ["impressions:2026-11-01"]
    items = execute(env.catalog_url, "SELECT summary FROM review_items WHERE quality_run_id = :r AND ref LIKE '%/__run__'",
                    r=summary['partitions']['impressions:2026-11-01']['quality_run_id'])
    assert items and "could not run: RuntimeError: boom inside GX" in items[0][0]


def test_requests_the_suites_do_not_cover_are_refused(env, baseline):
    from assay.quality import run_quality

    with pytest.raises(ConfigError, match="no suite covers nope"):
        run_quality(env.settings, CLEAN, "test/x", assets=["nope"])
    with pytest.raises(ConfigError, match="result_format must be one of"):
        run_quality(env.settings, CLEAN, "test/x", result_format="EVERYTHING")


def test_landing_folder_gone_is_an_error_not_an_empty_pass(env, baseline, tmp_path):
    from assay.config import Settings
    from assay.quality import run_quality

    moved = Settings(home=env.settings.home, database_url=env.catalog_url, shop_url=env.shop_url,
                     landing_dir=tmp_path / "nowhere")
    with pytest.raises(QualityError, match="supplier_feeds.json: no folder under .*nowhere matches feeds/\\*") as err:
        run_quality(moved, date(2026, 12, 1), "test/no-landing", assets=["supplier_feeds", "products"])
    statuses = {k: p["status"] for k, p in err.value.summary["partitions"].items()}
    assert statuses.pop("products:__all__") == "ok"
    assert statuses and set(statuses.values()) == {"error"}  # recorded on each supplier's file of the day
