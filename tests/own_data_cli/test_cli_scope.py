"""Dates and run keys of the CLI (no database): yesterday in UTC, scopes in the key."""

from __future__ import annotations

import datetime as dt

import pytest

from assay.cli.scope import cli_run_key, last_complete_day, parse_day, scope_of
from assay.errors import AssayError


def test_the_last_complete_day_is_yesterday_in_utc_whatever_the_local_zone():
    plus2 = dt.timezone(dt.timedelta(hours=2))
    # 00:30 on the 5th in UTC+2 is 22:30 on the 4th in UTC: the last complete UTC day is the 3rd
    assert last_complete_day(dt.datetime(2026, 12, 5, 0, 30, tzinfo=plus2)) == dt.date(2026, 12, 3)
    assert last_complete_day(dt.datetime(2026, 12, 5, 23, 59, tzinfo=dt.UTC)) == dt.date(2026, 12, 4)
    assert parse_day(None, dt.datetime(2030, 1, 1, 0, 0, tzinfo=dt.UTC)) == dt.date(2029, 12, 31)
    assert parse_day("2019-03-01") == dt.date(2019, 3, 1)  # any date, before any start_date too
    with pytest.raises(AssayError, match="not a date"):
        parse_day("yesterday")


def test_run_keys_carry_their_scope():
    day = dt.date(2019, 3, 1)
    assert cli_run_key("inventory", day, ["shop"]) == "cli/inventory/shop/2019-03-01"
    assert cli_run_key("inventory", day, ["b", "a", "b"]) == "cli/inventory/a+b/2019-03-01"
    assert cli_run_key("inventory", day, None) == "cli/inventory/all/2019-03-01"
    assert cli_run_key("quality", day, ["mk"], ["products"]) == "cli/quality/mk:products/2019-03-01"
    assert cli_run_key("quality", day, None, ["products"]) == "cli/quality/products/2019-03-01"
    assert scope_of([]) == "all"
