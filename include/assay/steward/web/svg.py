"""Charts as inline SVG, drawn on the server: a series with its anomaly band, a heat-map calendar,
a multi-line scorecard. No script and no external file; labels escaped like every other value."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assay.steward.web.html import e

W, H, PAD = 560, 160, 36
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
CELL = {"pass": "#62b862", "warn": "#f2c744", "fail": "#d9534f", "none": "#eeeeee"}


@dataclass(frozen=True)
class Point:
    """One day of a series; ``lower``/``upper`` are the anomaly bounds of that day (if known)."""

    day: dt.date
    value: float | None
    lower: float | None = None
    upper: float | None = None
    anomaly: bool = False


def _scale(lo: float, hi: float, size: float, flip: bool) -> tuple[float, float]:
    span = (hi - lo) or 1.0
    return (size / span, lo) if not flip else (-size / span, hi)


def series_chart(title: str, points: Sequence[Point]) -> str:
    """A line of ``points`` over days, the bounds as a shaded band, anomalies as red circles."""
    pts = [p for p in points if p.value is not None]
    if not pts:
        return f'<p class="muted">{e(title)}: no values.</p>'
    values = [p.value for p in pts if p.value is not None]
    values += [b for p in pts for b in (p.lower, p.upper) if b is not None]
    lo, hi = min(values), max(values)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    d0, d1 = pts[0].day, pts[-1].day
    days = max((d1 - d0).days, 1)

    def x(d: dt.date) -> float:
        return PAD + (W - 2 * PAD) * (d - d0).days / days

    def y(v: float) -> float:
        return H - PAD + -(H - 2 * PAD) * (v - lo) / (hi - lo)

    band = [p for p in pts if p.lower is not None and p.upper is not None]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img">',
             f"<title>{e(title)}</title>",
             f'<text x="{PAD}" y="14" font-size="12">{e(title)}</text>']
    for p in band:  # one rectangle per day with bounds: gaps stay visible as gaps
        assert p.lower is not None and p.upper is not None
        half = (W - 2 * PAD) / days / 2
        parts.append(f'<rect x="{x(p.day) - half:.1f}" y="{y(p.upper):.1f}" width="{2 * half:.1f}" '
                     f'height="{max(y(p.lower) - y(p.upper), 1):.1f}" fill="#1f77b4" fill-opacity="0.15"/>')
    line = " ".join(f"{x(p.day):.1f},{y(p.value):.1f}" for p in pts if p.value is not None)
    parts.append(f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{line}"/>')
    for p in pts:
        assert p.value is not None
        if p.anomaly:
            parts.append(f'<circle cx="{x(p.day):.1f}" cy="{y(p.value):.1f}" r="4" fill="#d62728">'
                         f"<title>anomaly {e(p.day)}: {e(p.value)}</title></circle>")
    parts += [f'<text x="2" y="{PAD}" font-size="10">{e(_num(hi))}</text>',
              f'<text x="2" y="{H - PAD}" font-size="10">{e(_num(lo))}</text>',
              f'<text x="{PAD}" y="{H - 8}" font-size="10">{e(d0)}</text>',
              f'<text x="{W - PAD - 60}" y="{H - 8}" font-size="10">{e(d1)}</text>', "</svg>"]
    return "".join(parts)


def _num(v: float) -> str:
    return f"{v:.4g}"


def calendar(rows: Sequence[str], days: Sequence[dt.date], cells: Mapping[tuple[str, dt.date], str],
             links: Mapping[str, str] | None = None) -> str:
    """A heat-map: one row per label in ``rows``, one column per day; ``cells`` map to pass/warn/fail."""
    if not rows or not days:
        return '<p class="muted">No results in this window.</p>'
    cw, ch, left = 14, 16, 220
    width, height = left + cw * len(days) + 10, 24 + ch * len(rows)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
             "<title>results per asset and day</title>",
             f'<text x="{left}" y="12" font-size="10">{e(days[0])}</text>',
             f'<text x="{max(left, width - 80)}" y="12" font-size="10">{e(days[-1])}</text>']
    for i, label in enumerate(rows):
        yy = 20 + ch * i
        name = f'<text x="0" y="{yy + 11}" font-size="11">{e(label[:34])}</text>'
        href = (links or {}).get(label)
        parts.append(f'<a href="{e(href)}">{name}</a>' if href else name)
        for j, d in enumerate(days):
            status = cells.get((label, d), "none")
            parts.append(f'<rect x="{left + cw * j}" y="{yy}" width="{cw - 2}" height="{ch - 2}" '
                         f'fill="{CELL.get(status, CELL["none"])}"><title>{e(label)} {e(d)}: {e(status)}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def lines(title: str, series: Mapping[str, Sequence[tuple[dt.date, float | None]]], *,
          lo: float = 0.0, hi: float = 1.0) -> str:
    """Several named series over days on one 0..1 scale (the scorecard by dimension), with a legend."""
    allpts = [d for s in series.values() for d, v in s if v is not None]
    if not allpts:
        return f'<p class="muted">{e(title)}: no scores yet.</p>'
    d0, d1 = min(allpts), max(allpts)
    days = max((d1 - d0).days, 1)
    height = H + 12 + 16 * len(series)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" role="img">',
             f"<title>{e(title)}</title>", f'<text x="{PAD}" y="14" font-size="12">{e(title)}</text>']
    for k, (name, pts) in enumerate(sorted(series.items())):
        colour = COLOURS[k % len(COLOURS)]
        coords = " ".join(
            f"{PAD + (W - 2 * PAD) * (d - d0).days / days:.1f},{H - PAD - (H - 2 * PAD) * (v - lo) / (hi - lo):.1f}"
            for d, v in pts if v is not None)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{coords}"/>')
        parts.append(f'<text x="{PAD}" y="{H + 12 + 16 * k}" font-size="11" fill="{colour}">{e(name)}</text>')
    parts += [f'<text x="2" y="{PAD}" font-size="10">{e(_num(hi))}</text>',
              f'<text x="2" y="{H - PAD}" font-size="10">{e(_num(lo))}</text>',
              f'<text x="{PAD}" y="{H - 8}" font-size="10">{e(d0)}</text>',
              f'<text x="{W - PAD - 60}" y="{H - 8}" font-size="10">{e(d1)}</text>', "</svg>"]
    return "".join(parts)
