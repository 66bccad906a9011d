"""A SQL partition validated in one scan: the metrics GX asks for, read by one statement, judged by GX.

GX 1.24 validating a table partition runs one statement per metric family -- the row count, the
bundled aggregates, a ``LIMIT 20`` query per map expectation for its failing values (a full scan
when nothing fails), a window-function sort for uniqueness, the ``{batch}`` query twice -- and
pays 0.3-0.7 s of Python per validation to build its metric graph. On the common path (nothing to
show because nothing failed) all of that reduces to one aggregate statement:

* every metric an expectation of :data:`SUPPORTED` needs is a column of **one** ``SELECT`` over
  the partition (``sum(CASE ...)`` for unexpected counts, written as GX writes them, ``count(*)``,
  ``max``/``min``/``avg(1.0 * col)``; uniqueness as ``count(col) = count(DISTINCT col)``);
  an ``unexpected_rows_expectation`` adds one ``count(*)`` of its query, ``{batch}`` substituted by
  GX's own code;
* the values go through GX's ``convert_to_json_serializable`` (as its metric bundles do), and each
  expectation's **own** ``_validate`` turns them into the result, so success, observed values,
  unexpected counts and the result's shape are GX's;
* the suite result is assembled as GX's ``ValidationDefinition.run`` assembles it (statistics,
  meta with batch spec, markers and batch definition, the same store key).

Whenever a failing value would have to be shown (a map expectation's unexpected count above zero,
duplicate values, rows returned by an ``unexpected_rows_query``), an expectation type or argument
is not in :data:`SUPPORTED`, the statement raises, or ``COMPLETE`` is asked for (its row-id
queries), :func:`validate` returns ``None`` and the caller runs GX itself, so failing values,
masked examples and error messages are exactly GX's.
``tests/quality_cost/test_one_scan_equivalence.py`` runs both paths over the demo's suites.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: Expectation type -> the map metric GX computes for it (``None``: an aggregate or table metric).
MAP_METRICS: dict[str, str] = {
    "expect_column_values_to_not_be_null": "column_values.nonnull",
    "expect_column_values_to_be_unique": "column_values.unique",
    "expect_column_values_to_be_in_set": "column_values.in_set",
    "expect_column_values_to_match_regex": "column_values.match_regex",
    "expect_column_values_to_be_between": "column_values.between",
    "expect_column_value_lengths_to_be_between": "column_values.value_length.between",
}
AGGREGATES: dict[str, str] = {
    "expect_column_max_to_be_between": "column.max",
    "expect_column_min_to_be_between": "column.min",
    "expect_column_mean_to_be_between": "column.mean",
}
#: kwargs each supported type may carry (anything else -- row_condition, parse_strings_as_datetimes,
#: a result_format of its own -- goes through GX).
_COMMON = {"batch_id", "column", "mostly"}
_KWARGS: dict[str, set[str]] = {
    "expect_table_row_count_to_be_between": {"batch_id", "min_value", "max_value", "strict_min", "strict_max"},
    "expect_column_values_to_not_be_null": _COMMON,
    "expect_column_values_to_be_unique": _COMMON,
    "expect_column_values_to_be_in_set": _COMMON | {"value_set"},
    "expect_column_values_to_match_regex": _COMMON | {"regex"},
    "expect_column_values_to_be_between": _COMMON | {"min_value", "max_value", "strict_min", "strict_max"},
    "expect_column_value_lengths_to_be_between": _COMMON | {"min_value", "max_value", "strict_min", "strict_max"},
    **{t: {"batch_id", "column", "min_value", "max_value", "strict_min", "strict_max"} for t in AGGREGATES},
    "unexpected_rows_expectation": {"batch_id", "unexpected_rows_query"},
}
SUPPORTED: frozenset[str] = frozenset(_KWARGS)
#: Result formats whose passing results this path renders (COMPLETE adds row-id queries: GX).
FORMATS: frozenset[str] = frozenset({"BOOLEAN_ONLY", "BASIC", "SUMMARY"})


def quoted(name: str) -> Any:
    """An identifier SQLAlchemy (and GX's table asset) always quotes, whatever its characters.

    GX 1.24 gives a table asset's plain string name ``quote=False`` (``My Table`` and ``a"b``
    reached PostgreSQL unquoted) and lower-cases a plain schema name; a ``quoted_name`` with
    ``quote=True`` is kept as it is by both.
    """
    from sqlalchemy import quoted_name

    return quoted_name(name, quote=True)


class NeedsGx(Exception):
    """This partition goes through GX: the reason is the message (logged at debug level)."""


@dataclass(frozen=True)
class Relation:
    """What is validated: a table, or the rows of one partition value of it."""

    schema: str
    table: str
    partition_column: str | None = None
    partition_value: str | None = None

    def table_clause(self) -> Any:
        import sqlalchemy as sa

        return sa.table(quoted(self.table), schema=quoted(self.schema))

    def select(self) -> Any:
        """The rows as GX's batch selects them: ``SELECT * FROM table WHERE column = '<value>'`` (``WHERE true``)."""
        import sqlalchemy as sa

        # A bound value (a quoted literal to PostgreSQL, as in the query asset's text): the statement's
        # shape is then the same every day and SQLAlchemy compiles it once.
        where = (sa.true() if self.partition_column is None else
                 sa.column(quoted(self.partition_column)) == sa.bindparam("partition", self.partition_value,
                                                                          type_=sa.String))
        return sa.select(sa.literal_column("*")).select_from(self.table_clause()).where(where)

    def from_clause(self, alias: str | None = None) -> Any:
        """What an aggregate reads: the table (aliased when ``alias`` is given), or the partition's rows aliased."""
        if self.partition_column is None:
            return self.table_clause() if alias is None else self.table_clause().alias(alias)
        return self.select().subquery(alias or "b")


