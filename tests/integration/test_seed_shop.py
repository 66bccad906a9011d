"""seed_shop against the real embedded PostgreSQL: determinism, idempotence, volume, defects."""

from __future__ import annotations

import codecs
import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from support.db import rows as sql_rows
from support.worlds import SeededShop, seeded_shop

from assay.errors import DatabaseError
from assay.seed import DefectSchedule, SeedConfig, read_defects, relevance_path, seed_shop
from assay.seed.catalog import SUPPLIERS
from assay.seed.feeds import EXTRA_COLUMN, FEED_COLUMNS, RENAMED_TO, feed_path

pytestmark = pytest.mark.integration

START = date(2026, 11, 1)
DAYS = 17
DEMO = SeedConfig(start_date=START, days=DAYS, defects=DefectSchedule.demo(START, DAYS))
TABLES = ("products", "customers", "search_sessions", "impressions", "interactions")
EVENT_TABLES = ("search_sessions", "impressions", "interactions")
EMAIL_RE = r"^[a-z0-9]([a-z0-9._]*[a-z0-9])?@([a-z0-9-]+\.)+[a-z]{2,}$"
PHONE_RE = r"^\+[0-9]{1,3}[ -][0-9]{1,4}([ -][0-9]{2,4})+$"


def checksums(url: str, tables=TABLES) -> dict[str, tuple[int, str]]:
    return {
        t: sql_rows(
            url, f"SELECT count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM public.{t} x"
        )[0]
        for t in tables
    }


def landing_files(landing: Path) -> dict[str, bytes]:
    return {
        p.relative_to(landing).as_posix(): p.read_bytes() for p in sorted(landing.rglob("*")) if p.is_file()
    }


def day_of(defect: str) -> date:
    (day,) = [d for d, names in DEMO.defects.items() if defect in names]
    return day


@pytest.fixture(scope="module")
def shop(scratch_db, tmp_path_factory) -> Iterator[SeededShop]:
    """The demo window (17 days, every defect once) seeded once for the module (read only)."""
    with seeded_shop(scratch_db, "seedshop", tmp_path_factory.mktemp("landing"), DEMO) as seeded:
        yield seeded


# ---- what was written -----------------------------------------------------------------------------


def test_stats_match_the_database(shop):
    counted = {
        (t, d): n
        for t in EVENT_TABLES
        for d, n in sql_rows(shop.url, f"SELECT day, count(*) FROM public.{t} GROUP BY day")
    }
    for table in EVENT_TABLES:
        assert set(shop.stats.rows[table]) == set(DEMO.dates)
        for day, n in shop.stats.rows[table].items():
            assert counted.get((table, day), 0) == n, (table, day)
    assert shop.stats.dimension_rows == {"products": 750, "customers": 1000}
    per_day = shop.stats.rows["search_sessions"][START]
    assert 150 < per_day < 260 and shop.stats.rows["impressions"][START] == 10 * per_day
    assert shop.stats.total_rows > 40_000 and shop.stats.elapsed_seconds > 0
    # 4 feeds a day, a truth file a day, except on the missing day; plus the two defect files.
    assert len(shop.stats.files_written) == 5 * (DAYS - 1) + 2


def test_defects_are_recorded(shop):
    expected = {d: sorted(DEMO.defects.for_day(d)) for d in DEMO.dates}
    assert {d: sorted(v) for d, v in shop.stats.defects.items()} == expected
    assert {d: sorted(v) for d, v in read_defects(shop.landing).items()} == expected
    assert all(not shop.stats.defects[START + timedelta(days=i)] for i in range(7))
    details = json.loads((shop.landing / "_truth" / "defect_details.json").read_text())
    assert details[day_of("null_burst").isoformat()]["null_burst"]["column"] == "query"


