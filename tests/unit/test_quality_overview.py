"""The catalog overview's pure parts: target names, judging a partition, rendering."""

from __future__ import annotations

from datetime import date

import pytest

from assay.cli.render import render_quality
from assay.quality.overview import (
    CriticalFailure,
    PartitionState,
    QualityOverview,
    ScoreRow,
    _judge,
    target_of,
)

DAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("namespace", "name", "kind", "target"),
    [
        ("public", "interactions", "table", "interactions"),
        ("feeds/northwind/2026-11-20", "products.csv", "file", "feeds/northwind"),
        ("feeds/northwind/latest", "products.csv", "file", "feeds/northwind/latest/products.csv"),
    ],
)
def test_target_names_match_the_quality_run_s(namespace, name, kind, target):
    assert target_of(namespace, name, kind) == target


@pytest.mark.parametrize(
    ("statuses", "judged"),
    [
        (["ok"], "ok"),
        (["ok", "ok"], "ok"),
        (["ok", "failed"], "failed"),
        (["failed", "error"], "error"),
        (["ok", "running"], "running"),
    ],
)
def test_a_partition_is_validated_only_when_every_suite_passed(statuses, judged):
    assert _judge(statuses) == judged
    assert PartitionState(DAY, "t", "p", judged, ("s",)).validated is (judged == "ok")


def test_render_lists_failed_partitions_apart_and_caps_the_failure_lines():
    ov = QualityOverview(end=DAY, days=2)
    ov.partitions = [
        PartitionState(DAY, "interactions", "2026-11-20", "ok", ("interactions",)),
        PartitionState(DAY, "impressions", "2026-11-20", "error", ("impressions",)),
        PartitionState(date(2026, 11, 19), "impressions", "2026-11-19", "running", ("impressions",)),
    ]
    ov.scorecards = [ScoreRow("interactions", 87.5, {"completeness": None, "volume": 100.0})]
    ov.failures = [CriticalFailure(DAY, "impressions", "impressions", f"check_{i}", "c") for i in range(5)]
    lines = render_quality(ov, max_failures=3)
    assert lines[:3] == [
        "Quality of 2026-11-20: 1 of 2 partitions validated",
        "  validated  interactions:2026-11-20",
        "  ERROR      impressions:2026-11-20",
    ]
    assert lines[3] == ("History 2026-11-19 .. 2026-11-20 (2 days): 1 partitions validated, 1 failed, "
                        "1 unfinished; failed days: 2026-11-19, 2026-11-20")
    assert lines[6].split() == ["interactions", "88", "-", "-", "-", "-", "-", "100"]
    assert [ln.split()[2] for ln in lines[8:11]] == ["check_0", "check_1", "check_2"]
    assert lines[11] == "  ... and 2 more (table expectation_results)"


def test_window_must_have_a_day():
    from assay.quality.overview import load

    with pytest.raises(ValueError, match="days must be at least 1"):
        load(None, DAY, 0)  # type: ignore[arg-type]
