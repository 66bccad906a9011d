"""What the value-level PII scan's SQL candidates cost per column, and what they send to Python.

The profile screens every text value not classified PII (:mod:`assay.classify.pii_scan`): a value
goes to Python only when :func:`~assay.classify.pii_scan.candidate_sql` accepts it. This bench
builds one table of column shapes seen in real sources (md5 ids, short queries, ``evt-`` and
``ORD-2024-`` identifiers, timestamps stored as text, long free-text bodies, and a notes column
where 1 % of the values hold a phone number) and prints, per column, best of ``--rounds``:

* the scan floor: ``count(col)``;
* the candidate predicate (what the profile evaluates per value), as a multiple of the floor;
* the digit rules' full pattern alone and the small gate alone (why the gate comes first:
  PostgreSQL builds a pattern's DFA states again for every value);
* how many values are candidates, i.e. travel to Python.

Judged: no value of the identifier, md5, timestamp, query or body columns is a candidate (what
travels is bounded by what could be PII, not by the column's size); the phone notes' are found.
Exit 1 on a miss. Default 1,000,000 rows; the box's load is printed.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from assay.classify.pii_scan import DIGITS_CANDIDATE, DIGITS_GATE, _literal, candidate_sql
from bench.growth import loadavg
from bench.profile_bench import _admin, _autocommit

#: (column, SQL expression of g, whether its candidates must be none)
SHAPES: tuple[tuple[str, str, bool], ...] = (
    ("md5_id", "md5(g::text)", True),
    ("query", "(ARRAY['red','blue','cheap','large'])[1 + (hashint8(g) & 3)] || ' shoes ' || (hashint8(g + 1) & 4095)", True),
    ("evt_id", "'evt-' || (1000000 + g)", True),
    ("order_no", "'ORD-2024-' || lpad((g % 1000000)::text, 6, '0')", True),
    ("text_ts", "(TIMESTAMPTZ '2026-01-01 00:00+00' + g * INTERVAL '7.123457 seconds')::text", True),
    (
        "body",
        "repeat((ARRAY['the order arrived late but ','great value for money and ','item ',"
        "'colour differs from the picture, '])[1 + (hashint8(g + 2) & 3)] || (hashint8(g + 3) & 65535) || ' ', "
        "2 + (hashint8(g + 4) & 7)::int) || md5(g::text)",
        True,
    ),
    (
        "notes",
        "CASE WHEN g % 100 = 0 THEN 'call me on +44 20 7946 ' || lpad((g % 10000)::text, 4, '0') "
        "ELSE 'delivered to door ' || (g % 97) END",
        False,
    ),
)


def _best(eng: Engine, sql: str, rounds: int) -> tuple[float, int]:
    best, value = float("inf"), 0
    with eng.connect() as c:
        for _ in range(rounds):
            started = time.perf_counter()
            value = int(c.execute(text(sql)).scalar() or 0)
            best = min(best, time.perf_counter() - started)
    return best, value


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the table (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=2, help="best of this many runs per figure (default 2)")
    parser.add_argument("--server-url", default=None, help="a PostgreSQL server (default: the embedded one)")
    args = parser.parse_args(argv)
    admin = _admin(args.server_url)
    name = f"assay_pii_bench_{uuid.uuid4().hex[:8]}"
    _autocommit(admin, f'CREATE DATABASE "{name}"')
    eng = create_engine(make_url(admin).set(database=name).render_as_string(hide_password=False))
    missed: list[str] = []
    try:
        print(f"load average: {loadavg()}; building {args.rows:,} rows ...", flush=True)
        cols = ", ".join(f"{expr} AS {col}" for col, expr, _ in SHAPES)
        with eng.begin() as c:
            c.execute(text(f"CREATE TABLE pii_bench AS SELECT {cols} FROM generate_series(1, :n) g"), {"n": args.rows})
        with eng.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE pii_bench")
        print(f"{'column':10s} {'count':>8s} {'candidate':>18s} {'full digit pattern':>20s} {'gate':>16s}"
              f" {'candidates':>11s}")
        for col, _, none_expected in SHAPES:
            floor, _ = _best(eng, f"SELECT count({col}) FROM pii_bench", args.rounds)
            cand, sent = _best(eng, f"SELECT count(*) FILTER (WHERE {candidate_sql(col)}) FROM pii_bench", args.rounds)
            full, _ = _best(eng, f"SELECT count(*) FILTER (WHERE {col} ~ {_literal(DIGITS_CANDIDATE)}) FROM pii_bench",
                            args.rounds)
            gate, _ = _best(eng, f"SELECT count(*) FILTER (WHERE {col} ~ {_literal(DIGITS_GATE)}) FROM pii_bench",
                            args.rounds)
            print(f"{col:10s} {floor:7.2f}s {cand:7.2f}s {cand / floor:6.1f} x {full:9.2f}s {full / floor:6.1f} x"
                  f" {gate:7.2f}s {gate / floor:5.1f} x {sent:11,}", flush=True)
            if none_expected and sent:
                missed.append(f"{col}: {sent:,} values sent to Python")
            if not none_expected and not sent:
                missed.append(f"{col}: no candidate found")
        print(f"load average at the end: {loadavg()}")
    finally:
        eng.dispose()
        _autocommit(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if missed:
        print("missed: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
