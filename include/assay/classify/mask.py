"""Masking of PII values for evidence, profiles and Data Docs.

A masked value keeps just enough to recognise the format (``j***@e***.com``, ``+** ** **** **68``,
``**** **** **** 1111``) and never the value itself. Each part that is hidden becomes ``***`` (or one
``*`` per digit where the digit layout is the point, as for phones and cards), so the masked text
never contains the raw value for any value longer than one character. Import cost is the standard
library only, so profilers and Data Docs renderers can use it freely.
"""

from __future__ import annotations

import ipaddress
import re

_STARS = "***"
_WORD = re.compile(r"\S+")


def _first(text: str) -> str:
    """First character plus stars; a one-character text is hidden whole."""
    return text[0] + _STARS if len(text) > 1 else _STARS


def _email(value: str) -> str:
    local, sep, domain = value.rpartition("@")
    if not sep or not local:
        return _generic(value)
    host, dot, tld = domain.rpartition(".")
    if not dot or not host:
        return f"{_first(local)}@{_STARS}"
    return f"{_first(local)}@{_first(host)}.{tld}"


def _keep_last_digits(value: str, keep: int) -> str:
    """Every digit but the last ``keep`` becomes ``*``; separators and a leading ``+`` stay."""
    total = sum(ch.isdigit() for ch in value)
    if total <= keep:
        return _STARS
    seen = 0
    out = []
    for ch in value:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - keep else "*")
        elif ch in "+ -./()":
            out.append(ch)
        else:
            out.append("*")
    return "".join(out)


def _ip(value: str) -> str:
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return _generic(value)
    if ip.version == 4:
        return value.split(".", 1)[0] + ".*.*.*"
    # From the integer: ``exploded`` raises for an address with a scope id (``fe80::1%eth0``).
    return ipaddress.IPv6Address(int(ip)).exploded.split(":", 1)[0] + ":*:*:*"


def _postal(value: str) -> str:
    return value[0] + "".join("*" if ch.isalnum() else ch for ch in value[1:]) if len(value) > 1 else _STARS


def _words(value: str) -> str:
    """Each word to its first letter plus stars, each number to ``#``: ``S*** d*** V***``."""
    return _WORD.sub(lambda m: "#" if any(c.isdigit() for c in m.group()) else _first(m.group()), value)


def _generic(value: str) -> str:
    return _first(value) if value else ""


_MASKERS = {
    "email": _email,
    "phone": lambda v: _keep_last_digits(v, 2),
    "card_number": lambda v: _keep_last_digits(v, 4),
    "ip_address": _ip,
    "postal_code": _postal,
    "person_name": _words,
    "address": _words,
}


def mask_value(label: str, value: str) -> str:
    """Mask ``value`` according to its PII ``label``.

    Args:
        label: a PII label (``email``, ``phone``, ``card_number``, ``ip_address``, ``postal_code``,
            ``person_name``, ``address``); any other label gets the generic mask (first character
            plus ``***``).
        value: the raw value.

    Returns:
        The masked text: emails ``a***@d***.com``, phones keep the last 2 digits, cards the last 4,
        IPv4 the first octet (``10.*.*.*``), IPv6 the first group, postal codes the first
        character, names and addresses the first letter of each word (numbers become ``#``).
    """
    value = value.strip()
    if not value:
        return ""
    return _MASKERS.get(label, _generic)(value)
