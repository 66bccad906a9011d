"""The anomaly detector as a pure function: both directions (flagged and not flagged) for every rule."""

from __future__ import annotations

import statistics

import pytest

from assay.profiling.anomalies import AnomalyConfig, detect, detect_all, observed_values

CFG = AnomalyConfig()
CLEAN = [1000.0, 1010.0, 990.0, 1005.0, 995.0, 1002.0, 998.0, 1001.0]


def test_value_inside_the_band_is_not_flagged():
    assert detect("row_count", 1003.0, CLEAN, CFG) is None


def test_value_outside_the_band_is_flagged_with_its_bounds():
    f = detect("row_count", 1200.0, CLEAN, CFG)
    assert f is not None and "zscore" in f.method
    assert f.lower is not None and f.upper is not None and f.lower < 1000 < f.upper < 1200
    z = f.details["zscore"]
    assert z["band"] == pytest.approx(max(3 * z["stddev"], 0.02 * z["mean"])) and z["window"] == len(CLEAN)
    assert f.lower == pytest.approx(z["mean"] - z["band"]) and f.upper == pytest.approx(z["mean"] + z["band"])


def test_band_needs_the_warm_up():
    short = CLEAN[:6]  # 6 prior partitions < warm-up of 7
    f = detect("row_count", 1200.0, short, CFG)
    assert f is None  # +20 % is within the 50 % rate of change, and no band yet
    f = detect("row_count", 1200.0, short, AnomalyConfig(warmup=6))
    assert f is not None and f.method == "zscore"


def test_rate_of_change_works_from_the_first_prior_partition():
    f = detect("row_count", 400.0, [1000.0], CFG)
    assert f is not None and f.method == "rate_of_change"
    assert (f.lower, f.upper) == (500.0, 1500.0)
    assert f.details["rate_of_change"]["change"] == pytest.approx(-0.6)
    assert detect("row_count", 600.0, [1000.0], CFG) is None


def test_flat_history_does_not_flag_tiny_noise():
    flat = [0.1] * 10  # stddev 0
    assert detect("null_ratio", 0.1004, flat, CFG) is None  # within the 0.005 absolute tolerance
    f = detect("null_ratio", 0.2, flat, CFG)
    assert f is not None and f.details["zscore"]["stddev"] == 0 and f.details["zscore"]["z"] is None
    assert f.upper == pytest.approx(0.105)
    assert detect("distinct", 1001.0, [1000.0] * 10, CFG) is None  # 0.1 % < 2 % relative tolerance
    assert detect("distinct", 1100.0, [1000.0] * 10, CFG) is not None


def test_missing_partition():
    f = detect("row_count", 0.0, [50.0, 52.0], CFG)
    assert f is not None and f.method == "missing_partition+rate_of_change" and f.lower > 0
    assert f.details["missing_partition"] == {"previous_nonzero": 52.0}
    assert detect("row_count", 0.0, [0.0, 0.0], CFG) is None  # never had data: nothing missing


def test_mean_near_zero_is_judged_against_its_spread():
    noisy = [0.1, -0.2, 0.15, -0.05, 0.2, -0.1, 0.05, -0.15]
    assert detect("mean", 0.2, noisy, CFG) is None  # +300 % of the previous value, but just noise
    assert detect("mean", 5.0, noisy, CFG) is not None


def test_k_is_configurable():
    noisy = [950.0, 1050.0, 980.0, 1020.0, 960.0, 1040.0, 1000.0, 990.0]  # stddev ~ 34
    assert detect("row_count", 1060.0, noisy, AnomalyConfig(k=1.0)) is not None
    assert detect("row_count", 1060.0, noisy, CFG) is None


def test_observed_values_and_detect_all():
    metrics = {
        "a": {"null_ratio": 0.5, "distinct": 3, "mean": 2.0},
        "b": {"null_ratio": 0.0, "distinct": 10, "mean": None},
        "flag": {"null_ratio": 0.0, "distinct": 2, "mean": True},  # booleans' mean is a share; bools skipped
    }
    values = observed_values(100, metrics)
    assert values[("", "row_count")] == 100 and values[("a", "mean")] == 2.0 and ("b", "mean") not in values
    assert observed_values(0, metrics) == {("", "row_count"): 0.0}
    history = [observed_values(100, {**metrics, "a": {**metrics["a"], "null_ratio": 0.1}})] * 8
    findings = detect_all(values, history, CFG)
    assert [(f.column_name, f.metric) for f in findings] == [("a", "null_ratio")]


def test_mean_of_a_daily_sample_gets_a_wider_floor_than_counts():
    """A clean feed's mean price drifted 2.1 % in the demo; a x100 slip on a few items is +60 %."""
    prices = [274.0, 274.5, 274.2, 274.9, 274.1, 274.6, 274.3, 274.8]
    assert detect("mean", 268.7, prices, CFG) is None  # -2.1 %: noise for a sampled mean
    slip = detect("mean", 416.0, prices, CFG)
    assert slip is not None and "zscore" in slip.method
    assert slip.upper == pytest.approx(statistics.mean(prices) * 1.05)
    # The same 2.1 % move on a row count is still flagged: counts keep the 2 % floor.
    counts = [p * 10 for p in prices]
    assert detect("row_count", 2687.0, counts, CFG) is not None
