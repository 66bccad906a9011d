"""PII name hints: what a column's name (and sometimes its table's name) says about each PII label.

A hint is ``strong`` (the name says so), ``weak`` (a bare ``name`` column in a table that says
nothing either way: person names must look more like names) or ``none``. See :mod:`assay.classify.pii`
for how a hint combines with the values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from assay.classify.text import ColumnView, words

Hint = Literal["none", "weak", "strong"]
HintRule = Callable[[ColumnView], Hint]


# ---- email --------------------------------------------------------------------------------------
_EMAIL_NAMES = frozenset({"email", "mail", "emailaddress"})


def email_hint(col: ColumnView) -> Hint:
    """Strong when the column name says email (``email``, ``mail``, ``customer_email``)."""
    return "strong" if col.has_word_in(_EMAIL_NAMES) or "email" in col.joined else "none"


# ---- phone --------------------------------------------------------------------------------------
_PHONE_NAMES = words("phone telephone tel mobile cell cellphone fax msisdn phonenumber mobilephone")


def phone_hint(col: ColumnView) -> Hint:
    """Strong when a word of the column name says phone (``tel``, ``mobile``, ``fax`` ...)."""
    return "strong" if col.has_word_in(_PHONE_NAMES) else "none"


# ---- card number --------------------------------------------------------------------------------
_CARD_NAMES = words("card cc pan creditcard cardnumber ccnumber ccnum")


def card_hint(col: ColumnView) -> Hint:
    """Strong when the column name says card number (``cc``, ``pan``, ``credit_card`` ...)."""
    return "strong" if col.has_word_in(_CARD_NAMES) or "creditcard" in col.joined else "none"


# ---- IP address ---------------------------------------------------------------------------------
_IP_QUALIFIERS = ("remote", "client", "host", "server", "source", "src", "dst", "peer", "origin")


_IP_NAMES = frozenset({"ip", "ipv4", "ipv6", "ipaddr", "ipaddress"})
_ADDR_NAMES = frozenset({"addr", "address"})
_IP_QUALIFIER_SET = frozenset(_IP_QUALIFIERS)


def ip_hint(col: ColumnView) -> Hint:
    """Strong for ``ip``-like names, or ``addr``/``address`` with a network qualifier (``remote_addr``)."""
    if col.has_word_in(_IP_NAMES):
        return "strong"
    if col.has_word_in(_ADDR_NAMES) and col.has_word_in(_IP_QUALIFIER_SET):
        return "strong"
    return "none"


# ---- postal code --------------------------------------------------------------------------------
_POSTAL_NAMES = frozenset({"postal", "postcode", "zip", "zipcode", "plz", "postalcode"})


def postal_hint(col: ColumnView) -> Hint:
    """Strong when the column name says postal code (``zip``, ``plz``, ``post_code`` ...)."""
    if col.has_word_in(_POSTAL_NAMES):
        return "strong"
    if col.has_any("post") and col.has_any("code"):
        return "strong"
    return "none"


# ---- person name --------------------------------------------------------------------------------
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


def person_hint(col: ColumnView) -> Hint:
    """Strong for person-name columns, weak for a bare ``name`` whose table says nothing either way."""
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


# ---- street address -----------------------------------------------------------------------------
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


def address_hint(col: ColumnView) -> Hint:
    """Strong for street/address names that are not an IP, email or wallet address."""
    if col.has_word_in(_STREET_NAMES):
        return "strong"
    if col.has_word_in(_ADDR_NAMES) and not col.has_word_in(_NOT_STREET_QUALIFIER_SET):
        return "strong"
    return "none"
