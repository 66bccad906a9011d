"""build_training_set on a real seeded shop, real GX quality runs and a real catalog.

Seven days are seeded; 2026-11-04 has duplicated events (a critical failure of ``interactions``),
2026-11-06 a burst of NULL queries whose failure a steward waived. The builder must skip the first
day with its reason, use the waived day (recording the waiver) and drop its NULL-query sessions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from support.db import connection
from support.db import execute as sql
from support.worlds import shop_world

from assay.seed.vocab import CATEGORIES
from assay.training import text as txt
from assay.training.dataset import build_training_set
from assay.training.errors import DatasetError, NoValidatedData

pytestmark = pytest.mark.integration

START = date(2026, 11, 1)
DAYS = 7
END = START + timedelta(days=DAYS - 1)
DEFECT = date(2026, 11, 4)   # duplicated_events -> interactions.event_id_unique fails (critical)
WAIVED = date(2026, 11, 6)   # null_burst -> search_sessions.query_not_null fails, waived
TABLES = ["products", "search_sessions", "impressions", "interactions"]
LABELS = {"click": 1, "add_to_cart": 2, "purchase": 3}


@dataclass
class Env:
    settings: object
    shop_url: str
    catalog_url: str
    waiver_id: int


def frame(url: str, statement: str, **params) -> pd.DataFrame:
    from sqlalchemy import text

    with connection(url) as conn:
        return pd.read_sql(text(statement), conn, params=params)


@pytest.fixture(scope="module")
def env(scratch_db, tmp_path_factory) -> Iterator[Env]:
    from assay.quality import add_waiver, run_quality
    from assay.seed import DefectSchedule, SeedConfig

    defects = DefectSchedule.parse(f"{DEFECT}:duplicated_events;{WAIVED}:null_burst")
    config = SeedConfig(start_date=START, days=DAYS, defects=defects)
    with shop_world(scratch_db, tmp_path_factory.mktemp("t"), "t", config) as world:
        settings = world.settings
        waiver_id = None
        for k in range(DAYS):
            day = START + timedelta(days=k)
            run_quality(settings, day, f"test/{day}", assets=TABLES, raise_on_failure=False)
            if k == 0:  # the assets exist now: the steward waives the NULL burst ahead of time
                waiver_id = add_waiver(settings, asset="search_sessions", suite="search_sessions",
                                       expectation="query_not_null", reason="INC-7 null burst, fixed upstream",
                                       created_by="steward", valid_from=WAIVED,
                                       valid_until=WAIVED + timedelta(days=1))
        assert waiver_id is not None
        yield Env(settings, world.shop_url, world.catalog_url, waiver_id)


@pytest.fixture(scope="module")
def built(env):
    return build_training_set(env.settings, END, DAYS, run_key="test/first")


def test_defect_day_is_skipped_with_its_reason(env, built):
    assert [s.day for s in built.skipped_days] == [DEFECT]
    (reason,) = built.skipped_days[0].reasons
    assert reason.startswith(f"interactions:{DEFECT}") and "event_id_unique" in reason and "failed" in reason
    assert built.stats["days_skipped"] == [{"day": DEFECT.isoformat(), "reasons": [reason]}]
    used = [START + timedelta(days=k) for k in range(DAYS) if START + timedelta(days=k) != DEFECT]
    assert built.stats["days_used"] == [d.isoformat() for d in used]
    assert not any(p.endswith(DEFECT.isoformat()) for p in built.partitions)
    assert {f"{t}:{d}" for t in TABLES[1:] for d in used} | {f"products:{END}"} == set(built.partitions)


def test_evidence_names_the_runs_and_the_waiver(env, built):
    runs = sql(env.catalog_url, """
        SELECT r.id, a.name, r.partition_key, r.logical_date, r.gx_run_id FROM quality_runs r
        JOIN assets a ON a.id = r.asset_id""")
    expected = sorted(rid for rid, name, pk, ld, _ in runs
                      if (name != "products" and pk != DEFECT.isoformat()) or (name == "products" and ld == END))
    assert list(built.quality_run_ids) == expected
    assert len(built.gx_run_ids) >= 1
    assert list(built.waiver_ids) == [env.waiver_id]
    # the waived day is used, and its NULL-query sessions are dropped and counted
    nulls = sql(env.shop_url, "SELECT count(*) FROM search_sessions WHERE query IS NULL AND day = :d", d=WAIVED)[0][0]
    assert nulls > 0
    assert built.stats["null_queries_dropped"] == nulls
    assert built.unvalidated_partitions == ()


def test_no_query_or_near_duplicate_on_both_sides(built):
    train, test = built.train_frame(), built.test_frame()
    assert len(train) == built.n_train and len(test) == built.n_test
    assert 0.1 < built.n_test / (built.n_train + built.n_test) <= 0.2
    assert not set(train["query"]) & set(test["query"])
    assert not set(train["group_id"]) & set(test["group_id"])
    test_queries = sorted(set(test["query"]))
    for q in sorted(set(train["query"])):
        for t in test_queries:
            assert not txt.near_duplicates(q, t), (q, t)
    assert list(train.columns)[:9] == ["query_id", "query", "group_id", "product_id", "product_text", "label",
                                       "slice_traffic", "slice_category", "n_sessions"]
    assert str(train["label"].dtype) == "int8"
    assert set(train["slice_traffic"]) == {"head", "tail"}
    known = {txt.category_slug(c.path) for c in CATEGORIES}
    assert set(test["slice_category"]) <= known and set(train["slice_category"]) <= known


def test_labels_match_an_independent_pandas_computation(env, built):
    days = [date.fromisoformat(d) for d in built.stats["days_used"]]
    sessions = frame(env.shop_url, "SELECT session_id, query FROM search_sessions WHERE day = ANY(:d)", d=days)
    imps = frame(env.shop_url, "SELECT session_id, product_id FROM impressions WHERE day = ANY(:d)", d=days)
    events = frame(env.shop_url, "SELECT session_id, product_id, event_type FROM interactions WHERE day = ANY(:d)",
                   d=days)
    events["grade"] = events["event_type"].map(LABELS)
    best = events.groupby(["session_id", "product_id"], as_index=False)["grade"].max()
    shown = imps.merge(sessions.dropna(subset=["query"]), on="session_id").merge(
        best, on=["session_id", "product_id"], how="left")
    shown["grade"] = shown["grade"].fillna(0).astype(int)
    shown["query"] = shown["query"].map(txt.normalise_query)
    expected = (shown.groupby(["query", "product_id"])
                .agg(label=("grade", "max"), n_sessions=("session_id", "nunique")).reset_index())
    got = pd.concat([built.train_frame(), built.test_frame()])[["query", "product_id", "label", "n_sessions"]]
    merged = expected.merge(got, on=["query", "product_id"], how="outer", suffixes=("_pd", "_built"),
                            indicator=True)
    assert (merged["_merge"] == "both").all()
    assert (merged["label_pd"] == merged["label_built"]).all()
    assert (merged["n_sessions_pd"] == merged["n_sessions_built"]).all()
    # a duplicated event cannot raise a label: the skipped day aside, labels are 0..3
    assert set(got["label"]) <= {0, 1, 2, 3} and {0, 1} <= set(got["label"])
    texts = dict(sql(env.shop_url, "SELECT product_id, title FROM products"))
    sample = built.test_frame().iloc[0]
    assert sample["product_text"].startswith(texts[sample["product_id"]])


def _files(location: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(location.iterdir())}


def test_rebuild_gives_the_same_digest_files_and_catalog_row(env, built):
    before = _files(built.location)
    again = build_training_set(env.settings, END, DAYS, run_key="test/second")
    assert again.digest == built.digest and again.location == built.location
    assert again.dataset_id == built.dataset_id
    assert _files(again.location) == before
    assert set(before) == {"train.parquet", "test.parquet", "products.parquet", "manifest.json"}
    assert built.location == env.settings.state_dir / "datasets" / built.digest[:16]
    assert not [p for p in built.location.parent.iterdir() if p.name.startswith(".")]  # no temp folders left
    rows = sql(env.catalog_url, """SELECT id, digest, window_start, window_end, n_train, n_test, run_key,
                                   partitions, quality_run_ids, waiver_ids FROM training_datasets""")
    assert len(rows) == 1
    rid, digest, ws, we, n_train, n_test, run_key, partitions, qids, wids = rows[0]
    assert (rid, digest, ws, we) == (built.dataset_id, built.digest, START, END)
    assert (n_train, n_test, run_key) == (built.n_train, built.n_test, "test/second")
    assert partitions == list(built.partitions) and qids == list(built.quality_run_ids) and wids == [env.waiver_id]
    # another seed is another split, another digest
    other = build_training_set(env.settings, END, DAYS, seed=99)
    assert other.digest != built.digest
    assert set(other.test_frame()["query"]) != set(built.test_frame()["query"])


def test_stats_summarise_labels_and_features(built):
    st = built.stats
    assert sum(st["train"]["labels"].values()) == built.n_train
    assert sum(st["test"]["labels"].values()) == built.n_test
    assert sum(st["category_mix"].values()) == built.n_train + built.n_test
    assert sum(st["query_tokens"].values()) == st["queries"]
    assert sum(st["price_shown"].values()) > 0
    assert st["groups"] <= st["queries"]


# ---- bad input --------------------------------------------------------------------------------
def test_window_without_validated_partitions(env):
    with pytest.raises(NoValidatedData, match="2026-10-20..2026-10-22"):
        build_training_set(env.settings, date(2026, 10, 22), 3)
    with pytest.raises(NoValidatedData, match=f"interactions:{DEFECT}.*event_id_unique"):
        build_training_set(env.settings, DEFECT, 1)


def test_allow_unvalidated_includes_and_records_failed_partitions(env):
    ts = build_training_set(env.settings, DEFECT, 1, allow_unvalidated=True)
    assert ts.unvalidated_partitions == (f"interactions:{DEFECT}",)
    assert ts.skipped_days == ()
    assert f"interactions:{DEFECT}" in ts.partitions


def test_bad_parameters(env):
    with pytest.raises(DatasetError, match="test_fraction"):
        build_training_set(env.settings, END, DAYS, test_fraction=1.0)
    with pytest.raises(DatasetError, match="days"):
        build_training_set(env.settings, END, 0)


def test_empty_test_split(env):
    # two queries, each bigger than 5 % of the rows: no group fits the test share
    with pytest.raises(DatasetError, match="test split is empty"):
        build_training_set(env.settings, END, DAYS, max_queries=2, test_fraction=0.05)


@pytest.fixture
def copy_settings(env, fresh_db, tmp_path):
    """Settings on the same catalog evidence but a private copy of the shop (the test may change it)."""
    from assay.seed import DefectSchedule, SeedConfig, seed_shop

    url = fresh_db("tshopcopy")
    seed_shop(url, tmp_path / "landing", SeedConfig(start_date=START, days=DAYS, write_truth=False,
                                                    defects=DefectSchedule.parse(f"{DEFECT}:duplicated_events;"
                                                                                 f"{WAIVED}:null_burst")))
    return url, env.settings.model_copy(update={"shop_url": url, "home": tmp_path / "state"})


def test_single_class_labels_are_refused(copy_settings):
    url, settings = copy_settings
    sql(url, "DELETE FROM interactions")
    with pytest.raises(DatasetError, match="no positive"):
        build_training_set(settings, END, DAYS)
    sql(url, """INSERT INTO interactions (event_id, session_id, product_id, event_type, event_at, day)
                SELECT 'x' || session_id || position, session_id, product_id, 'click', shown_at, day
                FROM impressions""")
    with pytest.raises(DatasetError, match="no negative"):
        build_training_set(settings, END, DAYS)


def test_empty_training_set_is_refused(copy_settings):
    url, settings = copy_settings
    sql(url, "DELETE FROM impressions")
    with pytest.raises(DatasetError, match="no impressions with a query"):
        build_training_set(settings, END, DAYS)


def test_a_damaged_folder_is_replaced_on_rebuild(env, built):
    before = _files(built.location)
    (built.location / "manifest.json").write_text("{}")
    (built.location / "test.parquet").unlink()
    again = build_training_set(env.settings, END, DAYS)
    assert again.location == built.location and _files(again.location) == before


def test_products_must_pass_quality_too(env):
    (run_id, status), = sql(env.catalog_url, """
        SELECT r.id, r.status FROM quality_runs r JOIN assets a ON a.id = r.asset_id
        JOIN quality_current c ON c.quality_run_id = r.id
        WHERE a.name = 'products' AND r.logical_date = :d""", d=END)
    assert status == "ok"
    # a re-validation that failed: a new attempt becomes current (issue #14 item 4: attempts never change)
    (failed_id,), = sql(env.catalog_url, """
        INSERT INTO quality_runs (suite_name, asset_id, partition_key, logical_date, run_key, status, success,
                                  critical_failures, finished_at)
        SELECT suite_name, asset_id, partition_key, logical_date, 'test/rerun', 'failed', false, 1, now()
        FROM quality_runs WHERE id = :i RETURNING id""", i=run_id)
    sql(env.catalog_url, "UPDATE quality_current SET quality_run_id = :n WHERE quality_run_id = :i", n=failed_id, i=run_id)
    try:
        with pytest.raises(NoValidatedData, match=f"products:{END}: quality run {failed_id} .*failed"):
            build_training_set(env.settings, END, DAYS)
        # an older products run is not a substitute for the newest one of the window
        with pytest.raises(NoValidatedData, match="products"):
            build_training_set(env.settings, END, 2)
        # a window ending earlier relies on that day's products run, which passed
        earlier = build_training_set(env.settings, END - timedelta(days=1), 2)
        assert f"products:{END - timedelta(days=1)}" in earlier.partitions
    finally:
        sql(env.catalog_url, "UPDATE quality_current SET quality_run_id = :i WHERE quality_run_id = :n", i=run_id,
            n=failed_id)


def test_test_rows_carry_judged_grades_and_train_rows_never_do(env, built):
    from assay.training.judgments import JUDGED_COLUMN

    test, train = built.test_frame(), built.train_frame()
    assert JUDGED_COLUMN not in train.columns  # judgments are never a training label
    grades = test[JUDGED_COLUMN]
    assert len(grades) == len(test) and set(grades) <= {0, 1, 2, 3}  # the seed judged every shown pair
    assert built.stats["judgments"]["test_rows_judged"] == len(test)
    assert sum(built.stats["judgments"]["grades"].values()) == len(test)
    by_grade = test.groupby(JUDGED_COLUMN)["label"].mean()
    assert by_grade[3] > by_grade[0]  # clicks follow the judged relevance
    # a purchase (label 3) is almost always of a grade-3 product (docs/seed.md: ~94 %)
    assert (grades[test["label"] == 3] == 3).mean() > 0.8


def test_judgments_are_part_of_the_digest(env, built, tmp_path):
    from assay.training.judgments import JUDGED_COLUMN, NOT_JUDGED

    bare = env.settings.model_copy(update={"judgments_dir": tmp_path / "no-judgments"})
    without = build_training_set(bare, END, DAYS)
    assert (without.test_frame()[JUDGED_COLUMN] == NOT_JUDGED).all()
    assert without.stats["judgments"]["test_rows_judged"] == 0
    assert without.digest != built.digest
    pd.testing.assert_frame_equal(without.train_frame(), built.train_frame())
