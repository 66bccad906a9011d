"""The catalog schema on a real PostgreSQL: migrations, metadata parity, upserts, append-only guards."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Column, Text, inspect, select, text
from sqlalchemy.exc import IntegrityError

# isort: split
from assay.catalog import migrate
from assay.catalog.db import engine, session
from assay.catalog.models import (
    VERSION_TABLE,
    AliasEvent,
    Asset,
    Base,
    ColumnMetrics,
    GateDecision,
    ProfileCurrent,
    ProfileRun,
    QualityRun,
    SchemaEvent,
    SchemaVersion,
    Source,
)
from assay.catalog.upsert import insert_new, upsert
from assay.errors import DatabaseError

pytestmark = pytest.mark.integration

ASSET_KEY = ["source_id", "namespace", "name"]
DAY = dt.date(2026, 11, 20)
DIGEST = "a" * 64


def _tables(url: str) -> set[str]:
    return set(inspect(engine(url)).get_table_names())


def _source(url: str) -> int:
    with session(url) as s:
        (sid,) = upsert(
            s, Source, [{"name": "shop", "kind": "sql", "url_or_conn_id": "shop_postgres"}], ["name"]
        )
    return sid


def _asset(url: str, **extra: object) -> int:
    sid = _source(url)
    row = {"source_id": sid, "namespace": "public", "name": "orders", "kind": "table", **extra}
    with session(url) as s:
        (aid,) = upsert(s, Asset, [row], ASSET_KEY)
    return aid


def _decision(url: str) -> int:
    with session(url) as s:
        decision = GateDecision(
            model_name="xenc-ranker",
            version="3",
            decision="pass",
            policy_digest=DIGEST,
            policy={"min_ndcg": 0.3},
            checks=[{"name": "ndcg@10", "observed": 0.41, "threshold": 0.3, "verdict": "pass"}],
            evidence={"training_run_id": 1},
            reason="all checks passed",
            actor="gate",
            run_key="promote/manual__1",
        )
        s.add(decision)
        s.flush()
        return decision.id


#: The newest revision (one per file in include/assay/catalog/migrations/versions).
HEAD = "0008"


# ---- migrations -------------------------------------------------------------------------------
def test_upgrade_downgrade_upgrade_round_trip(fresh_db):
    url = fresh_db("mig")
    assert migrate.current(url) is None

    migrate.upgrade(url, "head")
    assert migrate.current(url) == migrate.head() == HEAD
    assert _tables(url) == set(Base.metadata.tables) | {VERSION_TABLE}
    migrate.require_head(url)

    migrate.upgrade(url, "head")  # idempotent
    assert migrate.current(url) == HEAD

    migrate.downgrade(url, "base")
    assert migrate.current(url) is None
    assert _tables(url) <= {VERSION_TABLE}, "downgrade to base must drop every catalog table"
    with engine(url).connect() as conn:
        functions = conn.execute(text("SELECT proname FROM pg_proc WHERE proname LIKE 'assay_%'")).all()
    assert functions == []

    migrate.upgrade(url, "head")
    assert migrate.current(url) == HEAD
    assert set(Base.metadata.tables) <= _tables(url)


def test_0002_lets_a_failed_training_run_have_no_dataset_and_downgrades_cleanly(fresh_db):
    url = fresh_db("mig2")
    migrate.upgrade(url, "0001")
    insert = text("INSERT INTO training_runs (mlflow_run_id, dataset_id, run_key, status) "
                  "VALUES (:r, NULL, 'k', 'failed')")
    with pytest.raises(IntegrityError, match="null value"), engine(url).begin() as conn:
        conn.execute(insert, {"r": "before"})
    migrate.upgrade(url, "head")
    with engine(url).begin() as conn:
        conn.execute(insert, {"r": "after"})
    migrate.downgrade(url, "0001")  # the dataset-less rows go; NOT NULL is back
    with engine(url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM training_runs")).scalar_one() == 0
    with pytest.raises(IntegrityError, match="null value"), engine(url).begin() as conn:
        conn.execute(insert, {"r": "again"})


def test_require_head_names_the_fix_on_an_unmigrated_catalog(fresh_db):
    url = fresh_db("nomig")
    with pytest.raises(DatabaseError, match="assay catalog migrate"):
        migrate.require_head(url)


def test_unknown_revision_is_a_database_error(catalog_url):
    with pytest.raises(DatabaseError, match="nope"):
        migrate.upgrade(catalog_url, "nope")


def test_concurrent_upgrades_from_several_processes_take_turns(fresh_db):
    url = fresh_db("race")
    code = "import sys; from assay.catalog import migrate; migrate.upgrade(sys.argv[1], 'head')"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    failures = [p.stderr.read() for p in procs if p.wait(timeout=120) != 0]
    assert failures == []
    assert migrate.current(url) == HEAD


def test_concurrent_upgrades_from_threads_take_turns(fresh_db):
    url = fresh_db("thread")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate.upgrade(url, "head")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert migrate.current(url) == HEAD


def _diff(url: str, metadata: sa.MetaData) -> list:
    opts = {
        "compare_type": True,
        "compare_server_default": True,
        "version_table": VERSION_TABLE,
        "autogenerate_plugins": migrate.AUTOGENERATE_PLUGINS,
    }
    with engine(url).connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)


def _copy_of_models() -> sa.MetaData:
    changed = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    return changed


def test_orm_metadata_matches_the_migrated_schema(catalog_url):
    assert _diff(catalog_url, Base.metadata) == []


def test_metadata_comparison_catches_a_model_change_without_migration(catalog_url):
    changed = _copy_of_models()
    changed.tables["assets"].append_column(Column("steward_note", Text))
    changed.tables["sources"].append_constraint(CheckConstraint("name <> ''", name="named"))
    diffs = _diff(catalog_url, changed)
    assert sorted(d[0] for d in diffs) == ["add_column", "add_constraint"]


def test_every_closed_vocabulary_check_allows_exactly_its_enum(catalog_url):
    """Alembic compares CHECKs by name only; a value added to a StrEnum needs a migration too."""
    with engine(catalog_url).connect() as conn:
        stored = dict(
            conn.execute(
                text("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c'")
            ).all()
        )
    compared = 0
    for table in Base.metadata.tables.values():
        for ck in table.constraints:
            if isinstance(ck, CheckConstraint) and " IN (" in str(ck.sqltext):
                wanted = set(re.findall(r"'([^']*)'", str(ck.sqltext)))
                assert set(re.findall(r"'([^']*)'::text", stored[str(ck.name)])) == wanted, ck.name
                compared += 1
    assert compared >= 15


# ---- upserts and natural keys -------------------------------------------------------------------
def test_upserting_the_same_asset_three_times_keeps_one_row_with_the_latest_values(catalog_url):
    sid = _source(catalog_url)
    ids, stamps = [], []
    for i in range(3):
        row = {
            "source_id": sid,
            "namespace": "public",
            "name": "orders",
            "kind": "table",
            "row_count": 100 * (i + 1),
            "row_count_is_estimate": i == 2,
            "tags": ["sales", f"v{i}"],
        }
        with session(catalog_url) as s:
            ids += upsert(s, Asset, [row], ASSET_KEY)
            stamps.append(s.execute(select(Asset.updated_at)).scalar_one())
        time.sleep(0.01)
    assert len(set(ids)) == 1
    with session(catalog_url) as s:
        assets = s.execute(select(Asset)).scalars().all()
    assert len(assets) == 1
    (asset,) = assets
    assert (asset.row_count, asset.row_count_is_estimate, asset.tags) == (300, True, ["sales", "v2"])
    assert asset.status == "active"
    assert stamps == sorted(stamps) and stamps[0] < stamps[-1], "updated_at must move on each update"
    assert asset.first_seen_at == asset.created_at < asset.updated_at


def test_upsert_returns_ids_in_input_order_and_can_keep_stored_values(catalog_url):
    sid = _source(catalog_url)

    def row(name: str, count: int) -> dict[str, object]:
        return {"source_id": sid, "namespace": "public", "name": name, "kind": "table", "row_count": count}

    with session(catalog_url) as s:
        (b,) = upsert(s, Asset, [row("b", 1)], ASSET_KEY)
        a, b2, c = upsert(s, Asset, [row("a", 1), row("b", 2), row("c", 3)], ASSET_KEY)
        assert b2 == b and len({a, b, c}) == 3
        assert upsert(s, Asset, [row("c", 99)], ASSET_KEY, update=[]) == [c]
        assert s.execute(select(Asset.row_count).where(Asset.id == c)).scalar_one() == 3
        assert upsert(s, Asset, [row("c", 7), row("c", 8)], ASSET_KEY) == [c]  # last wins
        assert s.execute(select(Asset.row_count).where(Asset.id == c)).scalar_one() == 8


def test_profile_runs_keep_every_attempt_with_one_current_per_asset_partition_and_day(catalog_url):
    # Since 0004 (issue #14 item 4) a key holds many attempts and one current pointer; was: one row per key.
    from assay.catalog import runs

    aid = _asset(catalog_url)
    run = {"asset_id": aid, "partition_key": "2026-11-20", "logical_date": DAY, "run_key": "profile/r1"}
    now = dt.datetime.now(dt.UTC)
    with session(catalog_url) as s:
        first = runs.start_attempt(s, runs.PROFILE, run, now)
        runs.finish_attempt(s, runs.PROFILE, first, {"status": "success", "row_count": 10}, now)
        again = runs.start_attempt(s, runs.PROFILE, {**run, "run_key": "profile/r2"}, now)
        runs.finish_attempt(s, runs.PROFILE, again, {"status": "success", "row_count": 12}, now)
        assert first != again
        assert runs.current_of(s, runs.PROFILE, (aid, "2026-11-20", DAY)) == again
        assert s.execute(select(ProfileRun.row_count).where(ProfileRun.id == first)).scalar_one() == 10
    duplicate = pytest.raises(IntegrityError, match="uq_profile_current_asset_id_partition_key_logical_date")
    with duplicate, session(catalog_url) as s:
        s.add(ProfileCurrent(asset_id=aid, partition_key="2026-11-20", logical_date=DAY, profile_run_id=first))


def test_column_metrics_go_with_their_profile_run(catalog_url):
    aid = _asset(catalog_url)
    with session(catalog_url) as s:
        attempt = ProfileRun(asset_id=aid, partition_key="__all__", logical_date=DAY, run_key="r")
        s.add(attempt)
        s.flush()
        pid = attempt.id
        metrics = [
            {"profile_run_id": pid, "column_name": n, "metrics": {"null_count": 0}} for n in ("a", "b")
        ]
        upsert(s, ColumnMetrics, metrics, ["profile_run_id", "column_name"])
        upsert(s, ColumnMetrics, metrics, ["profile_run_id", "column_name"])
        assert s.execute(select(sa.func.count()).select_from(ColumnMetrics)).scalar_one() == 2
        s.execute(sa.delete(ProfileRun).where(ProfileRun.id == pid))
        assert s.execute(select(sa.func.count()).select_from(ColumnMetrics)).scalar_one() == 0


def test_quality_runs_keep_every_attempt_with_one_current_per_suite_asset_partition_and_day(catalog_url):
    # Since 0004 (issue #14 item 4) a key holds many attempts and one current pointer; was: one row per key.
    from assay.catalog import runs

    aid = _asset(catalog_url)
    run = {
        "suite_name": "orders_suite",
        "asset_id": aid,
        "partition_key": "2026-11-20",
        "logical_date": DAY,
        "run_key": "quality/r1",
    }
    now = dt.datetime.now(dt.UTC)
    with session(catalog_url) as s:
        first = runs.start_attempt(s, runs.QUALITY, run, now)
        runs.finish_attempt(s, runs.QUALITY, first, {"status": "failed", "success": False, "critical_failures": 2}, now)
        other_suite = runs.start_attempt(s, runs.QUALITY, {**run, "suite_name": "orders_freshness"}, now)
        assert other_suite != first
        again = runs.start_attempt(s, runs.QUALITY, run, now)
        assert runs.current_of(s, runs.QUALITY, ("orders_suite", aid, "2026-11-20", DAY)) == first  # until it ends
        assert runs.finish_attempt(s, runs.QUALITY, again, {"status": "error", "error": "boom"}, now)  # kept
        assert runs.current_of(s, runs.QUALITY, ("orders_suite", aid, "2026-11-20", DAY)) == first
        assert s.execute(select(QualityRun.critical_failures).where(QualityRun.id == first)).scalar_one() == 2
    refused = pytest.raises(IntegrityError, match="finished attempt")
    with refused, session(catalog_url) as s:
        s.execute(sa.update(QualityRun).where(QualityRun.id == first).values(critical_failures=0))


def test_schema_events_are_not_duplicated_by_a_rerun(catalog_url):
    aid = _asset(catalog_url)
    with session(catalog_url) as s:
        (vid,) = upsert(
            s,
            SchemaVersion,
            [{"asset_id": aid, "version": 1, "fingerprint": DIGEST, "columns": [{"name": "id"}]}],
            ["asset_id", "fingerprint"],
        )
        event = {
            "asset_id": aid,
            "schema_version_id": vid,
            "event_type": "column_added",
            "column_name": "email",
            "new": {"data_type": "text"},
            "run_key": "inventory/r1",
        }
        key = ["asset_id", "schema_version_id", "event_type", "column_name", "run_key"]
        assert len(insert_new(s, SchemaEvent, [event], key)) == 1
        assert insert_new(s, SchemaEvent, [event], key) == []
        assert s.execute(select(sa.func.count()).select_from(SchemaEvent)).scalar_one() == 1


@pytest.mark.parametrize(
    "location",
    ["postgresql://u:s3cret@db/shop", "postgresql://u:***@db/shop", "postgresql://u@db/shop?password=s3cret"],
)
def test_sources_refuse_a_stored_password(catalog_url, location):
    with pytest.raises(IntegrityError, match="ck_sources_no_password"), session(catalog_url) as s:
        upsert(s, Source, [{"name": "x", "kind": "sql", "url_or_conn_id": location}], ["name"])


# ---- append-only --------------------------------------------------------------------------------
@pytest.mark.parametrize("table", ["gate_decisions", "alias_events"])
@pytest.mark.parametrize(
    "statement",
    ["UPDATE {t} SET actor = 'mallory'", "DELETE FROM {t}", "TRUNCATE {t} CASCADE"],
)
def test_append_only_tables_refuse_changes(catalog_url, table, statement):
    decision_id = _decision(catalog_url)
    with session(catalog_url) as s:
        insert_new(
            s,
            AliasEvent,
            [
                {
                    "model_name": "xenc-ranker",
                    "alias": "champion",
                    "to_version": "3",
                    "decision_id": decision_id,
                    "actor": "gate",
                    "reason": "passed",
                }
            ],
            ["decision_id", "alias"],
        )
    refused = pytest.raises(IntegrityError, match=f"{table} is append-only")
    with refused, engine(catalog_url).begin() as conn:
        conn.execute(text(statement.format(t=table)))
    with engine(catalog_url).connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 1


def test_a_retried_alias_move_is_recorded_once(catalog_url):
    decision_id = _decision(catalog_url)
    move = {
        "model_name": "xenc-ranker",
        "alias": "champion",
        "from_version": "2",
        "to_version": "3",
        "decision_id": decision_id,
        "actor": "gate",
        "reason": "passed",
    }
    with session(catalog_url) as s:
        assert len(insert_new(s, AliasEvent, [move], ["decision_id", "alias"])) == 1
        assert insert_new(s, AliasEvent, [move], ["decision_id", "alias"]) == []


# ---- reachability -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg2://u:s3cret@localhost:1/x",
        "postgresql+psycopg2://u:s3cret@localhost/x?host=/nonexistent/assay-socket-dir",
    ],
)
def test_check_reachable_names_the_masked_url_and_never_the_password(url):
    started = time.monotonic()
    with pytest.raises(DatabaseError) as info:
        migrate.check_reachable(url)
    message = str(info.value)
    assert "u:***@localhost" in message
    assert "not reachable" in message
    assert "s3cret" not in message
    assert time.monotonic() - started < 10


def test_upgrade_of_an_unreachable_catalog_is_a_database_error_without_the_password():
    with pytest.raises(DatabaseError) as info:
        migrate.upgrade("postgresql+psycopg2://u:s3cret@localhost:1/x", "head")
    assert "u:***@localhost:1/x" in str(info.value)
    assert "s3cret" not in str(info.value)


def test_check_reachable_passes_on_a_live_catalog(catalog_url):
    migrate.check_reachable(catalog_url)
