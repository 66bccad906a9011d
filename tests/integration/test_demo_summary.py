"""The demo's final summary reads quality state from the catalog: validated partitions, history
counts, scorecards and critical failures, on a catalog with known rows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

pytestmark = pytest.mark.integration

END = date(2026, 11, 20)
D1, D2, OUTSIDE = END - timedelta(days=1), END - timedelta(days=2), END - timedelta(days=3)
WINDOW = 3


def quality_summary(settings, day: date, days: int) -> list[str]:
    """The demo's quality lines, as `assay demo` prints them."""
    from assay.cli.render import quality_summary as render
    from assay.ops.status import quality_overview

    return render(quality_overview(settings, day, days), day)


@pytest.fixture
def known(settings, catalog_url):
    """A catalog with quality rows of four days (the oldest outside a 3-day window)."""
    from assay.catalog.db import session
    from assay.catalog.models import (
        Asset,
        ExpectationResult,
        QualityCurrent,
        QualityRun,
        Scorecard,
        Source,
        Waiver,
    )

    with session(catalog_url) as s:
        shop = Source(name="shop", kind="sql", url_or_conn_id="assay_shop")
        feeds = Source(name="supplier_feeds", kind="files", url_or_conn_id="landing")
        s.add_all([shop, feeds])
        s.flush()

        def asset(src, ns, name, kind):
            a = Asset(source_id=src.id, namespace=ns, name=name, kind=kind, location=f"{ns}/{name}")
            s.add(a)
            s.flush()
            return a

        inter = asset(shop, "public", "interactions", "table")
        prod = asset(shop, "public", "products", "table")
        feed = {d: asset(feeds, f"feeds/northwind/{d}", "products.csv", "file") for d in (END, D1)}

        def run(a, suite, part, day, status, error=None, results=()):
            r = QualityRun(suite_name=suite, asset_id=a.id, partition_key=part, logical_date=day, run_key="t",
                           status=status, error=error)
            s.add(r)
            s.flush()
            s.add(QualityCurrent(suite_name=suite, asset_id=a.id, partition_key=part, logical_date=day,
                                 quality_run_id=r.id))  # the key's current attempt
            for eid, col, severity, ok, extra in results:
                s.add(ExpectationResult(quality_run_id=r.id, expectation_id=eid, expectation_type="t",
                                        column_name=col, dimension="validity", severity=severity, success=ok,
                                        **extra))
            return r

        # the logical date: two partitions pass (one with a failed warning), the feed fails
        run(inter, "interactions", END.isoformat(), END, "ok",
            results=[("event_id_unique", "event_id", "critical", True, {}),
                     ("rows_in_range", None, "warning", False, {})])
        run(prod, "products", "__all__", END, "ok", results=[("sku_unique", "sku", "critical", True, {})])
        run(feed[END], "supplier_feeds", END.isoformat(), END, "failed",
            results=[("price_tier_1", "price", "critical", False, {}),
                     ("category_known", "category", "warning", False, {})])
        # the day before: interactions could not validate at all; the feed's failure is waived
        run(inter, "interactions", D1.isoformat(), D1, "error", error="relation \"interactions\" does not exist\nLINE 1")
        waiver = Waiver(asset_id=feed[D1].id, suite_name="supplier_feeds", expectation_id="price_tier_1",
                        reason="r", created_by="jane", valid_from=D1)
        s.add(waiver)
        s.flush()
        run(feed[D1], "supplier_feeds", D1.isoformat(), D1, "ok",
            results=[("price_tier_1", "price", "critical", False, {"waived": True, "waiver_id": waiver.id})])
        # two days before: a duplicate burst, and a second suite failing on products
        run(inter, "interactions", D2.isoformat(), D2, "failed",
            results=[("event_id_unique", "event_id", "critical", False, {})])
        run(prod, "products", "__all__", D2, "ok")
        run(prod, "products_extra", "__all__", D2, "error",
            results=[("margin_positive", "margin", "warning", False, {"details": {"error": "column margin is gone"}})])
        # outside the window: never counted, never listed
        run(inter, "interactions", OUTSIDE.isoformat(), OUTSIDE, "failed",
            results=[("outside_check", "event_id", "critical", False, {})])

        s.add_all([
            Scorecard(asset_id=inter.id, day=END, overall=0.9,
                      dimension_scores={"completeness": 1.0, "uniqueness": 0.75, "validity": None}),
            Scorecard(asset_id=feed[END].id, day=END, overall=0.5, dimension_scores={"validity": 0.5}),
            Scorecard(asset_id=inter.id, day=D1, overall=0.1, dimension_scores={"validity": 0.1}),
        ])
    return settings.model_copy(update={"database_url": catalog_url})


