"""Server-side SVG charts: bounds drawn as a band, anomalies marked, labels escaped (no database)."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

from assay.steward.web import svg
from assay.steward.web.html import STYLE, STYLE_HASH, e, page, t

D0 = dt.date(2026, 11, 1)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def tags(html: str) -> list[tuple[str, dict]]:
    p = _Tags()
    p.feed(html)
    return p.tags


def test_a_series_has_its_band_and_its_anomalies_marked():
    pts = [svg.Point(D0 + dt.timedelta(days=i), 0.01 * i, 0.0, 0.1) for i in range(9)]
    pts.append(svg.Point(D0 + dt.timedelta(days=9), 0.5, 0.0, 0.1, anomaly=True))
    found = tags(svg.series_chart("<b>col</b>: null_ratio", pts))
    assert [t for t, _ in found].count("rect") == 10  # one band slice per day with bounds
    circles = [a for t, a in found if t == "circle"]
    assert len(circles) == 1 and circles[0]["fill"] == "#d62728"
    assert not any(t == "b" for t, _ in found)  # the label stayed text


def test_a_series_without_values_says_so():
    assert "no values" in svg.series_chart("x", [svg.Point(D0, None)])


def test_the_calendar_colours_each_cell_and_escapes_names():
    days = [D0, D0 + dt.timedelta(days=1)]
    html = svg.calendar(["src.<script>x</script>"], days, {("src.<script>x</script>", D0): "fail"})
    found = tags(html)
    fills = [a["fill"] for t, a in found if t == "rect"]
    assert fills == [svg.CELL["fail"], svg.CELL["none"]]
    assert "script" not in [t for t, _ in found]


def test_the_scorecard_draws_one_line_per_dimension():
    html = svg.lines("score", {"validity": [(D0, 0.9), (D0 + dt.timedelta(days=1), 0.8)],
                               "completeness": [(D0, 1.0)]})
    assert [t for t, _ in tags(html)].count("polyline") == 2


def test_values_are_escaped_once_and_free_text_is_screened():
    assert e('<a href="x">&amp;</a>') == "&lt;a href=&quot;x&quot;&gt;&amp;amp;&lt;/a&gt;"
    assert "jane.doe@example.org" not in t("mail jane.doe@example.org today")
    doc = page("T<i>", "<p>body</p>", user="<u>", base="/assay/")
    assert "<i>" not in doc and "<u>" not in doc and f"<style>{STYLE}</style>" in doc
    assert STYLE_HASH.startswith("'sha256-")
