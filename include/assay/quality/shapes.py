"""Value shapes and the format they follow: ``01234`` has shape ``99999``, whose regex is ``^\\d{5}$``.

A shape writes each ASCII digit as ``9``, upper-case letter as ``A``, lower-case letter as ``a``
(``X`` for all three in the coarse shape) and keeps every other character. The SQL summary of
:mod:`assay.quality.evidence` uses ``translate`` with the same mapping, so shapes computed in
PostgreSQL and in Python agree. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: Share of values below which odd ones out count as rare (kept visible with ``mostly``).
RARE = 0.01
_SHAPE_CLASS = {"9": r"\d", "A": "[A-Z]", "a": "[a-z]", "X": "[A-Za-z0-9]"}


def shape_of(value: str, coarse: bool = False) -> str:
    """The shape of a text value: ASCII digits ``9``, upper ``A``, lower ``a`` (``X`` for all when coarse).

    The same mapping as the SQL ``translate`` of :mod:`assay.quality.evidence`.
    """
    out = []
    for ch in value:
        if "0" <= ch <= "9":
            out.append("X" if coarse else "9")
        elif "A" <= ch <= "Z":
            out.append("X" if coarse else "A")
        elif "a" <= ch <= "z":
            out.append("X" if coarse else "a")
        else:
            out.append(ch)
    return "".join(out)


def _runs_of(shape: str) -> list[tuple[str, int]]:
    """``AA-999`` -> ``[("A", 2), ("-", 1), ("9", 3)]``; literal characters are runs of their own."""
    out: list[tuple[str, int]] = []
    for ch in shape:
        if out and out[-1][0] == ch and ch in _SHAPE_CLASS:
            out[-1] = (ch, out[-1][1] + 1)
        else:
            out.append((ch, 1))
    return out


def _literal(ch: str) -> str:
    """A literal character in a regex both PostgreSQL (ARE) and Python read the same way."""
    return ch if ch.isalnum() else "\\" + ch


def regex_of(shape: str, fixed: bool = True) -> str:
    """The anchored regex of a shape: ``99999`` -> ``^\\d{5}$``; not fixed: ``^\\d+$``."""
    parts = []
    for ch, n in _runs_of(shape):
        if ch in _SHAPE_CLASS:
            quant = ("" if n == 1 else f"{{{n}}}") if fixed else "+"
            parts.append(_SHAPE_CLASS[ch] + quant)
        else:
            parts.append(_literal(ch))
    return "^" + "".join(parts) + "$"


@dataclass(frozen=True)
class Format:
    """A format found in a column's shapes: the regex, the share of values it covers, what it left out."""

    regex: str
    covered: int
    total: int
    outliers: dict[str, int]


def find_format(shapes: Mapping[str, int] | None) -> Format | None:
    """The format all (or all but a rare few) shapes follow; ``None`` when there is none worth a rule.

    Shapes are grouped by their class sequence (``AA-99`` and ``A-9999`` share ``A-9``); the largest
    group must cover all values but at most :data:`RARE`. Within it one exact shape covering that much
    gives a fixed-length regex; otherwise run lengths vary and the regex uses ``+`` -- only for
    code-like shapes (a digit run, no lower case), which keeps names and words out.
    """
    if not shapes:
        return None
    total = sum(shapes.values())
    if total <= 0:
        return None
    groups: dict[tuple[str, ...], dict[str, int]] = {}
    for shape, n in shapes.items():
        key = tuple(ch for ch, _ in _runs_of(shape))
        groups.setdefault(key, {})[shape] = n
    key, members = max(groups.items(), key=lambda kv: (sum(kv[1].values()), kv[0]))
    group_total = sum(members.values())
    if group_total < (1 - RARE) * total:
        return None
    top_shape, top_n = max(members.items(), key=lambda kv: (kv[1], kv[0]))
    if top_n >= (1 - RARE) * total:
        return Format(regex_of(top_shape), top_n, total, {s: n for s, n in shapes.items() if s != top_shape})
    if "9" not in key or "a" in key:
        return None
    outliers = {s: n for s, n in shapes.items() if s not in members}
    return Format(regex_of(top_shape, fixed=False), group_total, total, outliers)


def candidate_formats(shapes: Mapping[str, int] | None, share: float = 0.9) -> list[str]:
    """Regexes a *sample's* shapes suggest, most specific first, to be counted over every row.

    The largest class-sequence group must hold ``share`` of the sample (looser than :data:`RARE`: a
    few odd values in a small sample are many in share); its most frequent shape gives the fixed
    regex and, for code-like shapes, the ``+`` regex. The count over the partition decides.
    """
    if not shapes or sum(shapes.values()) <= 0:
        return []
    groups: dict[tuple[str, ...], dict[str, int]] = {}
    for shape, n in shapes.items():
        groups.setdefault(tuple(ch for ch, _ in _runs_of(shape)), {})[shape] = n
    key, members = max(groups.items(), key=lambda kv: (sum(kv[1].values()), kv[0]))
    if sum(members.values()) < share * sum(shapes.values()):
        return []
    top_shape = max(members.items(), key=lambda kv: (kv[1], kv[0]))[0]
    out = [regex_of(top_shape)]
    if "9" in key and "a" not in key:
        out.append(regex_of(top_shape, fixed=False))
    return out
