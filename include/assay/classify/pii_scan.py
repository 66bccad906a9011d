"""Value-level PII scan of a whole column: cheap candidate rules for SQL (or Arrow), the verdict in Python.

The column classification (:mod:`assay.classify.pii`) judges a column from a 200-row sample. A
column nobody classified as PII may still hold a single e-mail address among 100,000 reviews. The
profiler therefore screens **every** text value of a partition, in the scan it makes anyway:

1. **Candidates, in the database.** :func:`candidate_sql` is a predicate a value must pass to be
   looked at: an ``@`` and an e-mail shape, a ``:`` and an IPv6 shape, or what one of the digit
   rules needs (:data:`DIGITS_CANDIDATE`: a card's 13 digits from an issuer digit, a phone's
   ``+``, trunk 0 or NANP separators, four dotted numbers, an IBAN's country and check digits).
   Each is a necessary condition of the Python rule it stands for, so no hit is lost, and an
   identifier like ``evt-1234567`` is no candidate: what leaves the database is bounded by what
   could be PII, not by the column's size. The cheap tests (``strpos``, the byte length) come
   first, then a small gate (:data:`DIGITS_GATE`), so most values cost one small regular
   expression. A whole date or date-time value is no candidate (the rules find nothing in it).
   The candidates' values (cut to
   :data:`MAX_CANDIDATE_CHARS`) are aggregated into one string (:func:`candidate_agg_sql`).
2. **Verdict, in Python.** :func:`decode` runs :mod:`assay.classify.scrub`'s rules on each
   candidate — the e-mail rule, Luhn for card numbers, ISO 7064 mod 97 for IBANs,
   :mod:`ipaddress` for IPs, the E.164/NANP/trunk-0 phone formats — and counts, per kind, the
   values holding at least one hit. Examples are the **masked hits** only
   (:func:`assay.classify.mask_value` of the kind: ``j***@e***.com``), never the value or the text
   around a hit.

The same patterns run in RE2 (``pyarrow.compute.match_substring_regex``) for files: they use no
POSIX classes and no look-arounds. They contain no ``:word`` sequence either, so SQLAlchemy's
``text()`` finds no bind parameter in them. Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from assay.classify.scrub import KINDS, _hits

#: Characters of a candidate value sent from the database (a hit further in is not seen).
MAX_CANDIDATE_CHARS = 1000
#: Masked examples kept per kind.
MAX_EXAMPLES = 3
#: Separates candidate records, and a record's value from its weight (replaced inside values).
RECORD_SEP, WEIGHT_SEP = "\x1e", "\x1f"

#: An ``@`` between non-blank text and a dotted domain (the e-mail rule decides).
EMAIL_CANDIDATE = r"[^\s@]+@[^\s@.]+(\.[^\s@.]+)+"
#: Eight colon-separated hex groups, or a ``::`` (ipaddress decides).
IPV6_CANDIDATE = r"([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|[0-9A-Fa-f]*::[0-9A-Fa-f]*"
# What each digit rule of :mod:`assay.classify.scrub` needs, written as a necessary condition (a
# value the rule accepts always matches; tests/profile_truth/test_pii_candidates.py proves it on
# constructed hits and 200,000 random strings). ``_B`` is the start of a digit run or group there:
# the start of the value or a character that is not an ASCII letter or digit, nor a colon after a
# digit (a time's seconds start no run); ``_B_WORD`` without the colon rule (the IBAN rule's own).
_B = "(^|[^A-Za-z0-9:]|(^|[^0-9]):)"
_B_WORD = "(^|[^A-Za-z0-9])"
#: A card: 13-19 digits from an issuer digit 2-6, single spaces or dashes between them, and no
#: letter or digit after them (a digit run ends there; Luhn decides).
_CARD_NEED = _B + "[2-6]([ -]?[0-9]){12,18}($|[^A-Za-z0-9])"
#: E.164: a ``+``, a non-zero digit and six more digits with phone punctuation between them.
_E164_NEED = _B + "\\+[1-9]([ \t()./-]*[0-9]){6}"
#: NANP: the area code, the exchange and a separator before the last four digits.
_NANP_NEED = "[2-9][0-9]{2}[)]?[ \t.-]?[2-9][0-9]{2}[ \t.-][0-9]{4}($|[^A-Za-z0-9])"
#: A national number with a trunk 0 at a group start, its prefix, a separator and two digits. The
#: 0 (or its parenthesis) follows the value's start, a blank or another character outside a digit
#: run; or separators that no digit run reaches (one after a word's digits, as in ``x12-0301 23...``,
#: cannot start one). After ``2026-01``'s dash the run began at ``2026``: no trunk 0 there.
_TRUNK_NEED = (
    "(^|[^-0-9A-Za-z_()./:]|(^|[^0-9]):|^[-() ./\t]*[-()./]|[^-0-9()./ \t][0-9]*[-() ./\t]*[-()./])"
    "[(]?0[0-9]{1,4}[)]?[- \t./]+[0-9]{2}"
)
#: Four dotted groups of one to three digits (ipaddress decides).
_IPV4_NEED = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
#: An IBAN's country code, check digits and eleven more characters (ISO 7064 decides).
_IBAN_NEED = _B_WORD + "[A-Z]{2}[0-9]{2}( ?[A-Za-z0-9]){11}"
#: Any of the digit rules (cards, phones, IPv4, IBANs). Identifiers such as ``evt-1234567`` or
#: ``ORD-2024-000123`` match none of them: they are not candidates and never leave the database.
DIGITS_CANDIDATE = "|".join(
    f"({p})" for p in (_CARD_NEED, _E164_NEED, _NANP_NEED, _TRUNK_NEED, _IPV4_NEED, _IBAN_NEED)
)
#: A cheaper necessary condition of :data:`DIGITS_CANDIDATE` but its IPv4 part, tried first in SQL:
#: PostgreSQL builds a regular expression's DFA states again for every value, so a small pattern
#: is what a value pays when, as most do, it fails (1M md5 ids: about 0.5-0.8 s against 3.2-3.6 s
#: for the full pattern alone; ``bench/pii_scan_bench.py``). Each alternative starts at a boundary
#: (the plain one: the colon rule waits for the full pattern, it costs a third more per value here),
#: so few threads start inside hex ids or words: ``+`` and a digit; digits, separators and a digit
#: run ending where a digit run may end (``20709 734de5`` is no candidate); 13 digits from 2-6; or
#: an IBAN's country and check digits.
DIGITS_GATE = (
    _B_WORD + "([+][1-9]|[(]?[0-9]+[)]?[- \t./]+[0-9]([-0-9 \t()./]*[0-9])?($|[^A-Za-z0-9])|[2-6][0-9]{12}"
    "|[A-Z]{2}[0-9]{2})"
)
#: The IPv4 part's gate (after a ``.`` is known to be there).
IPV4_GATE = "[0-9][.][0-9]{1,3}[.][0-9]"
#: A whole value that is a date, with a time of day and a zone or not: the rules find nothing in it
#: (a date is no phone's first group, a time's seconds start no digit run).
PLAIN_VALUE = (
    "^([0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{2,4})"
    "([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?$"
)


def _literal(pattern: str) -> str:
    return "'" + pattern.replace("'", "''") + "'"


def candidate_sql(value: str) -> str:
    """A PostgreSQL predicate: the text ``value`` (an SQL expression) may hold PII and is worth a look.

    Cheap tests first (``strpos``, the byte length, :data:`DIGITS_GATE`), so a value without
    ``@``, ``:`` or ``.`` that is no candidate costs one small regular expression.
    """
    gate = f"((strpos({value}, '.') > 0 AND {value} ~ {_literal(IPV4_GATE)}) OR {value} ~ {_literal(DIGITS_GATE)})"
    return (
        f"((strpos({value}, '@') > 0 AND {value} ~ {_literal(EMAIL_CANDIDATE)}) "
        f"OR (strpos({value}, ':') > 0 AND {value} ~ {_literal(IPV6_CANDIDATE)}) "
        f"OR (octet_length({value}) >= 7 AND {gate} AND {value} !~ {_literal(PLAIN_VALUE)} "
        f"AND {value} ~ {_literal(DIGITS_CANDIDATE)}))"
    )


def candidate_record_sql(value: str, weight: str | None = None) -> str:
    """The record a candidate contributes (its cut value, and ``weight`` rows when given), else NULL."""
    cut = f"replace(replace(left({value}, {MAX_CANDIDATE_CHARS}), chr(30), ' '), chr(31), ' ')"
    if weight is not None:
        cut = f"{cut} || chr(31) || ({weight})::text"
    return f"CASE WHEN {candidate_sql(value)} THEN {cut} END"


def candidate_agg_sql(value: str, weight: str | None = None) -> str:
    """One aggregate over the candidates of ``value``: their records joined (NULL when none).

    ``string_agg`` skips NULL inputs, so the predicate is evaluated once per row and only
    candidates allocate anything.
    """
    return f"string_agg({candidate_record_sql(value, weight)}, chr(30))"


def merge_agg_sql(part: str) -> str:
    """Records of several groups (``part``: a per-group aggregate) joined into one."""
    return f"string_agg({part}, chr(30))"


@dataclass
class KindCount:
    """Values of one column that hold a PII kind: how many, and masked examples."""

    count: int = 0
    examples: list[str] = field(default_factory=list)


def decode(records: str | None) -> dict[str, dict[str, Any]]:
    """``{kind: {count, examples_masked}}`` from aggregated candidate records (``{}`` when none).

    Each candidate is judged by :mod:`assay.classify.scrub`'s rules; ``count`` is the number of
    rows (a record's weight) whose value holds at least one hit of the kind.
    """
    if not records:
        return {}
    pairs: list[tuple[str, int]] = []
    for record in records.split(RECORD_SEP):
        value, sep, weight = record.rpartition(WEIGHT_SEP)
        if sep and weight.isdigit():
            pairs.append((value, int(weight)))
        else:
            pairs.append((record, 1))
    return count_values(pairs)


def count_values(pairs: Iterable[tuple[str, int]]) -> dict[str, dict[str, Any]]:
    """``{kind: {count, examples_masked}}`` over ``(value, rows)`` pairs (see :func:`decode`)."""
    from assay.classify.mask import mask_value

    found: dict[str, KindCount] = {}
    for value, weight in pairs:
        seen: set[str] = set()
        for hit in _hits(value):
            tally = found.setdefault(hit.kind, KindCount())
            if hit.kind not in seen:
                tally.count += weight
                seen.add(hit.kind)
            masked = mask_value(hit.kind, value[hit.start : hit.end])
            if len(tally.examples) < MAX_EXAMPLES and masked not in tally.examples:
                tally.examples.append(masked)
    return {
        kind: {"count": found[kind].count, "examples_masked": found[kind].examples}
        for kind in KINDS
        if kind in found
    }


def merged(parts: Iterable[Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Several ``{kind: {count, examples_masked}}`` added up (chunks of one column)."""
    out: dict[str, dict[str, Any]] = {}
    for part in parts:
        for kind, figures in part.items():
            into = out.setdefault(kind, {"count": 0, "examples_masked": []})
            into["count"] += int(figures["count"])
            for ex in figures["examples_masked"]:
                if len(into["examples_masked"]) < MAX_EXAMPLES and ex not in into["examples_masked"]:
                    into["examples_masked"].append(ex)
    return {kind: out[kind] for kind in KINDS if kind in out}
