"""bench/growth.py: the growth reading's arithmetic and judging (issue #16 item 6).

The ratios (time per 5M rows, peak memory) and their targets are pinned on constructed readings;
the exit status on a miss is checked through both benches on the test server at small sizes,
with tolerances that make the reading miss (or pass) whatever the machine's load.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root holds bench/
from bench import growth  # noqa: E402


def reading(rows: int, seconds: float, rss: float = 300.0, backend: float | None = 100.0) -> growth.Reading:
    return growth.Reading(rows=rows, seconds=seconds, floor_seconds=seconds / 3, rss_mb=rss, backend_mb=backend)


def test_seconds_per_5m_rows() -> None:
    assert reading(50_000_000, 40.0).per_unit == pytest.approx(4.0)
    assert reading(5_000_000, 4.0).per_unit == pytest.approx(4.0)
    assert reading(20_000_000, 40.0).floor_per_unit == pytest.approx(40.0 / 3 / 4)


def test_linear_time_and_flat_memory_meet_the_targets() -> None:
    result = growth.judge(reading(5_000_000, 4.0), reading(50_000_000, 44.0, rss=330.0, backend=110.0))
    assert result.time_ratio == pytest.approx(1.1)
    assert result.floor_ratio == pytest.approx(1.1)
    assert result.rss_ratio == pytest.approx(1.1)
    assert result.backend_ratio == pytest.approx(1.1)
    assert result.missed == ()
    assert "met: linear time, flat memory" in growth.report(result, "x", "floor")[-1]


def test_superlinear_time_misses() -> None:
    # 4 s at 5M, 60 s at 50M: 6 s per 5M rows, 1.5x the base's.
    result = growth.judge(reading(5_000_000, 4.0), reading(50_000_000, 60.0), label="events16")
    assert result.time_ratio == pytest.approx(1.5)
    assert result.missed == ("events16: time per 5M rows grew 1.50x (target <= 1.3x)",)
    assert any(line.startswith("  MISSED events16: time") for line in growth.report(result, "x", "floor"))


def test_growing_memory_misses_in_process_and_in_the_backends() -> None:
    result = growth.judge(reading(5_000_000, 4.0, rss=300.0, backend=200.0),
                          reading(50_000_000, 40.0, rss=400.0, backend=900.0))
    assert result.rss_ratio == pytest.approx(4 / 3)
    assert result.backend_ratio == pytest.approx(4.5)
    assert [m.split(" grew")[0] for m in result.missed] == ["peak RSS", "backend peak memory"]


def test_small_memory_figures_count_as_the_floor() -> None:
    # 5 MB -> 8 MB of backend memory is sampling noise, not growth; 64 -> 96 MB is growth.
    assert growth.memory_ratio(5.0, 8.0) == 1.0
    assert growth.memory_ratio(64.0, 96.0) == pytest.approx(1.5)
    result = growth.judge(reading(5_000_000, 4.0, backend=5.0), reading(50_000_000, 40.0, backend=8.0))
    assert result.backend_ratio == 1.0 and result.missed == ()


def test_unreadable_backend_memory_is_not_judged() -> None:
    result = growth.judge(reading(5_000_000, 4.0, backend=None), reading(50_000_000, 40.0, backend=900.0))
    assert result.backend_ratio is None and result.missed == ()
    assert "backends' peak ratio n/a" in "\n".join(growth.report(result, "x", "floor"))


def test_stated_tolerances_are_the_ones_judged() -> None:
    base, grown = reading(5_000_000, 4.0), reading(50_000_000, 48.0)  # 1.2x
    assert growth.judge(base, grown).missed == ()
    assert len(growth.judge(base, grown, max_time=1.1).missed) == 1
    assert "target <= 1.1x" in growth.report(growth.judge(base, grown, max_time=1.1), "x", "floor")[-3]


def test_grown_must_be_larger() -> None:
    with pytest.raises(ValueError, match="not above the base"):
        growth.judge(reading(5_000_000, 4.0), reading(5_000_000, 4.0))


def test_when_a_run_takes_the_growth_reading() -> None:
    assert growth.wanted(50_000_000, False, 5_000_000)
    assert growth.wanted(10_000_000, False, 5_000_000)
    assert not growth.wanted(5_000_000, False, 5_000_000)  # the published 5M run is unchanged
    assert not growth.wanted(200_000, False, 5_000_000)  # the default and --quick runs too
    assert growth.wanted(400_000, True, 200_000)
    assert not growth.wanted(200_000, True, 200_000)


def test_tolerance_flags() -> None:
    parser = argparse.ArgumentParser()
    growth.add_tolerances(parser)
    args = parser.parse_args([])
    assert (args.max_time_ratio, args.max_memory_ratio) == (growth.MAX_TIME_RATIO, growth.MAX_MEMORY_RATIO)
    assert parser.parse_args(["--max-time-ratio", "2"]).max_time_ratio == 2.0


def test_peak_rss_sees_memory_allocated_inside_the_block() -> None:
    with growth.peak_rss() as before:
        pass
    with growth.peak_rss() as inside:
        block = b"\x01" * (200 * 2**20)  # 200 MB, written
        del block
    assert inside[0] - before[0] > 150


@pytest.mark.integration
@pytest.mark.parametrize("bench", ["profile_bench", "quality_bench"])
def test_a_missed_growth_target_exits_1(
    bench: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    module = importlib.import_module(f"bench.{bench}")
    monkeypatch.setattr(module, "STATS_IDLE_S", 0.0, raising=False)  # the temp-file figure may lag; not judged
    small = ["--growth", "--rows", "40000", "--growth-base", "20000"]
    small += ["--rounds", "1"] if bench == "profile_bench" else ["--repeat", "1", "--day-rows", "4000"]
    assert module.main([*small, "--max-time-ratio", "0.01"]) == 1
    out = capsys.readouterr().out
    assert "20,000 -> 40,000 rows" in out and "MISSED" in out and "time per 5M rows grew" in out
    assert module.main([*small, "--max-time-ratio", "100", "--max-memory-ratio", "100"]) == 0
    assert "met: linear time, flat memory" in capsys.readouterr().out
