"""Rule-based classification gives exactly the results frozen from the reference implementation.

``test_classify_equivalence.json.gz`` holds a corpus of about 6,800 varied columns (the seed
shop's customers, products, sessions, impressions, interactions and relevance tables; hand-made
value sets of every PII format, near-threshold mixes, blanks, NULLs and more than 200 values,
crossed with many column names, declared types and table names) together with the
classifications the straightforward per-detector, per-value code of commit 28b79c0 produced for
them: every label, score, method and evidence dict, rules only and with (fake, deterministic)
embedding similarities. The faster classifier must reproduce them byte for byte.

Regenerate the fixture only from code whose results are known to be right::

    .venv/bin/python -m tests.unit.test_classify_equivalence --write
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from assay.classify import ColumnSample, classify_columns, detect_pii, score_pii
from assay.classify import semantic as semantic_mod
from assay.classify.text import ColumnView

FIXTURE = Path(__file__).with_suffix(".json.gz")

Case = tuple[str, str, str, str | None]  # column name, declared type, value-set id, table


# ---- the corpus -------------------------------------------------------------------------------
def _seed_value_sets() -> tuple[dict[str, list[str | None]], list[Case]]:
    """Columns of the seed shop's tables, sampled as the inventory samples files (text or None)."""
    from assay.seed.catalog import make_customers, make_products
    from assay.seed.events import make_day

    anchor = dt.date(2026, 11, 20)
    products = make_products(7, 400, anchor)
    customers = make_customers(7, 400, anchor)
    day = make_day(7, 1, anchor, products, 400)
    tables = {
        "products": products.table,
        "customers": customers,
        "search_sessions": day.sessions,
        "impressions": day.impressions,
        "interactions": day.interactions,
        "relevance_truth": day.truth,
    }
    sets: dict[str, list[str | None]] = {}
    cases: list[Case] = []
    for table_name, table in tables.items():
        for field in table.schema:
            raw = table.column(field.name).to_pylist()
            for start, n in ((0, 200), (37, 25), (0, 230)):
                key = f"seed:{table_name}.{field.name}:{start}:{n}"
                sets[key] = [None if v is None else str(v)[:1000] for v in raw[start : start + n]]
                cases.append((field.name, str(field.type), key, table_name))
            cases.append((field.name, "text", f"seed:{table_name}.{field.name}:0:200", table_name))
            cases.append((field.name, "character varying", f"seed:{table_name}.{field.name}:37:25", None))
    return sets, cases


