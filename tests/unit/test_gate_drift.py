"""Drift statistics on hand-made count maps: known values, both directions."""

from __future__ import annotations

import math

import pytest

from assay.gate.drift import binned, compare, js_divergence, psi, quantile_edges


def test_identical_distributions_have_no_drift():
    counts = {"Home": 40, "Fashion": 35, "Electronics": 25}
    assert psi(counts, counts) == pytest.approx(0.0)
    assert js_divergence(counts, counts) == pytest.approx(0.0)
    # scale does not matter, only proportions
    assert psi(counts, {k: 3 * v for k, v in counts.items()}) == pytest.approx(0.0)


def test_psi_known_value():
    e, a = {"a": 50, "b": 50}, {"a": 80, "b": 20}
    expected = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert psi(e, a) == pytest.approx(expected)
    assert expected == pytest.approx(0.4159, abs=1e-4)


def test_js_bounds():
    assert js_divergence({"a": 1}, {"b": 1}) == pytest.approx(1.0)  # disjoint, in bits
    small = js_divergence({"a": 50, "b": 50}, {"a": 55, "b": 45})
    assert 0 < small < 0.01


def test_disjoint_psi_is_large_but_finite():
    value = psi({"a": 10}, {"b": 10})
    assert math.isfinite(value) and value > 10


def test_quantile_edges_and_binning():
    train = {v: 1 for v in range(1, 101)}  # 1..100 uniform
    edges = quantile_edges(train, 4)
    assert edges == [26.0, 51.0, 76.0]
    assert binned(train, edges) == {0: 25.0, 1: 25.0, 2: 25.0, 3: 25.0}
    # ties collapse: a single value has no inner edge
    assert quantile_edges({5: 100}, 10) == []


def test_numeric_compare_detects_a_shift_and_ignores_resampling():
    train = {v: 10 for v in range(10, 60)}
    same = {v: 7 for v in range(10, 60)}
    shifted = {v: 10 for v in range(40, 90)}
    p_same, j_same = compare("query_length", train, same, 10, numeric=True)
    p_shift, j_shift = compare("query_length", train, shifted, 10, numeric=True)
    assert p_same == pytest.approx(0.0) and j_same == pytest.approx(0.0)
    assert p_shift > 0.25 and j_shift > 0.1
