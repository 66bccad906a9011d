"""PII detection: realistic PII columns are found, e-commerce look-alikes are not, evidence is masked."""

from __future__ import annotations

import json
import random

import pytest

from assay.classify import (
    NAME_BONUS,
    PII_THRESHOLD,
    ColumnSample,
    classify_columns,
    detect_pii,
    score_pii,
)
from assay.classify.pii_values import luhn_valid

RNG = random.Random(20261105)
N = 60

FIRST = ["Anna", "Noah", "Mei", "Léo", "Chloé", "Sofia", "Oscar", "Inès", "Kwame", "Amelia", "Jack", "Freya"]
LAST = [
    "Schmidt",
    "Wilson",
    "Kim",
    "Lefèvre",
    "de Vries",
    "O'Brien",
    "Kowalski",
    "Nguyen",
    "Müller",
    "Smith-Jones",
]


def _luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "".join(RNG.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


def _break_luhn(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def _grouped(digits: str) -> str:
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def emails() -> list[str]:
    domains = ["example.com", "mail.example.org", "example.net", "shop.example.co.uk"]
    return [f"{RNG.choice(FIRST).lower()}.{i}@{RNG.choice(domains)}" for i in range(N)]


def phones() -> list[str]:
    formats = [
        lambda: f"+44 20 7946 0{RNG.randint(0, 999):03d}",
        lambda: f"+1-617-555-01{RNG.randint(0, 99):02d}",
        lambda: f"+33 1 99 00 {RNG.randint(10, 99)} {RNG.randint(10, 99)}",
        lambda: f"+49 30 {RNG.randint(1000, 9999)} {RNG.randint(1000, 9999)}",
        lambda: f"020 7946 0{RNG.randint(0, 999):03d}",
        lambda: f"(617) 555-01{RNG.randint(0, 99):02d}",
        lambda: f"01 99 00 {RNG.randint(10, 99)} {RNG.randint(10, 99)}",
    ]
    return [RNG.choice(formats)() for _ in range(N)]


def cards() -> list[str]:
    made = []
    for i in range(N):
        prefix, length = [("4", 16), ("51", 16), ("37", 15), ("6011", 16)][i % 4]
        number = _luhn_complete(prefix, length)
        made.append(_grouped(number) if i % 2 else number)
    return made


def ips() -> list[str]:
    v4 = [f"10.{RNG.randint(0, 255)}.{RNG.randint(0, 255)}.{RNG.randint(1, 254)}" for _ in range(N - 10)]
    v6 = [f"2001:db8::{RNG.randint(1, 0xFFFF):x}" for _ in range(10)]
    return v4 + v6


def postcodes() -> list[str]:
    uk = ["SW1A 1AA", "E20 8LZ", "W6 1BG", "EH13 8YR", "BS17 0PW", "N13 3SR", "L4 5GE"]
    return [RNG.choice(uk) if i % 2 else f"{RNG.randint(1000, 99999):05d}" for i in range(N)]


def uk_postcodes() -> list[str]:
    return [
        f"{RNG.choice(['SW', 'E', 'N', 'EH', 'BS', 'M'])}{RNG.randint(1, 20)} {RNG.randint(0, 9)}{RNG.choice('ABDEFGHJLNPQRSTUWXYZ')}{RNG.choice('ABDEFGHJLNPQRSTUWXYZ')}"
        for _ in range(N)
    ]


def names() -> list[str]:
    return [f"{RNG.choice(FIRST)} {RNG.choice(LAST)}" for _ in range(N)]


def addresses() -> list[str]:
    formats = [
        lambda: (
            f"{RNG.randint(1, 250)} {RNG.choice(['High Street', 'Station Road', 'Oak Avenue', 'Maple Drive'])}"
        ),
        lambda: (
            f"{RNG.choice(['Hauptstraße', 'Gartenstraße', 'Lindenweg', 'Keizersgracht'])} {RNG.randint(1, 250)}"
        ),
        lambda: (
            f"{RNG.randint(1, 250)} {RNG.choice(['rue des Écoles', 'boulevard Voltaire', 'avenue Victor Hugo'])}"
        ),
        lambda: f"Flat {RNG.randint(1, 9)}, {RNG.randint(1, 99)} Church Lane, London",
    ]
    return [RNG.choice(formats)() for _ in range(N)]


# ---- e-commerce columns that must never be PII ----------------------------------------------------
TITLES = [
    "Acme Blue Velvet Sofa 3-Seater",
    "Nordhaven Oslo Velvet Armchair in White, standard",
    "Kaito Grey Carbon Display Milano (27 inch)",
    "Lumetra Bergen TV - White, 43 inch, Aluminium",
    "Cocktail Table Oslo by Nordhaven, Grey Oak, small",
    "Oak Avenue Bookshelf",
    "Green Lane Garden Bench",
]
BRANDS = ["Nordhaven", "Maison Léa", "Oakridge", "Hygge & Co", "Kaito", "Lumetra", "Arcbyte", "Acme"]
CATEGORY_PATHS = [
    "Home > Furniture > Sofas",
    "Electronics > TV & Video > Televisions",
    "Home > Kitchen > Kettles",
]
QUERIES = [
    "red running shoes",
    "sofa bed",
    "55 inch tv",
    "grey velvet couch",
    "oak coffee table",
    "Samsung TV",
]


def not_pii_columns() -> list[ColumnSample]:
    return [
        ColumnSample("product_id", "text", [f"P{i:06d}" for i in range(1, N + 1)], "products"),
        ColumnSample("sku", "text", [f"SKU-{RNG.randint(10000, 99999)}-BLK" for _ in range(N)], "products"),
        ColumnSample("price", "numeric(12,2)", [f"{RNG.uniform(5, 3000):.2f}" for _ in range(N)], "products"),
        ColumnSample("title", "text", [RNG.choice(TITLES) for _ in range(N)], "products"),
        ColumnSample("brand", "text", [RNG.choice(BRANDS) for _ in range(N)], "products"),
        ColumnSample("name", "text", [RNG.choice(BRANDS) for _ in range(N)], "brands"),
        ColumnSample("name", "text", [RNG.choice(TITLES) for _ in range(N)], None),
        ColumnSample(
            "product_name",
            "text",
            [RNG.choice(["Oslo Sofa", "Bergen Lamp", "Milano Desk"]) for _ in range(N)],
        ),
        ColumnSample("category_path", "text", [RNG.choice(CATEGORY_PATHS) for _ in range(N)], "products"),
        ColumnSample("query", "text", [RNG.choice(QUERIES) for _ in range(N)], "search_sessions"),
        ColumnSample(
            "quantity", "integer", [str(RNG.randint(10000, 99999)) for _ in range(N)], "order_lines"
        ),
        ColumnSample("quantity", "text", [str(RNG.randint(10000, 99999)) for _ in range(N)], "feed"),
        ColumnSample(
            "order_id", "bigint", [str(RNG.randint(10_000_000, 99_999_999)) for _ in range(N)], "orders"
        ),
        ColumnSample("gtin", "text", [f"{RNG.randint(10**12, 10**13 - 1)}" for _ in range(N)], "products"),
        ColumnSample("day", "text", [f"2026-11-{RNG.randint(1, 30):02d}" for _ in range(N)], "sessions"),
        ColumnSample(
            "shown_at", "text", [f"2026-11-05T10:{RNG.randint(10, 59)}:07Z" for _ in range(N)], "impr"
        ),
        ColumnSample(
            "version",
            "text",
            [f"{RNG.randint(1, 3)}.{RNG.randint(0, 9)}.{RNG.randint(0, 20)}" for _ in range(N)],
        ),
        ColumnSample("position", "smallint", [str(RNG.randint(1, 50)) for _ in range(N)], "impressions"),
    ]


def pii_columns() -> list[tuple[ColumnSample, str]]:
    return [
        (ColumnSample("email", "text", emails(), "customers"), "email"),
        (ColumnSample("contact", "text", emails(), None), "email"),  # by values alone
        (ColumnSample("phone", "text", phones(), "customers"), "phone"),
        (ColumnSample("contact_number", "character varying", phones(), None), "phone"),
        (ColumnSample("card_number", "text", cards(), "payments"), "card_number"),
        (ColumnSample("token", "text", cards(), None), "card_number"),
        (ColumnSample("ip_address", "text", ips(), "customers"), "ip_address"),
        (ColumnSample("remoteAddr", "string", ips(), "access_log"), "ip_address"),
        (ColumnSample("postal_code", "text", postcodes(), "customers"), "postal_code"),
        (ColumnSample("pc", "text", uk_postcodes(), None), "postal_code"),  # mixed letters/digits alone
        (ColumnSample("full_name", "text", names(), "customers"), "person_name"),
        (ColumnSample("name", "text", names(), "customers"), "person_name"),
        (ColumnSample("first_name", "text", [RNG.choice(FIRST) for _ in range(N)], "users"), "person_name"),
        (ColumnSample("street_address", "text", addresses(), "customers"), "address"),
        (ColumnSample("line", "text", addresses(), None), "address"),
    ]


@pytest.mark.parametrize(
    ("sample", "label"), pii_columns(), ids=lambda x: x.name if isinstance(x, ColumnSample) else x
)
def test_pii_columns_are_found_with_evidence(sample: ColumnSample, label: str) -> None:
    found = detect_pii(sample)
    assert found is not None, score_pii(sample)
    assert found.label == label
    assert found.kind == "pii"
    assert found.method == "pattern"
    assert PII_THRESHOLD <= found.score <= 1.0
    ev = found.evidence
    assert ev["pattern"] == label
    assert ev["sampled"] == N
    assert ev["matched"] >= 0.5 * N
    assert ev["ratio"] == pytest.approx(ev["matched"] / ev["sampled"], abs=1e-4)
    assert 1 <= len(ev["examples_masked"]) <= 3
    assert sum(ev["formats"].values()) == ev["matched"]


@pytest.mark.parametrize("sample", not_pii_columns(), ids=lambda s: f"{s.table}.{s.name}")
def test_ecommerce_columns_are_not_pii(sample: ColumnSample) -> None:
    assert detect_pii(sample) is None, score_pii(sample)
    [result] = classify_columns([sample], use_embeddings=False)
    assert [c.kind for c in result] == ["semantic"]


@pytest.mark.parametrize(
    ("sample", "label"), pii_columns(), ids=lambda x: x.name if isinstance(x, ColumnSample) else x
)
def test_evidence_never_holds_a_raw_value(sample: ColumnSample, label: str) -> None:
    for classification in classify_columns([sample], use_embeddings=False)[0]:
        # ensure_ascii=False: an escaped "\u00c9coles" would otherwise hide a leaked "Écoles".
        dumped = json.dumps(classification.evidence, ensure_ascii=False)
        leaked = [v for v in sample.values if v and v in dumped]
        assert not leaked, (classification.kind, leaked[:3])


def test_name_alone_stays_below_threshold() -> None:
    """A column called ``email`` full of product ids: the name hint alone cannot make it PII."""
    sample = ColumnSample("email", "text", [f"P{i:06d}" for i in range(1, 41)], "products")
    assert detect_pii(sample) is None
    [email] = [c for c in score_pii(sample) if c.label == "email"]
    assert email.score == pytest.approx(NAME_BONUS)
    assert email.score < PII_THRESHOLD
    assert email.method == "name"
    assert email.evidence["name_hint"] is True
    assert email.evidence["matched"] == 0
    assert email.evidence["examples_masked"] == []


@pytest.mark.parametrize(("n_emails", "is_pii"), [(20, True), (16, False)])
def test_name_hint_needs_half_the_values(n_emails: int, is_pii: bool) -> None:
    values = emails()[:n_emails] + [f"P{i:06d}" for i in range(40 - n_emails)]
    hinted = ColumnSample("email", "text", values)
    unhinted = ColumnSample("ref", "text", values)
    assert (detect_pii(hinted) is not None) is is_pii
    assert detect_pii(unhinted) is None  # 50 % of values without a hint is not enough


def test_values_alone_need_the_threshold() -> None:
    values = emails()[:32] + [f"P{i:06d}" for i in range(8)]  # 80 %
    assert detect_pii(ColumnSample("ref", "text", values)) is not None
    assert detect_pii(ColumnSample("ref", "text", values[:31] + ["P999999"] * 9)) is None  # 77.5 %


def test_luhn_failure_is_not_a_card() -> None:
    invalid = [_break_luhn(c.replace(" ", "")) for c in cards()]
    assert not any(luhn_valid(c) for c in invalid)
    sample = ColumnSample("card_number", "text", invalid, "payments")
    assert detect_pii(sample) is None
    [card] = [c for c in score_pii(sample) if c.label == "card_number"]
    assert card.evidence["matched"] == 0
    assert card.score < PII_THRESHOLD


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4111111111111111", True),
        ("5500000000000004", True),
        ("378282246310005", True),
        ("4111111111111112", False),
    ],
)
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


