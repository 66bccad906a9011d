"""The shipped suites against the seeded demo shop with every defect injected (real PostgreSQL, real GX).

Each defect must fail the expectation meant to catch it, at its severity, on its day -- and nothing
else; clean days must pass everything. The evidence is read back from the catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from support.worlds import ShopWorld, shop_world

from assay.quality.report import QualityReport

pytestmark = pytest.mark.integration

START = date(2026, 11, 1)
DAYS = 8
D = {i: date(2026, 11, i) for i in range(1, 9)}
# Defects share days where they hit different expectations, so the test stays short and still proves
# each check is specific (the failing set of every partition is asserted exactly).
SCHEDULE = (
    "2026-11-03:null_burst,duplicated_events,price_outlier;"
    "2026-11-04:renamed_category,bom_feed;"
    "2026-11-05:added_column,wrong_delimiter;"
    "2026-11-06:missing_partition;"
    "2026-11-07:bad_encoding"
)
CLEAN_DAYS = [D[1], D[2], D[8]]
FEEDS = ["feeds/brightline", "feeds/cascade", "feeds/meridian", "feeds/northwind"]
EVENT_TABLES = ["search_sessions", "impressions", "interactions"]
TARGETS = ["customers", "products", *EVENT_TABLES, *FEEDS]
PRICE_TIERS = "price_plausible_under_"
TIME_COLUMN = {"search_sessions": "started_at", "impressions": "shown_at", "interactions": "event_at"}

#: defect -> (day, targets, expectation, severity)
DEFECTS = {
    "null_burst": (D[3], ["search_sessions"], "query_not_null", "critical"),
    "duplicated_events": (D[3], ["interactions"], "event_id_unique", "critical"),
    "price_outlier": (D[3], FEEDS, PRICE_TIERS, "critical"),
    "renamed_category": (D[4], FEEDS, "category_in_taxonomy", "critical"),
    "bom_feed": (D[4], ["feeds/northwind"], "file_has_no_bom", "warning"),
    "added_column": (D[5], FEEDS, "feed_columns", "warning"),
    "wrong_delimiter": (D[5], ["feeds/northwind"], "file_layout_matches_name", "critical"),
    "missing_partition": (D[6], [*EVENT_TABLES, *FEEDS], "partition_arrived", "critical"),
    "bad_encoding": (D[7], ["feeds/northwind"], "file_encoding_utf8", "critical"),
}


def expected_failures(day: date, target: str) -> dict[str, str] | None:
    """Exactly what must fail (expectation -> severity); None = 'some price tier' (random products)."""
    if day == D[3]:
        if target == "search_sessions":
            return {"query_not_null": "critical"}
        if target == "interactions":
            # the replayed events are also repeated (query, product) judgments
            return {"event_id_unique": "critical", "no_duplicate_judgments": "warning"}
        if target in FEEDS:
            return None
    if day == D[4] and target in FEEDS:
        out = {"category_in_taxonomy": "critical"}
        return out | ({"file_has_no_bom": "warning"} if target == "feeds/northwind" else {})
    if day == D[5] and target in FEEDS:
        out = {"feed_columns": "warning"}
        return out | ({"file_layout_matches_name": "critical"} if target == "feeds/northwind" else {})
    if day == D[6]:
        if target in EVENT_TABLES:
            col = TIME_COLUMN[target]
            return {"partition_arrived": "critical", "daily_volume": "warning",
                    f"{col}_not_before_day": "critical", f"{col}_within_day": "critical"}
        if target in FEEDS:
            return {"partition_arrived": "critical", "feed_volume": "warning"}
    if day == D[7] and target == "feeds/northwind":
        return {"file_encoding_utf8": "critical"}
    return {}


@pytest.fixture(scope="module")
def env(scratch_db, tmp_path_factory) -> Iterator[ShopWorld]:
    from assay.seed import DefectSchedule, SeedConfig

    config = SeedConfig(start_date=START, days=DAYS, defects=DefectSchedule.parse(SCHEDULE))
    with shop_world(scratch_db, tmp_path_factory.mktemp("q"), "q", config) as world:
        yield world


@pytest.fixture(scope="module")
def reports(env) -> dict[date, QualityReport]:
    from assay.quality import run_quality

    return {d: run_quality(env.settings, d, f"test/{d}", raise_on_failure=False) for d in D.values()}


def catalog_failures(env: ShopWorld) -> dict[tuple[date, str], dict[str, str]]:
    """(day, target) -> {expectation: severity} of every failed result stored in the catalog."""
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import Asset, ExpectationResult, QualityRun

    out: dict[tuple[date, str], dict[str, str]] = {}
    with session(env.catalog_url) as s:
        rows = s.execute(
            select(QualityRun.logical_date, Asset.namespace, Asset.name, ExpectationResult.expectation_id,
                   ExpectationResult.severity, ExpectationResult.success)
            .join(Asset, Asset.id == QualityRun.asset_id)
            .join(ExpectationResult, ExpectationResult.quality_run_id == QualityRun.id)
        ).all()
    for day, ns, name, eid, severity, success in rows:
        target = name if "/" not in ns else ns.rsplit("/", 1)[0]
        failed = out.setdefault((day, target), {})
        if not success:
            failed[eid] = severity
    return out


def test_every_partition_of_every_day_was_validated(reports):
    for day, report in reports.items():
        assert sorted(p.target for p in report.partitions) == sorted(TARGETS), day
        assert report.unrecorded_errors == ()
        assert all(p.status in ("ok", "failed") for p in report.partitions), report.summary()


def matches(eid: str, expectation: str) -> bool:
    return eid.startswith(PRICE_TIERS) if expectation == PRICE_TIERS else eid == expectation


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_each_defect_fails_its_expectation_at_its_severity_on_its_day(env, reports, defect):
    day, targets, expectation, severity = DEFECTS[defect]
    stored = catalog_failures(env)
    status = {p.target: p.status for p in reports[day].partitions}
    for target in targets:
        failed = stored[(day, target)]
        hits = {e: s for e, s in failed.items() if matches(e, expectation)}
        assert hits, f"{defect}: {expectation} did not fail on {target} {day}; failed: {failed}"
        assert set(hits.values()) == {severity}, (defect, target, hits)
        assert status[target] == ("failed" if "critical" in failed.values() else "ok"), (defect, target)
        for other in D.values():  # ... and on no other day
            if other != day:
                assert not any(matches(e, expectation) for e in stored[(other, target)]), (defect, target, other)


def test_clean_days_pass_every_expectation(env, reports):
    stored = catalog_failures(env)
    for day in CLEAN_DAYS:
        assert reports[day].ok, reports[day].failure_text()
        assert sorted(reports[day].validated_partitions) == sorted(
            f"{t}:{'__all__' if t in ('customers', 'products') else day.isoformat()}" for t in TARGETS
        )
        for target in TARGETS:
            assert stored[(day, target)] == {}, (day, target)


def test_defect_days_fail_nothing_but_their_defects(env, reports):
    stored = catalog_failures(env)
    for day in D.values():
        for target in TARGETS:
            failed = stored[(day, target)]
            want = expected_failures(day, target)
            if want is None:  # which price tier depends on which products got the x100
                assert failed and all(e.startswith(PRICE_TIERS) or e == "price_positive" for e in failed), failed
                assert set(failed.values()) == {"critical"}
            else:
                assert failed == want, (day, target)


def test_only_partitions_without_unwaived_critical_failures_are_validated(reports):
    summary = reports[D[3]].summary()
    assert sorted(summary["validated_partitions"]) == ["customers:__all__", "impressions:2026-11-03", "products:__all__"]
    # a warning failure does not stop a partition
    assert "feeds/northwind:2026-11-04" not in reports[D[4]].validated_partitions  # renamed category: critical
    bom = reports[D[5]].partition("feeds/cascade")
    assert bom.status == "ok" and [o.expectation_id for o in bom.warning_failures] == ["feed_columns"]
    assert "feeds/cascade:2026-11-05" in reports[D[5]].validated_partitions


def test_failures_open_review_items_for_stewards(env, reports):
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import ReviewItem

    with session(env.catalog_url) as s:
        items = {i.summary: i for i in s.execute(select(ReviewItem)).scalars()}
    warning = [i for i in items.values() if i.details.get("expectation_id") == "feed_columns"]
    assert len(warning) == 4 and all(i.status == "open" and i.details["severity"] == "warning" for i in warning)
    assert any("search_sessions 2026-11-03: query_not_null failed (critical, completeness)" in k for k in items)
    assert all(i.kind == "quality_failure" and i.quality_run_id for i in items.values())


def test_scorecards_reflect_the_defects(env, reports):
    from assay.quality import scorecard_history

    history = {h["day"]: h for h in scorecard_history(env.settings, "search_sessions", DAYS, end=D[8])}
    assert len(history) == DAYS
    assert history["2026-11-01"]["overall"] == 100.0
    assert history["2026-11-03"]["dimensions"]["completeness"] < 100.0
    assert history["2026-11-03"]["dimensions"]["validity"] == 100.0
    assert history["2026-11-06"]["dimensions"]["timeliness"] == 0.0
    northwind = scorecard_history(env.settings, "feeds/northwind", DAYS, end=D[8])
    assert [h["day"] for h in northwind] == [d.isoformat() for d in D.values()]
    assert {h["day"]: h["overall"] for h in northwind}["2026-11-07"] < 100.0


def test_data_docs_are_built_and_linked_from_the_runs(env, reports):
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import QualityRun

    index = Path(env.settings.state_dir) / "gx" / "data_docs" / "index.html"
    assert index.exists() and reports[D[8]].data_docs_index == index.as_uri()
    with session(env.catalog_url) as s:
        urls = list(s.execute(select(QualityRun.data_docs_url)).scalars())
    assert len(urls) == len(TARGETS) * DAYS
    for url in urls:
        assert url and Path(url.removeprefix("file://")).exists(), url
    html = index.read_text()
    assert "supplier_feeds" in html and "interactions" in html
