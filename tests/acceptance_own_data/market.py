"""A generated marketplace unlike the demo shop: PostgreSQL tables and a dated export folder.

``build_day(url, folder, day, index, defects)`` writes one day. Day 0 is always clean; with
``defects`` a later day carries the planted defects listed in ``DEFECTS``. The same generator
without ``defects`` makes the clean copy, so the two worlds differ only by the defects.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from support.db import execute

#: planted defect -> where it lives (the test asserts how each one is surfaced).
DEFECTS = {
    "orphan foreign keys": "mkt.orders.listing_id (6 ids with no listing)",
    "codes lost leading zeros": "exports/<day>/sellers.csv seller_zip (declared string)",
    "stray email": "mkt.listings.title (one title is an address)",
    "zero and negative": "mkt.orders.amount (a 0 and a -5)",
    "all-null column": "mkt.orders.shipped_at",
    "duplicated key": "mkt.listings.listing_id (one id twice)",
    "type changed": "exports/<day>/stock.csv qty (integer -> text)",
    "BOM header": "exports/<day>/sellers.csv (read right)",
    "index-column header": "exports/<day>/stock.csv (read right)",
    "tab-separated .csv": "exports/<day>/payouts.csv (read right)",
}

SELLERS = 40
LISTINGS_PER_DAY = 120
ORDERS_PER_DAY = 300


def create_schema(url: str) -> None:
    """The tables: sellers (whole), listings and orders partitioned by a day column, no PK on purpose."""
    execute(url, """
        CREATE SCHEMA mkt;
        CREATE TABLE mkt.sellers (seller_id integer PRIMARY KEY, shop_name text NOT NULL,
                                  country char(2) NOT NULL, joined_on date NOT NULL);
        INSERT INTO mkt.sellers
        SELECT g, 'shop ' || g, (ARRAY['DE','FR','NL','PL'])[1 + g % 4], DATE '2023-01-01' + g
        FROM generate_series(1, 40) g;
        CREATE TABLE mkt.listings (listing_id bigint NOT NULL, seller_id integer NOT NULL, title text NOT NULL,
                                   price_cents integer NOT NULL, listed_on date NOT NULL);
        CREATE TABLE mkt.orders (order_id bigint NOT NULL, listing_id bigint NOT NULL, amount numeric(10, 2),
                                 quantity smallint NOT NULL, shipped_at timestamptz, order_day date NOT NULL);
    """)


def _write_day_tables(url: str, day: dt.date, index: int, defects: bool) -> None:
    first_listing = 1 + index * LISTINGS_PER_DAY
    execute(url, """
        INSERT INTO mkt.listings
        SELECT :first + g, 1 + g % 40, 'handmade item number ' || (:first + g), 500 + (g * 37) % 9000, :day
        FROM generate_series(0, :n - 1) g;
        INSERT INTO mkt.orders
        SELECT :oid + g, 1 + (g * 7) % (:first + :n - 1), 5 + (g * 13) % 200, 1 + g % 5,
               CAST(:day AS timestamptz) + make_interval(mins => g), :day
        FROM generate_series(0, :orders - 1) g;
    """, first=first_listing, n=LISTINGS_PER_DAY, day=day, oid=1 + index * ORDERS_PER_DAY, orders=ORDERS_PER_DAY)
    if not defects:
        return
    execute(url, """
        UPDATE mkt.orders SET listing_id = 900000 + order_id WHERE order_day = :day AND order_id % 50 = 0;
        UPDATE mkt.orders SET amount = 0 WHERE order_day = :day AND order_id = :oid + 1;
        UPDATE mkt.orders SET amount = -5 WHERE order_day = :day AND order_id = :oid + 2;
        UPDATE mkt.orders SET shipped_at = NULL WHERE order_day = :day;
        UPDATE mkt.listings SET title = 'maria.lopez@example.org' WHERE listed_on = :day AND listing_id = :first + 3;
        UPDATE mkt.listings SET listing_id = :first + 5 WHERE listed_on = :day AND listing_id = :first + 6;
    """, day=day, oid=1 + index * ORDERS_PER_DAY, first=first_listing)


def _write_day_files(folder: Path, day: dt.date, index: int, defects: bool) -> None:
    out = folder / "exports" / day.isoformat()
    out.mkdir(parents=True, exist_ok=True)
    # sellers.csv: UTF-8 with a byte-order mark; 5-digit zips, many with leading zeros
    lines = ["seller_id,seller_zip,city"]
    for s in range(1, SELLERS + 1):
        zip_code = f"{(s * 2311 + index) % 100000:05d}" if s % 3 else f"0{(s * 97) % 10000:04d}"
        if defects and s % 3 == 0:
            zip_code = str(int(zip_code))  # opened in a spreadsheet: the leading zero is gone
        lines.append(f"{s},{zip_code},city {s % 7}")
    (out / "sellers.csv").write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode())
    # stock.csv: written by pandas with its index (the header's first cell is empty)
    buf = io.StringIO()
    buf.write(",sku,qty,warehouse\n")
    for i in range(60):
        qty = str(3 + (i * 11) % 40)
        if defects and i % 10 == 0:
            qty = f"{qty} pcs"  # someone typed units: the column is text that day
        buf.write(f"{i},SKU-{1000 + i},{qty},WH{1 + i % 3}\n")
    (out / "stock.csv").write_text(buf.getvalue())
    # payouts.csv: tab-separated although it is called .csv
    rows = ["seller_id\tpayout_eur\tcurrency"] + [f"{s}\t{10 + (s * 17) % 300}.50\tEUR" for s in range(1, SELLERS + 1)]
    (out / "payouts.csv").write_text("\n".join(rows) + "\n")


def build_day(url: str, folder: Path, day: dt.date, index: int, *, defects: bool) -> None:
    """Write one day of the marketplace: its table partitions and its export files."""
    _write_day_tables(url, day, index, defects)
    _write_day_files(folder, day, index, defects)


def sources_yaml(url: str, folder: Path) -> dict:
    """The marketplace's declarations: one SQL source, one file source (zip declared as text)."""
    return {"sources": [
        {"name": "mkt", "kind": "sql", "url": url, "schemas": ["mkt"],
         "assets": {"listings": {"partition_column": "listed_on"}, "orders": {"partition_column": "order_day"}}},
        {"name": "drops", "kind": "files", "root": str(folder), "patterns": ["exports/*/*.csv"],
         "assets": {"exports/{partition}/sellers.csv": {"columns": {"seller_zip": "string"}}}},
    ]}