def test_ip_octets_are_validated() -> None:
    bad = [f"10.{RNG.randint(256, 999)}.1.1" for _ in range(40)]
    assert detect_pii(ColumnSample("ip", "text", bad)) is None
    assert detect_pii(ColumnSample("addr", "text", ["::1", "fe80::1", "2001:db8::42"] * 10)) is not None


def test_email_needs_a_dotted_domain() -> None:
    assert detect_pii(ColumnSample("login", "text", [f"user{i}@localhost" for i in range(40)])) is None


@pytest.mark.parametrize(
    "values",
    [
        [f"2026-11-{d:02d}" for d in range(1, 29)],  # dates have 8 digits and separators
        [f"10.{i}.{i}.{i}" for i in range(40)],  # IPv4 is not a phone
        [str(RNG.randint(10**9, 10**10 - 1)) for _ in range(40)],  # bare 10-digit numbers
        [f"100-200-{RNG.randint(1000, 9999)}" for _ in range(40)],  # dashed codes, not NANP
    ],
    ids=["dates", "ipv4", "bare_digits", "dashed_codes"],
)
def test_phone_look_alikes_are_not_phones(values: list[str]) -> None:
    candidates = {c.label: c for c in score_pii(ColumnSample("ref", "text", values))}
    assert "phone" not in candidates


