"""PII value matchers and column screens: does a value have (and validate as) a PII format.

Each label has a *matcher* (one value and its :class:`MatchContext` -> the format matched, or
``None``) and a *screen* (one search over all the values of a column at once: could any value
match?). See :mod:`assay.classify.pii` for how they are scored.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from assay.classify.pii_names import Hint
from assay.classify.text import ColumnView, words


@dataclass(frozen=True)
class MatchContext:
    """What a value matcher may know about the column besides the value."""

    hint: Hint


Matcher = Callable[[str, MatchContext], str | None]
Screen = Callable[[ColumnView, Hint], bool]


# ---- email --------------------------------------------------------------------------------------
# Unicode letters are allowed in both parts (SMTPUTF8 addresses and internationalised domains).
_LOCAL_CHARS = r"[\w!#$%&'*+/=?^`{|}~-]"
_DOMAIN_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_EMAIL = re.compile(
    rf"^(?P<local>{_LOCAL_CHARS}+(?:\.{_LOCAL_CHARS}+)*)@(?P<domain>{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+)$"
)


def match_email(value: str, ctx: MatchContext) -> str | None:
    """The format of an email address with a dotted domain and an alphabetic TLD, else ``None``."""
    m = _EMAIL.match(value)
    if not m:
        return None
    tld = m.group("domain").rsplit(".", 1)[1]
    return "email" if len(tld) >= 2 and tld.isalpha() else None


def email_screen(col: ColumnView, hint: Hint) -> bool:
    """Whether any value could be an email (one needs an ``@``)."""
    return "@" in col.blob  # the pattern needs one


# ---- phone --------------------------------------------------------------------------------------
_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-/]+$")
_NANP = re.compile(r"^(?:\+?1[\s.-]?)?\(?[2-9]\d{2}\)?[\s.-]?[2-9]\d{2}[\s.-]\d{4}$")
# National formats with a trunk prefix 0: "020 7946 0668", "01 99 00 76 61", "030/41937613".
_TRUNK = re.compile(r"^\(?0\d{1,4}\)?(?:[\s.\-/]+\d{2,8}){1,5}$")
_DATE_LIKE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")


_NON_DIGITS = re.compile(r"\D")


def match_phone(value: str, ctx: MatchContext) -> str | None:
    """The phone format (``e164``, ``nanp``, ``national``, ``digits`` with a hint), else ``None``."""
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


# Seven digits with only phone punctuation between them: every value match_phone accepts has them.
_PHONE_RUN = re.compile(r"\d(?:[\s().\-/]*\d){6}")


# Without a name hint only three formats count: E.164 (starts with +), national with a trunk 0
# (starts with 0 or "(0") and NANP (ends with a separator and four digits). Anchored at the NUL
# separators, so a value's start and end are found in the blob.
_PHONE_UNHINTED = re.compile(r"(?:\A|\x00)[+(0]|[\s.\-]\d{4}(?:\x00|\Z)")


def phone_screen(col: ColumnView, hint: Hint) -> bool:
    """Whether any value could be a phone number (seven digits; unhinted, a phone-like start or end)."""
    if _PHONE_RUN.search(col.blob) is None:
        return False
    return hint != "none" or _PHONE_UNHINTED.search(col.blob) is not None


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


def match_card(value: str, ctx: MatchContext) -> str | None:
    """The card network of a Luhn-valid 13-19 digit number with an issuer digit 2-6, else ``None``."""
    if not _CARD.match(value):
        return None
    digits = _NON_DIGITS.sub("", value)
    # Issuer digits 2-6 cover every major network and rule out most other Luhn-valid numbers
    # (ids counting up from 1..., GTINs starting with 0, 7, 8 or 9).
    if digits[0] not in "23456" or not luhn_valid(digits):
        return None
    return _card_network(digits)


_CARD_RUN = re.compile(r"\d(?:[ -]?\d){12}")  # the first 13 digits of any _CARD match


def card_screen(col: ColumnView, hint: Hint) -> bool:
    """Whether any value could be a card number (13 digits with at most single separators)."""
    if col.max_length < 13:  # a card number has 13 digits at least; cheaper than the search
        return False
    return _CARD_RUN.search(col.blob) is not None


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


def match_ip(value: str, ctx: MatchContext) -> str | None:
    """``ipv4`` or ``ipv6`` when ``ipaddress`` parses the value, else ``None``."""
    if ":" not in value and "." not in value:
        return None
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    return f"ipv{ip.version}"


# ipaddress accepts IPv4 only as four ASCII-digit octets and IPv6 only with colons.
_IPV4_DOT = re.compile(r"[0-9]\.[0-9]")


def ip_screen(col: ColumnView, hint: Hint) -> bool:
    """Whether any value could be an IP address (a colon, or digit-dot-digit)."""
    return ":" in col.blob or _IPV4_DOT.search(col.blob) is not None


# ---- postal code --------------------------------------------------------------------------------
_UK_POSTCODE = re.compile(r"^(?:GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})$")
_CA_POSTCODE = re.compile(r"^[A-Z]\d[A-Z] ?\d[A-Z]\d$")
_NL_POSTCODE = re.compile(r"^[1-9]\d{3}(?P<space> ?)[A-Z]{2}$")
_ZIP = re.compile(r"^\d{5}(?P<plus4>-\d{4})?$")


def match_postal(value: str, ctx: MatchContext) -> str | None:
    """The postal code layout (``uk``, ``ca``, ``nl``; digit-only ones only with a hint), else ``None``."""
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


# The shapes of match_postal without anchors, searched in the upper-cased values (str.upper maps each
# character on its own, so the upper-cased blob is the blob of upper-cased values).
_POSTAL_SHAPES = r"GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d|[1-9]\d{3} [A-Z]{2}"
_POSTAL_ANY = re.compile(_POSTAL_SHAPES)
_POSTAL_ANY_HINTED = re.compile(_POSTAL_SHAPES + r"|[1-9]\d{3}[A-Z]{2}|\d{5}")


_A_DIGIT = re.compile(r"\d")


def postal_screen(col: ColumnView, hint: Hint) -> bool:
    """Whether any value has one of the postal code shapes :func:`match_postal` accepts."""
    if _A_DIGIT.search(col.blob) is None:  # every shape has one; skips upper-casing word columns
        return False
    shapes = _POSTAL_ANY if hint == "none" else _POSTAL_ANY_HINTED
    return shapes.search(col.blob.upper()) is not None


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


def person_screen(col: ColumnView, hint: Hint) -> bool:
    """Whether the values need checking at all: person names count only with a name hint."""
    return hint != "none"  # match_person never matches without a name hint


def match_person(value: str, ctx: MatchContext) -> str | None:
    """``capitalised_words`` for one to three capitalised words (two to three on a weak hint), else ``None``."""
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


def match_address(value: str, ctx: MatchContext) -> str | None:
    """The street address style found in the value (English, German/Dutch, Latin), else ``None``."""
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


def address_screen(col: ColumnView, hint: Hint) -> bool:
    """Whether any value could hold a street address (see :func:`match_address`)."""
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
