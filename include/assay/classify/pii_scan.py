"""Value-level PII scan of a whole column: cheap candidate rules for SQL (or Arrow), the verdict in Python.

The column classification (:mod:`assay.classify.pii`) judges a column from a 200-row sample. A
column nobody classified as PII may still hold a single e-mail address among 100,000 reviews. The
profiler therefore screens **every** text value of a partition, in the scan it makes anyway:

1. **Candidates, in the database.** :func:`candidate_sql` is a predicate a value must pass to be
   looked at: an ``@`` and an e-mail shape, a ``:`` and an IPv6 shape, or a run of at least seven
   digits with phone/card/IP separators between non-alphanumeric boundaries (IBANs may carry
   their country code and bank letters in front). The cheap tests (``strpos``) come first, so most
   values cost one regular expression at most. Whole ISO dates/timestamps and plain numbers of up
   to 12 digits are not candidates (no rule below accepts them). The candidates' values (cut to
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
#: Seven or more characters of digits and phone/card/IP separators, starting and ending with a
#: digit between non-alphanumeric boundaries; ``+``, ``(`` or an IBAN's country, check digits
#: and bank letters may come first.
DIGITS_CANDIDATE = (
    r"(^|[^A-Za-z0-9])(\+|\(|[A-Z]{2}[0-9]{2}[A-Z]{0,4})?[0-9][-0-9 ()./]{5,}[0-9]($|[^A-Za-z0-9])"
)
#: Values that are a whole ISO date/timestamp or a plain number of up to 12 digits: no rule
#: accepts them (a bare digit run is no phone without a column hint, a card has 13 digits).
PLAIN_VALUE = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9:.]+([+-][0-9:]+|Z)?)?|[-+]?[0-9]{1,12}([.,][0-9]+)?)$"


def _literal(pattern: str) -> str:
    return "'" + pattern.replace("'", "''") + "'"


def candidate_sql(value: str) -> str:
    """A PostgreSQL predicate: the text ``value`` (an SQL expression) may hold PII and is worth a look.

    Cheap tests first (``strpos``, the byte length), so a value without ``@`` or ``:`` costs one
    regular expression at most (measured: 0.3-1.4 µs per value on the 2-core box, by load).
    """
    return (
        f"((strpos({value}, '@') > 0 AND {value} ~ {_literal(EMAIL_CANDIDATE)}) "
        f"OR (strpos({value}, ':') > 0 AND {value} ~ {_literal(IPV6_CANDIDATE)}) "
        f"OR (octet_length({value}) >= 7 AND {value} ~ {_literal(DIGITS_CANDIDATE)} "
        f"AND {value} !~ {_literal(PLAIN_VALUE)}))"
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