def test_bare_digits_are_phones_only_with_a_phone_name() -> None:
    values = [f"07700900{RNG.randint(100, 999)}" for _ in range(40)]
    assert detect_pii(ColumnSample("msisdn", "text", values)) is not None
    assert detect_pii(ColumnSample("ref", "text", values)) is None


def test_five_digit_codes_need_a_postal_name() -> None:
    values = [f"{RNG.randint(10000, 99999)}" for _ in range(40)]
    assert detect_pii(ColumnSample("zip", "integer", values)) is not None
    assert detect_pii(ColumnSample("plz", "text", values)) is not None
    assert detect_pii(ColumnSample("code", "text", values)) is None
    assert detect_pii(ColumnSample("stock_units", "integer", values)) is None


def test_person_names_need_a_person_name_column() -> None:
    people = names()
    assert detect_pii(ColumnSample("customer_name", "text", people)) is not None
    assert detect_pii(ColumnSample("label", "text", people)) is None  # no hint: could be brands
    assert detect_pii(ColumnSample("name", "text", people, "products")) is None
    assert detect_pii(ColumnSample("brand_name", "text", people)) is None
    # bare ``name`` with an unknown table: two-word capitalised values still count
    assert detect_pii(ColumnSample("name", "text", people)) is not None
    assert detect_pii(ColumnSample("name", "text", ["Blue Velvet Sofa", "Grey Oak Table"] * 20)) is None


