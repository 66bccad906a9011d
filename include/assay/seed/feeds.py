"""Daily supplier product feeds in the landing folder, one file format per supplier.

``<landing>/feeds/<supplier>/<YYYY-MM-DD>/products.<ext>`` with columns
``sku, product_id, title, brand, category, price, currency, stock, updated_at``:

* ``northwind``  CSV (comma, UTF-8)   - the file the encoding and delimiter defects corrupt;
* ``brightline`` TSV (UTF-8);
* ``cascade``    Parquet (price decimal(12,2), updated_at timestamp UTC);
* ``meridian``   JSON Lines (one object per line, UTF-8).

Each file is written to a temporary name and renamed, so a reader never sees half a feed.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import shutil
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from assay.seed.catalog import SUPPLIERS, Products, Supplier, cents_to_decimal, get_vocab, midnight_utc
from assay.seed.config import (
    ADDED_COLUMN,
    BAD_ENCODING,
    BOM_FEED,
    MISSING_PARTITION,
    PRICE_OUTLIER,
    RENAMED_CATEGORY,
    WRONG_DELIMITER,
)
from assay.seed.rng import stream

FEED_COLUMNS: tuple[str, ...] = (
    "sku",
    "product_id",
    "title",
    "brand",
    "category",
    "price",
    "currency",
    "stock",
    "updated_at",
)
EXTENSIONS = {"csv": "csv", "tsv": "tsv", "parquet": "parquet", "jsonl": "jsonl"}

#: The category the renamed_category defect renames, and its new name.
RENAMED_FROM = "Home > Furniture > Sofas"
RENAMED_TO = "Home > Furniture > Couches"
#: The extra column of the added_column defect.
EXTRA_COLUMN = "promo_code"
#: Price factor of the price_outlier defect (a cents/units slip), and outliers per supplier.
OUTLIER_FACTOR = 100
OUTLIERS_PER_SUPPLIER = 2
#: Delimiter the wrong_delimiter defect writes into the .csv file.
WRONG_DELIMITER_CHAR = ";"
_PROMO_CODES = ("WINTER10", "BF25", "FREESHIP", "WELCOME5")


def feed_path(landing_dir: Path, supplier: Supplier, day: date) -> Path:
    """Where a supplier's feed for ``day`` lives."""
    return landing_dir / "feeds" / supplier.name / day.isoformat() / f"products.{EXTENSIONS[supplier.fmt]}"


