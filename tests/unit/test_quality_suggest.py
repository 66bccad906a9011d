"""suggest(): the arithmetic of proposals from profile metrics (no database)."""

from __future__ import annotations

from assay.quality.proposals import suggest

BASIS = {"runs": 3, "from": "2026-11-01", "to": "2026-11-03"}


def names(out: list[dict]) -> dict[str, dict]:
    return {e["meta"]["name"]: e["kwargs"] for e in out}


def test_profiler_pii_flag_and_sampled_top_values_give_no_value_rules():
    runs = [{"row_count": 10, "null_count": 0, "null_ratio": 0.0, "distinct": 2, "pii": True, "masked": True,
             "top_values": [{"value": "a***@e***.com", "count": 10}]}] * 3
    sampled = [{"row_count": 10, "null_count": 0, "null_ratio": 0.0, "distinct": 2, "top_values_is_approx": True,
                "top_values": [{"value": "x", "count": 10}]}] * 3
    out = names(suggest([10, 11, 12], {"email": runs, "device": sampled}, set(), BASIS))
    assert set(out) == {"proposed_row_count", "proposed_email_not_null", "proposed_device_not_null"}


def test_empty_partitions_and_text_minima_are_ignored():
    runs = [{"row_count": 0, "null_ratio": None, "min": "2026-11-01", "max": "2026-11-02"}] * 3
    assert names(suggest([0, 0, 0], {"day": runs}, set(), BASIS)) == {
        "proposed_row_count": {"min_value": 0, "max_value": 0}
    }


def test_negative_data_keeps_a_negative_lower_bound_and_every_suggestion_is_a_warning():
    runs = [{"row_count": 5, "null_ratio": 0.2, "min": -10, "max": 10}] * 3
    out = suggest([5], {"delta": runs}, set(), BASIS)
    kw = names(out)
    assert kw["proposed_delta_range"] == {"column": "delta", "min_value": -12.0, "max_value": 12.0}
    assert kw["proposed_delta_mostly_not_null"]["mostly"] == 0.69
    assert all(e["meta"]["severity"] == "warning" and e["meta"]["proposed_from"] == BASIS for e in out)
