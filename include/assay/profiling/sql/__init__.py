"""Profiling one partition of a SQL table by pushdown: one or two full scans, whatever the column count.

A bounded probe first counts the partition's rows up to the row-sample size. A partition that
fits the sample is read by **one statement** that collects every value and computes every figure
exactly. A larger partition of a table with statistics is planned from them (the planner's row
estimate and ``pg_stats``) and read by one statement too, plus a ``GROUP BY``-keys ``count(*)``
when its exact value counts need many groups. Otherwise (a view, a table never analyzed, an
estimate found wrong) the partition is read by the two statements below, the first of which
exists to plan the second; the one statement is statement 2 with statement 1's aggregates added.
See :mod:`assay.profiling.sql.execute` and docs/profiling.md.

Statement 1 (**stats**) is one plain aggregate over the partition, parallel-safe, so PostgreSQL
runs it with parallel workers like any ``count(*)``: per column ``count``, ``min``, ``max``,
``avg``/``stddev_samp`` (numbers), text lengths, the true count (booleans),
and ``min``/``max`` of a 64-bit hash of the value (a two-order-statistic KMV sketch, the crude
distinct estimate that plans statement 2).

Statement 2 (**shape**) reads the partition once more and answers everything that needs the
figures of statement 1 (the row count, the min/max, the crude distinct estimate):

* a partition no larger than the row sample target is collected whole, one typed array per
  column, and every figure is computed exactly from those values;
* otherwise each column whose values repeat a lot (distinct estimate small against its row count)
  becomes a grouping key; keys are packed into as few joint ``GROUP BY`` sets as the expected
  group count allows (usually one, which keeps the aggregate parallel), and give exact distinct
  counts and top values;
* every other column collects the hashes below a threshold ``t`` (``array_agg(h) FILTER (WHERE
  h <= t)``): the distinct hashes below ``t``, divided by the hash-space fraction ``p`` under it,
  estimate the distinct count with a relative standard error of ``sqrt((1 - p) / k)`` for ``k``
  hashes kept (the "threshold" or "adaptive" sampling estimator). ``p`` is chosen so that about
  16k distinct hashes are kept, and capped so that no column collects more than a fixed number
  of hashes; with ``p = 1`` the count is exact;
* a deterministic row sample (rows whose ``ctid`` hash is below a threshold: the same rows on
  every rerun of an unchanged table), one typed array per column, feeds the quantiles, the
  histogram (edges from the exact min/max of statement 1) and the top values of hashed columns.

The small result sets (top 10 per column, 7 quantiles, 20 buckets, distinct counts) are computed
in the same statement from the aggregated arrays, so only a few kilobytes cross the network.
Both statements run in one REPEATABLE READ, READ ONLY transaction: statement 2 sees the rows
statement 1 counted.

Why not the textbook plan (``percentile_cont`` and ``count(DISTINCT)`` over the partition,
``GROUPING SETS`` over every column for top values): each of those sorts or hashes every value of
every column, single-threaded; measured on 5M rows here, one ``count(DISTINCT)`` or one
``percentile_cont`` costs more than the whole ``count/min/max`` floor over 14 columns. See
docs/profiling.md for the measurements and the error bounds.

Identifiers reach SQL only through :func:`~assay.profiling.sql.plan.quote_identifier` (so ``a"b``,
``my col``, ``größe``, ``50% off`` and ``x; DROP TABLE y--`` are ordinary names) and values only as bound parameters;
the literals written into the statements are numbers this module computes.

The package is a pipeline of small pure steps passing frozen values:

=============  =================================================================================
``plan``       figures (probe count, planner estimate, ``pg_stats``, statement 1) -> a frozen
               :class:`~assay.profiling.sql.plan.Plan`: statement shape, each column's path
               (exact or approximate), the row sample, the fallback reason
``fragments``  per-column SQL: hashes, GROUP BY keys, statement 1's aggregates, the predicate
``generate``   plan -> statements (pure, no connection; unit-tested without PostgreSQL)
``execute``    the only step with a connection: reflection, probe, ``pg_stats``, the statements
               and the fallbacks
``decode``     result rows -> figures on a new plan, and a finished plan -> metric values
=============  =================================================================================
"""

from __future__ import annotations

from assay.profiling.sql.decode import PartitionProfile
from assay.profiling.sql.execute import profile_sql, profile_sql_partition
from assay.profiling.sql.plan import SqlColumn, kind_of
from assay.profiling.sql.tuning import DEFAULT_TUNING, SqlTuning

__all__ = [
    "DEFAULT_TUNING",
    "PartitionProfile",
    "SqlColumn",
    "SqlTuning",
    "kind_of",
    "profile_sql",
    "profile_sql_partition",
]