_HAND_SETS: dict[str, list[str | None]] = {
    "emails": ["ana.gomez@example.com", "j.smith@mail.co.uk", "zoë@exämple.de", "x_y+z@sub.example.org"] * 3,
    "bad_emails": ["a@b", "foo@bar.c0m", "@example.com", "name@-bad.com", "a@b.c", "plain text"],
    "phones": [
        "+44 20 7946 0958",
        "(415) 555-2671",
        "020 7946 0668",
        "01 99 00 76 61",
        "030/41937613",
        "+1-202-555-0143",
    ],
    "phone_digits": ["4155552671", "2025550143", "7946095800", "0301234567"],
    "phone_noise": ["+0 123 4567", "2026-11-05", "192.168.1.10", "12 34", "+49 (0) 30 1234567"],
    "cards": [
        "4111 1111 1111 1111",
        "5500-0000-0000-0004",
        "340000000000009",
        "6011000000000004",
        "2221000000000009",
    ],
    "bad_cards": ["4111 1111 1111 1112", "1234567812345670", "9999999999999995", "411111111111"],
    "ipv4": ["10.0.0.1", "192.168.1.254", "8.8.8.8", "172.16.0.12"],
    "ipv6": ["2001:db8::1", "fe80::1ff:fe23:4567:890a", "::1", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"],
    "bad_ips": ["999.1.1.1", "1.2.3", "abc:def", "1.2.3.4.5", "12:30"],
    "uk_post": ["SW1A 1AA", "EC1A1BB", "M1 1AE", "gir 0aa", "B33 8TH"],
    "ca_nl_post": ["K1A 0B1", "H0H0H0", "1012 AB", "3511AX", "9999 ZZ"],
    "zips": ["10115", "75008", "94105-1234", "02139", "80331"],
    "persons": [
        "Ana Gómez",
        "John van der Berg",
        "Mary-Jane O'Neil",
        "Li Wei",
        "José da Silva",
        "Zoë Müller",
    ],
    "single_names": ["Ana", "John", "Li", "Maria", "Ahmed"],
    "brands": ["Acme", "Samsung", "Nike", "IKEA", "Sony", "Acme", "Nike", "Sony", "Samsung", "Acme", "IKEA"],
    "product_titles": [
        "Acme Blue Velvet Sofa",
        "Samsung 55 inch 4K Smart TV",
        "Nike Air Zoom Running Shoes",
        "Oslo Oak Table",
    ],
    "capital_pairs": ["Black Sofa", "Grey Chair", "Red Kettle", "Navy Coat", "Oak Table", "Silver Watch"],
    "addresses": [
        "221B Baker Street",
        "12 Main St.",
        "Hauptstraße 93",
        "98 rue des Écoles",
        "12, avenue Foch",
        "1600 Pennsylvania Avenue NW",
    ],
    "addresses_nl": ["Keizersgracht 123", "Damstraat 5a", "Calle 12", "7 via Roma"],
    "iso_ts": [
        "2026-11-05T10:32:07Z",
        "2026-11-05 11:02:55+00",
        "2026-11-05T10:32",
        "2026-11-05 10:32:07.123+01:00",
    ],
    "iso_dates": ["2026-11-05", "2026-11-06", "2026-12-31", "2025-01-01"],
    "eu_dates": ["05/11/2026", "06.11.2026", "1/2/26"],
    "urls": [
        "https://shop.example.com/p/123",
        "http://cdn.example.com/img/4.jpg",
        "ftp://files.example.org/a.csv",
    ],
    "currencies": ["EUR", "USD", "GBP", "EUR", "JPY", "CHF"],
    "countries": ["DE", "FR", "GB", "US", "NL", "UK"],
    "category_paths": ["Home > Furniture > Sofas", "Electronics > TV & Video", "Garden / Tools", "A | B | C"],
    "bool_words": ["yes", "no", "no", "yes", "Yes", "NO"],
    "bool_tf": ["t", "f", "t", "t"],
    "bool_01": ["0", "1", "1", "0", "1"],
    "three_words": ["yes", "no", "maybe"],
    "ints": [str(i) for i in range(1, 31)],
    "big_ints": [str(10_000_000 + 7919 * i) for i in range(25)],
    "decimals": ["19.99", "249.00", "1,299.99", "5.49", "-3.5", "1e-3", ".5"],
    "five_digit_qty": ["12345", "54321", "10000", "99999", "23456"],
    "ids": ["P000123", "P004512", "P019877", "P000051", "SKU-10442-BLK", "s_8f3a2c91"],
    "uuids": ["3f2b8c1e-9a4d-4f6b-8e2a-1c5d7e9f0a3b", "7c1e2d3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f"],
    "sentences": [
        "A comfortable three-seater sofa upholstered in soft velvet, designed for small living rooms.",
        "Great kettle, boils fast and looks nice. The lid is a bit stiff though.",
        "Customer asked to deliver after 5pm; please call before arrival.",
    ],
    "long_text": ["word " * 60, "another long paragraph of text " * 8],
    "queries": ["red running shoes", "sofa bed", "55 inch tv", "cheap laptop", "couch grey velvet"],
    "event_types": [
        "click",
        "add_to_cart",
        "purchase",
        "click",
        "view",
        "click",
        "view",
        "purchase",
        "click",
        "view",
    ],
    "colours": [
        "black",
        "white",
        "navy",
        "grey",
        "black",
        "white",
        "black",
        "navy",
        "grey",
        "white",
        "black",
    ],
    "json_docs": ['{"colour": "red"}', '{"weight_g": 311}', "[1, 2]"],
    "blank_null": [None, "", "   ", None],
    "empty": [],
    "unicode": ["日本語のテキスト", "Ünïcödé", "emoji 🙂 here", "\u00a0nbsp\u00a0"],
    "punct": ["&&&", "@@", "++--", "a,b;c", "(x)"],
    "padded": ["  ana@example.com  ", "\tbob@example.org\n", None, "carol@example.net "],
    "multiline": ["line one\nline two", "12 Main Street\nSpringfield", "a\x00b"],
}


def _mixes(sets: dict[str, list[str | None]]) -> dict[str, list[str | None]]:
    """Mixtures near the thresholds: k matching values of a set plus filler, and NULL padding."""
    out: dict[str, list[str | None]] = {}
    filler = ["lorem", "ipsum", "dolor", "sit", "amet", "x1", "Acme", "42"]
    for base in (
        "emails",
        "phones",
        "cards",
        "ipv4",
        "uk_post",
        "zips",
        "persons",
        "addresses",
        "iso_dates",
        "urls",
        "currencies",
        "countries",
        "category_paths",
        "iso_ts",
        "ids",
        "queries",
    ):
        good = [v for v in sets[base] if v is not None]
        for share in (0.5, 0.79, 0.8, 0.85, 0.9, 0.95):
            n_good = round(20 * share)
            vals: list[str | None] = [good[i % len(good)] for i in range(n_good)]
            vals += [filler[i % len(filler)] for i in range(20 - n_good)]
            out[f"mix:{base}:{share}"] = vals
        out[f"nulls:{base}"] = [None, *sets[base], "", None]
        out[f"over200:{base}"] = [*(good * 60)[:210], *(["junk"] * 50)]
    return out


_NAMES = (
    "email",
    "e_mail",
    "customerEmailAddress",
    "mail",
    "phone",
    "tel",
    "mobilePhone",
    "fax",
    "card_number",
    "cc",
    "creditCardNo",
    "pan",
    "ip",
    "ip_address",
    "remote_addr",
    "client_address",
    "IPAddress",
    "mac_address",
    "address",
    "street",
    "address_line1",
    "email_address",
    "web_address",
    "name",
    "full_name",
    "first_name",
    "lastName",
    "surname",
    "product_name",
    "brand_name",
    "customer_name",
    "name_name",
    "zip",
    "postcode",
    "plz",
    "post_code",
    "postal",
    "title",
    "description",
    "price",
    "unit_price",
    "qty",
    "stock_count",
    "rank",
    "position",
    "created_at",
    "day",
    "dob",
    "is_active",
    "has_discount",
    "url",
    "image_link",
    "currency",
    "country",
    "category_path",
    "event_type",
    "eventType",
    "query",
    "search_term",
    "col_7",
    "field2",
    "x",
    "",
    "_",
    "value",
    "code",
    "id",
    "session_id",
    "sku",
    "weight_g",
    "rating",
    "attributes",
    "notes",
    "colour",
    "device",
    "type",
    "amount",
    "ts",
    "brand",
    "manufacturer",
)
_TYPES = (
    "text",
    "character varying(255)",
    "bigint",
    "integer",
    "numeric(12,2)",
    "double precision",
    "real",
    "timestamp with time zone",
    "date",
    "boolean",
    "jsonb",
    "uuid",
    "string",
    "large_string",
    "int64",
    "decimal128(12, 2)",
    "float",
    "timestamp[us, tz=UTC]",
    "bytea",
    "interval",
    "",
    "USER-DEFINED",
    "money",
)
_TABLES = (
    None,
    "customers",
    "brands",
    "products",
    "search_sessions",
    "events",
    "users",
    "t00042",
    "shop_items",
)


def build_corpus() -> tuple[dict[str, list[str | None]], list[Case]]:
    """Every value set and the columns (name, type, value set, table) the test classifies."""
    sets, cases = _seed_value_sets()
    sets.update({f"hand:{k}": v for k, v in _HAND_SETS.items()})
    sets.update(_mixes({k: v for k, v in _HAND_SETS.items()}))
    hand_keys = sorted(k for k in sets if not k.startswith("seed:"))
    rng = random.Random(20261204)
    for name in _NAMES:  # every name with every hand-made set, as text
        for key in hand_keys:
            if key.startswith("hand:") or rng.random() < 0.08:
                cases.append((name, "text", key, rng.choice(_TABLES)))
    all_keys = sorted(sets)
    for _ in range(1500):  # random names, types, sets and tables
        cases.append((rng.choice(_NAMES), rng.choice(_TYPES), rng.choice(all_keys), rng.choice(_TABLES)))
    for table in _TABLES:  # the table only matters for some names: check every table with those
        for name in ("name", "value", "", "code", "title", "name_name", "text", "_"):
            for key in (
                "hand:persons",
                "hand:brands",
                "hand:product_titles",
                "hand:queries",
                "hand:single_names",
            ):
                cases.append((name, "text", key, table))
    return sets, cases


# ---- frozen results ----------------------------------------------------------------------------
def _fake_cosines(col: ColumnView) -> dict[str, float]:
    """Deterministic stand-in similarities (no model): a function of the column's embedded text."""
    digest = hashlib.sha256(semantic_mod.column_text(col).encode()).digest()
    return {name: round(digest[i] / 300, 4) for i, name in enumerate(semantic_mod.LABEL_NAMES)}


def _as_json(results: list[list[Any]]) -> list[list[dict[str, Any]]]:
    return [[c.as_row() for c in found] for found in results]


def classify_corpus(sets: dict[str, list[str | None]], cases: list[Case]) -> dict[str, Any]:
    """Results of the classifier under test on the corpus, as JSON-ready data."""
    samples = [ColumnSample(name, dtype, sets[key], table) for name, dtype, key, table in cases]
    rules = _as_json(classify_columns(samples, use_embeddings=False))
    real = semantic_mod.similarities
    semantic_mod.similarities = lambda cols: [_fake_cosines(c) for c in cols]  # type: ignore[assignment]
    try:
        # classifier.py imported the name; patch it there too.
        import assay.classify.classifier as classifier_mod

        saved = classifier_mod.similarities
        classifier_mod.similarities = semantic_mod.similarities  # type: ignore[assignment]
        try:
            embedded = _as_json(classify_columns(samples[::3], use_embeddings=True))
        finally:
            classifier_mod.similarities = saved
    finally:
        semantic_mod.similarities = real  # type: ignore[assignment]
    scored = [[c.as_row() for c in score_pii(s)] for s in samples[::2]]
    detected = [None if (c := detect_pii(s)) is None else c.as_row() for s in samples[1::2]]
    return {"rules": rules, "embedded": embedded, "score_pii": scored, "detect_pii": detected}


def _load() -> dict[str, Any]:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def _canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


@pytest.fixture(scope="module")
def frozen() -> dict[str, Any]:
    return _load()


@pytest.fixture(scope="module")
def current(frozen: dict[str, Any]) -> dict[str, Any]:
    cases = [tuple(c) for c in frozen["cases"]]
    return classify_corpus(frozen["sets"], cases)  # type: ignore[arg-type]


def test_the_corpus_is_varied(frozen: dict[str, Any]) -> None:
    labels = {c["label"] for found in frozen["expected"]["rules"] for c in found}
    pii = {c["label"] for found in frozen["expected"]["rules"] for c in found if c["kind"] == "pii"}
    assert len(frozen["cases"]) >= 3000
    assert pii == {"email", "card_number", "phone", "ip_address", "address", "person_name", "postal_code"}
    assert {
        "timestamp",
        "date",
        "url",
        "currency",
        "country",
        "category",
        "boolean",
        "unknown",
        "price",
    } <= labels
    methods = {c["method"] for found in frozen["expected"]["rules"] for c in found}
    assert methods == {"name", "pattern"}


@pytest.mark.parametrize("part", ["rules", "embedded", "score_pii", "detect_pii"])
def test_results_match_the_frozen_reference(
    frozen: dict[str, Any], current: dict[str, Any], part: str
) -> None:
    expected, got = frozen["expected"][part], current[part]
    assert len(got) == len(expected)
    step = {"rules": 1, "embedded": 3, "score_pii": 2, "detect_pii": 2}[part]
    first = {"rules": 0, "embedded": 0, "score_pii": 0, "detect_pii": 1}[part]
    cases = frozen["cases"][first::step]
    wrong = [
        (case, e, g)
        for case, e, g in zip(cases, expected, got, strict=True)
        if _canonical(e) != _canonical(g)
    ]
    assert not wrong, f"{len(wrong)} of {len(got)} columns differ; first: {wrong[0]}"


def test_inputs_in_any_order_and_duplicated_give_the_same_results(frozen: dict[str, Any]) -> None:
    # Identical inputs may be computed once: the copies must still be equal, independent objects.
    cases = frozen["cases"][:400]
    order = list(range(len(cases))) * 2
    random.Random(3).shuffle(order)
    samples = [ColumnSample(c[0], c[1], frozen["sets"][c[2]], c[3]) for c in cases]
    got = classify_columns([samples[i] for i in order], use_embeddings=False)
    for i, found in zip(order, got, strict=True):
        assert _canonical([c.as_row() for c in found]) == _canonical(frozen["expected"]["rules"][i])
    first, second = (j for j, i in enumerate(order) if i == order[0])
    assert got[first][0] == got[second][0]
    assert got[first][0].evidence is not got[second][0].evidence


def main(argv: list[str]) -> int:
    if argv != ["--write"]:
        print(__doc__)
        return 2
    sets, cases = build_corpus()
    used = sorted({key for _, _, key, _ in cases})
    data = {"sets": {k: sets[k] for k in used}, "cases": cases, "expected": classify_corpus(sets, cases)}
    with gzip.open(FIXTURE, "wt", encoding="utf-8", compresslevel=9) as f:
        json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {FIXTURE}: {len(cases)} columns, {len(used)} value sets")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