def test_overview_reads_partitions_scorecards_and_failures(known):
    from assay.quality.overview import overview

    ov = overview(known.catalog_url(), END, WINDOW)
    assert ov.start == D2
    assert ov.validated() == ["interactions:2026-11-20", "products:__all__"]
    assert [(p.key, p.status) for p in ov.not_validated()] == [("feeds/northwind:2026-11-20", "failed")]
    assert ov.validated(D1) == ["feeds/northwind:2026-11-19"]  # a waived critical failure passes
    assert ov.validated(D2) == []  # products passed one suite but failed the other
    assert ov.counts() == {"validated": 3, "failed": 4, "running": 0}
    assert ov.failed_days() == [D2, D1, END]

    cards = {r.target: r for r in ov.scorecards}
    assert set(cards) == {"interactions", "feeds/northwind"}  # only the logical date's
    assert cards["interactions"].overall == 90.0
    assert cards["interactions"].dimensions["uniqueness"] == 75.0
    assert cards["interactions"].dimensions["validity"] is None
    assert cards["feeds/northwind"].overall == 50.0

    failures = [(f.day, f.target, f.expectation, f.column) for f in ov.failures]
    assert failures == [
        (D2, "interactions", "event_id_unique", "event_id"),
        (D2, "products", "margin_positive", "margin"),  # could not be evaluated: fails its run
        (D1, "interactions", "(run error)", None),
        (END, "feeds/northwind", "price_tier_1", "price"),
    ]
    # warnings, waived failures, passing days and days outside the window are not listed
    assert ov.failures[2].detail == 'relation "interactions" does not exist'


def test_demo_summary_prints_catalog_quality_before_the_data_docs_path(known):
    from assay.cli.render import demo_summary
    from assay.ops.demo import DemoReport
    from assay.ops.status import demo_status

    text = demo_summary(known, DemoReport(logical_date=END.isoformat()), demo_status(known, END.isoformat()))
    lines = text.splitlines()
    assert "Quality of 2026-11-20: 2 of 3 partitions validated" in lines
    assert "  validated  interactions:2026-11-20" in lines
    assert "  validated  products:__all__" in lines
    assert "  FAILED     feeds/northwind:2026-11-20" in lines
    assert "validated  feeds/northwind" not in text
    history = next(ln for ln in lines if ln.startswith("History "))
    # the demo's window is its 21 seeded days, so the oldest day counts here
    assert history.startswith("History 2026-10-31 .. 2026-11-20 (21 days): 3 partitions validated, 5 failed")
    assert "failed days: 2026-11-17, 2026-11-18, 2026-11-19, 2026-11-20" in history

    head = lines.index(next(ln for ln in lines if ln.startswith("  asset ")))
    assert lines[head].split() == ["asset", "overall", "compl", "uniq", "valid", "consist", "timely", "volume"]
    assert lines[head + 1].split() == ["feeds/northwind", "50", "-", "-", "50", "-", "-", "-"]
    assert lines[head + 2].split() == ["interactions", "90", "100", "75", "-", "-", "-", "-"]

    failures = [ln.split() for ln in lines if ln.startswith("  2026-11-")]
    assert ["2026-11-20", "feeds/northwind", "price_tier_1", "price"] in failures
    assert ["2026-11-17", "interactions", "outside_check", "event_id"] in failures
    assert not any("rows_in_range" in ln or "category_known" in ln for ln in lines)  # warnings
    assert not any(f[:3] == ["2026-11-19", "feeds/northwind", "price_tier_1"] for f in failures)  # waived

    docs = next(i for i, ln in enumerate(lines) if ln.strip().startswith("Data Docs"))
    assert docs > head + 2 and str(known.state_dir / "gx" / "data_docs" / "index.html") in lines[docs]


def test_summary_follows_the_catalog_after_a_rerun(known):
    """A re-run that fixes the feed changes the summary; nothing is taken from memory."""
    import datetime as dt

    from sqlalchemy import select

    from assay.catalog import runs
    from assay.catalog.db import session
    from assay.catalog.models import ExpectationResult, QualityRun

    before = quality_summary(known, END, WINDOW)
    assert "  FAILED     feeds/northwind:2026-11-20" in before
    with session(known.catalog_url()) as s:  # the re-run is a new attempt (issue #14 item 4)
        old = s.execute(select(QualityRun).where(QualityRun.suite_name == "supplier_feeds",
                                                 QualityRun.logical_date == END)).scalar_one()
        key = {k: getattr(old, k) for k in runs.QUALITY.key}
        now = dt.datetime.now(dt.UTC)
        run_id = runs.start_attempt(s, runs.QUALITY, {**key, "run_key": "t/rerun"}, now)
        for eid in ("price_tier_1", "category_known"):
            s.add(ExpectationResult(quality_run_id=run_id, expectation_id=eid, expectation_type="t",
                                    dimension="validity", severity="critical", success=True))
        runs.finish_attempt(s, runs.QUALITY, run_id, {"status": "ok"}, now)
    after = quality_summary(known, END, WINDOW)
    assert "Quality of 2026-11-20: 3 of 3 partitions validated" in after
    assert "  validated  feeds/northwind:2026-11-20" in after
    assert not any("price_tier_1" in ln for ln in after)
    assert next(ln for ln in after if ln.startswith("History ")).startswith(
        "History 2026-11-18 .. 2026-11-20 (3 days): 4 partitions validated, 3 failed; failed days: 2026-11-18, 2026-11-19")


def test_summary_of_a_date_without_quality_runs(known):
    lines = quality_summary(known, date(2027, 1, 1), WINDOW)
    assert lines[0] == "Quality of 2027-01-01: no quality runs recorded for this date"
    assert "0 partitions validated, 0 failed" in lines[1]
    assert lines[2] == "Scorecard 2027-01-01: none recorded"
