"""Value-level PII screen for free text, and the bound on every stored value: :func:`safe_value`.

Column classification masks the values of columns *classified* PII. A free-text column (a review,
a note, an error message) is not PII as a column, yet one of its values may quote an e-mail
address or a card number. :func:`scrub` finds, **inside any string**, the kinds below and masks
each hit with :func:`assay.classify.mask_value` of its kind:

===============  ================================================================================
``email``        the e-mail rule of :mod:`assay.classify.pii_values` (dotted domain, alphabetic TLD)
``iban``         2 letters, 2 check digits, 11-30 letters or digits (spaces allowed), ISO 7064
                 mod 97 = 1; the one rule of its own (no column label has it), masked generically
                 (``D***``)
``card_number``  13-19 digits, issuer digit 2-6, Luhn-valid
                 (:func:`~assay.classify.pii_values.match_card`)
``ip_address``   IPv4 and IPv6 as :mod:`ipaddress` parses them (:func:`~assay.classify.pii_values.match_ip`)
``phone``        E.164, NANP and national trunk-0 formats (:func:`~assay.classify.pii_values.match_phone`
                 without a column-name hint: a bare run of digits is not a phone)
===============  ================================================================================

Candidates are found by unanchored forms of the same format rules and each one is validated by
the column matcher of its kind, so a value and a column are judged alike. Digit runs (cards and
phones) are tried in windows of whitespace-separated groups, so ``qty 1 4111 1111 1111 1111``
still finds the card. Numbers that merely look like a kind are masked too when they validate
(a Luhn-valid 16-digit order id): the screen errs towards masking.

:func:`safe_value` is what every stored or rendered value goes through: scrub, then bound to
:data:`MAX_VALUE_CHARS` characters with a marker ``…[truncated N chars]`` (N characters of the
value were dropped). Only a window a little longer than the bound is scanned, so a 10 MB cell
costs as much as a short one. Both are idempotent: a safe value stays as it is.

Cost: a value without ``@``, ``:`` or a digit is returned after one regex search (the cheap
pre-check); patterns are compiled once at import. Standard library only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from assay.classify.mask import mask_value
from assay.classify.pii_values import (
    _DATE_LIKE,
    _EMAIL,
    _IPV4_SHAPE,
    MatchContext,
    match_card,
    match_email,
    match_ip,
    match_phone,
)

#: Characters of a stored text value kept before the truncation marker.
MAX_VALUE_CHARS = 256
#: The kinds the screen finds, in the order overlapping hits are preferred (longest first wins).
KINDS: tuple[str, ...] = ("email", "iban", "card_number", "ip_address", "phone")
#: Key under which :func:`safe_value` counts truncated values (next to the kinds).
TRUNCATED = "truncated"
#: Characters scanned beyond the bound: longer than any hit (an e-mail address is at most 320), so
#: a hit that starts inside the kept part is seen whole.
_SCAN_MARGIN = 512
_MARKER = "…[truncated {n} chars]"
_MARKED = re.compile(r"…\[truncated \d+ chars\]\Z")

# Every kind needs an "@" (e-mail), a ":" (IPv6) or a digit (the rest): one search skips the others.
_MAYBE = re.compile(r"[@:\d]")
_A_DIGIT = re.compile(r"\d")
_NO_HINT = MatchContext(hint="none")

# The column rules without their anchors: found anywhere, then validated by the column matchers.
_EMAIL_IN = re.compile(_EMAIL.pattern.removeprefix("^").removesuffix("$"))
_IPV4_IN = re.compile(
    r"(?<![\d.])" + _IPV4_SHAPE.pattern.removeprefix("^").removesuffix("$") + r"(?!\d|\.\d)"
)
_HEX = "[0-9A-Fa-f]{0,4}"
_IPV6_IN = re.compile(
    rf"(?<![\w:.])(?:(?:{_HEX}:){{2,6}}\d{{1,3}}(?:\.\d{{1,3}}){{3}}|(?:{_HEX}:){{2,7}}{_HEX})(?![\w:])"
)
# A run of digits with phone or card punctuation; its groups are tried as candidates. Not right
# after a digit and a colon: that is a time's seconds ("08:15:00.123456" holds no phone).
_DIGIT_RUN = re.compile(r"(?<!\w)(?<!\d:)[+(]?\d[\d \t().\-/]*\d(?!\w)")
_GROUP = re.compile(r"\S+")
_MAX_GROUPS = 8  # "+1 (555) 123 4567", "4111 1111 1111 1111 111": fewer groups than this
_IBAN_IN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])")


@dataclass(frozen=True)
class Scrubbed:
    """A text with every hit masked, and the number of hits per kind."""

    text: str
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    kind: str


def _iban_valid(compact: str) -> bool:
    """ISO 13616: 15-34 characters, check digits by ISO 7064 mod 97-10."""
    if not 15 <= len(compact) <= 34:
        return False
    moved = (compact[4:] + compact[:4]).upper()
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _emails(text: str) -> Iterator[_Hit]:
    if "@" not in text:
        return
    for m in _EMAIL_IN.finditer(text):
        if match_email(m.group(), _NO_HINT):
            yield _Hit(m.start(), m.end(), "email")


def _ibans(text: str) -> Iterator[_Hit]:
    for m in _IBAN_IN.finditer(text):
        # The pattern may run on into the next word ("... 0130 00 OK"): shorter ends at spaces too.
        ends = [m.end()] + [m.start() + i for i, ch in enumerate(m.group()) if ch == " "][::-1]
        for end in ends:
            if _iban_valid(text[m.start() : end].replace(" ", "")):
                yield _Hit(m.start(), end, "iban")
                break


def _ips(text: str) -> Iterator[_Hit]:
    for m in _IPV4_IN.finditer(text):
        if match_ip(m.group(), _NO_HINT):
            yield _Hit(m.start(), m.end(), "ip_address")
    if ":" in text:
        for m in _IPV6_IN.finditer(text):
            if match_ip(m.group(), _NO_HINT):
                yield _Hit(m.start(), m.end(), "ip_address")


def _digit_runs(text: str) -> Iterator[_Hit]:
    """Cards and phones: the longest valid window of groups from each group on, left to right."""
    for run in _DIGIT_RUN.finditer(text):
        if len(run.group()) < 7:  # a phone has seven digits at least
            continue
        groups = [(g.start() + run.start(), g.end() + run.start()) for g in _GROUP.finditer(run.group())]
        i = 0
        while i < len(groups):
            if _DATE_LIKE.match(text[groups[i][0] : groups[i][1]]):  # "05/01/2026 10:00": a date, not a phone
                i += 1
                continue
            found = None
            for j in range(min(len(groups), i + _MAX_GROUPS) - 1, i - 1, -1):
                start, end = groups[i][0], groups[j][1]
                candidate = text[start:end]
                if match_card(candidate, _NO_HINT):
                    found = (j, _Hit(start, end, "card_number"))
                elif match_phone(candidate, _NO_HINT):
                    found = (j, _Hit(start, end, "phone"))
                if found:
                    break
            if found is None:
                i += 1
                continue
            yield found[1]
            i = found[0] + 1


def _hits(text: str) -> list[_Hit]:
    """Every hit in ``text``, overlaps resolved: the leftmost wins, then the longest, then by KINDS."""
    if _MAYBE.search(text) is None:
        return []
    found = [*_emails(text), *_ips(text)]
    if _A_DIGIT.search(text) is not None:
        found += [*_ibans(text), *_digit_runs(text)]
    found.sort(key=lambda h: (h.start, h.start - h.end, KINDS.index(h.kind)))
    kept: list[_Hit] = []
    for h in found:
        if not kept or h.start >= kept[-1].end:
            kept.append(h)
    return kept


def _masked(hit: _Hit, text: str) -> str:
    return mask_value(hit.kind, text[hit.start : hit.end])


def scrub(text: str) -> Scrubbed:
    """``text`` with every e-mail, IBAN, card number, IP address and phone number in it masked.

    Returns:
        The masked text and ``{kind: hits}`` (only kinds found).
    """
    hits = _hits(text)
    if not hits:
        return Scrubbed(text)
    out, pos = [], 0
    for h in hits:
        out += [text[pos : h.start], _masked(h, text)]
        pos = h.end
    out.append(text[pos:])
    return Scrubbed("".join(out), dict(Counter(h.kind for h in hits)))


def scrub_text(text: str | None) -> str | None:
    """Free text with every PII hit masked; ``None`` stays ``None`` (see :func:`scrub`)."""
    return scrub(text).text if text else text


def _already_bounded(text: str, limit: int) -> bool:
    """Whether ``text`` is the output of :func:`_bounded` for ``limit`` (so it is not cut again)."""
    if not text.endswith(" chars]"):
        return False
    m = _MARKED.search(text, max(0, len(text) - 40))  # the marker is short: look at the tail only
    return m is not None and m.start() <= limit


def _bounded(text: str, counts: Counter[str], limit: int) -> str:
    """Scrub, keeping at most ``limit`` characters of the result, then the truncation marker."""
    if len(text) <= limit or _already_bounded(text, limit):
        result = scrub(text)
        counts.update(result.counts)
        return result.text
    window = text[: limit + _SCAN_MARGIN]
    # Raw text from here on may be the head of a hit the window cut in two: it is never kept.
    raw_end = len(window) if len(window) == len(text) else len(window) - _SCAN_MARGIN
    out: list[str] = []
    used = pos = 0
    for h in [*(h for h in _hits(window) if h.start < raw_end), None]:
        end = raw_end if h is None else h.start
        take = min(end - pos, limit - used)
        out.append(window[pos : pos + take])
        used, pos = used + take, pos + take
        if h is None or pos < end:
            break
        mask = _masked(h, window)
        if used + len(mask) > limit:
            break
        out.append(mask)
        counts[h.kind] += 1
        used, pos = used + len(mask), h.end
    if pos >= len(text):  # the masks made it short enough
        return "".join(out)
    counts[TRUNCATED] += 1
    return "".join(out) + _MARKER.format(n=len(text) - pos)


def safe_value(value: Any, counts: Counter[str] | None = None, limit: int = MAX_VALUE_CHARS) -> Any:
    """A value as it may be stored or rendered: text scrubbed (:func:`scrub`), then bounded.

    Args:
        value: any value; only strings change (numbers, booleans, ``None`` are returned as they are).
        counts: incremented per masked hit (by kind) and per truncated value (``truncated``).
        limit: characters of text kept; a longer text ends with ``…[truncated N chars]`` where N
            characters of the value were dropped.

    Returns:
        The safe value. Applying it again changes nothing.
    """
    if not isinstance(value, str):
        return value
    return _bounded(value, counts if counts is not None else Counter(), limit)


def safe_json(value: Any, counts: Counter[str] | None = None, limit: int = MAX_VALUE_CHARS) -> Any:
    """:func:`safe_value` on every string inside dicts, lists and tuples (keys are left as they are)."""
    tally = counts if counts is not None else Counter()
    if isinstance(value, dict):
        return {k: safe_json(v, tally, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe_json(v, tally, limit) for v in value]
    return safe_value(value, tally, limit)