def _unexpected(condition: Any) -> Any:
    """GX's unexpected count of a map metric: ``sum(CASE WHEN <unexpected> THEN 1 ELSE 0 END)``."""
    import sqlalchemy as sa

    return sa.func.sum(sa.case((condition, 1), else_=0))


def _number(value: Any, what: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NeedsGx(f"{what} {value!r} is not a number")
    return value


def _bound(value: Any, what: str) -> Any:
    """A comparison bound this path binds as GX does: numbers, dates and datetimes."""
    if value is None or isinstance(value, dt.date):
        return value
    return _number(value, what)


def _between(expr: Any, kwargs: dict[str, Any], bound: Callable[[Any, str], Any]) -> Any:
    """GX's ``between`` condition (the values that are expected), None bounds left out."""
    import sqlalchemy as sa

    low, high = bound(kwargs.get("min_value"), "min_value"), bound(kwargs.get("max_value"), "max_value")
    if low is None and high is None:
        raise NeedsGx("min_value and max_value are both missing")
    if low is not None and high is not None and low > high:
        raise NeedsGx("min_value is above max_value")
    parts = []
    if low is not None:
        parts.append(expr > sa.literal(low) if kwargs.get("strict_min") else expr >= sa.literal(low))
    if high is not None:
        parts.append(expr < sa.literal(high) if kwargs.get("strict_max") else expr <= sa.literal(high))
    return parts[0] if len(parts) == 1 else sa.and_(*parts)


class _Statement:
    """The one aggregate statement: labelled expressions, each added once."""

    def __init__(self, relation: Relation) -> None:
        self.relation = relation
        self.columns: dict[str, Any] = {}

    def add_distinct(self, column: str) -> str:
        """``count(DISTINCT column)`` as a scalar subquery of its own.

        Inside the main aggregate, PostgreSQL sorts every row it reads (all the columns the other
        aggregates need) for one DISTINCT; a subquery sorts that one column: on a 400k-row day
        0.82 s became 0.46 s for the bench's suite, a second read of the rows included.
        """
        import sqlalchemy as sa

        n = sum(1 for key in self.columns if key.startswith("distinct "))
        sub = sa.select(sa.func.count(sa.distinct(sa.column(quoted(column))))).select_from(
            self.relation.from_clause(f"d{n}")).scalar_subquery()
        key = f"distinct {column}"
        if key not in self.columns:
            self.columns[key] = sub.label(f"m{len(self.columns)}")
        return str(self.columns[key].name)

    def add(self, key: str, expr: Any) -> str:
        """The label of ``expr``; an expression of the same ``key`` (what it computes) is added once."""
        if key not in self.columns:
            self.columns[key] = expr.label(f"m{len(self.columns)}")
        return str(self.columns[key].name)

    def select(self, relation: Any) -> Any:
        import sqlalchemy as sa

        return sa.select(*self.columns.values()).select_from(relation)


def _expected(kind: str, col: Any, kwargs: dict[str, Any]) -> Any:
    """The condition GX writes for the values a map expectation expects (its unexpected: NOT this)."""
    import sqlalchemy as sa

    if kind == "expect_column_values_to_be_in_set":
        values = kwargs.get("value_set")
        if not isinstance(values, list) or not values or not all(
            isinstance(v, str) or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values
        ):
            raise NeedsGx("value_set is not a list of strings or numbers")
        return col.in_(values)
    if kind == "expect_column_values_to_match_regex":
        regex = kwargs.get("regex")
        if not isinstance(regex, str):
            raise NeedsGx("regex is not text")
        return col.regexp_match(regex)
    if kind == "expect_column_values_to_be_between":
        return _between(col, kwargs, _bound)
    return _between(sa.func.length(col), kwargs, _number)


def _plan(config: Any, stmt: _Statement) -> Callable[[dict[str, Any], dict[str, int]], dict[str, Any]]:
    """Add the expressions one expectation needs; return how to read its GX metrics from the row."""
    import sqlalchemy as sa

    kind = config.type
    kwargs = dict(config.kwargs)
    if kind not in SUPPORTED:
        raise NeedsGx(f"{kind} is not computed in the scan")
    extra = set(kwargs) - _KWARGS[kind]
    if extra:
        raise NeedsGx(f"{kind} with {', '.join(sorted(extra))}")
    rows = stmt.add("count(*)", sa.func.count())
    if kind == "expect_table_row_count_to_be_between":
        return lambda row, _: {"table.row_count": row[rows]}
    if kind == "unexpected_rows_expectation":
        query = kwargs.get("unexpected_rows_query")
        if not isinstance(query, str):
            raise NeedsGx("unexpected_rows_query is not text")
        return lambda row, counts: {"unexpected_rows_query.table": [],
                                    "unexpected_rows_query.row_count": counts[query]}
    column = kwargs.get("column")
    if not isinstance(column, str):
        raise NeedsGx(f"{kind} without a column name")
    col: Any = sa.column(quoted(column))
    if kind in AGGREGATES:
        name = AGGREGATES[kind]
        # the partials GX's column.max / column.min / column.mean providers return
        aggregate = sa.func.max(col) if name == "column.max" else sa.func.min(col) if name == "column.min" else (
            sa.func.avg(1.0 * col))
        value = stmt.add(f"{name} {column}", aggregate)
        return lambda row, _: {AGGREGATES[kind]: row[value]}
    metric = MAP_METRICS[kind]
    nulls = stmt.add(f"nulls {column}", _unexpected(col.is_(None)))
    if kind == "expect_column_values_to_be_unique":
        filled, distinct = stmt.add(f"count {column}", sa.func.count(col)), stmt.add_distinct(column)

        def unique(row: dict[str, Any]) -> int | None:
            if row[filled] != row[distinct]:
                raise NeedsGx(f"duplicate values in {column}")
            return 0

        count: Callable[[dict[str, Any]], Any] = unique
    elif kind == "expect_column_values_to_not_be_null":
        count = lambda row: row[nulls]  # noqa: E731 - the same sum GX runs
    else:
        label = stmt.add(f"unexpected {len(stmt.columns)}",  # one per expectation: no two are merged
                         _unexpected(sa.and_(col.is_not(None), sa.not_(_expected(kind, col, kwargs)))))
        count = lambda row: row[label]  # noqa: E731

    def read(row: dict[str, Any], _: dict[str, int]) -> dict[str, Any]:
        unexpected = count(row)
        if unexpected:
            raise NeedsGx(f"{kind} on {column}: failing values to collect")
        return {
            "table.row_count": row[rows],
            "column_values.nonnull.unexpected_count": row[nulls],
            f"{metric}.unexpected_count": unexpected,
            f"{metric}.unexpected_values": [],
            f"{metric}.unexpected_index_list": None,
            f"{metric}.unexpected_index_query": None,
        }

    return read


def _unexpected_row_counts(conn: Any, configs: list[Any], relation: Relation, gx_engine: Any) -> dict[str, int]:
    """``count(*)`` of each ``unexpected_rows_query``, ``{batch}`` substituted by GX's own code."""
    import sqlalchemy as sa
    from great_expectations.expectations.metrics.query_metrics.query_row_count.unexpected_rows_query_row_count import (
        UnexpectedRowsQueryRowCount,
    )

    counts: dict[str, int] = {}
    for config in configs:
        query = config.kwargs.get("unexpected_rows_query") if config.type == "unexpected_rows_expectation" else None
        if not isinstance(query, str) or query in counts:
            continue
        text = UnexpectedRowsQueryRowCount._get_substituted_batch_subquery_from_query_and_batch_selectable(
            query=query, batch_selectable=relation.select(), execution_engine=gx_engine
        )
        # The statement GX runs for unexpected_rows_query.row_count (QueryRowCount).
        found = conn.execute(sa.text(
            f"SELECT COUNT(*) FROM ({text}) AS substituted_batch_subquery"  # noqa: S608 - the suite's own query
        )).scalar_one()
        if found:
            raise NeedsGx("the unexpected_rows_query returned rows to collect")
        counts[query] = int(found)
    return counts


@dataclass
class Prepared:
    """A suite evaluated for one batch and parameter values: configurations, expectations, result formats."""

    configs: list[Any]
    expectations: list[Any]
    formats: dict[str, list[dict[str, Any]]]


def _referenced(value: Any) -> set[str]:
    """The suite parameters a kwargs value refers to (``{"$PARAMETER": name}``)."""
    if isinstance(value, dict):
        if isinstance(value.get("$PARAMETER"), str):
            return {value["$PARAMETER"]}
        return {n for v in value.values() for n in _referenced(v)}
    if isinstance(value, list | tuple):
        return {n for v in value for n in _referenced(v)}
    return set()


def prepare(gx_suite: Any, parameters: dict[str, Any], batch_id: str, context: Any,
            cache: dict[Any, Prepared]) -> Prepared:
    """The suite as GX's validator evaluates it: parameters in, grouped by column, batch id set.

    Kept in ``cache`` per (suite, batch, values of the parameters it uses): a suite without day
    parameters is evaluated once per asset, not once per partition.
    """
    raw = gx_suite.expectation_configurations
    used = sorted({n for config in raw for n in _referenced(config.kwargs)})
    key = (id(gx_suite), gx_suite.name, batch_id, repr([(n, parameters.get(n)) for n in used]))
    found = cache.get(key)
    if found is not None:
        return found
    groups: dict[str, list[Any]] = {}
    for config in raw:
        config.process_suite_parameters(suite_parameters=parameters, interactive_evaluation=True,
                                        data_context=context)
        column = config.kwargs.get("column")
        groups.setdefault(column if isinstance(column, str) else "_nocolumn", []).append(config)
    evaluated = []
    for config in (c for group in groups.values() for c in group):
        config = copy.deepcopy(config)
        config.kwargs.update({"batch_id": batch_id})
        evaluated.append(config)
    cache[key] = Prepared(evaluated, [c.to_domain_obj() for c in evaluated], {})
    return cache[key]


def _render(prepared: Prepared, metrics: list[dict[str, Any]], result_format: dict[str, Any]) -> list[Any]:
    """Each expectation's result by GX's own ``_validate`` (what ``metrics_validate`` does after the metrics)."""
    from great_expectations.core.result_format import ResultFormat
    from great_expectations.expectations.expectation import parse_result_format

    key = repr(sorted(result_format.items()))
    if key not in prepared.formats:
        prepared.formats[key] = [parse_result_format(e._get_runtime_kwargs(
            runtime_configuration={"result_format": copy.copy(result_format)})["result_format"])
            for e in prepared.expectations]
    results = []
    for expectation, values, rf in zip(prepared.expectations, metrics, prepared.formats[key], strict=True):
        runtime = {"result_format": copy.copy(rf)}
        raw = expectation._validate(metrics=values, runtime_configuration=runtime, execution_engine=None)
        if rf.get("result_format") == ResultFormat.BOOLEAN_ONLY:
            if isinstance(raw, dict):
                raw["result"] = {}
            else:
                raw.result = {}
        results.append(expectation._build_evr(raw_response=raw))
    return results


@dataclass(frozen=True)
class Batch:
    """How GX names the batch of a query asset (a partition) or a table asset (a whole table)."""

    datasource: str
    asset: str
    relation: Relation
    query: str | None = None  # the query asset's text; None for a table asset

    @property
    def batch_id(self) -> str:
        return f"{self.datasource}-{self.asset}"

    def batch_spec(self) -> dict[str, Any]:
        if self.query is not None:
            return {"data_asset_name": self.asset, "query": self.query, "temp_table_schema_name": None,
                    "batch_identifiers": {}}
        # GxSession._table_asset gives GX no schema for ``public`` (its deprecated schema_name)
        schema = None if self.relation.schema == "public" else self.relation.schema
        return {"type": "table", "data_asset_name": self.asset, "table_name": self.relation.table,
                "schema_name": schema, "batch_identifiers": {}}

    def definition(self) -> dict[str, Any]:
        return {"datasource_name": self.datasource, "data_connector_name": "fluent",
                "data_asset_name": self.asset, "batch_identifiers": {}}


def validate(
    *, gx_suite: Any, batch: Batch, engine: Any, gx_engine: Any, context: Any, parameters: dict[str, Any],
    result_format: dict[str, Any], run_id: Any, cache: dict[Any, Prepared] | None = None,
) -> tuple[Any, Any] | None:
    """The suite's result on the batch from one scan, as GX's ``ValidationDefinition.run`` returns it.

    Returns:
        ``(result, store key)``, or ``None`` when GX must run instead (see the module docstring).
    """
    from great_expectations import __version__ as gx_version
    from great_expectations.core.batch import BatchMarkers
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from great_expectations.util import convert_to_json_serializable
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    if result_format.get("result_format") not in FORMATS:
        log.debug("%s: result format %s goes through GX", batch.asset, result_format.get("result_format"))
        return None
    try:
        prepared = prepare(gx_suite, parameters, batch.batch_id, context, {} if cache is None else cache)
        configs = prepared.configs
        stmt = _Statement(batch.relation)
        readers = [_plan(config, stmt) for config in configs]
        marker = BatchMarkers({"ge_load_time": dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")})
        with engine.connect() as conn:
            row = conn.execute(stmt.select(batch.relation.from_clause())).mappings().one()
            values = {k: convert_to_json_serializable(data=v) for k, v in row.items()}
            counts = _unexpected_row_counts(conn, configs, batch.relation, gx_engine)
        metrics = [read(values, counts) for read in readers]
        results = _render(prepared, metrics, result_format)
    except NeedsGx as reason:
        log.debug("%s: validated by GX: %s", batch.asset, reason)
        return None
    except Exception as exc:  # a statement GX would word differently (a missing column...): GX reports it
        log.debug("%s: validated by GX after the scan raised %s", batch.asset, type(exc).__name__, exc_info=True)
        return None
    stats = calc_validation_statistics(results)
    result = ExpectationSuiteValidationResult(
        results=results,
        success=stats.success,
        suite_name=gx_suite.name,
        statistics={
            "evaluated_expectations": stats.evaluated_expectations,
            "successful_expectations": stats.successful_expectations,
            "unsuccessful_expectations": stats.unsuccessful_expectations,
            "success_percent": stats.success_percent,
        },
        meta={
            "great_expectations_version": gx_version,
            "batch_spec": batch.batch_spec(),
            "batch_markers": marker,
            "active_batch_definition": batch.definition(),
            "validation_id": str(uuid.uuid4()),
            "checkpoint_id": None,
            "run_id": run_id,
            "validation_time": run_id.run_time,
            "batch_parameters": None,
        },
        batch_id=batch.batch_id,
    )
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=gx_suite.name),
        run_id=run_id,
        batch_identifier=batch.batch_id,
    )
    return result, key
