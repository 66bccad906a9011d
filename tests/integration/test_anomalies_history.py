"""Anomaly detection end to end: a synthetic daily history profiled day by day into a real catalog."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import text

# isort: split
from assay.catalog.db import engine, session
from assay.catalog.models import Anomaly, Asset, Source
from assay.catalog.upsert import upsert
from assay.config import Settings
from assay.profiling import AnomalyConfig, run_profile

pytestmark = pytest.mark.integration


@pytest.fixture
def env(fresh_db, catalog_url, tmp_path):
    """A source database with an empty ``daily`` table registered as a day-partitioned asset."""
    source_url = fresh_db("hist")
    path = tmp_path / "sources.yaml"
    path.write_text(json.dumps({"sources": [{"name": "shop", "kind": "sql", "url": source_url}]}))
    settings = Settings(database_url=catalog_url, sources_file=path)
    src = sa.create_engine(source_url)
    with src.begin() as c:
        c.execute(text("CREATE TABLE daily (day date, id int, cat text, amount float8, user_id int)"))
        c.execute(text("CREATE INDEX ON daily (day)"))
    with session(catalog_url) as s:
        (sid,) = upsert(
            s, Source, [{"name": "shop", "kind": "sql", "url_or_conn_id": "settings:shop"}], ["name"]
        )
        (asset,) = upsert(
            s,
            Asset,
            [
                {
                    "source_id": sid,
                    "namespace": "public",
                    "name": "daily",
                    "kind": "table",
                    "partition_column": "day",
                }
            ],
            ["source_id", "namespace", "name"],
        )
    yield settings, src, asset
    src.dispose()


def _anomalies(url: str) -> dict[tuple[dt.date, str, str], dict[str, Any]]:
    with engine(url).connect() as c:
        rows = c.execute(sa.select(Anomaly.__table__)).mappings().all()
    return {(r["logical_date"], r["column_name"], r["metric"]): dict(r) for r in rows}


def _daily(src: sa.Engine, day: dt.date, rows: int, null_burst: bool = False) -> None:
    cat_expr = "CASE WHEN g % 7 < 4 THEN NULL ELSE" if null_burst else "CASE WHEN g % 20 = 0 THEN NULL ELSE"
    with src.begin() as c:
        c.execute(
            text(
                "INSERT INTO daily SELECT :d, g, "
                f"{cat_expr} (ARRAY['a','b','c','d','e'])[1 + g % 5] END, (g * 37 % 100) + 0.5, g % 300 "
                "FROM generate_series(1, :n) g"
            ),
            {"d": day, "n": rows},
        )


def test_anomalies_on_a_synthetic_history(env):
    """14 clean days, a null burst, a missing day, a clean day: exactly the two bad days are flagged."""
    settings, src, asset = env
    start = dt.date(2026, 10, 1)
    days = [start + dt.timedelta(days=i) for i in range(17)]
    for i, day in enumerate(days[:14]):
        _daily(src, day, 1000 + (i % 3) * 4)
    burst, missing, after = days[14], days[15], days[16]
    _daily(src, burst, 1004, null_burst=True)
    _daily(src, after, 1004)  # nothing for `missing`
    for day in days:
        run_profile(settings, day, f"scheduled/{day}")

    url = settings.catalog_url()
    found = _anomalies(url)
    assert set(found) == {(burst, "cat", "null_ratio"), (missing, "", "row_count")}
    nulls = found[(burst, "cat", "null_ratio")]
    assert nulls["observed"] > nulls["upper"] and nulls["lower"] <= 0.05 <= nulls["upper"]
    assert "zscore" in nulls["method"] and nulls["details"]["zscore"]["window"] == 14
    gap = found[(missing, "", "row_count")]
    assert gap["observed"] == 0 and gap["method"].startswith("missing_partition") and gap["lower"] > 0
    assert gap["status"] == "open" and gap["asset_id"] == asset and gap["profile_run_id"] is not None

    # The steward acknowledges the gap; a rerun keeps that decision.
    with session(url) as s:
        s.execute(sa.update(Anomaly).where(Anomaly.id == gap["id"]).values(status="acknowledged"))
    run_profile(settings, missing, "rerun", force=True)
    assert _anomalies(url)[(missing, "", "row_count")]["status"] == "acknowledged"

    # The burst is reloaded correctly; rerunning the day replaces its anomalies with none.
    with src.begin() as c:
        c.execute(text("DELETE FROM daily WHERE day = :d"), {"d": burst})
    _daily(src, burst, 1004)
    run_profile(settings, burst, "rerun", force=True)
    assert set(_anomalies(url)) == {(missing, "", "row_count")}


def test_a_tighter_band_flags_more(env):
    """k is configurable: the same drift passes with k=3 and is flagged with k=0.5."""
    settings, src, _ = env
    start = dt.date(2026, 10, 1)
    for i in range(9):
        _daily(src, start + dt.timedelta(days=i), 1000 + (i % 3) * 40 if i < 8 else 1090)
    for i in range(9):
        run_profile(settings, start + dt.timedelta(days=i), "k3")
    assert _anomalies(settings.catalog_url()) == {}
    run_profile(
        settings, start + dt.timedelta(days=8), "k05", force=True, anomaly_config=AnomalyConfig(k=0.5)
    )
    flagged = _anomalies(settings.catalog_url())
    assert set(flagged) >= {(start + dt.timedelta(days=8), "", "row_count")}
    assert flagged[(start + dt.timedelta(days=8), "", "row_count")]["details"]["config"]["k"] == 0.5


def test_a_column_flagged_on_a_day_leaves_that_day_out_of_its_history(env):
    """A null burst depresses the column's distinct count without flagging it; the next day's
    recovery must be judged against the last clean day, not against the burst."""
    settings, src, _asset = env
    start = dt.date(2026, 10, 1)
    days = [start + dt.timedelta(days=i) for i in range(16)]
    cycle = [800, 900, 1000]  # distinct counts: mean 900, 3 sd ~ 250

    def load(day: dt.date, modulus: int, burst: bool = False) -> None:
        cat = "CASE WHEN g > 840 THEN NULL ELSE 'v' || (g % :m) END" if burst else "'v' || (g % :m)"
        with src.begin() as c:
            c.execute(
                text(f"INSERT INTO daily SELECT :d, g, {cat}, 1.5, g % 300 FROM generate_series(1, 1200) g"),
                {"d": day, "m": modulus},
            )

    for i, day in enumerate(days[:14]):
        load(day, cycle[i % 3])
    burst, after = days[14], days[15]
    load(burst, 700, burst=True)  # 30 % nulls, 700 distinct: -22 % against the day before, in the band
    load(after, 1100)  # +57 % (and > 3 sd) against the burst; +22 % against the last clean day
    for day in days:
        run_profile(settings, day, f"scheduled/{day}")

    found = _anomalies(settings.catalog_url())
    assert (burst, "cat", "null_ratio") in found
    assert (burst, "cat", "distinct") not in found
    assert not [key for key in found if key[0] == after]