def test_table_defects_show_on_their_day_only(shop):
    nulls = dict(
        sql_rows(
            shop.url, "SELECT day, avg((query IS NULL)::int)::float FROM public.search_sessions GROUP BY day"
        )
    )
    assert nulls[day_of("null_burst")] >= 0.30
    assert {d for d, r in nulls.items() if r > 0} == {day_of("null_burst")}

    dup = dict(
        sql_rows(
            shop.url,
            "SELECT day, (count(*) - count(DISTINCT event_id))::float / count(DISTINCT event_id) "
            "FROM public.interactions GROUP BY day",
        )
    )
    assert dup[day_of("duplicated_events")] >= 0.05
    assert {d for d, r in dup.items() if r > 0} == {day_of("duplicated_events")}

    for table in EVENT_TABLES:
        present = {d for (d,) in sql_rows(shop.url, f"SELECT DISTINCT day FROM public.{table}")}
        assert set(DEMO.dates) - present == {day_of("missing_partition")}, table


def _header(raw: bytes) -> bytes:
    return raw.removeprefix(codecs.BOM_UTF8).split(b"\n", 1)[0]


def test_feed_defects_show_on_their_day_only(shop):
    base_price = dict(sql_rows(shop.url, "SELECT product_id, price::float FROM public.products"))
    csv_supplier = SUPPLIERS[0]
    found: dict[str, set[date]] = {
        k: set() for k in ("bom", "delim", "enc", "extra", "rename", "price", "absent")
    }
    for day in DEMO.dates:
        paths = [feed_path(shop.landing, s, day) for s in SUPPLIERS]
        if not any(p.exists() for p in paths):
            found["absent"].add(day)
            continue
        raw = feed_path(shop.landing, csv_supplier, day).read_bytes()
        if raw.startswith(codecs.BOM_UTF8):
            found["bom"].add(day)
        if not _header(raw).startswith(b"sku,"):
            found["delim"].add(day)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            found["enc"].add(day)
        for path in paths:
            if path.suffix == ".parquet":
                records = pq.read_table(path).to_pylist()
            elif path.suffix == ".jsonl":
                records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            else:
                text = path.read_bytes().decode("latin-1").removeprefix("ï»¿")
                delimiter = "\t" if path.suffix == ".tsv" else ("," if text.startswith("sku,") else ";")
                records = list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
            if list(records[0]) != list(FEED_COLUMNS):
                assert EXTRA_COLUMN in records[0]
                found["extra"].add(day)
            if any(r["category"] == RENAMED_TO for r in records):
                found["rename"].add(day)
            if any(float(r["price"]) >= 50 * base_price[r["product_id"]] for r in records):
                found["price"].add(day)
    assert found == {
        "bom": {day_of("bom_feed")},
        "delim": {day_of("wrong_delimiter")},
        "enc": {day_of("bad_encoding")},
        "extra": {day_of("added_column")},
        "rename": {day_of("renamed_category")},
        "price": {day_of("price_outlier")},
        "absent": {day_of("missing_partition")},
    }


