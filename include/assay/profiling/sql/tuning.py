"""The SQL profiler's knobs (:class:`SqlTuning`): sample sizes, hash budgets and session settings.

Kept apart from :mod:`~assay.profiling.sql.plan`, which reads them; the defaults are what users get.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SqlTuning:
    """Knobs of the SQL profiler. The defaults keep every column's error near 1 % and memory bounded.

    Attributes:
        sample_rows: rows in the row sample (quantiles, histograms, top values of hashed columns).
            A partition of at most this many rows is profiled exactly.
        sample_values_max: cap on rows x sampled columns, so wide tables sample fewer rows.
        distinct_sample: distinct hashes the threshold estimator aims to keep (error ~ 1/sqrt).
        distinct_min_sample: below this many expected hashes a column is grouped exactly instead.
        hashes_per_column: most hashes one column may collect (its share of the memory, any plan).
        distinct_floor: fewest distinct hashes the guard after the statement accepts from a
            column whose share ``hashes_per_column`` capped (see :func:`assign`): error <= 10 %.
        hashes_total: most hashes all columns together may collect.
        joint_groups_max: largest expected group count of one joint GROUP BY key set.
        key_sets_max: most GROUP BY key sets (each set repeats the collected arrays).
        work_mem: PostgreSQL ``work_mem`` for the profiling transaction (``SET LOCAL``): the
            collected hashes and the sample must fit, or the aggregate spills to disk.
        hash_mem_multiplier: PostgreSQL ``hash_mem_multiplier`` for the transaction (see
            :func:`~assay.profiling.sql.execute.profile_sql`: the planner overestimates the
            per-group array states 100-fold, so the hash aggregate's limit is lifted; the budgets
            above bound the real memory).
        estimate_group_max: in a plan made from the table's statistics (no stats statement),
            the largest ``pg_stats`` distinct estimate for which a column may become a GROUP BY
            key; above it the column is hashed (a mid-cardinality estimate from ANALYZE's 30k-row
            sample can be several times too low, and a GROUP BY key that is really 50x larger
            multiplies the groups and their arrays).
        single_groups_max: a plan from statistics whose GROUP BY expects more groups than this
            runs its one statement without GROUP BY and counts the key columns' values in a
            second (see :func:`estimated_plan`: per-group statistics cost a cache miss per
            aggregate and row once the groups are many).
        single_statement: plan from the bounded probe or the table's statistics and read the
            partition once; ``False`` forces the two-statement plan (stats, then shape).
        exact_distinct_rows: a column with at most this many non-null values keeps every
            hash: its distinct count is exact (64-bit hashes) and its top values are counted
            from all of them; while the partition's exact columns keep at most
            ``exact_hashes_total`` hashes together (further columns, in column order, are
            estimated with their stated error).
        exact_hashes_total: most hashes the exact columns keep together (8 bytes each in the
            server while the scan runs: 16M is 128 MB, every column of a 16-column table of
            1M rows).
        pii_values: screen every text value for PII (e-mail, phone, card, IBAN, IP) in the
            scan (see :mod:`assay.classify.pii_scan`); columns classified PII are not screened.
    """

    sample_rows: int = 20_000
    sample_values_max: int = 2_000_000
    distinct_sample: int = 16_384
    distinct_min_sample: int = 1_600
    hashes_per_column: int = 262_144
    distinct_floor: int = 100
    hashes_total: int = 8_000_000
    joint_groups_max: int = 65_536
    key_sets_max: int = 4
    work_mem: str = "64MB"
    hash_mem_multiplier: float = 1000.0
    estimate_group_max: int = 1_000
    single_groups_max: int = 256
    single_statement: bool = True
    exact_distinct_rows: int = 1_000_000
    exact_hashes_total: int = 16_000_000
    pii_values: bool = True


DEFAULT_TUNING = SqlTuning()

__all__ = ["DEFAULT_TUNING", "SqlTuning"]