def _iso(seconds: np.ndarray) -> list[str]:
    return [f"{s}Z" for s in np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")]


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary sibling, then rename it over ``path`` (readers never see half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _delimited(header: Sequence[str], rows: list[list[Any]], delimiter: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_feeds(
    landing_dir: Path, day: date, products: Products, seed: int, defects: frozenset[str] = frozenset()
) -> tuple[list[Path], dict[str, dict[str, Any]]]:
    """Write the four suppliers' feeds for ``day``, injecting the feed-level defects.

    Args:
        landing_dir: the landing folder.
        day: the feed day.
        products: the catalog (each product belongs to one supplier).
        seed: the random seed.
        defects: defects of the day. Feed-level: ``price_outlier``, ``renamed_category``,
            ``added_column`` (all four files); ``bom_feed``, ``wrong_delimiter``, ``bad_encoding``
            (the CSV file); ``missing_partition`` removes the day's feeds.

    Returns:
        The files written and, per applied defect, details for the truth file.
    """
    details: dict[str, dict[str, Any]] = {}
    if MISSING_PARTITION in defects:
        for supplier in SUPPLIERS:
            folder = feed_path(landing_dir, supplier, day).parent
            if folder.exists():
                shutil.rmtree(folder)
        # Details are a function of the config alone (not of what an earlier seed left behind).
        details[MISSING_PARTITION] = {"feeds": "absent"}
        return [], details

    v = get_vocab()
    written: list[Path] = []
    outliers: list[str] = []
    renamed_rows = 0
    for s_idx, supplier in enumerate(SUPPLIERS):
        rows_idx = np.flatnonzero(products.supplier_id == s_idx)
        n = len(rows_idx)
        rng = stream(seed, "feed", day.toordinal(), s_idx)
        cents = products.price_cents[rows_idx].copy()
        promo = rng.random(n) < 0.06
        discount = 1.0 - rng.uniform(0.1, 0.3, n)
        cents = np.where(promo, np.maximum(np.round(cents * discount / 100) * 100 - 1, 99), cents).astype(
            np.int64
        )
        stock = np.where(rng.random(n) < 0.05, 0, rng.integers(1, 250, n))
        updated = midnight_utc(day) + rng.integers(0, 6 * 3600, n).astype("timedelta64[s]")
        categories = [v.leaf_path(int(t)) for t in products.type_id[rows_idx]]
        promo_codes = [
            _PROMO_CODES[int(k)] if flag else None
            for flag, k in zip(rng.random(n) < 0.2, rng.integers(0, len(_PROMO_CODES), n), strict=True)
        ]

        if PRICE_OUTLIER in defects and n:
            d_rng = stream(seed, "defect:" + PRICE_OUTLIER, day.toordinal(), s_idx)
            hit = np.sort(d_rng.choice(n, size=min(OUTLIERS_PER_SUPPLIER, n), replace=False))
            cents[hit] *= OUTLIER_FACTOR
            outliers.extend(products.product_ids.take(pa.array(rows_idx[hit])).to_pylist())
        if RENAMED_CATEGORY in defects:
            renamed_rows += sum(c == RENAMED_FROM for c in categories)
            categories = [RENAMED_TO if c == RENAMED_FROM else c for c in categories]

        header = list(FEED_COLUMNS)
        extra = ADDED_COLUMN in defects
        if extra:
            header.append(EXTRA_COLUMN)
        skus = [f"{supplier.sku_prefix}-{i + 1:06d}" for i in rows_idx.tolist()]
        ids = products.product_ids.take(pa.array(rows_idx)).to_pylist()
        titles = [products.titles[i] for i in rows_idx.tolist()]
        brands = [v.brands[b] for b in products.brand_id[rows_idx]]
        prices = [f"{c // 100}.{c % 100:02d}" for c in cents.tolist()]
        stamps = _iso(updated)
        path = feed_path(landing_dir, supplier, day)
        rel = path.relative_to(landing_dir).as_posix()

        if supplier.fmt == "parquet":
            columns: dict[str, pa.Array] = {
                "sku": pa.array(skus, pa.string()),
                "product_id": pa.array(ids, pa.string()),
                "title": pa.array(titles, pa.string()),
                "brand": pa.array(brands, pa.string()),
                "category": pa.array(categories, pa.string()),
                "price": cents_to_decimal(cents),
                "currency": pa.array([supplier.currency] * n, pa.string()),
                "stock": pa.array(stock.astype(np.int32)),
                "updated_at": pa.array(updated.astype("datetime64[s]")).cast(pa.timestamp("s", tz="UTC")),
            }
            if extra:
                columns[EXTRA_COLUMN] = pa.array(promo_codes, pa.string())
            buf = io.BytesIO()
            pq.write_table(pa.table(columns), buf)
            atomic_write(path, buf.getvalue())
        elif supplier.fmt == "jsonl":
            lines = []
            for i in range(n):
                record: dict[str, Any] = {
                    "sku": skus[i],
                    "product_id": ids[i],
                    "title": titles[i],
                    "brand": brands[i],
                    "category": categories[i],
                    "price": int(cents[i]) / 100,
                    "currency": supplier.currency,
                    "stock": int(stock[i]),
                    "updated_at": stamps[i],
                }
                if extra:
                    record[EXTRA_COLUMN] = promo_codes[i]
                lines.append(json.dumps(record, ensure_ascii=False))
            atomic_write(path, ("\n".join(lines) + "\n").encode("utf-8"))
        else:
            rows: list[list[Any]] = [
                [skus[i], ids[i], titles[i], brands[i], categories[i], prices[i], supplier.currency]
                + [int(stock[i]), stamps[i]]
                + ([promo_codes[i] or ""] if extra else [])
                for i in range(n)
            ]
            delimiter = "\t" if supplier.fmt == "tsv" else ","
            encoding = "utf-8"
            bom = False
            if supplier.fmt == "csv":
                if WRONG_DELIMITER in defects:
                    delimiter = WRONG_DELIMITER_CHAR
                    details[WRONG_DELIMITER] = {"file": rel, "delimiter": WRONG_DELIMITER_CHAR}
                if BAD_ENCODING in defects:
                    # A Windows export: Latin-1 bytes ("é" = 0xE9) where UTF-8 was promised.
                    encoding = "latin-1"
                    details[BAD_ENCODING] = {"file": rel, "encoding": encoding}
                if BOM_FEED in defects:
                    bom = True
                    details[BOM_FEED] = {"file": rel, "bom": "utf-8"}
            data = _delimited(header, rows, delimiter).encode(encoding, errors="replace")
            atomic_write(path, codecs.BOM_UTF8 + data if bom else data)
        written.append(path)

    if PRICE_OUTLIER in defects:
        details[PRICE_OUTLIER] = {"factor": OUTLIER_FACTOR, "product_ids": outliers, "tables": "feeds only"}
    if RENAMED_CATEGORY in defects:
        details[RENAMED_CATEGORY] = {"from": RENAMED_FROM, "to": RENAMED_TO, "rows": renamed_rows}
    if ADDED_COLUMN in defects:
        details[ADDED_COLUMN] = {"column": EXTRA_COLUMN, "files": "all four feeds"}
    return written, details
