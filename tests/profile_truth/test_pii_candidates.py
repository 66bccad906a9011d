"""The value-level PII scan's candidates (#13 item 7, #16 item 1): no hit lost, identifiers left alone.

The database sends a text value to Python only when it is a *candidate*
(:func:`assay.classify.pii_scan.candidate_sql`; RE2 for files: :func:`assay.profiling.arrow.pii_candidates`).
Python's rules (:func:`assay.classify.scrub._hits`) decide. Two properties are checked here, in a
real PostgreSQL and in pyarrow's RE2:

* **Superset**: every value in which the rules find a hit is a candidate — on hits built in every
  format the rules accept, inside many contexts, and on 200,000 random strings made of the
  characters those formats use.
* **Bounded**: identifier formats that end in long digit runs (``evt-1234567``,
  ``ORD-2024-000123``), md5 ids, dates, timestamps (with fractional seconds, zones, day-first
  dates: the rules no longer read ``08:15:00.123456`` or ``05/01/2026 10`` as a phone) and plain
  numbers are not candidates, so a
  column of them costs no transport (issue #16's project ``events``: 4M of 5M ``event_id`` values
  were candidates, 730 MB in the profiling process).
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy import text

from assay.classify.pii_scan import candidate_sql
from assay.classify.scrub import _hits
from assay.profiling.arrow import pii_candidates

pytestmark = pytest.mark.integration

CARDS = ("4111111111111111", "5500005555555559", "378282246310005", "6011000990139424", "2223003122003222")
IBANS = (
    "DE89370400440532013000",
    "GB82WEST12345698765432",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
)
PHONES = (
    "+4915112345678",
    "+44 20 7946 0958",
    "+1 (555) 234-5678",
    "+33 1 99 00 76 61",
    "+441234567890",
    "(555) 234-5678",
    "555-234-5678",
    "555.234.5678",
    "555 234 5678",
    "1-555-234-5678",
    "020 7946 0668",
    "01 99 00 76 61",
    "030/41937613",
    "(030) 4193 7613",
    "0170-1234567",
    "0044 20 7946 0958",
)
IPS = (
    "192.168.1.20",
    "10.0.0.1",
    "8.8.4.4",
    "2001:db8::1",
    "::ffff:192.0.2.1",
    "fe80:0:0:0:0:0:0:1",
    "64:ff9b::192.0.2.33",
)
EMAILS = ("jane.doe@example.com", "o'brien+tag@mail.example.co.uk", "ünï@exämple.de")
PREFIXES = (
    "",
    "at 10:30 call ",
    "tel:",
    ":",
    "call ",
    "ref-",
    "x:",
    "(",
    "tel. ",
    "é ",
    "ID_",
    "a",
    "1 ",
    "99-",
    "/",
    "9/",
    "no.",
    "\t",
    "IBAN ",
)
SUFFIXES = ("", " thanks", ".", ",", ")", "x", "_", "-7", " 12", ":00", "/2", " é")

IDENTIFIERS = (
    [f"evt-{g}" for g in range(1_000_000, 9_000_000, 79_999)]
    + [f"ORD-2024-{g:06d}" for g in range(0, 999_999, 9_901)]
    + [f"SKU-{g:06d}" for g in range(0, 999_999, 9_901)]
    + [f"INV/2024/{g:07d}" for g in range(0, 9_999_999, 99_001)]
    + [f"user_{g}" for g in range(1_000_000, 9_999_999, 99_001)]
    + [hashlib.md5(str(g).encode()).hexdigest() for g in range(200)]
    + [f"2026-{m:02d}-{d:02d}" for m in range(1, 13) for d in (1, 9, 28)]
    + [f"2026-{m:02d}-{d:02d} 0{h}:15:00+00" for m in (1, 7) for d in (3, 9) for h in range(10)]
    + [f"2026-01-0{d}T0{h}:30:00Z" for d in range(1, 10) for h in range(10)]
    + [f"{d:02d}/{m:02d}/2026" for d in (1, 5, 9) for m in range(1, 13)]
    # Timestamps as text (CSV, JSON, PostgreSQL's ::text): fractional seconds, zones, day-first dates.
    + [
        f"2026-01-0{d}T08:15:0{s}.{f}+00:00"
        for d in range(1, 10)
        for s in range(10)
        for f in ("123456", "0", "1234567")
    ]
    + [f"2026-11-2{d} 0{h}:15:07.{f}+00" for d in range(10) for h in range(10) for f in ("5", "012345")]
    + [
        f"{d:02d}/{m:02d}/2026 {h:02d}:{mi:02d}"
        for d in (1, 5)
        for m in (1, 11)
        for h in (0, 9, 10)
        for mi in (0, 30)
    ]
    + [f"0{d}.0{m}.2026 0{h}:00:00" for d in range(1, 10) for m in (1, 7) for h in (0, 8)]
    + [str(g) for g in range(1_000_000, 999_999_999_999, 9_999_999_999)]
    + [f"{g}.{g % 100:02d}" for g in range(1_000_000, 99_999_999, 999_999)]
    + [f"red shoes {g}" for g in range(1_000_000, 9_999_999, 99_001)]
)


def _constructed() -> list[str]:
    values = [
        p + hit + s for hit in (*CARDS, *IBANS, *PHONES, *IPS, *EMAILS) for p in PREFIXES for s in SUFFIXES
    ]
    values += [f"{c[:4]} {c[4:8]} {c[8:12]} {c[12:]}" for c in CARDS] + [
        f"{c[:4]}-{c[4:8]}-{c[8:12]}-{c[12:]}" for c in CARDS
    ]
    values += [" ".join(i[k : k + 4] for k in range(0, len(i), 4)) for i in IBANS]
    return values


def _random_strings(n: int, seed: int = 16) -> list[str]:
    """Strings of the tokens PII formats are made of, in random order (deterministic)."""
    rng = random.Random(seed)
    tokens = [
        "+",
        "(",
        ")",
        "0",
        " ",
        "-",
        ".",
        "/",
        "\t",
        ":",
        "@",
        "_",
        "é",
        "x",
        "DE",
        "GB",
        "AB",
        "a.b",
        "00",
    ]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(2, 9)):
            if rng.random() < 0.55:
                parts.append("".join(rng.choice("0123456789") for _ in range(rng.randint(1, 5))))
            else:
                parts.append(rng.choice(tokens))
        out.append("".join(parts))
    return out


def _kinds(values: list[str]) -> Counter[str]:
    return Counter(h.kind for v in values for h in _hits(v))


def _sql_misses(url: str, values: list[str]) -> list[str]:
    """The ``values`` the SQL predicate does not accept."""
    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            return list(
                c.execute(
                    text(
                        f"SELECT v FROM unnest(CAST(:vals AS text[])) AS u(v) WHERE NOT coalesce({candidate_sql('v')}, false)"
                    ),
                    {"vals": values},
                ).scalars()
            )
    finally:
        eng.dispose()


def _re2_misses(values: list[str]) -> list[str]:
    mask = pii_candidates(pa.chunked_array([pa.array(values, pa.string())])).to_pylist()
    return [v for v, ok in zip(values, mask, strict=True) if not ok]


@pytest.fixture(scope="module")
def url(scratch_db):
    with scratch_db("piicand") as u:
        yield u


def test_every_constructed_hit_is_a_candidate(url):
    values = _constructed()
    with_hits = [v for v in values if _hits(v)]
    kinds = _kinds(with_hits)
    # The corpus exercises every kind the digit, e-mail and IP rules report.
    assert {k for k, n in kinds.items() if n >= 20} == {
        "email",
        "phone",
        "card_number",
        "iban",
        "ip_address",
    }, kinds
    assert _sql_misses(url, with_hits) == []
    assert _re2_misses(with_hits) == []


def test_random_strings_with_a_hit_are_candidates(url):
    values = _random_strings(200_000)
    with_hits = [v for v in values if _hits(v)]
    kinds = _kinds(with_hits)
    assert len(with_hits) >= 1_000 and kinds["phone"] >= 500 and kinds["ip_address"] >= 50, kinds
    assert _sql_misses(url, with_hits) == []
    assert _re2_misses(with_hits) == []


def test_identifiers_dates_and_numbers_are_not_candidates(url):
    assert not any(_hits(v) for v in IDENTIFIERS)  # the rules agree: nothing in them is PII
    assert sorted(set(IDENTIFIERS) - set(_sql_misses(url, IDENTIFIERS))) == []
    assert _re2_misses(IDENTIFIERS) == IDENTIFIERS


def test_a_whole_e164_number_of_twelve_digits_is_found(url):
    """``+441234567890`` was taken for a plain number (and never looked at) before the rules' own conditions."""
    value = "+441234567890"
    assert [h.kind for h in _hits(value)] == ["phone"]
    assert _sql_misses(url, [value]) == [] and _re2_misses([value]) == []
