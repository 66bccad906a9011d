"""Semantic column types: cheap rules first, sentence embeddings for the rest.

A column gets exactly one semantic label (PII columns get their PII label, see ``classifier``).
Three kinds of signal decide it, in this order:

1. **Decisive rules** (method ``pattern``, or ``name`` where the column name is part of the rule).
   The declared type (timestamp, date, boolean, JSON); values that are almost all (>= 90 %) of one
   machine-checkable shape (ISO 8601 timestamps or dates as text, ``http(s)://`` -> ``url``,
   ISO 4217 codes -> ``currency``, ISO 3166 codes -> ``country``, category paths ``A > B > C``,
   two distinct yes/no words -> ``boolean``); or a numeric column whose name says price or
   position. The score is the share of values that satisfied the rule (1.0 for the declared type,
   0.9 for name + numeric).
2. **Type compatibility.** A numeric column (declared, or text whose values are >= 95 % numbers)
   can only get a label marked ``numeric`` (identifier, price, quantity, measure, boolean, rank).
3. **Embedding similarity plus soft signals** (method ``embedding``). One short text per column —
   the meaningful words of its name, its type family and up to eight distinct sampled values (three
   longer ones for free text) — is embedded with all-MiniLM-L6-v2 and compared (cosine) with a few
   prototype texts per label; a label's similarity is its best prototype's. Soft signals are added:
   a keyword of the label in the column name (:data:`NAME_BOOST`), the table's name for generic
   column names (``brands.name``), and value shapes (unique codes -> identifier, repeated words
   without digits -> not an identifier, sentences and long text -> free_text, lower-case phrases
   -> search_query, Title Case phrases -> product_title, short repeated values -> category). The
   highest sum wins; the score is that sum clipped to [0, 1]; below :data:`MIN_SCORE` the label is
   ``unknown``.

With ``use_embeddings=False`` step 3 adds up the soft signals alone (no model is loaded): scores are
small by construction (0.05-0.4) and any positive signal wins; none at all gives ``unknown``.

PII labels (email, phone ...) are not in the embedding contest: only the validated detectors of
:mod:`assay.classify.pii` give them, so a column named ``email`` full of product ids is an
``identifier``, not an "email" that failed validation.

Evidence (never a raw value)::

    {"decided_by": "embedding+signals", "signals": {"product_title:name:title": 0.2},
     "cosine": 0.71, "combined": 0.91, "runner_up": "search_query", "runner_up_cosine": 0.6,
     "runner_up_score": 0.6, "margin": 0.31, "min_score": 0.3, "model": "all-MiniLM-L6-v2",
     "values_embedded": 8}

A decisive rule records ``decided_by: "rule:<name>"`` and, with embeddings, the model's own cosine
for the chosen label and its top label (``embedding_top``), so disagreements can be reviewed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from assay.classify.base import Classification, Method
from assay.classify.text import ColumnView, share_at_least, words

if TYPE_CHECKING:
    import torch

#: Added to a label's similarity when a token of the column name is one of its keywords.
NAME_BOOST = 0.15
#: An exact match of the whole column name with a keyword adds this on top, and then no other
#: label gets a boost from single words of the name (``event_type`` is an event type, not a ``type``).
EXACT_NAME_BOOST = 0.05
#: Below this combined score the label is ``unknown`` (with embeddings; rules alone need any signal).
MIN_SCORE = 0.3
#: Without embeddings the winner only needs a positive sum of signals.
RULES_MIN_SCORE = 0.01
#: The label given when nothing is convincing.
UNKNOWN = "unknown"
#: Distinct values put in the embedded column text, and the characters kept of each.
TEXT_VALUES = 8
TEXT_VALUE_CHARS = 40
#: Columns whose values are longer than that on average (descriptions, reviews) embed fewer, longer
#: values: a sentence cut after 40 characters no longer reads as free text.
LONG_TEXT_VALUES = 3
LONG_TEXT_VALUE_CHARS = 110


@dataclass(frozen=True)
class SemanticLabel:
    """One semantic type.

    Attributes:
        name: the label stored in the catalog.
        description: one line for the docs and the steward UI.
        prototypes: column texts that typify the label, in the same shape as the texts built for
            real columns (``column: <words>. type: <family>. values: a; b; c``).
        keywords: column-name tokens that point to the label (each adds :data:`NAME_BOOST`).
        numeric: whether a numeric column may carry the label.
    """

    name: str
    description: str
    prototypes: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    numeric: bool = False


def _p(name: str, family: str, values: str) -> str:
    return f"column: {name}. type: {family}. values: {values}"


# fmt: off
LABELS: tuple[SemanticLabel, ...] = (
    SemanticLabel(
        "identifier", "a key or code naming one record: product id, SKU, session id, UUID",
        (
            _p("product id", "text", "P000123; P004512; P019877; P000051"),
            _p("sku", "text", "SKU-10442-BLK; SKU-20871-RED; SKU-33010-WHT"),
            _p("session id", "text", "s_8f3a2c91; s_0b7d44e2; s_c41f9a07"),
            _p("order id", "integer", "100234; 100235; 100236; 100240"),
            _p("uuid", "text", "3f2b8c1e-9a4d-4f6b-8e2a-1c5d7e9f0a3b; 7c1e2d3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f"),
        ),
        ("id", "uuid", "guid", "sku", "key", "code", "ean", "gtin", "upc", "asin", "isbn"),
        numeric=True,
    ),
    SemanticLabel(
        "product_title", "the display title of a product",
        (
            _p("title", "text", "Acme Blue Velvet Sofa 3-Seater; Samsung 55 inch 4K Smart TV; Nike Air Zoom Running Shoes"),
            _p("product name", "text", "Oslo Oak Coffee Table, large; Kaito Wireless Headphones in Black"),
            _p("item title", "text", "Men's Slim Fit Cotton Shirt - Navy, M; Stainless Steel Electric Kettle 1.7L"),
        ),
        ("title", "productname", "itemname", "headline"),
    ),
    SemanticLabel(
        "brand", "the brand or manufacturer of a product",
        (
            _p("brand", "text", "Acme; Samsung; Nike; IKEA; Sony"),
            _p("manufacturer", "text", "Bosch; Philips; Lenovo; Adidas"),
        ),
        ("brand", "manufacturer", "maker", "brandname"),
    ),
    SemanticLabel(
        "category", "a category, category path or other categorical attribute (colour, size, device)",
        (
            _p("category path", "text", "Home > Furniture > Sofas; Electronics > TV & Video > Televisions"),
            _p("category", "text", "Shoes; Furniture; Televisions; Kitchen Appliances"),
            _p("colour", "text", "black; white; navy; grey; black; white"),
            _p("device", "text", "mobile; desktop; tablet; mobile; app"),
        ),
        ("category", "categories", "categorypath", "department", "taxonomy", "genre", "segment", "type", "colour", "color",
         "size", "material", "device", "channel", "group", "class", "kind", "tier"),
    ),
    SemanticLabel(
        "free_text", "a description, review or comment: sentences of free text",
        (
            _p("description", "text", "A comfortable three-seater sofa upholstered in soft velvet, designed for small living rooms."),
            _p("review text", "text", "Great kettle, boils fast and looks nice. The lid is a bit stiff though."),
            _p("comment", "text", "Customer asked to deliver after 5pm; please call before arrival."),
            _p("product description", "text", "Soft grey velvet sofa with solid oak legs. Seats three. Size: 3-seater."),
            _p(
                "long description",
                "text",
                "Crafted from solid oak, this coffee table brings warmth to any living room. Available in two sizes.",
            ),
        ),
        ("description", "desc", "text", "comment", "comments", "review", "body", "notes", "note", "summary", "message", "details"),
    ),
    SemanticLabel(
        "price", "a monetary amount: price, cost, revenue",
        (
            _p("price", "decimal", "19.99; 249.00; 1299.99; 5.49"),
            _p("amount", "decimal", "12.50; 99.90; 450.00"),
            _p("unit price", "text", "€19.99; $249.00; £5.49"),
        ),
        ("price", "amount", "cost", "msrp", "revenue", "gmv", "fee", "subtotal"),
        numeric=True,
    ),
    SemanticLabel(
        "currency", "an ISO 4217 currency code",
        (_p("currency", "text", "EUR; USD; GBP; EUR; USD"), _p("currency code", "text", "USD; EUR; JPY; CHF")),
        ("currency", "ccy", "curr"),
    ),
    SemanticLabel(
        "quantity", "a count of items or events",
        (
            _p("quantity", "integer", "1; 2; 1; 3; 10"),
            _p("stock count", "integer", "0; 14; 250; 12000; 37"),
            _p("review count", "integer", "0; 3; 12; 148"),
        ),
        ("quantity", "qty", "count", "cnt", "units", "stock", "inventory", "num", "clicks", "views", "orders"),
        numeric=True,
    ),
    SemanticLabel(
        "measure", "a numeric measurement or score: weight, rating, dimensions, probability",
        (
            _p("weight g", "integer", "311; 8039; 406; 29965"),
            _p("rating", "float", "4.2; 3.8; 4.6; 5.0"),
            _p("score", "float", "0.731; 0.118; 0.954"),
        ),
        ("weight", "rating", "score", "height", "width", "length", "depth", "ratio", "rate", "probability", "temperature"),
        numeric=True,
    ),
    SemanticLabel(
        "timestamp", "a date and time of day",
        (
            _p("created at", "timestamp", "2026-11-05 10:32:07+00; 2026-11-05 11:02:55+00"),
            _p("event time", "text", "2026-11-05T10:32:07Z; 2026-11-05T11:02:55Z"),
        ),
        ("timestamp", "ts", "time", "datetime", "at"),
    ),
    SemanticLabel(
        "date", "a calendar day",
        (_p("day", "date", "2026-11-05; 2026-11-06; 2026-11-07"), _p("order date", "text", "05/11/2026; 06/11/2026")),
        ("date", "day", "dt", "dob", "birthday"),
    ),
    SemanticLabel(
        "boolean", "a yes/no flag",
        (_p("is active", "boolean", "true; false; true"), _p("has discount", "text", "yes; no; no; yes"),
         _p("in stock flag", "integer", "0; 1; 1; 0")),
        ("is", "has", "flag", "enabled", "active", "deleted", "valid"),
        numeric=True,
    ),
    SemanticLabel(
        "url", "a web address",
        (_p("url", "text", "https://shop.example.com/p/123; https://cdn.example.com/img/4.jpg"),
         _p("image link", "text", "https://img.example.com/a.png")),
        ("url", "uri", "link", "href", "website", "image"),
    ),
    SemanticLabel(
        "search_query", "text a shopper typed into a search box",
        (
            _p("query", "text", "red running shoes; sofa bed; 55 inch tv; cheap laptop; couch grey velvet"),
            _p("search term", "text", "iphone case; kettle; blue dress size 12; wireless headphones"),
            _p("keywords", "text", "tv 4k; coffee table oak; trainers"),
        ),
        ("query", "queries", "q", "search", "keyword", "keywords", "term", "terms", "searchquery", "searchterm"),
    ),
    SemanticLabel(
        "country", "a country code or country name",
        (_p("country", "text", "DE; FR; GB; US; NL"), _p("country name", "text", "Germany; France; United Kingdom")),
        ("country", "ctry", "nation", "region", "market", "locale"),
    ),
    SemanticLabel(
        "rank", "a position in an ordered list",
        (_p("position", "integer", "1; 2; 3; 4; 5; 6; 7; 8"), _p("rank", "integer", "1; 5; 12; 3")),
        ("rank", "position", "pos", "ranking", "slot", "sort", "idx", "index"),
        numeric=True,
    ),
    SemanticLabel(
        "event_type", "the kind of a user or system event",
        (_p("event type", "text", "click; add_to_cart; purchase; click; view"),
         _p("action", "text", "page_view; search; checkout; login")),
        ("event", "action", "activity", "eventtype", "eventname", "actiontype"),
    ),
    SemanticLabel(
        "json", "a structured JSON document",
        (_p("attributes", "json", '{"colour": "red", "size": "M"}; {"weight_g": 311}'),),
        ("json", "attributes", "attrs", "payload", "metadata", "properties", "extra"),
    ),
)
# fmt: on

LABEL_NAMES: tuple[str, ...] = tuple(label.name for label in LABELS)
_BY_NAME = {label.name: label for label in LABELS}

# ISO 4217 active codes (2024) and ISO 3166-1 alpha-2 codes: fixed lists, so no dependency.
ISO_4217 = words(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
    GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD
    KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK
    NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD
    SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD
    XOF XPF YER ZAR ZMW ZWL"""
)
ISO_3166 = words(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT
    BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER
    ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID
    IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV
    LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR
    NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL
    SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC
    VE VG VI VN VU WF WS YE YT ZA ZM ZW UK EU"""
)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_URL = re.compile(r"^(?:https?|ftp)://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_CATEGORY_PATH = re.compile(r"^[^>|/]+(?:\s(?:>|/|\|)\s[^>|/]+)+$")
_BOOLEAN_WORDS = frozenset({"true", "false", "t", "f", "yes", "no", "y", "n", "0", "1"})
_SENTENCE_END = re.compile(r"\w[.!?](?:\s|$)")
_IDENTIFIER_VALUE = re.compile(r"^(?=.*\d)[A-Za-z0-9][A-Za-z0-9_\-:.]{2,63}$")

#: Share of values a value-shape rule needs before it decides.
RULE_MIN_RATIO = 0.9

_RANK_KEYWORDS = frozenset(_BY_NAME["rank"].keywords)
_PRICE_KEYWORDS = frozenset(_BY_NAME["price"].keywords)
_VALUE_RULES: tuple[tuple[str, str, Callable[[str], object]], ...] = (
    ("timestamp", "values:iso_timestamp", _ISO_TIMESTAMP.match),
    ("date", "values:iso_date", _ISO_DATE.match),
    ("url", "values:url", _URL.match),
    ("currency", "values:iso_4217", ISO_4217.__contains__),
    ("country", "values:iso_3166", ISO_3166.__contains__),
    ("category", "values:category_path", _CATEGORY_PATH.match),
)


def _share_if_at_least(
    values: Sequence[str], check: Callable[[str], object], threshold: float
) -> float | None:
    """``ratio(values, check)`` when it reaches ``threshold``, else ``None`` (known early, mostly).

    Gives up once the values left could no longer lift the share to the threshold.
    """
    n = len(values)
    hits = 0
    for seen, v in enumerate(values, 1):
        if check(v):
            hits += 1
        elif (hits + n - seen) / n < threshold:
            return None
    share = hits / n
    return share if share >= threshold else None


@dataclass(frozen=True)
class Decision:
    """A label chosen by a decisive rule."""

    label: str
    score: float
    rule: str
    method: Method


def decisive_rule(col: ColumnView) -> Decision | None:
    """The label a cheap, near-certain rule assigns, or ``None`` when the column needs weighing."""
    family = col.family
    if family == "timestamp":
        return Decision("timestamp", 1.0, "dtype:timestamp", "pattern")
    if family == "date":
        return Decision("date", 1.0, "dtype:date", "pattern")
    if family == "boolean":
        return Decision("boolean", 1.0, "dtype:boolean", "pattern")
    if family == "json":
        return Decision("json", 1.0, "dtype:json", "pattern")
    values = col.values
    if col.numeric:
        if col.has_word_in(_RANK_KEYWORDS) and col.family != "float":
            return Decision("rank", 0.9, "name:rank+numeric", "name")
        if col.has_word_in(_PRICE_KEYWORDS):
            return Decision("price", 0.9, "name:price+numeric", "name")
        return None
    if not values:
        return None
    for label, rule, check in _VALUE_RULES:
        share = _share_if_at_least(values, check, RULE_MIN_RATIO)
        if share is not None:
            return Decision(label, round(share, 4), rule, "pattern")
    # At most two distinct yes/no words (compared lower-cased), every value one of them.
    lowered = {v.lower() for v in values}
    if len(lowered) <= 2 and lowered <= _BOOLEAN_WORDS:
        return Decision("boolean", 1.0, "values:boolean_words", "pattern")
    return None


_GENERIC_NAMES = words("name value label title text code desc")
#: Table words (singular) that say what a generically named column holds: ``brands.name``.
TABLE_HINTS: dict[str, str] = {
    "product": "product_title",
    "item": "product_title",
    "brand": "brand",
    "manufacturer": "brand",
    "category": "category",
    "department": "category",
    "query": "search_query",
    "search": "search_query",
    "country": "country",
    "currency": "currency",
    "event": "event_type",
    "review": "free_text",
    "comment": "free_text",
}


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _has_digit(value: str) -> bool:
    return any(ch.isdigit() for ch in value)


@lru_cache(maxsize=4096)
def _name_signals(
    tokens: tuple[str, ...], joined: str, table_tokens: tuple[str, ...]
) -> tuple[tuple[str, str, float], ...]:
    """The ``(label, signal, weight)`` boosts a column and table name give, in the order added.

    Names repeat across tables and runs, so this is computed once per spelling.
    """
    out: list[tuple[str, str, float]] = []
    # A generic column name says little; the table's name says what its rows are (brands.name).
    if set(tokens) <= _GENERIC_NAMES:
        for token in table_tokens:
            label_name = TABLE_HINTS.get(_singular(token))
            if label_name is not None:
                out.append((label_name, f"table:{_singular(token)}", NAME_BOOST))
    exact = [label for label in LABELS if joined in label.keywords]
    for label in exact:
        out.append((label.name, f"name:{joined}", NAME_BOOST + EXACT_NAME_BOOST))
    # A whole name that is a known compound is not read word by word: event_type is no "type".
    for label in LABELS if not exact else ():
        hit = next((k for k in label.keywords if k in tokens), None)
        if hit is not None:
            out.append((label.name, f"name:{hit}", NAME_BOOST))
    return tuple(out)


def _is_lower(v: str) -> bool:
    return v == v.lower()


def _title_phrase(v: str) -> bool:
    return v[:1].isupper() and " " in v


def soft_signals(col: ColumnView) -> dict[str, dict[str, float]]:
    """Boosts per label from the column name and value shapes: ``{label: {signal: weight}}``."""
    out: dict[str, dict[str, float]] = {}

    def add(label: str, signal: str, weight: float) -> None:
        out.setdefault(label, {})[signal] = weight

    generic = set(col.tokens) <= _GENERIC_NAMES
    for label, signal, weight in _name_signals(col.tokens, col.joined, col.table_tokens if generic else ()):
        add(label, signal, weight)
    values = col.values
    if not values:
        return out
    many = len(values) >= 10
    if col.distinct_ratio >= 0.95 and share_at_least(values, _IDENTIFIER_VALUE.match, RULE_MIN_RATIO):
        add("identifier", "values:unique_codes", 0.1)
    elif many and col.distinct_ratio < 0.5 and not share_at_least(values, _has_digit, 0.2):
        # Repeated words without digits name kinds of things (brands, colours), not records.
        add("identifier", "values:repeated_words", -0.2)
    if many and col.distinct_ratio <= 0.5 and col.mean_length <= 30 and not col.numeric:
        add("category", "values:low_cardinality", 0.1)
    if col.mean_words >= 8:
        add("free_text", "values:long_text", 0.1)
    if col.mean_words >= 6 and share_at_least(values, _SENTENCE_END.search, 0.6):
        add("free_text", "values:sentences", 0.2)
    if not col.numeric and 1.5 <= col.mean_words <= 6:
        if share_at_least(values, _is_lower, 0.8):
            add("search_query", "values:lowercase_phrases", 0.1)
        elif col.mean_words >= 3 and share_at_least(values, _title_phrase, 0.8):
            add("product_title", "values:title_case_phrases", 0.05)
    return out


def text_values(col: ColumnView) -> list[str]:
    """The distinct, shortened sampled values that go into the column's text, in sample order."""
    long_text = col.mean_length > TEXT_VALUE_CHARS
    limit, chars = (LONG_TEXT_VALUES, LONG_TEXT_VALUE_CHARS) if long_text else (TEXT_VALUES, TEXT_VALUE_CHARS)
    seen: list[str] = []
    for value in col.values:
        cut = value[:chars]
        if cut not in seen:
            seen.append(cut)
        if len(seen) == limit:
            break
    return seen


def column_text(col: ColumnView) -> str:
    """The text embedded for a column: ``column: <name words>. type: <family>. values: a; b; c``."""
    seen = text_values(col)
    family = "number" if col.numeric and col.family in ("text", "other") else col.family
    return _p(" ".join(name_words(col)), family, "; ".join(seen) if seen else "(none)")


_NOISE_TOKEN = re.compile(r"^(?:\d+|[a-pr-z]|col|column|field|attr|var|unnamed)\d*$")


def name_words(col: ColumnView) -> list[str]:
    """The words of the column name worth embedding.

    Placeholder words (``col_7``, ``field2``, ``x``) are dropped: they carry no meaning and pull
    every such column towards the same labels. A generic name (``name``, ``value``) is prefixed
    with the table's words, so ``brands.name`` reads "brands name".
    """
    kept = [t for t in col.tokens if not _NOISE_TOKEN.match(t)]
    if kept and set(kept) <= _GENERIC_NAMES:
        kept = [t for t in col.table_tokens if not _NOISE_TOKEN.match(t)] + kept
    return kept


@cache
def _prototype_matrix() -> tuple[torch.Tensor, tuple[int, ...]]:
    """Embeddings of every prototype (computed once per process) and each row's label index."""
    from assay.classify.embed import encode

    texts: list[str] = []
    owners: list[int] = []
    for i, label in enumerate(LABELS):
        texts.extend(label.prototypes)
        owners.extend([i] * len(label.prototypes))
    return encode(texts), tuple(owners)


def similarities(cols: Sequence[ColumnView]) -> list[dict[str, float]]:
    """Cosine similarity of each column's text with each label (best prototype), one forward pass."""
    import torch

    from assay.classify.embed import encode

    if not cols:
        return []
    protos, owners = _prototype_matrix()
    cos = encode([column_text(c) for c in cols]) @ protos.T  # unit rows: dot product = cosine
    owner_idx = torch.tensor(owners)
    best = torch.full((len(cols), len(LABELS)), -1.0)
    best = best.scatter_reduce(1, owner_idx.expand(len(cols), -1), cos, reduce="amax")
    return [{name: round(float(v), 4) for name, v in zip(LABEL_NAMES, row, strict=True)} for row in best]


_NUMERIC_LABEL_NAMES: tuple[str, ...] = tuple(label.name for label in LABELS if label.numeric)


def _allowed(col: ColumnView) -> tuple[str, ...]:
    return _NUMERIC_LABEL_NAMES if col.numeric else LABEL_NAMES


def decide(col: ColumnView, cosines: dict[str, float] | None) -> Classification:
    """The column's semantic label from its rules, soft signals and (optionally) its similarities.

    Args:
        col: the prepared column.
        cosines: label -> cosine similarity from :func:`similarities`, or ``None`` for rules only.
    """
    evidence: dict[str, Any] = {}
    if cosines is not None:
        evidence["model"] = "all-MiniLM-L6-v2"
        evidence["values_embedded"] = len(text_values(col))
    rule = decisive_rule(col)
    if rule is not None:
        evidence.update(decided_by=f"rule:{rule.rule}")
        if cosines is not None:
            ranked = sorted(cosines.items(), key=lambda kv: -kv[1])
            evidence.update(
                cosine=cosines.get(rule.label), embedding_top=ranked[0][0], embedding_top_cosine=ranked[0][1]
            )
        return Classification("semantic", rule.label, rule.score, rule.method, evidence)

    signals = soft_signals(col)
    boosts = {label: sum(sigs.values()) for label, sigs in signals.items()}
    if cosines is None:
        combined = {name: 0.0 + boosts.get(name, 0) for name in _allowed(col)}
    else:
        combined = {name: cosines[name] + boosts.get(name, 0) for name in _allowed(col)}
    ranked = sorted(combined.items(), key=lambda kv: -kv[1])
    (win, win_score), (second, second_score) = ranked[0], ranked[1]
    # Rules alone have no similarity to clear: any positive signal is an answer.
    min_score = MIN_SCORE if cosines is not None else RULES_MIN_SCORE
    fired = {f"{label}:{sig}": w for label, sigs in signals.items() for sig, w in sigs.items()}
    evidence.update(
        signals=fired,
        combined=round(win_score, 4),
        runner_up=second,
        runner_up_score=round(second_score, 4),
        margin=round(win_score - second_score, 4),
        min_score=min_score,
    )
    if cosines is not None:
        evidence.update(cosine=cosines[win], runner_up_cosine=cosines[second])
    if win_score < min_score:
        evidence["decided_by"] = "below_min_score"
        evidence["best_label"] = win
        fallback: Method = "embedding" if cosines is not None else "pattern"
        return Classification("semantic", UNKNOWN, round(max(win_score, 0.0), 4), fallback, evidence)
    if cosines is None:
        evidence["decided_by"] = "rules"
        by_name = any(s.startswith(("name:", "table:")) for s in signals.get(win, {}))
        method: Method = "name" if by_name else "pattern"
    else:
        evidence["decided_by"] = "embedding+signals" if signals.get(win) else "embedding"
        method = "embedding"
    return Classification("semantic", win, round(min(win_score, 1.0), 4), method, evidence)
