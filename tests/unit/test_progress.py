"""assay.progress: rate-limited progress lines on the ``assay.progress`` logger family."""

from __future__ import annotations

import logging

import pytest

from assay.progress import PROGRESS_LOGGER, Ticker, logger


class FakeClock:
    """A clock the test moves by hand (time itself is not under test)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_are_rate_limited_and_carry_rate_and_eta(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    ticker = Ticker("train", total=1000, unit="steps", every_s=10, clock=clock)
    caplog.set_level(logging.INFO, logger=PROGRESS_LOGGER)
    clock.now += 5
    assert not ticker.update(50)  # 5 s after the start: too early
    clock.now += 5
    assert ticker.update(100, loss=0.123456)
    clock.now += 1
    assert not ticker.update(110)
    assert [r.name for r in caplog.records] == ["assay.progress.train"]
    line = caplog.records[0].getMessage()
    assert line == "train: 100/1,000 steps, 10.0 steps/s, ETA 1m30s, loss=0.1235"


def test_finish_always_logs_with_elapsed_time(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    ticker = Ticker("profile", unit="columns", clock=clock)
    caplog.set_level(logging.INFO, logger=PROGRESS_LOGGER)
    clock.now += 3725
    ticker.finish(12)
    assert caplog.records[-1].getMessage() == "profile: 12 columns, 0.0 columns/s (done in 1h02m)"
    assert ticker.lines == 1


def test_logger_is_under_the_progress_family() -> None:
    assert logger("inventory").name == "assay.progress.inventory"
    assert logger("inventory").parent is not None
