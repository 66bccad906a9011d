"""PII masking of GX results: every place GX puts failing values or row ids."""

from __future__ import annotations

import json

from assay.quality.masking import WITHHELD, mask_result, mask_text, scrub_text

PII = {"email": "email", "phone": "phone", "full_name": "person_name"}
RAW = ["jane.doe@example.com", "JOHN@EXAMPLE.ORG", "ann@@example.net"]


def dump(value) -> str:
    return json.dumps(value)


def test_summary_lists_and_counts_of_a_pii_column_are_masked():
    result = {
        "element_count": 10,
        "unexpected_count": 4,
        "partial_unexpected_list": RAW + [RAW[0]],
        "partial_unexpected_counts": [{"value": RAW[0], "count": 2}] + [{"value": v, "count": 1} for v in RAW[1:]],
    }
    out = mask_result(result, ["email"], PII)
    text = dump(out)
    for raw in RAW:
        assert raw not in text
    assert out["partial_unexpected_list"][0] == "j***@e***.com"
    assert out["unexpected_count"] == 4 and out["element_count"] == 10
    assert sum(c["count"] for c in out["partial_unexpected_counts"]) == 4


def test_counts_that_mask_alike_are_merged():
    result = {"partial_unexpected_counts": [{"value": "jane@example.com", "count": 2}, {"value": "joe@example.com", "count": 3}]}
    out = mask_result(result, ["email"], PII)
    assert out["partial_unexpected_counts"] == [{"value": "j***@e***.com", "count": 5}]


def test_complete_results_mask_lists_index_rows_and_withhold_the_query():
    result = {
        "unexpected_list": RAW,
        "partial_unexpected_index_list": [{"customer_id": "C1", "email": RAW[0]}],
        "unexpected_index_list": [{"customer_id": "C1", "email": RAW[0]}, {"customer_id": "C2", "email": RAW[1]}],
        "unexpected_index_query": "SELECT customer_id, email FROM customers WHERE NOT (email ~ '...')",
    }
    out = mask_result(result, ["email"], PII)
    text = dump(out)
    for raw in RAW:
        assert raw not in text
    assert out["unexpected_index_list"][1]["customer_id"] == "C2"  # row ids are not PII
    assert out["unexpected_index_query"] == WITHHELD


def test_row_dicts_are_masked_by_key_even_when_the_expectation_is_on_another_column():
    result = {"unexpected_index_list": [{"customer_id": "C1", "country": "XX", "email": RAW[0]}]}
    out = mask_result(result, ["country"], PII)
    assert out["unexpected_index_list"] == [{"customer_id": "C1", "country": "XX", "email": "j***@e***.com"}]


def test_unexpected_rows_of_custom_sql_are_masked_by_column_name():
    result = {"observed_value": 2, "details": {"unexpected_rows": [{"id": 1, "email": RAW[0], "full_name": "Jane Doe"}]}}
    out = mask_result(result, [], PII)
    row = out["details"]["unexpected_rows"][0]
    assert row["id"] == 1 and RAW[0] not in dump(out) and "Jane Doe" not in dump(out)


def test_unexpected_rows_without_names_are_withheld_when_the_asset_has_pii():
    out = mask_result({"details": {"unexpected_rows": [["C1", RAW[0]]]}}, [], PII)
    assert out["details"]["unexpected_rows"] == WITHHELD


def test_values_of_non_pii_columns_stay_readable():
    result = {"partial_unexpected_list": ["Home > Furniture > Couches"], "observed_value": "x"}
    assert mask_result(result, ["category"], PII) == result


def test_observed_values_of_pii_columns_are_masked():
    out = mask_result({"observed_value": ["a@example.com", "b@example.com"]}, ["email"], PII)
    assert "a@example.com" not in dump(out)


def test_pair_expectations_mask_both_sides():
    out = mask_result({"partial_unexpected_list": [[RAW[0], RAW[1]]]}, ["email", "phone"], PII)
    assert RAW[0] not in dump(out) and RAW[1] not in dump(out)


def test_mask_text_never_returns_the_value():
    for label, value in [("email", "a@b.co"), ("pii", "x"), ("phone", "+44 20 7946 0123"), ("unknown", "ab")]:
        assert mask_text(label, value) != value
    assert mask_text("email", None) is None


def test_scrub_text_masks_emails_and_ips_in_free_text():
    text = 'invalid input syntax: "jane.doe@example.com" from 192.0.2.10 at line 3'
    out = scrub_text(text)
    assert "jane.doe@example.com" not in out and "192.0.2.10" not in out
    assert "at line 3" in out
    assert scrub_text(None) is None
