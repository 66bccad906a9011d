"""PII detection: column-name hints plus value patterns that must also validate.

Each detector has a *name hint* (tokens of the column name, sometimes the table name) and a *value
matcher* that returns the format a value matched (``e164``, ``uk``, ``visa`` ...) or ``None``. The
score of a detector on a column is::

    ratio = matched / sampled            (sampled = non-null, non-blank values, at most 200)
    score = ratio                        without a name hint
    score = min(1, ratio + NAME_BONUS)   with a name hint (NAME_BONUS = 0.3)

and a column is PII when the best score is at least :data:`PII_THRESHOLD` (0.8): at least 80 % of
the values match on their own, or a name hint plus at least 50 % of the values. A name hint with no
matching value scores 0.3, well below the threshold: a column called ``email`` full of product ids
is not PII. Values are validated, not just shaped: emails need a dotted domain, card numbers the
Luhn checksum, IPv4 octets at most 255 (``ipaddress`` does the parsing).

Some formats are too common to count without a hint: bare 5-digit codes (US ZIP, DE and FR postal
codes), digit-only phone numbers and person names. Those count only when the column name says so,
so a column of 5-digit quantities, product titles or brand names is never flagged.

Evidence (JSON, never a raw value)::

    {"matched": 47, "sampled": 50, "ratio": 0.94, "pattern": "email", "formats": {"email": 47},
     "name_hint": true, "threshold": 0.8, "examples_masked": ["j***@e***.com", ...]}
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from assay.classify.base import Classification, ColumnSample
from assay.classify.mask import mask_value
from assay.classify.text import ColumnView, words

#: A column is PII when its best detector scores at least this.
PII_THRESHOLD = 0.8
#: Added to the value match ratio when the column name hints at the label.
NAME_BONUS = 0.3
#: Masked examples kept in the evidence.
MAX_EXAMPLES = 3

#: Every PII label, in the order ties are broken.
PII_LABELS: tuple[str, ...] = (
    "email",
    "card_number",
    "phone",
    "ip_address",
    "address",
    "person_name",
    "postal_code",
)

#: Type families whose values can be PII at all; numbers only for the digit-only labels.
_TEXT_FAMILIES = frozenset({"text", "other"})
_DIGIT_LABELS = frozenset({"phone", "card_number", "postal_code"})
_DIGIT_FAMILIES = frozenset({"integer", "decimal"})

Hint = Literal["none", "weak", "strong"]


@dataclass(frozen=True)
class _Context:
    """What a value matcher may know about the column besides the value."""

    hint: Hint


Matcher = Callable[[str, _Context], str | None]
HintRule = Callable[[ColumnView], Hint]
Screen = Callable[[ColumnView, Hint], bool]


@dataclass(frozen=True)
class Detector:
    """One PII label: its column-name hint rule, its value matcher and its column screen.

    ``screen`` answers "could any value of this column match?" with one search over all the
    values at once (:attr:`ColumnView.blob`). It must be a necessary condition of ``match``
    (``False`` only when ``match`` returns ``None`` for every value); ``True`` just means the
    values are checked one by one. Most columns fail every screen, which is what makes
    classifying 40,000 columns cheap.
    """

    label: str
    hint: HintRule
    match: Matcher
    screen: Screen


# ---- email --------------------------------------------------------------------------------------
# Unicode letters are allowed in both parts (SMTPUTF8 addresses and internationalised domains).
_LOCAL_CHARS = r"[\w!#$%&'*+/=?^`{|}~-]"
_DOMAIN_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_EMAIL = re.compile(
    rf"^(?P<local>{_LOCAL_CHARS}+(?:\.{_LOCAL_CHARS}+)*)@(?P<domain>{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+)$"
)


def _email(value: str, ctx: _Context) -> str | None:
    m = _EMAIL.match(value)
    if not m:
        return None
    tld = m.group("domain").rsplit(".", 1)[1]
    return "email" if len(tld) >= 2 and tld.isalpha() else None


def _email_screen(col: ColumnView, hint: Hint) -> bool:
    return "@" in col.blob  # the pattern needs one


_EMAIL_NAMES = frozenset({"email", "mail", "emailaddress"})


def _email_hint(col: ColumnView) -> Hint:
    return "strong" if col.has_word_in(_EMAIL_NAMES) or "email" in col.joined else "none"


# ---- phone --------------------------------------------------------------------------------------
_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-/]+$")
_NANP = re.compile(r"^(?:\+?1[\s.-]?)?\(?[2-9]\d{2}\)?[\s.-]?[2-9]\d{2}[\s.-]\d{4}$")
# National formats with a trunk prefix 0: "020 7946 0668", "01 99 00 76 61", "030/41937613".
_TRUNK = re.compile(r"^\(?0\d{1,4}\)?(?:[\s.\-/]+\d{2,8}){1,5}$")
_DATE_LIKE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")


_NON_DIGITS = re.compile(r"\D")


def _phone(value: str, ctx: _Context) -> str | None:
    if not _PHONE_CHARS.match(value):
        return None
    digits = _NON_DIGITS.sub("", value)
    if not 7 <= len(digits) <= 15 or _DATE_LIKE.match(value) or _is_ipv4(value):
        return None
    if value.startswith("+"):
        # E.164: a country code never starts with 0.
        return "e164" if digits[0] != "0" else None
    if _NANP.match(value):
        return "nanp"
    if _TRUNK.match(value):
        return "national"
    # A bare run of digits is just a number unless the column says it is a phone.
    if ctx.hint != "none" and value.isdigit():
        return "digits"
    return None


# Seven digits with only phone punctuation between them: every value _phone accepts has them.
_PHONE_RUN = re.compile(r"\d(?:[\s().\-/]*\d){6}")


# Without a name hint only three formats count: E.164 (starts with +), national with a trunk 0
# (starts with 0 or "(0") and NANP (ends with a separator and four digits). Anchored at the NUL
# separators, so a value's start and end are found in the blob.
_PHONE_UNHINTED = re.compile(r"(?:\A|\x00)[+(0]|[\s.\-]\d{4}(?:\x00|\Z)")


def _phone_screen(col: ColumnView, hint: Hint) -> bool:
    if _PHONE_RUN.search(col.blob) is None:
        return False
    return hint != "none" or _PHONE_UNHINTED.search(col.blob) is not None


_PHONE_NAMES = words("phone telephone tel mobile cell cellphone fax msisdn phonenumber mobilephone")


def _phone_hint(col: ColumnView) -> Hint:
    return "strong" if col.has_word_in(_PHONE_NAMES) else "none"


# ---- card number --------------------------------------------------------------------------------
_CARD = re.compile(r"^\d(?:[ -]?\d){12,18}$")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum of a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_network(digits: str) -> str:
    if digits[0] == "4":
        return "visa"
    if digits[:2] in ("34", "37"):
        return "amex"
    if "51" <= digits[:2] <= "55" or "2221" <= digits[:4] <= "2720":
        return "mastercard"
    if digits.startswith(("6011", "65")):
        return "discover"
    return "other_card"


def _card(value: str, ctx: _Context) -> str | None:
    if not _CARD.match(value):
        return None
    digits = _NON_DIGITS.sub("", value)
    # Issuer digits 2-6 cover every major network and rule out most other Luhn-valid numbers
    # (ids counting up from 1..., GTINs starting with 0, 7, 8 or 9).
    if digits[0] not in "23456" or not luhn_valid(digits):
        return None
    return _card_network(digits)


_CARD_RUN = re.compile(r"\d(?:[ -]?\d){12}")  # the first 13 digits of any _CARD match


def _card_screen(col: ColumnView, hint: Hint) -> bool:
    if col.max_length < 13:  # a card number has 13 digits at least; cheaper than the search
        return False
    return _CARD_RUN.search(col.blob) is not None


_CARD_NAMES = words("card cc pan creditcard cardnumber ccnumber ccnum")


def _card_hint(col: ColumnView) -> Hint:
    return "strong" if col.has_word_in(_CARD_NAMES) or "creditcard" in col.joined else "none"


# ---- IP address ---------------------------------------------------------------------------------
_IPV4_SHAPE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def _is_ipv4(value: str) -> bool:
    if not _IPV4_SHAPE.match(value):
        return False
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def _ip(value: str, ctx: _Context) -> str | None:
    if ":" not in value and "." not in value:
        return None
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    return f"ipv{ip.version}"


# ipaddress accepts IPv4 only as four ASCII-digit octets and IPv6 only with colons.
_IPV4_DOT = re.compile(r"[0-9]\.[0-9]")


def _ip_screen(col: ColumnView, hint: Hint) -> bool:
    return ":" in col.blob or _IPV4_DOT.search(col.blob) is not None


_IP_QUALIFIERS = ("remote", "client", "host", "server", "source", "src", "dst", "peer", "origin")


_IP_NAMES = frozenset({"ip", "ipv4", "ipv6", "ipaddr", "ipaddress"})
_ADDR_NAMES = frozenset({"addr", "address"})
_IP_QUALIFIER_SET = frozenset(_IP_QUALIFIERS)


def _ip_hint(col: ColumnView) -> Hint:
    if col.has_word_in(_IP_NAMES):
        return "strong"
    if col.has_word_in(_ADDR_NAMES) and col.has_word_in(_IP_QUALIFIER_SET):
        return "strong"
    return "none"


# ---- postal code --------------------------------------------------------------------------------
_UK_POSTCODE = re.compile(r"^(?:GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})$")
_CA_POSTCODE = re.compile(r"^[A-Z]\d[A-Z] ?\d[A-Z]\d$")
_NL_POSTCODE = re.compile(r"^[1-9]\d{3}(?P<space> ?)[A-Z]{2}$")
_ZIP = re.compile(r"^\d{5}(?P<plus4>-\d{4})?$")


def _postal(value: str, ctx: _Context) -> str | None:
    upper = value.upper()
    # Mixed letters-and-digits layouts are distinctive enough to count on their own.
    if _UK_POSTCODE.match(upper):
        return "uk"
    if _CA_POSTCODE.match(upper):
        return "ca"
    nl = _NL_POSTCODE.match(upper)
    if nl and nl.group("space"):
        return "nl"
    if ctx.hint == "none":
        return None
    # Digit-only codes are every 5-digit number too: only with a postal-ish column name.
    if nl:
        return "nl"
    zip_ = _ZIP.match(value)
    if zip_:
        return "us_zip4" if zip_.group("plus4") else "5digit"
    return None


# The shapes of _postal without anchors, searched in the upper-cased values (str.upper maps each
# character on its own, so the upper-cased blob is the blob of upper-cased values).
_POSTAL_SHAPES = r"GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d|[1-9]\d{3} [A-Z]{2}"
_POSTAL_ANY = re.compile(_POSTAL_SHAPES)
_POSTAL_ANY_HINTED = re.compile(_POSTAL_SHAPES + r"|[1-9]\d{3}[A-Z]{2}|\d{5}")


_A_DIGIT = re.compile(r"\d")


def _postal_screen(col: ColumnView, hint: Hint) -> bool:
    if _A_DIGIT.search(col.blob) is None:  # every shape has one; skips upper-casing word columns
        return False
    shapes = _POSTAL_ANY if hint == "none" else _POSTAL_ANY_HINTED
    return shapes.search(col.blob.upper()) is not None


_POSTAL_NAMES = frozenset({"postal", "postcode", "zip", "zipcode", "plz", "postalcode"})


def _postal_hint(col: ColumnView) -> Hint:
    if col.has_word_in(_POSTAL_NAMES):
        return "strong"
    if col.has_any("post") and col.has_any("code"):
        return "strong"
    return "none"


# ---- person name --------------------------------------------------------------------------------
_PARTICLES = words("de da das do dos del della der den di du la le van von ter ten bin ibn al y e")
_NAME_PUNCT = str.maketrans("", "", "'’-.")
# Words that make a capitalised phrase a product, brand or place rather than a person; used only
# when the hint is the bare column name ``name``.
_PRODUCT_WORDS = words(
    """
    black white grey gray navy blue red green beige brown pink yellow silver gold orange purple
    sofa couch chair armchair table desk lamp bed mattress shelf rug cushion tv television monitor
    laptop notebook tablet phone speaker soundbar headphones camera projector printer keyboard mouse
    shoes sneakers trainers boots shirt dress jacket jeans coat bag watch kettle toaster blender
    set pack kit edition collection series pro max mini plus ultra lite classic original new sale
    inc ltd llc gmbh co corp company group store shop home house garden kitchen
    street road avenue lane drive way
    """
)
_PERSON_QUALIFIERS = words(
    """full first last given family middle maiden person customer contact recipient cardholder holder
    billing shipping employee buyer sender author owner patient member guest passenger applicant"""
)
_PERSON_NAMES = words("surname forename firstname lastname fullname givenname familyname")
_PERSON_TABLES = words(
    """customer customers user users person people persons contact contacts employee employees member
    members patient patients author authors account accounts"""
)
_NOT_PERSON_TABLES = words(
    """product products item items brand brands category categories catalog sku skus store stores shop
    supplier suppliers vendor vendors merchant merchants feed feeds event events campaign campaigns
    file files table tables"""
)


def _person_hint(col: ColumnView) -> Hint:
    if any(t in _PERSON_NAMES for t in col.tokens) or col.joined in _PERSON_NAMES:
        return "strong"
    if "name" not in col.tokens:
        return "none"
    qualifiers = [t for t in col.tokens if t != "name"]
    if any(q in _PERSON_QUALIFIERS for q in qualifiers):
        return "strong"
    if qualifiers:  # product_name, brand_name, file_name ...
        return "none"
    table = set(col.table_tokens)
    if table & _NOT_PERSON_TABLES:
        return "none"
    return "strong" if table & _PERSON_TABLES else "weak"


def _person_screen(col: ColumnView, hint: Hint) -> bool:
    return hint != "none"  # _person never matches without a name hint


def _person(value: str, ctx: _Context) -> str | None:
    if ctx.hint == "none":
        return None  # capitalised words alone are brands, titles, cities as often as people
    if any(ch.isdigit() for ch in value) or any(ch in value for ch in '&@/,;:()[]{}<>+=!?#%*|"\\_'):
        return None
    parts = value.split()
    core = [w for w in parts if w.lower() not in _PARTICLES]
    low, high = (2, 3) if ctx.hint == "weak" else (1, 3)
    if not low <= len(core) <= high or len(parts) - len(core) > 2:
        return None
    for word in core:
        letters = word.translate(_NAME_PUNCT)
        if not letters.isalpha() or not word[0].isupper():
            return None
        if len(letters) > 1 and letters.isupper():  # acronyms: TV, USB, XL
            return None
        if ctx.hint == "weak" and word.lower() in _PRODUCT_WORDS:
            return None
    return "capitalised_words"


# ---- street address -----------------------------------------------------------------------------
_EN_STREET = re.compile(
    r"\b\d+[A-Za-z]?,?\s+(?:[^\W\d_][\w'’.-]*\s+){1,4}"
    r"(?:street|st|road|rd|avenue|ave|av|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|close|"
    r"crescent|cres|terrace|square|sq|parkway|pkwy|highway|hwy|row|walk|grove|gardens|hill|mews)\b\.?",
    re.IGNORECASE,
)
# German and Dutch: the street type is a suffix and the number follows ("Hauptstraße 93").
_STREET_SUFFIXES = (
    r"straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|"
    r"laan|straat|gracht|plein|kade|dijk|singel|steeg"
)
_SUFFIX_STREET = re.compile(
    rf"\b[^\W\d_][\w'’.-]*(?:{_STREET_SUFFIXES})\s+\d+\s?[a-zA-Z]?\b",
    re.IGNORECASE,
)
# French, Spanish, Italian: number, then the street type ("98 rue des Écoles", "12, avenue Foch").
_LATIN_STREET = re.compile(
    r"\b\d+(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|route|"
    r"cours|calle|avenida|via|viale|piazza|corso)\s+\w",
    re.IGNORECASE,
)


def _address(value: str, ctx: _Context) -> str | None:
    if len(value) > 200 or not any(ch.isdigit() for ch in value):
        return None
    if _EN_STREET.search(value):
        return "street_en"
    if _SUFFIX_STREET.search(value):
        return "street_de_nl"
    if _LATIN_STREET.search(value):
        return "street_fr_es_it"
    return None


# What each street pattern needs around its house number, as cheap searches (no IGNORECASE,
# which makes the engine try every position): a digit then blank space (English), a blank then
# a digit (German/Dutch suffix streets), a digit then a blank, a comma, "bis" or "ter" (Latin).
_EN_NEEDS = re.compile(r"\d\S?,?\s")
_SUFFIX_NEEDS = re.compile(r"\s+\d")
_LATIN_NEEDS = re.compile(r"\d[\s,bBtT]")
_SUFFIX_TAIL = re.compile(rf"(?:{_STREET_SUFFIXES})\Z", re.IGNORECASE)
_SUFFIX_LEN = max(len(s.replace("\\", "")) for s in _STREET_SUFFIXES.split("|"))  # chaussee: 8


def _address_screen(col: ColumnView, hint: Hint) -> bool:
    # \b behaves at a NUL separator as at a value's edge, so a search over the blob finds what a
    # search over each value finds.
    blob = col.blob
    if _EN_NEEDS.search(blob) is not None and _EN_STREET.search(blob) is not None:
        return True
    if _LATIN_NEEDS.search(blob) is not None and _LATIN_STREET.search(blob) is not None:
        return True
    # The suffix pattern tries every word of a long text. It needs a street suffix right before
    # blanks and a digit: look only there. IGNORECASE matches one character for one, so the
    # suffix is among the _SUFFIX_LEN characters before the blanks.
    for m in _SUFFIX_NEEDS.finditer(blob):
        end = m.start()
        if _SUFFIX_TAIL.search(blob, max(0, end - _SUFFIX_LEN), end) is not None:
            return any(_SUFFIX_STREET.search(v) is not None for v in col.values)
    return False


_NOT_STREET_QUALIFIERS = (
    "ip",
    "ipv4",
    "ipv6",
    "email",
    "mail",
    "mac",
    "web",
    "url",
    "wallet",
    "bitcoin",
) + _IP_QUALIFIERS


_STREET_NAMES = frozenset({"street", "strasse", "straße", "adresse", "streetaddress"})
_NOT_STREET_QUALIFIER_SET = frozenset(_NOT_STREET_QUALIFIERS)


def _address_hint(col: ColumnView) -> Hint:
    if col.has_word_in(_STREET_NAMES):
        return "strong"
    if col.has_word_in(_ADDR_NAMES) and not col.has_word_in(_NOT_STREET_QUALIFIER_SET):
        return "strong"
    return "none"


DETECTORS: tuple[Detector, ...] = (
    Detector("email", _email_hint, _email, _email_screen),
    Detector("card_number", _card_hint, _card, _card_screen),
    Detector("phone", _phone_hint, _phone, _phone_screen),
    Detector("ip_address", _ip_hint, _ip, _ip_screen),
    Detector("address", _address_hint, _address, _address_screen),
    Detector("person_name", _person_hint, _person, _person_screen),
    Detector("postal_code", _postal_hint, _postal, _postal_screen),
)
assert tuple(d.label for d in DETECTORS) == PII_LABELS


def _applies(detector: Detector, col: ColumnView) -> bool:
    """Whether values of this declared type can hold this label at all."""
    if col.family in _TEXT_FAMILIES:
        return True
    return detector.label in _DIGIT_LABELS and col.family in _DIGIT_FAMILIES


def _score_one(detector: Detector, col: ColumnView) -> Classification | None:
    hint = detector.hint(col)
    if not detector.screen(col, hint):
        if hint == "none":
            return None
        candidates: tuple[str, ...] = ()  # no value can match: a name-only score
    else:
        candidates = col.values
    ctx = _Context(hint=hint)
    formats: Counter[str] = Counter()
    examples: list[str] = []
    for value in candidates:
        fmt = detector.match(value, ctx)
        if fmt is None:
            continue
        formats[fmt] += 1
        if len(examples) < MAX_EXAMPLES:
            masked = mask_value(detector.label, value)
            if masked not in examples:
                examples.append(masked)
    matched = sum(formats.values())
    if not matched and hint == "none":
        return None
    sampled = len(col.values)
    value_ratio = matched / sampled if sampled else 0.0
    score = min(1.0, value_ratio + NAME_BONUS) if hint != "none" else value_ratio
    evidence = {
        "matched": matched,
        "sampled": sampled,
        "ratio": round(value_ratio, 4),
        "pattern": detector.label,
        "formats": dict(formats.most_common()),
        "name_hint": hint != "none",
        "threshold": PII_THRESHOLD,
        "examples_masked": examples,
    }
    if hint == "weak":
        evidence["name_hint_strength"] = "weak"
    return Classification(
        kind="pii",
        label=detector.label,
        score=round(score, 4),
        method="pattern" if matched else "name",
        evidence=evidence,
    )


def score_pii(sample: ColumnSample) -> list[Classification]:
    """Every PII label with any evidence on this column, best first, including those below threshold.

    Use :func:`detect_pii` for the decision; this is for explaining it (and for tests that show a
    name hint alone stays below :data:`PII_THRESHOLD`).
    """
    return _score_view(ColumnView(sample))


def _score_view(col: ColumnView) -> list[Classification]:
    found = [c for d in DETECTORS if _applies(d, col) and (c := _score_one(d, col)) is not None]
    # Stable sort: ties keep PII_LABELS order (email before phone before postal code ...).
    return sorted(found, key=lambda c: -c.score)


def detect_pii(sample: ColumnSample) -> Classification | None:
    """The column's PII label when its best score reaches :data:`PII_THRESHOLD`, else ``None``.

    The other candidates (label and score only) are listed in ``evidence["alternatives"]``.
    """
    return _decide(_score_view(ColumnView(sample)))


def _decide(candidates: list[Classification]) -> Classification | None:
    if not candidates or candidates[0].score < PII_THRESHOLD:
        return None
    best = candidates[0]
    alternatives = [{"label": c.label, "score": c.score} for c in candidates[1:]]
    if not alternatives:
        return best
    return Classification(
        kind=best.kind,
        label=best.label,
        score=best.score,
        method=best.method,
        evidence={**best.evidence, "alternatives": alternatives},
    )
