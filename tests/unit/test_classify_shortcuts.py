"""The classifier's shortcuts (column screens, shared results of identical columns) change nothing.

Each PII detector screens a column with one search over all its values before checking them one
by one; the screen may only say "no value can match" when that is true. These tests compare the
results with every screen forced open (the per-value reference) on awkward values: exotic
case-folding characters, NUL bytes, values over 200 characters, numbers next to separators.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from assay.classify import ColumnSample, classify_columns, score_pii
from assay.classify import pii as pii_mod
from assay.classify.pii_values import email_screen
from assay.classify.text import ColumnView

CORPUS = Path(__file__).with_name("test_classify_equivalence.json.gz")

AWKWARD: list[list[str | None]] = [
    ["12ſ Main Street", "7\u212a High Street", "3ı Oak Road", "9İ Elm Lane"],  # re.IGNORECASE equivalents
    ["Hauptſtraße 12", "HAUPTSTRASSE 3", "Damſtraat 5a", "Ringſtr. 4", "HAUPTSTRAẞE 3", "Kurfürstendamm  21"],
    ["Ringstr.\t4", "Chaussee 5", "Xchaussee 5", "a weg 7", "Alter Weg\u00a09b", "Damm 1", "9 Kade 3"],
    ["12 bis rue de la Paix", "3ter, avenue Foch", "5 BIS RUE X", "7\tTER rue Y"],
    ["5\x00Main Street", "Main\x00Street 5", "a@b\x00.com", "4111\x001111 1111 1111"],
    ["x" * 250 + " 12 Main Street", "12 Main Street " + "y" * 190, "221B Baker Street"],
    ["sw1a 1aa", "ſw1a 1aa", "k1a 0b1", "1012 ab", "gir 0aa", "ẞ1 1AA"],
    ["10115", "10115-1234", "1011AB", "١٢٣٤٥", "12345"],
    ["4111 1111 1111 1111", "4111-1111-1111-1111", "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", "٤١١١١١١١١١١١١١١١"],
    ["+44 20 7946 0958", "(415) 555-2671", "0 3 0 4 1 9 3 7", "٠٣٠٤١٩٣٧٦١٣", "+1(202)5550143"],
    [
        "202 555 0143",
        "1-202-555-0143",
        "(030) 4193761",
        "030 41937613",
        "2025550143",
        "25001.25",
        "1234567.8901",
    ],
    ["1.2.3.4", "::", "fe80::", "١.٢.٣.٤", "1.2.3", "::ffff:1.2.3.4", "fe80::1%eth0"],
    ["ana@exämple.de", "x@y.zz", "@", "a@b"],
    ["Ana Gómez", "ana gómez", "ANA GÓMEZ", "Ana  Gómez", "Dr. Ana", "Ana-Maria O'Neil"],
    [None, "", " ", "\u00a0"],
]
NAMES = (
    "address",
    "street",
    "postcode",
    "zip",
    "card_number",
    "phone",
    "ip",
    "email",
    "full_name",
    "name",
    "notes",
)


@pytest.fixture
def screens_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every detector checks every value: the reference the screens must agree with."""
    opened = tuple(dataclasses.replace(d, screen=lambda col, hint: True) for d in pii_mod.DETECTORS)
    monkeypatch.setattr(pii_mod, "DETECTORS", opened)


def _rows(found: list[Any]) -> str:
    return json.dumps([c.as_row() for c in found], ensure_ascii=False)


def _awkward_samples() -> list[ColumnSample]:
    samples = []
    for values in AWKWARD:
        for name in NAMES:
            for dtype in ("text", "bigint"):
                samples.append(ColumnSample(name, dtype, values, "customers"))
                samples.append(ColumnSample(name, dtype, values[::-1] * 3, None))
                # One value alone: the other values of a list must not open the screen for it.
                samples.extend(ColumnSample(name, dtype, [v], None) for v in values)
    return samples


def _corpus_samples() -> list[ColumnSample]:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        data = json.load(f)
    return [ColumnSample(c[0], c[1], data["sets"][c[2]], c[3]) for c in data["cases"]]


def test_screens_agree_with_checking_every_value(monkeypatch: pytest.MonkeyPatch) -> None:
    samples = _awkward_samples() + _corpus_samples()
    screened = [_rows(score_pii(s)) for s in samples]
    opened = tuple(dataclasses.replace(d, screen=lambda col, hint: True) for d in pii_mod.DETECTORS)
    monkeypatch.setattr(pii_mod, "DETECTORS", opened)
    reference = [_rows(score_pii(s)) for s in samples]
    wrong = [(s, a, b) for s, a, b in zip(samples, screened, reference, strict=True) if a != b]
    assert not wrong, f"{len(wrong)} columns differ; first: {wrong[0]}"


def test_screens_skip_columns_no_value_of_which_can_match() -> None:
    words = ColumnView(ColumnSample("notes", "text", ["value 1", "value 2", "lorem ipsum"]))
    assert not any(d.screen(words, "none") for d in pii_mod.DETECTORS)
    numbers = ColumnView(ColumnSample("c05", "bigint", [str(i) for i in range(1, 11)]))
    assert not any(d.screen(numbers, "none") for d in pii_mod.DETECTORS)
    emails = ColumnView(ColumnSample("contact", "text", ["ana@example.com"]))
    assert email_screen(emails, "none")


def test_a_name_hint_without_matching_values_still_scores_the_name() -> None:
    # The screen skips the values, not the name: "email" full of product ids stays a 0.3 candidate.
    (only,) = score_pii(ColumnSample("email", "text", ["P000123", "P004512"]))
    assert (only.label, only.score, only.method) == ("email", 0.3, "name")
    assert only.evidence["matched"] == 0 and only.evidence["sampled"] == 2


def test_identical_columns_share_work_but_not_objects() -> None:
    persons = ["Ana Gómez", "Li Wei", "John Smith"]
    samples = [
        ColumnSample("name", "text", persons, "customers"),
        ColumnSample("name", "text", persons, "brands"),  # a generic name: the table decides
        ColumnSample("name", "text", persons, "customers"),
        ColumnSample("c01", "text", ["1", "2"], "t1"),
        ColumnSample("c01", "text", [1, 2], "t2"),  # type: ignore[list-item]  # numbers: not shared
        ColumnSample("c01", "text", ["1.0", "2"], "t3"),
        ColumnSample("c01", "text", [1.0, 2], "t4"),  # type: ignore[list-item]
    ]
    got = classify_columns(samples, use_embeddings=False)
    one_by_one = [classify_columns([s], use_embeddings=False)[0] for s in samples]
    assert [_rows(f) for f in got] == [_rows(f) for f in one_by_one]
    assert got[0][0].label == "person_name" and got[1][0].label != "person_name"
    assert got[0][0] == got[2][0] and got[0][0].evidence is not got[2][0].evidence
    assert got[0][0].evidence["formats"] is not got[2][0].evidence["formats"]
