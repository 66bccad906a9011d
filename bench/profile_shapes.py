"""Table shapes for the profiling benchmark, and the cost of a profile against a full-scan floor.

``EVENTS16`` is the events table of issue #16, built outside the project's own shapes: 12
columns with md5 session ids (every value exactly 8 times), about 25 rows per user, product
ids spanning at most 50,000 integers, text queries, numeric prices with nulls, timestamps and
booleans. ``WIDE60`` (60 numeric columns) and ``TEXT_HEAVY`` (long free-text bodies, titles,
md5 ids, codes) are the issue's other two shapes. :func:`measure` times, on one table and interleaved (best of ``rounds``):

* floor A: one scan computing ``count(col)`` of every column plus ``sum(length(col))`` of the
  text columns (issue #16's floor);
* floor B: ``count``/``min``/``max`` of every column (the floor the project's bench used);
* the profile as it runs by default (richer metrics and the value-level PII scan);
* the same profile without the PII scan (``SqlTuning(pii_values=False)``), so the scan's own
  cost is the difference;
* two lower bounds, each a piece every such profile pays, timed alone: ``min``/``max`` of every
  column (two aggregates per column: on 60 numeric columns more than 3 floors A by itself), and
  the value-level PII screen's predicate over the text columns the profile screens value by value
  (a PostgreSQL regular expression costs several nanoseconds per byte; ``count(*) FILTER`` only,
  so less than the profile's own screen, which also collects the candidates).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from assay.classify.pii_scan import candidate_sql
from assay.profiling.sql import SqlTuning, profile_sql

Column = tuple[str, str, str]

#: issue #16's events shape: (name, SQL type, expression of g = 1..rows).
EVENTS16: tuple[Column, ...] = (
    ("event_id", "bigint", "g"),
    ("session_id", "text", "md5(((g - 1) / 8)::text)"),
    ("user_id", "integer", "((hashint8(g) & 2147483647) % greatest(1, {rows} / 25))::int"),
    ("product_id", "integer", "1 + (hashint8(g + 1) & 2147483647) % 50000"),
    (
        "query",
        "text",
        "(ARRAY['red','blue','cheap','large','wireless','organic','kids','vintage'])"
        "[1 + (hashint8(g + 2) & 2147483647) % 8] || ' ' || "
        "(ARRAY['shoes','lamp','sofa','phone case','jacket','kettle','desk','tent'])"
        "[1 + (hashint8(g + 3) & 2147483647) % 8] || ' ' || ((hashint8(g + 4) & 2147483647) % 5000)",
    ),
    (
        "price",
        "numeric(10,2)",
        "CASE WHEN (hashint8(g + 5) & 2147483647) % 8 = 0 THEN NULL "
        "ELSE ((hashint8(g + 6) & 2147483647) % 100000) / 100.0 END",
    ),
    ("qty", "smallint", "(1 + (hashint8(g + 7) & 2147483647) % 5)::smallint"),
    ("event_at", "timestamptz", "TIMESTAMPTZ '2026-11-01 00:00+00' + g * INTERVAL '100 milliseconds'"),
    ("clicked", "boolean", "(hashint8(g + 8) & 7) = 0"),
    ("is_mobile", "boolean", "(hashint8(g + 9) & 1) = 0"),
    (
        "referrer",
        "text",
        "CASE WHEN (hashint8(g + 10) & 2147483647) % 4 = 0 THEN NULL "
        "ELSE (ARRAY['google','direct','newsletter','partner'])[1 + (hashint8(g + 11) & 2147483647) % 4] END",
    ),
    ("score", "double precision", "((hashint8(g + 12) & 2147483647) % 1000000) / 1000.0"),
)

#: issue #16's wide numeric shape: 60 numeric columns (integers of several ranges, bigint ids,
#: reals, two-decimal amounts, a few with nulls), no text.
WIDE60: tuple[Column, ...] = tuple(
    (
        f"n{i:02d}",
        ("integer", "bigint", "double precision", "numeric(12,2)")[i % 4],
        (
            f"CASE WHEN (hashint8(g + {i}) & 2147483647) % 20 = 0 THEN NULL ELSE "
            if i % 5 == 0
            else "CASE WHEN false THEN NULL ELSE "
        )
        + (
            f"((hashint8(g + {100 + i}) & 2147483647) % {10 ** (1 + i % 7)})::int",
            f"g * {i + 1}",
            f"((hashint8(g + {100 + i}) & 2147483647) % 1000000) / 997.0",
            f"((hashint8(g + {100 + i}) & 2147483647) % 10000000) / 100.0",
        )[i % 4]
        + " END",
    )
    for i in range(60)
)

#: issue #16's text-heavy shape: long free-text bodies (~300-700 characters of words and
#: numbers), titles, md5 ids, short codes, and a few numbers.
TEXT_HEAVY: tuple[Column, ...] = (
    ("doc_id", "bigint", "g"),
    ("doc_key", "text", "md5(g::text)"),
    (
        "title",
        "text",
        "(ARRAY['Review of','Notes on','Report:','Question about','Update for'])"
        "[1 + (hashint8(g) & 2147483647) % 5] || ' ' || md5((g % 20000)::text)",
    ),
    (
        "body",
        "text",
        "repeat((ARRAY['the order arrived late but ','great value for money and ','item ',"
        "'colour differs from the picture, ','would buy again; '])[1 + (hashint8(g + 1) & 2147483647) % 5] "
        "|| ((hashint8(g + 2) & 2147483647) % 100000) || ' ', 2 + (hashint8(g + 3) & 2147483647) % 8) "
        "|| md5((g + 3)::text) || ' ' || md5((g + 4)::text)",
    ),
    (
        "summary",
        "text",
        "CASE WHEN (hashint8(g + 5) & 2147483647) % 10 = 0 THEN NULL ELSE "
        "left(md5((g + 6)::text) || ' ' || md5((g + 7)::text) || ' ' || md5((g + 8)::text), "
        "20 + (hashint8(g + 9) & 2147483647) % 80) END",
    ),
    ("lang", "text", "(ARRAY['en','de','fr','nl'])[1 + (hashint8(g + 10) & 2147483647) % 4]"),
    ("sku", "text", "'SKU-' || lpad(((hashint8(g + 11) & 2147483647) % 100000)::text, 6, '0')"),
    ("rating", "smallint", "(1 + (hashint8(g + 12) & 2147483647) % 5)::smallint"),
    ("created_at", "timestamptz", "TIMESTAMPTZ '2026-01-01 00:00+00' + g * INTERVAL '1 second'"),
)


def build(eng: Engine, table: str, columns: Sequence[Column], rows: int, **fmt: str) -> float:
    """Create and fill ``table`` from ``columns`` (``{rows}`` and ``fmt`` formatted in), analyzed."""
    started = time.perf_counter()
    defs = ", ".join(f"{name} {sqltype}" for name, sqltype, _ in columns)
    with eng.begin() as c:
        c.execute(text(f"CREATE TABLE {table} ({defs})"))
    extend(eng, table, columns, 0, rows, **fmt)
    return time.perf_counter() - started


def extend(eng: Engine, table: str, columns: Sequence[Column], rows: int, to_rows: int, **fmt: str) -> float:
    """Grow ``table`` from ``rows`` to ``to_rows`` rows (g = rows + 1 .. to_rows), then ``VACUUM ANALYZE``.

    ``g`` is a bigint (wide60's ``g * 60`` passes the int range at 36M rows). ``{rows}`` is formatted as ``to_rows``: the new rows are drawn as a table of that size would
    be (events16's users: about 25 rows each at every size, the earlier users denser).
    """
    started = time.perf_counter()
    exprs = ", ".join(expr.format(rows=to_rows, **fmt) for _, _, expr in columns)
    with eng.begin() as c:
        c.execute(
            text(
                f"INSERT INTO {table} SELECT {exprs} FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g"
            ),
            {"lo": rows + 1, "hi": to_rows},
        )
    with eng.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


def floor_a_sql(table: str, columns: Sequence[Column]) -> str:
    """issue #16's floor: ``count(col)`` of every column, ``sum(length(col))`` of the text ones."""
    parts = ["count(*)"]
    for name, sqltype, _ in columns:
        parts.append(f"count({name})")
        if sqltype == "text":
            parts.append(f"sum(length({name}))")
    return f"SELECT {', '.join(parts)} FROM {table}"


def floor_b_sql(table: str, columns: Sequence[Column]) -> str:
    """count/min/max of every column (booleans: bool_and/bool_or)."""
    parts = ["count(*)"] + [f"count({name}), {_extremes(name, sqltype)}" for name, sqltype, _ in columns]
    return f"SELECT {', '.join(parts)} FROM {table}"


def _extremes(name: str, sqltype: str) -> str:
    """A column's least and greatest value (booleans: ``bool_and``/``bool_or``)."""
    return f"bool_and({name}), bool_or({name})" if sqltype == "boolean" else f"min({name}), max({name})"


def minmax_sql(table: str, columns: Sequence[Column]) -> str:
    """min/max of every column (booleans: bool_and/bool_or) and nothing else: two aggregates per column."""
    parts = ["count(*)"] + [_extremes(name, sqltype) for name, sqltype, _ in columns]
    return f"SELECT {', '.join(parts)} FROM {table}"


def screen_sql(table: str, names: Sequence[str]) -> str:
    """The value-level PII screen alone: how many values of each column are candidates (nothing collected).

    The profile's own screen aggregates the candidates' records too, so this is less than it pays.
    """
    parts = ["count(*)"] + [f"count(*) FILTER (WHERE {candidate_sql(n)})" for n in names]
    return f"SELECT {', '.join(parts)} FROM {table}"


def screened_per_value(
    columns: Sequence[Column], key_sets: Sequence[Sequence[str]] | None
) -> tuple[str, ...]:
    """The text columns the profile screens value by value: those that are no GROUP BY key.

    A key column's values are screened once per distinct value (docs/profiling.md, *PII*).
    """
    keys = {name for key_set in key_sets or () for name in key_set}
    return tuple(name for name, sqltype, _ in columns if sqltype == "text" and name not in keys)


@dataclass(frozen=True)
class Cost:
    """Best-of-rounds timings of one table, and the profile the last round produced."""

    table: str
    rows: int
    columns: int
    floor_a: float
    floor_b: float
    profile: float
    without_pii: float
    result: Any
    #: lower bounds: min/max of every column alone; the PII screen alone over ``screened``
    minmax: float = 0.0
    screen: float = 0.0
    screened: tuple[str, ...] = ()

    @property
    def ratio_a(self) -> float:
        return self.profile / self.floor_a

    @property
    def ratio_b(self) -> float:
        return self.profile / self.floor_b

    @property
    def pii_share(self) -> float:
        """The PII scan's cost in floors A (profile minus the profile without it)."""
        return (self.profile - self.without_pii) / self.floor_a


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def measure(eng: Engine, table: str, columns: Sequence[Column], rounds: int) -> Cost:
    """Floors A and B, the default profile and the profile without the PII scan, interleaved."""

    def run(sql: str) -> Any:
        with eng.connect() as c:
            return c.execute(text(sql)).all()

    times: dict[str, list[float]] = {"a": [], "b": [], "p": [], "n": [], "m": [], "s": []}
    result = None
    screened: tuple[str, ...] = ()
    no_pii = SqlTuning(pii_values=False)
    for _ in range(rounds):
        times["a"].append(_timed(lambda: run(floor_a_sql(table, columns)))[0])
        elapsed, result = _timed(lambda: profile_sql(eng, table, "public", None, None))
        times["p"].append(elapsed)
        times["b"].append(_timed(lambda: run(floor_b_sql(table, columns)))[0])
        times["n"].append(_timed(lambda: profile_sql(eng, table, "public", None, None, tuning=no_pii))[0])
        times["m"].append(_timed(lambda: run(minmax_sql(table, columns)))[0])
        screened = screened_per_value(columns, result.stats.get("key_sets"))
        if screened:
            times["s"].append(_timed(functools.partial(run, screen_sql(table, screened)))[0])
    assert result is not None
    return Cost(
        table,
        result.row_count,
        len(columns),
        min(times["a"]),
        min(times["b"]),
        min(times["p"]),
        min(times["n"]),
        result,
        min(times["m"]),
        min(times["s"], default=0.0),
        screened,
    )


def report(cost: Cost, target: float, rss_mb: float) -> list[str]:
    """The lines the benchmark prints for one table."""
    stats = cost.result.stats
    lines = [
        f"{cost.table}: {cost.rows:,} rows x {cost.columns} columns; plan {stats.get('plan')}, "
        f"{stats.get('statements')} statements (probe included), key sets {stats.get('key_sets')}",
        f"  floor A (count per column + sum(length) of text)  {cost.floor_a:8.2f} s",
        f"  floor B (count/min/max of every column)           {cost.floor_b:8.2f} s",
        f"  profile (richer metrics + PII scan)               {cost.profile:8.2f} s   "
        f"{cost.ratio_a:5.2f} x A (target <= {target} x), {cost.ratio_b:5.2f} x B",
        f"  profile without the PII scan                      {cost.without_pii:8.2f} s   "
        f"{cost.without_pii / cost.floor_a:5.2f} x A; the scan itself {cost.pii_share:+.2f} x A",
        "  lower bounds in PostgreSQL (pieces no such profile can skip, each timed alone):",
        f"    min/max of every column                         {cost.minmax:8.2f} s   "
        f"{cost.minmax / cost.floor_a:5.2f} x A",
        f"    PII screen of the per-value text columns ({len(cost.screened)}) {cost.screen:8.2f} s   "
        f"{cost.screen / cost.floor_a:5.2f} x A  ({', '.join(cost.screened) or 'none'})",
        f"  peak RSS of this process so far                   {rss_mb:8.1f} MB",
    ]
    cols = cost.result.columns
    for name in ("session_id", "product_id", "user_id"):
        m = cols.get(name)
        if m is None:
            continue
        tops = ", ".join(f"{t['value'][:12]}={t['count']}" for t in m["top_values"][:3]) or "none listed"
        lines.append(
            f"    {name:11s} distinct {m['distinct']:>10,} ({m['distinct_method']}, error "
            f"{m['distinct_error']:.2%}{', bound ' + m['distinct_bound'] if m.get('distinct_bound') else ''}); "
            f"top values {tops} ({m.get('top_values_method')}); {m.get('top_values_note') or ''}"
        )
    return lines


def growth_reading(eng: Engine, database: str, table: str, columns: Sequence[Column], rounds: int) -> Any:
    """One :class:`bench.growth.Reading` of ``table``: floor A and the default profile, interleaved.

    Best of ``rounds`` each; this process's peak RSS and the backends' peak private memory over
    the reading; the table's size (``pg_total_relation_size``) and the temporary files the
    server wrote (``pg_stat_database.temp_bytes``, read after the pool's backends exited and
    flushed their statistics) as extras.
    """
    from bench import growth

    def run(sql: str) -> Any:
        with eng.connect() as c:
            return c.execute(text(sql)).all()

    def stats() -> tuple[int, int]:
        eng.dispose()  # backends flush their statistics when they exit
        time.sleep(0.5)
        with eng.connect() as c:
            temp = c.execute(
                text("SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()")
            ).scalar_one()
            pid = c.execute(text("SELECT pg_backend_pid()")).scalar_one()
        return int(temp), int(pid)

    temp_before, pid = stats()
    start_load = growth.loadavg()
    rows = run(f"SELECT count(*) FROM {table}")[0][0]
    size = run(f"SELECT pg_total_relation_size('{table}')")[0][0]
    with growth.peak_rss() as rss, growth.BackendMemory(pid, database) as backends:
        floor_s, profile_s = growth.interleaved(
            rounds,
            lambda: run(floor_a_sql(table, columns)),
            lambda: profile_sql(eng, table, "public", None, None),
        )
    temp_after, _ = stats()
    return growth.Reading(
        rows=rows,
        seconds=profile_s,
        floor_seconds=floor_s,
        rss_mb=rss[0],
        backend_mb=backends.peak_mb,
        load=f"{start_load} -> {growth.loadavg()}",
        extra={"table MB": size / 2**20, "temp files MB": (temp_after - temp_before) / 2**20},
    )
