"""The Arrow profiler (landing files) and the shared metric helpers, against numpy and statistics."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import random
import statistics
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from assay.profiling.arrow import arrow_kind, profile_arrow
from assay.profiling.metrics import (
    HISTOGRAM_BUCKETS,
    QUANTILES,
    Kind,
    as_text,
    bucket_of,
    histogram_from_counts,
    json_number,
    mask_metrics,
    top_values,
)


def _table(n: int = 800, seed: int = 7) -> tuple[pa.Table, dict[str, list]]:
    rnd = random.Random(seed)
    cols = {
        "i": [rnd.randint(-20, 20) if rnd.random() > 0.1 else None for _ in range(n)],
        "f": [rnd.gauss(5, 2) for _ in range(n)],
        "dec": [decimal.Decimal(rnd.randint(0, 9999)) / 100 for _ in range(n)],
        "s": [rnd.choice(["ä", "bb", "ccc", "größe"]) if rnd.random() > 0.25 else None for _ in range(n)],
        "b": [rnd.random() > 0.4 if rnd.random() > 0.1 else None for _ in range(n)],
        "d": [dt.date(2026, 1, 1) + dt.timedelta(days=rnd.randint(0, 9)) for _ in range(n)],
        "nothing": [None] * n,
    }
    table = pa.table(
        {
            "i": pa.array(cols["i"], pa.int64()),
            "f": pa.array(cols["f"], pa.float64()),
            "dec": pa.array(cols["dec"], pa.decimal128(8, 2)),
            "s": pa.array(cols["s"], pa.string()).dictionary_encode(),
            "b": pa.array(cols["b"], pa.bool_()),
            "d": pa.array(cols["d"], pa.date32()),
            "nothing": pa.array(cols["nothing"], pa.null()),
        }
    )
    return table, cols


def test_numeric_metrics_match_numpy_and_statistics():
    table, cols = _table()
    m = profile_arrow(table)
    for name in ("i", "f", "dec"):
        values = [float(v) for v in cols[name] if v is not None]
        got = m[name]
        assert got["row_count"] == 800 and got["null_count"] == 800 - len(values)
        assert got["mean"] == pytest.approx(statistics.fmean(values), rel=1e-9)
        assert got["stddev"] == pytest.approx(statistics.stdev(values), rel=1e-9)
        expected_q = np.quantile(values, [q for _, q in QUANTILES], method="linear")
        assert [got["quantiles"][label] for label, _ in QUANTILES] == pytest.approx(
            expected_q.tolist(), rel=1e-9
        )
        assert got["distinct"] == len({v for v in cols[name] if v is not None})
        lo, hi = min(values), max(values)
        counts = [0] * HISTOGRAM_BUCKETS
        for v in values:
            counts[bucket_of(v, lo, hi)] += 1
        assert got["histogram"]["counts"] == counts and sum(counts) == len(values)
        assert got["min"] == pytest.approx(lo) and got["max"] == pytest.approx(hi)
        ranked = sorted(
            Counter(as_text(v) for v in cols[name] if v is not None).items(),
            key=lambda vc: (-vc[1], vc[0].encode()),
        )
        assert [(t["value"], t["count"]) for t in got["top_values"]] == ranked[:10]


def test_text_boolean_date_and_null_columns():
    table, cols = _table()
    m = profile_arrow(table)
    present = [v for v in cols["s"] if v is not None]
    assert m["s"]["kind"] == "text" and m["s"]["distinct"] == len(set(present))
    assert m["s"]["length"] == {
        "min": min(map(len, present)),
        "mean": pytest.approx(statistics.fmean(map(len, present))),
        "max": max(map(len, present)),
    }
    assert (m["s"]["min"], m["s"]["max"]) == (min(present), max(present))
    flags = cols["b"]
    assert m["b"]["true_count"] == flags.count(True) and m["b"]["null_count"] == flags.count(None)
    assert m["b"]["mean"] == pytest.approx(flags.count(True) / (flags.count(True) + flags.count(False)))
    assert m["d"]["min"] == min(cols["d"]).isoformat() and m["d"]["kind"] == "date"
    assert (
        m["nothing"]["null_ratio"] == 1.0
        and m["nothing"]["distinct"] == 0
        and m["nothing"]["top_values"] == []
    )
    json.dumps(m, allow_nan=False)


def test_empty_table_and_single_value():
    empty = profile_arrow(pa.table({"x": pa.array([], pa.int64())}))
    assert (
        empty["x"]["row_count"] == 0 and empty["x"]["null_ratio"] is None and empty["x"]["quantiles"] is None
    )
    one = profile_arrow(pa.table({"x": pa.array([4, 4, 4], pa.int64())}))["x"]
    assert one["stddev"] == 0.0 and one["histogram"] == {
        "edges": [4.0, 4.0],
        "counts": [3],
        "is_approx": False,
    }


def test_pii_columns_are_masked_in_every_value():
    emails = [f"user{i}@shop.example" for i in range(30)]
    m = profile_arrow(pa.table({"email": emails, "n": list(range(30))}), pii={"email": "email"})
    dump = json.dumps(m)
    assert "shop.example" not in dump and "user" not in dump
    assert m["email"]["distinct"] == 30 and m["email"]["masked"] is True
    assert m["email"]["min"] == "u***@s***.example"


def test_kinds():
    assert arrow_kind(pa.int8()) is Kind.INTEGER
    assert arrow_kind(pa.large_string()) is Kind.TEXT
    assert arrow_kind(pa.timestamp("us", tz="UTC")) is Kind.TIMESTAMP
    assert arrow_kind(pa.list_(pa.int64())) is Kind.OTHER
    other = profile_arrow(pa.table({"l": pa.array([[1], [1], [2, 3]])}))["l"]
    assert other["distinct"] == 2 and other["top_values"][0] == {"value": "[1]", "count": 2}


def test_helpers():
    assert bucket_of(10.0, 0.0, 10.0) == HISTOGRAM_BUCKETS - 1 and bucket_of(0.0, 0.0, 10.0) == 0
    assert bucket_of(0.5, 0.0, 10.0) == 1  # 0.5 is the first edge of bucket 1
    assert histogram_from_counts(1.0, 1.0, {0: 5}, is_approx=False)["counts"] == [5]
    assert top_values([("b", 2), ("a", 2), ("c", 3)], k=2) == [
        {"value": "c", "count": 3},
        {"value": "a", "count": 2},
    ]
    assert json_number(float("nan")) == "NaN" and json_number(decimal.Decimal("1.50")) == 1.5
    assert as_text(True) == "true" and as_text(0.1) == "0.1" and as_text(dt.date(2026, 1, 2)) == "2026-01-02"
    masked = mask_metrics(
        {
            "min": "a@b.com",
            "max": "z@b.com",
            "top_values": [{"value": "a@b.com", "count": 1}],
            "quantiles": None,
        },
        "email",
    )
    assert "a@b.com" not in json.dumps(masked) and masked["pii"] == "email"
