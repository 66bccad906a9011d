"""SeedConfig and DefectSchedule: parsing, validation, the demo schedule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from assay.errors import ConfigError
from assay.seed import DEFECTS, DefectSchedule, SeedConfig
from assay.seed.config import DEMO_WARMUP_DAYS, MISSING_PARTITION

START = date(2026, 11, 1)


def test_parse_reads_days_and_names():
    s = DefectSchedule.parse("2026-11-05:null_burst,price_outlier;2026-11-07:missing_partition")
    assert dict(s) == {
        date(2026, 11, 5): frozenset({"null_burst", "price_outlier"}),
        date(2026, 11, 7): frozenset({"missing_partition"}),
    }
    assert s.for_day(date(2026, 11, 6)) == frozenset()


def test_parse_round_trips_and_tolerates_blanks():
    text = " 2026-11-07:missing_partition ; 2026-11-05: price_outlier , null_burst ;"
    s = DefectSchedule.parse(text)
    assert s.to_string() == "2026-11-05:null_burst,price_outlier;2026-11-07:missing_partition"
    assert DefectSchedule.parse(s.to_string()) == s
    assert hash(DefectSchedule.parse(s.to_string())) == hash(s)
    assert DefectSchedule.parse("") == DefectSchedule.none()
    assert len(DefectSchedule.none()) == 0


def test_same_day_twice_merges():
    s = DefectSchedule.parse("2026-11-05:null_burst;2026-11-05:bom_feed")
    assert s[date(2026, 11, 5)] == frozenset({"null_burst", "bom_feed"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-11-05:nul_burst", "unknown defect"),
        ("2026-13-05:null_burst", "not a date"),
        ("2026-11-05 null_burst", "lacks ':'"),
        ("2026-11-05:missing_partition,bom_feed", "combines missing_partition"),
    ],
)
def test_parse_rejects_bad_schedules(text, message):
    with pytest.raises(ConfigError, match=message):
        DefectSchedule.parse(text)


def test_demo_puts_each_defect_on_its_own_day_after_the_warmup():
    s = DefectSchedule.demo(START, 16)
    assert sorted(n for names in s.values() for n in names) == sorted(DEFECTS)
    assert all(len(names) == 1 for names in s.values())
    assert min(s) == START + timedelta(days=DEMO_WARMUP_DAYS)
    assert max(s) <= START + timedelta(days=15)


def test_demo_spreads_defects_over_a_long_window():
    s = DefectSchedule.demo(START, 30)
    days = sorted(s)
    assert len(days) == len(DEFECTS)
    assert days[0] == START + timedelta(days=DEMO_WARMUP_DAYS)
    assert all(b - a == timedelta(days=2) for a, b in zip(days, days[1:], strict=False))
    assert days[-1] < START + timedelta(days=30)
    assert s[days[DEFECTS.index(MISSING_PARTITION)]] == frozenset({MISSING_PARTITION})


def test_demo_refuses_a_window_too_short():
    with pytest.raises(ConfigError, match="at least 16 days"):
        DefectSchedule.demo(START, 14)


def test_config_defaults_and_derived_sizes():
    c = SeedConfig(start_date=START, days=3)
    assert c.scale == 1 and c.seed == 7 and c.defects == DefectSchedule.none()
    assert c.dates == (START, START + timedelta(days=1), START + timedelta(days=2))
    assert c.product_count == 750 and c.customer_count == 1000
    assert SeedConfig(start_date=START, days=1, scale=2000).product_count == 50_000
    assert SeedConfig(start_date=START, days=1, n_products=120).product_count == 120
    assert hash(c) == hash(SeedConfig(start_date=START, days=3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 0}, "days"),
        ({"days": 1, "scale": 0}, "scale"),
        ({"days": 1, "seed": -1}, "seed"),
        ({"days": 1, "n_products": 10}, "n_products"),
        ({"days": 1, "defects": "2026-11-05:null_burst"}, "DefectSchedule"),
    ],
)
def test_config_rejects_nonsense(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        SeedConfig(start_date=START, **kwargs)
