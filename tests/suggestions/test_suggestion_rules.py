"""The pure suggestion rules (assay.quality.suggestions): profile evidence in, GX suite JSON out."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from assay.quality.suggestions import (
    ColumnEvidence,
    Evidence,
    ForeignKey,
    find_format,
    history_basis,
    name_hints_key,
    regex_of,
    shape_of,
    suggest_expectations,
)


def num(rows: int, lo: float, hi: float, **extra: Any) -> dict[str, Any]:
    return {"kind": extra.pop("kind", "decimal"), "row_count": rows, "non_null_count": rows, "null_count": 0,
            "null_ratio": 0.0, "min": lo, "max": hi, "distinct": extra.pop("distinct", 50), **extra}


def txt(rows: int, values: list[str], nulls: int = 0, **extra: Any) -> dict[str, Any]:
    counts = Counter(values)
    lengths = [len(v) for v in values]
    return {"kind": "text", "row_count": rows, "non_null_count": rows - nulls, "null_count": nulls,
            "null_ratio": nulls / rows, "distinct": len(counts), "distinct_is_approx": False,
            "length": {"min": min(lengths), "max": max(lengths)} if values else None,
            "top_values": [{"value": v, "count": c} for v, c in counts.most_common(10)], **extra}


def col(name: str, *runs: dict[str, Any], values: list[str] | None = None, pii: bool = False) -> ColumnEvidence:
    shapes = Counter(shape_of(v) for v in values) if values is not None else None
    coarse = Counter(shape_of(v, coarse=True) for v in values) if values is not None else None
    return ColumnEvidence(name, str(runs[-1]["kind"]), tuple(runs), shapes, coarse, pii)


def suggest(*columns: ColumnEvidence, rows: tuple[int, ...] = (200,), fks: tuple[ForeignKey, ...] = ()) -> dict[str, dict]:
    basis = {"runs": len(rows), **history_basis(len(rows))}
    out = suggest_expectations(Evidence(rows, {c.name: c for c in columns}, basis, fks))
    names = [e["meta"]["name"] for e in out]
    assert len(names) == len(set(names))
    for e in out:
        assert set(e["meta"]) >= {"name", "dimension", "severity", "evidence", "proposed_from"}
    return {e["meta"]["name"]: e for e in out}


def test_shapes_and_their_regex():
    assert shape_of("01234") == "99999" and shape_of("AB-12x") == "AA-99a" and shape_of("Zü 9") == "Aü 9"
    assert regex_of("99999") == r"^\d{5}$"
    assert regex_of("AA-9999") == r"^[A-Z]{2}\-\d{4}$"
    assert regex_of("A9", fixed=False) == r"^[A-Z]+\d+$"
    fmt = find_format({"99999": 990, "9999": 10})
    assert fmt is not None and fmt.regex == r"^\d{5}$" and fmt.covered == 990 and fmt.outliers == {"9999": 10}
    assert find_format({"99999": 900, "9999": 100}).regex == r"^\d+$"  # lengths vary: digits, any length
    assert find_format({"Aaaaa": 50, "Aaaaaaa": 50}) is None  # words are no format
    assert find_format({"99999": 50, "Aaaa": 50}) is None


def test_one_partition_of_five_digit_codes_gives_a_fixed_regex():
    zips = [f"{i:05d}" for i in range(0, 40000, 200)]  # leading zeros included
    s = suggest(col("zip", txt(200, zips), values=zips))
    fmt = s["proposed_zip_format"]
    assert fmt["type"] == "expect_column_values_to_match_regex"
    assert fmt["kwargs"] == {"column": "zip", "regex": r"^\d{5}$"}
    assert fmt["meta"]["evidence"]["matching"] == 200 and "finding" not in fmt["meta"]
    assert s["proposed_zip_not_null"]["kwargs"] == {"column": "zip"}


def test_rare_odd_shapes_already_in_the_data_become_mostly_and_a_finding():
    zips = [f"{i:05d}" for i in range(10000, 40000, 150)] + ["1234"]
    fmt = suggest(col("zip", txt(len(zips), zips), values=zips))["proposed_zip_format"]
    assert fmt["kwargs"]["regex"] == r"^\d{5}$" and 0.99 <= fmt["kwargs"]["mostly"] < 1
    assert "1 of 201 values of zip do not match" in fmt["meta"]["finding"]
    assert "1234" not in json.dumps(fmt)  # shapes, not values, are the evidence


def test_positive_values_get_a_strict_sign_bound_and_a_separate_magnitude_range():
    s = suggest(col("price", num(200, 1.5, 480.0)))
    assert s["proposed_price_positive"]["kwargs"] == {"column": "price", "min_value": 0, "strict_min": True}
    rng = s["proposed_price_range"]["kwargs"]
    assert "min_value" not in rng and rng["max_value"] >= 480 and rng["mostly"] == 0.99  # 1 run: loose


def test_a_rare_zero_is_kept_out_of_the_range_and_reported():
    s = suggest(col("price", num(400, 0, 480.0, zero_count=1, negative_count=1)))
    pos = s["proposed_price_positive"]
    assert pos["kwargs"]["min_value"] == 0 and pos["kwargs"]["strict_min"] is True
    assert pos["kwargs"]["mostly"] == 0.99
    assert pos["meta"]["finding"].startswith("1 zero(s) and 1 negative(s) among 400 values")
    assert "min_value" not in s["proposed_price_range"]["kwargs"]  # not widened down to the edge values


def test_common_zeros_make_a_non_negative_bound_and_old_profiles_still_work():
    s = suggest(col("stock", num(200, 0, 50, kind="integer", zero_count=60, negative_count=0)))
    assert s["proposed_stock_non_negative"]["kwargs"] == {"column": "stock", "min_value": 0}
    old = suggest(col("stock", num(200, 0, 50, kind="integer")))  # no zero/negative counts: min tells
    assert old["proposed_stock_non_negative"]["kwargs"] == {"column": "stock", "min_value": 0}
    neg = suggest(col("delta", num(200, -40, 50, kind="integer")))
    assert not any(n.startswith("proposed_delta_non") or n == "proposed_delta_positive" for n in neg)
    assert neg["proposed_delta_range"]["kwargs"]["min_value"] < -40


def test_an_all_null_column_is_a_finding_that_fails():
    s = suggest(col("note", {"kind": "text", "row_count": 200, "non_null_count": 0, "null_count": 200,
                             "null_ratio": 1.0, "distinct": 0, "length": None}))
    e = s["proposed_note_has_values"]
    assert e["type"] == "expect_column_proportion_of_non_null_values_to_be_between"
    assert e["kwargs"] == {"column": "note", "min_value": 0, "strict_min": True}
    assert "null in all 200 rows" in e["meta"]["finding"]
    assert [n for n in s if "note" in n] == ["proposed_note_has_values"]


def test_keys_are_unique_ids_get_no_range_and_an_almost_key_is_a_finding():
    ids = num(200, 1001, 1200, kind="integer", distinct=200, distinct_is_approx=False)
    s = suggest(col("listing_id", ids))
    assert s["proposed_listing_id_unique"]["kwargs"] == {"column": "listing_id"}
    assert "proposed_listing_id_range" not in s  # ids grow
    dup = suggest(col("listing_id", {**ids, "distinct": 199}))["proposed_listing_id_unique"]
    assert "1 of its 200 values repeat" in dup["meta"]["finding"]
    price = suggest(col("price", num(200, 1, 500, distinct=200, distinct_is_approx=False)))
    assert "proposed_price_unique" not in price  # unique by chance, not a key
    assert name_hints_key("order_id") and name_hints_key("SkuCode") and not name_hints_key("paid")


def test_more_history_gives_tighter_bounds():
    one = suggest(col("qty", num(200, 1, 101, kind="integer")), rows=(200,))
    many = suggest(col("qty", *[num(200, 1, 101, kind="integer")] * 8), rows=(200,) * 8)
    assert one["proposed_row_count"]["kwargs"] == {"min_value": 50, "max_value": 350}
    assert many["proposed_row_count"]["kwargs"] == {"min_value": 150, "max_value": 250}
    assert one["proposed_qty_range"]["kwargs"]["max_value"] > many["proposed_qty_range"]["kwargs"]["max_value"]
    assert "mostly" not in many["proposed_qty_range"]["kwargs"]
    assert history_basis(1)["strictness"] == "loose" and history_basis(8)["strictness"] == "tight"


def test_value_sets_need_support_and_skip_pii():
    statuses = ["active"] * 100 + ["paused"] * 60 + ["sold"] * 40
    s = suggest(col("status", txt(200, statuses)))
    assert s["proposed_status_in_set"]["kwargs"]["value_set"] == ["active", "paused", "sold"]
    few = suggest(col("status", txt(30, statuses[:10] + statuses[-20:])))
    assert "proposed_status_in_set" not in few  # 30 values for 2 categories is too thin a basis
    pii = suggest(col("status", txt(200, statuses), pii=True))
    assert "proposed_status_in_set" not in pii


def test_a_foreign_key_counts_orphans_with_quoted_identifiers():
    fk = ForeignKey("seller id", "crm:ref.sellers", ("ref", "sellers"), "seller id", 300, 2, {"distinct": 50})
    e = suggest(col("qty", num(200, 1, 9, kind="integer")), fks=(fk,))["proposed_seller_id_references_sellers"]
    assert e["type"] == "unexpected_rows_expectation" and e["meta"]["dimension"] == "consistency"
    assert e["kwargs"]["unexpected_rows_query"] == (
        'SELECT b."seller id" FROM (SELECT * FROM {batch}) AS b WHERE b."seller id" IS NOT NULL AND NOT EXISTS '
        '(SELECT 1 FROM "ref"."sellers" AS p WHERE p."seller id" = b."seller id")')
    assert e["meta"]["evidence"]["orphans"] == 2 and "2 of 300 values" in e["meta"]["finding"]


def test_every_suggestion_is_a_valid_suite_for_assay_and_gx(tmp_path: Path):
    from assay.quality.suites import build_gx_suite, parse_suite

    zips = [f"{i:05d}" for i in range(0, 40000, 200)]
    fk = ForeignKey("seller_id", "crm:ref.sellers", ("ref", "sellers"), "seller_id", 300, 0)
    s = suggest(col("zip", txt(200, zips), values=zips), col("price", num(400, 0, 480.0, zero_count=1, negative_count=0)),
                col("note", {"kind": "text", "row_count": 200, "non_null_count": 0, "null_count": 200, "null_ratio": 1.0}),
                col("code", txt(200, [f"A{i:04d}x" for i in range(200)], empty_count=0, whitespace_count=0)),
                fks=(fk,))
    doc = {"name": "listings", "meta": {"assay": {"source": "mart", "table": "public.listings"}},
           "expectations": list(s.values())}
    path = tmp_path / "listings.json"
    data = json.dumps(doc).encode()
    path.write_bytes(data)
    gx_suite = build_gx_suite(parse_suite(path, data))
    assert len(gx_suite.expectations) == len(s)


def test_without_sign_counts_the_first_percentile_tells_rare_edge_values():
    quantiles = {"p01": 0.8, "p05": 12.0, "p25": 100.0, "p50": 250.0, "p75": 370.0, "p95": 470.0, "p99": 495.0}
    s = suggest(col("price", num(300, -12.5, 499.0, quantiles=quantiles)))  # a profile without zero counts
    pos = s["proposed_price_positive"]
    assert pos["kwargs"] == {"column": "price", "min_value": 0, "strict_min": True, "mostly": 0.99}
    assert "down to -12.5" in pos["meta"]["finding"]
    common = suggest(col("delta", num(300, -12.5, 499.0, quantiles={**quantiles, "p01": -3.0})))
    assert "proposed_delta_positive" not in common and "min_value" in common["proposed_delta_range"]["kwargs"]


def test_file_partitions_get_the_same_shape_summary_as_sql(tmp_path: Path):
    from assay.quality.evidence import file_shapes

    path = tmp_path / "offers.csv"
    path.write_text("offer_code,title\n" + "".join(f"AB-{i:04d},Lamp {i}\n" for i in range(30)) + "ab-12,Desk\n")
    shapes = file_shapes(path, tmp_path, ["offer_code", "missing"])
    fine, coarse = shapes["offer_code"]
    assert fine == {"AA-9999": 30, "aa-99": 1} and coarse == {"XX-XXXX": 30, "XX-XX": 1}
    assert "missing" not in shapes


def test_foreign_key_candidates_by_name_and_one_database():
    from assay.quality.relations import names_match, same_database

    assert names_match("seller_id", "sellers", "seller_id")  # the same, specific name
    assert names_match("seller_id", "sellers", "id") and names_match("category_id", "categories", "id")
    assert names_match("customer_key", "customer", "customer_key")
    assert not names_match("id", "sellers", "id")  # a bare id names nothing
    assert not names_match("seller_id", "customers", "id") and not names_match("status", "statuses", "status")
    sock = "postgresql+psycopg2://reader@localhost/mart?host=/run/pg"
    assert same_database(sock, "postgresql+psycopg2://owner@localhost/mart?host=/run/pg&options=-c%20x")
    assert not same_database(sock, "postgresql+psycopg2://reader@localhost/crm?host=/run/pg")
    assert not same_database("postgresql://h1/db", "postgresql://h2/db")


def test_a_column_whose_profiled_values_were_masked_gets_no_value_set():
    statuses = ["active"] * 100 + ["paused"] * 99 + ["ops@example.com"]
    run = txt(200, statuses, scrubbed={"email": 1}, pii_values={"email": {"count": 1}})
    assert "proposed_status_in_set" not in suggest(col("status", run))
    clean = txt(200, statuses[:-1] + ["paused"], pii_values={"email": {"count": 0}})
    assert "proposed_status_in_set" in suggest(col("status", clean))
