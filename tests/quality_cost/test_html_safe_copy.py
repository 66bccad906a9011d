"""The Data Docs copy of a result is escaped and named; the caller's result (the catalog's values) is not touched."""

from __future__ import annotations


def test_html_safe_result_leaves_the_original_as_it_was():
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )

    from assay.quality.gxrun import html_safe_result

    query = "SELECT id FROM t WHERE name = '<b>x</b>'"
    plain = ExpectationValidationResult(success=True, result={"observed_value": 3})
    queried = ExpectationValidationResult(success=False, result={"unexpected_count": 1, "unexpected_index_query": query})
    original = ExpectationSuiteValidationResult(
        success=False, results=[plain, queried], suite_name="s",
        meta={"batch_spec": {"batch_identifiers": {}}, "active_batch_definition": {"data_asset_name": "feeds.x"}},
    )
    safe = html_safe_result(original)
    assert "&lt;b&gt;" in safe.results[1].result["unexpected_index_query"]
    assert safe.meta["batch_spec"]["data_asset_name"] == "feeds.x"
    # the original: same objects, same values
    assert original.results[1] is queried and queried.result["unexpected_index_query"] == query
    assert "data_asset_name" not in original.meta["batch_spec"]
    assert len(original.results) == 2 and safe.results[0] is plain