def test_non_text_types_are_not_pii_except_digit_labels() -> None:
    stamps = ColumnSample("email_sent_at", "timestamp with time zone", ["2026-11-05 10:00:00+00"] * 10)
    assert score_pii(stamps) == [] or all(c.score < PII_THRESHOLD for c in score_pii(stamps))
    assert detect_pii(ColumnSample("is_email_verified", "boolean", ["true", "false"] * 10)) is None
    card_numbers = [c.replace(" ", "") for c in cards() if not c.startswith("37")]
    assert detect_pii(ColumnSample("pan", "numeric(19,0)", card_numbers)) is not None


def test_nulls_and_blanks_are_not_sampled() -> None:
    values: list[str | None] = [*emails()[:30], None, "", "  ", None]
    found = detect_pii(ColumnSample("email", "text", values))
    assert found is not None
    assert found.evidence["sampled"] == 30
    assert found.evidence["matched"] == 30


def test_only_the_first_200_values_are_read() -> None:
    values = emails()[:1] * 200 + [f"P{i:06d}" for i in range(1000)]
    found = detect_pii(ColumnSample("ref", "text", values))
    assert found is not None and found.evidence["sampled"] == 200


def test_all_null_column_with_a_pii_name_is_not_pii() -> None:
    sample = ColumnSample("phone", "text", [None] * 20)
    assert detect_pii(sample) is None
    [phone] = score_pii(sample)
    assert phone.score == pytest.approx(NAME_BONUS)
    assert phone.evidence["sampled"] == 0


def test_mixed_column_lists_alternatives() -> None:
    values = emails()[:36] + phones()[:4]
    found = detect_pii(ColumnSample("contact", "text", values))
    assert found is not None and found.label == "email"
    assert {"label": "phone", "score": 0.1} in found.evidence["alternatives"]
