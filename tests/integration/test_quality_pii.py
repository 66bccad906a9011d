"""No raw e-mail address reaches Data Docs, the masked results store, the catalog or the logs.

GX renders failing values even at SUMMARY; a failing e-mail format expectation on ``customers``
is the worst case. The last test shows the scan would catch a leak: with masking switched off the
raw values are found.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from support.db import execute
from support.worlds import shop_world

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 1)
TEXT_SUFFIXES = {".html", ".json", ".js", ".css", ".txt", ".md"}


@dataclass
class Env:
    settings: object
    shop_url: str
    catalog_url: str
    landing: Path
    bad_emails: list[str]


@pytest.fixture(scope="module")
def env(scratch_db, tmp_path_factory) -> Iterator[Env]:
    from assay.seed import SeedConfig

    config = SeedConfig(start_date=DAY, days=1, write_truth=False)
    with shop_world(scratch_db, tmp_path_factory.mktemp("qpii"), "qpii", config) as world:
        shop_url = world.shop_url
        # Five customers get e-mails that break the format rule, each still a recognisable address.
        execute(shop_url, """
            UPDATE customers SET email = CASE
                WHEN customer_id IN (SELECT customer_id FROM customers ORDER BY customer_id LIMIT 2) THEN upper(email)
                ELSE replace(email, '@', '@@') END
            WHERE customer_id IN (SELECT customer_id FROM customers ORDER BY customer_id LIMIT 5)""")
        bad = [r[0] for r in execute(shop_url, "SELECT email FROM customers ORDER BY customer_id LIMIT 5")]
        yield Env(world.settings, shop_url, world.catalog_url, world.landing, bad)


def all_emails(env: Env) -> list[str]:
    return [r[0] for r in execute(env.shop_url, "SELECT email FROM customers")]


def text_files(folder: Path) -> dict[str, str]:
    return {
        str(p): p.read_text(errors="replace")
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in TEXT_SUFFIXES
    }


def catalog_dump(url: str) -> str:
    tables = ["quality_runs", "expectation_results", "review_items", "scorecards", "waivers", "assets", "sources"]
    return "\n".join(str(r) for t in tables for r in execute(url, f"SELECT row_to_json(x)::text FROM {t} x"))


def leaks(env: Env, haystacks: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    emails = all_emails(env)
    for where, text in haystacks.items():
        hit = [e for e in emails if e in text]
        if hit:
            found[where] = hit[:3]
    return found


def run_customers(env: Env, result_format: str):
    from assay.quality import run_quality

    return run_quality(env.settings, DAY, f"test/pii/{result_format}", assets=["customers"],
                       result_format=result_format, raise_on_failure=False)


@pytest.mark.parametrize("result_format", ["SUMMARY", "COMPLETE"])
def test_failing_email_format_leaks_no_raw_address(env, caplog, capsys, result_format):
    caplog.set_level(logging.DEBUG)
    report = run_customers(env, result_format)

    p = report.partition("customers")
    assert p.status == "ok"  # email_format is a warning
    (failure,) = [o for o in p.outcomes if not o.success]
    assert failure.expectation_id == "email_format" and failure.unexpected_count == 5
    assert failure.details.get("masked") is True

    docs = Path(env.settings.state_dir) / "gx"
    page = Path(p.data_docs_url.removeprefix("file://"))
    html = page.read_text()
    assert "regular expression" in html and "email" in html
    assert "***@" in html  # the failing values are shown, masked

    out, err = capsys.readouterr()
    haystacks = {
        **text_files(docs),
        "catalog": catalog_dump(env.catalog_url),
        "logs": caplog.text,
        "stdout": out,
        "stderr": err,
        "summary": str(report.summary()),
    }
    assert leaks(env, haystacks) == {}
    # nothing unmasked was ever written where GX keeps validations by default
    assert not list(docs.rglob("uncommitted"))


def test_the_leak_scan_finds_raw_values_when_masking_is_off(env, catalog_url, tmp_path, monkeypatch):
    from assay.config import Settings
    from assay.quality import run as run_module

    monkeypatch.setattr(run_module, "mask_result", lambda result, columns, pii: dict(result))
    settings = Settings(home=tmp_path, database_url=catalog_url, shop_url=env.shop_url, landing_dir=env.landing)
    leaky = Env(settings, env.shop_url, catalog_url, env.landing, env.bad_emails)
    run_customers(leaky, "SUMMARY")
    found = leaks(leaky, {**text_files(tmp_path / "gx"), "catalog": catalog_dump(catalog_url)})
    assert found, "the scan must see unmasked values"
    assert set(env.bad_emails) & {e for hits in found.values() for e in hits}