def test_truth_stays_out_of_the_shop(shop):
    columns = {c for (c,) in sql_rows(shop.url, "SELECT column_name FROM information_schema.columns "
                                                "WHERE table_schema = 'public'")}  # fmt: skip
    assert not {c for c in columns if "grade" in c or "intent" in c or "target" in c}
    tables = {t for (t,) in sql_rows(shop.url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert tables == set(TABLES)
    for day in DEMO.dates:
        assert relevance_path(shop.landing, day).exists() == (day != day_of("missing_partition"))


def test_purchases_in_the_shop_go_to_relevant_products(shop):
    purchases = set(
        sql_rows(
            shop.url, "SELECT session_id, product_id FROM public.interactions WHERE event_type = 'purchase'"
        )
    )
    grades = []
    for day in DEMO.dates[:7]:
        truth = pq.read_table(
            relevance_path(shop.landing, day), columns=["session_id", "product_id", "grade"]
        )
        grades += [
            g
            for s, p, g in zip(*(truth.column(i).to_pylist() for i in range(3)), strict=True)
            if (s, p) in purchases
        ]
    assert len(grades) > 100
    assert sum(g == 3 for g in grades) / len(grades) > 0.8


def test_pii_is_well_formed(shop):
    bad = sql_rows(
        shop.url,
        "SELECT count(*) FILTER (WHERE email !~ :email), count(*) FILTER (WHERE phone !~ :phone), "
        "count(*) FILTER (WHERE ip_address::inet IS NULL), count(DISTINCT country) FROM public.customers",
        email=EMAIL_RE,
        phone=PHONE_RE,
    )
    assert bad == [(0, 0, 0, 5)]
    assert sql_rows(shop.url, "SELECT count(*) FROM public.products WHERE attributes ? 'colour'") == [(750,)]


# ---- determinism, idempotence, volume -----------------------------------------------------------


def test_same_config_gives_identical_data_and_files(shop, fresh_db, tmp_path):
    url = fresh_db("seed_twin")
    seed_shop(url, tmp_path, DEMO)
    assert checksums(url) == checksums(shop.url)
    assert landing_files(tmp_path) == landing_files(shop.landing)


def test_reseeding_is_idempotent(fresh_db, tmp_path):
    url = fresh_db("seed_again")
    config = SeedConfig(
        start_date=START,
        days=3,
        defects=DefectSchedule({START + timedelta(days=1): ["duplicated_events", "null_burst"]}),
    )
    first = seed_shop(url, tmp_path, config)
    before, files = checksums(url), landing_files(tmp_path)
    second = seed_shop(url, tmp_path, config)
    assert second.rows == first.rows and second.defects == first.defects
    assert checksums(url) == before and landing_files(tmp_path) == files
    # Re-seeding one day of the window replaces just that day: events come out identical.
    middle = SeedConfig(start_date=START + timedelta(days=1), days=1, defects=config.defects)
    seed_shop(url, tmp_path, middle)
    assert checksums(url, EVENT_TABLES) == {t: before[t] for t in EVENT_TABLES}
    assert read_defects(tmp_path) == first.defects
    # A late partition replaces that day with nothing (rows, feeds, truth) and leaves the others ...
    late_day = START + timedelta(days=1)
    late = SeedConfig(start_date=late_day, days=1, defects=DefectSchedule({late_day: ["missing_partition"]}))
    seed_shop(url, tmp_path, late)
    present = {d for (d,) in sql_rows(url, "SELECT DISTINCT day FROM public.interactions")}
    assert present == {START, START + timedelta(days=2)}
    assert not any(feed_path(tmp_path, s, late_day).exists() for s in SUPPLIERS)
    assert not relevance_path(tmp_path, late_day).exists()
    assert read_defects(tmp_path)[late_day] == ["missing_partition"]
    # ... and seeding the original config again restores everything.
    seed_shop(url, tmp_path, config)
    assert checksums(url) == before and landing_files(tmp_path) == files


def test_scale_changes_volume(shop, fresh_db, tmp_path):
    url = fresh_db("seed_scale")
    stats = seed_shop(url, tmp_path, SeedConfig(start_date=START, days=2, scale=3, write_truth=False))
    for table in EVENT_TABLES:
        for day in stats.days:
            ratio = stats.rows[table][day] / shop.stats.rows[table][day]
            assert 2.5 < ratio < 3.5, (table, day, ratio)
    assert stats.dimension_rows == {"products": 1250, "customers": 3000}
    assert not (tmp_path / "_truth" / f"relevance_{START.isoformat()}.parquet").exists()


def test_unreachable_database_is_a_database_error(pg_server, tmp_path):
    url = pg_server.url(f"t_missing_{uuid.uuid4().hex[:8]}")
    with pytest.raises(DatabaseError, match="cannot prepare the shop tables"):
        seed_shop(url, tmp_path, SeedConfig(start_date=START, days=1))
