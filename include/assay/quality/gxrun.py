"""Great Expectations, as assay drives it: one ephemeral context per run, Data Docs from masked results.

Why this shape (GX 1.24):

* **Ephemeral context.** Datasources live in memory, so no connection string is ever written to a
  ``great_expectations.yml``; suites come from ``expectations/`` on every run.
* **A query asset per partition**, ``SELECT * FROM "schema"."table" WHERE "day" = '<day>'``,
  rendered by SQLAlchemy with the identifiers quoted. GX wraps it as a subquery, PostgreSQL flattens
  it and uses the ``day`` index. The alternatives do not fit a ``date`` column:
  ``add_batch_definition_daily`` filters on ``EXTRACT(year/month/day ...)`` (no index use), and every
  partitioned batch definition (``PartitionerColumnValue`` included) first runs
  ``SELECT DISTINCT day FROM table`` over the whole table to list the batches -- and a day with no
  rows is then "no batch" instead of an empty partition whose row-count expectation fails.
* **A table asset for a whole table** (no partition column): GX reflects a query asset's columns by
  running the query and fetching every row into the client, which for a whole table is the whole
  table (see :meth:`GxSession._table_asset`). A day's partition is fetched once that way too.
* **Files** go through GX's pandas datasource, one DataFrame (one file) per partition.
* **Masked results only on disk.** ``ValidationDefinition.run`` always writes its (unmasked) result to
  the context's validation results store; here that store is in memory and the key is removed right
  after. The masked copy goes to a filesystem store under ``<state>/gx/validations``, and the Data
  Docs site reads its validation pages from that store only, so nothing unmasked is rendered.
  Keys are (suite, run name, run time, batch) with one run name per validation *attempt*
  (:func:`attempt_run_name`: partition, logical date and the ``quality_runs`` attempt id) and the
  attempt's own time: a re-run writes new files beside the old ones, never over them
  (:meth:`GxSession.store_masked` refuses an existing key), so the page a catalog row links stays
  the page of that attempt.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from assay.config import data_docs_dir
from assay.quality.onescan import quoted

log = logging.getLogger(__name__)

#: Name of the Data Docs site and of the masked validation results store.
SITE_NAME = "assay"
MASKED_STORE = "assay_masked_validations"
#: Result formats a run may ask for (GX's names).
RESULT_FORMATS: tuple[str, ...] = ("BOOLEAN_ONLY", "BASIC", "SUMMARY", "COMPLETE")
#: Validation results the Data Docs index lists (newest first).
INDEX_LIMIT = 500
#: Failing values GX keeps per expectation at SUMMARY (before masking).
PARTIAL_UNEXPECTED_COUNT = 20


def _view(class_name: str) -> dict[str, str]:
    """GX's config of a Data Docs view class of :mod:`assay.quality.docs_view`."""
    return {"module_name": "assay.quality.docs_view", "class_name": class_name}


def html_safe_suite(gx_suite: Any) -> Any:
    """The suite with each expectation's ``description`` escaped: GX renders it as a template (raw markup)."""
    from assay.quality.masking import html_text

    for expectation in gx_suite.expectations:
        if isinstance(getattr(expectation, "description", None), str):
            expectation.description = html_text(expectation.description)
    return gx_suite


def html_safe_result(masked_result: Any) -> Any:
    """A copy of a (masked) suite result for Data Docs: the text GX uses as a template is escaped.

    GX renders ``unexpected_index_query`` as a string template's *template* (markup it trusts), so
    a value quoted in the query would be live HTML; every other value is escaped by the page view
    (:mod:`assay.quality.docs_view`). The caller's result is not changed: the catalog keeps the values.
    """
    import copy

    from assay.quality.masking import html_text

    # Shallow copies of what changes (the results list, the meta dict, a result with a query): a
    # deep copy of every result cost more than validating a small partition in one scan.
    safe = copy.copy(masked_result)
    safe.meta = dict(masked_result.meta or {})
    safe.results = []
    for r in masked_result.results:
        result = r.result
        if isinstance(result, dict) and result.get("unexpected_index_query"):
            r = copy.copy(r)
            r.result = {**result, "unexpected_index_query": html_text(result["unexpected_index_query"])}
        safe.results.append(r)
    from assay.quality.docs_view import name_data_asset

    return name_data_asset(safe)  # a pandas batch has no batch_spec: the page would say "Data asset: None"


def validations_dir(state_dir: Path) -> Path:
    return state_dir / "gx" / "validations"


def partition_sql(schema: str, table: str, column: str | None, day: dt.date) -> str:
    """``SELECT * FROM "schema"."table" WHERE "column" = '<day>'`` with every identifier quoted
    (:func:`sql_identifier`); the whole table when ``column`` is ``None``."""
    relation = f"{sql_identifier(schema)}.{sql_identifier(table)}"
    where = f" WHERE {sql_identifier(column)} = '{day.isoformat()}'" if column is not None else ""
    return f"SELECT * FROM {relation}{where}"  # noqa: S608 - identifiers quoted, the day is a date


def sql_identifier(name: str) -> str:
    """A PostgreSQL identifier for the query text GX runs: double-quoted, embedded quotes doubled.

    A ``%`` is written as the Unicode escape ``U&"...\\0025..."``: GX wraps the query in
    ``text()``, which doubles every ``%`` for psycopg2, and the driver halves them again only when
    the statement has parameters (a query asset's has none), so a plain ``%`` reached PostgreSQL
    as ``%%``. The escape carries no ``%`` at all.
    """
    body = name.replace('"', '""')
    if "%" not in body:
        return f'"{body}"'
    return 'U&"' + body.replace("\\", "\\\\").replace("%", "\\0025") + '"'


def result_format_config(result_format: str, row_id_columns: tuple[str, ...] = ()) -> dict[str, Any]:
    """GX's result_format dict: capped partial lists, row ids for COMPLETE when the suite names them."""
    if result_format not in RESULT_FORMATS:
        raise ValueError(f"result_format must be one of {', '.join(RESULT_FORMATS)}, got {result_format!r}")
    config: dict[str, Any] = {"result_format": result_format, "partial_unexpected_count": PARTIAL_UNEXPECTED_COUNT}
    if result_format == "COMPLETE" and row_id_columns:
        config["unexpected_index_column_names"] = list(row_id_columns)
    return config


def day_parameters(day: dt.date) -> dict[str, Any]:
    """Suite parameters every validation gets: ``$PARAMETER`` day, day_start, day_end (UTC)."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return {"day": day.isoformat(), "day_start": start, "day_end": start + dt.timedelta(days=1)}


def attempt_run_name(partition_key: str, logical_date: dt.date, attempt_id: int | None) -> str:
    """GX's run name of one validation attempt: partition (with the date when it is no day) and attempt id."""
    name = partition_key if partition_key == logical_date.isoformat() else f"{partition_key}.{logical_date.isoformat()}"
    return name if attempt_id is None else f"{name}.attempt-{attempt_id}"


def docs_lock_path(docs_dir: Path) -> Path:
    """The lock file serialising Data Docs builds: beside the site folder, so it is never served."""
    return docs_dir.with_name(docs_dir.name + ".lock")


class GxSession:
    """One ephemeral GX context for a quality run: datasources, suites, validation, Data Docs."""

    def __init__(self, state_dir: Path, *, one_scan: bool = True) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        self.docs_dir = data_docs_dir(state_dir)
        self.validations_dir = validations_dir(state_dir)
        self.docs_dir.mkdir(parents=True, exist_ok=True)
        self.validations_dir.mkdir(parents=True, exist_ok=True)
        defaults = InMemoryStoreBackendDefaults(init_temp_docs_sites=False)
        stores = dict(defaults.stores)
        stores[MASKED_STORE] = {
            "class_name": "ValidationResultsStore",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self.validations_dir)},
        }
        config = DataContextConfig(
            store_backend_defaults=defaults,
            stores=stores,
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
            data_docs_sites={
                SITE_NAME: {
                    "class_name": "SiteBuilder",
                    "show_how_to_buttons": False,
                    "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self.docs_dir)},
                    # The index reads every listed result on each rebuild: list the newest only
                    # (older pages stay on disk and linked from the catalog's data_docs_url).
                    "site_index_builder": {
                        "class_name": "DefaultSiteIndexBuilder",
                        "validation_results_limit": INDEX_LIMIT,
                        "view": _view("EscapingIndexPageView"),
                    },
                    # Every page through assay's escaping views (GX prints plain values raw).
                    "site_section_builders": {
                        "expectations": {"view": _view("EscapingPageView")},
                        "validations": {"source_store_name": MASKED_STORE, "view": _view("EscapingPageView")},
                        "profiling": "None",
                    },
                }
            },
        )
        self._gx = gx
        self.context: Any = gx.get_context(mode="ephemeral", project_config=config)
        self._sql: dict[str, Any] = {}
        self._pandas: Any = None
        self._suites: dict[str, Any] = {}
        self.built: list[Any] = []
        #: Try :mod:`assay.quality.onescan` before GX on SQL batches (``False``: always GX).
        self.one_scan = one_scan
        #: How the last :meth:`validate_sql` ran: ``"scan"`` (one statement) or ``"gx"``.
        self.last_route: str | None = None
        self._prepared: dict[Any, Any] = {}  # onescan's suites evaluated per batch (see onescan.prepare)

    # ---- suites and datasources ------------------------------------------------------------------
    def add_suite(self, gx_suite: Any) -> Any:
        """Register a suite (every loadable suite is added, so Data Docs keep every suite page)."""
        suite = self.context.suites.add_or_update(html_safe_suite(gx_suite))
        self._suites[suite.name] = suite
        return suite

    def _sql_source(self, name: str, url: str) -> Any:
        if name not in self._sql:
            from assay.quality import gxengine  # noqa: F401 - registers GX's add_assay_postgres

            # hide_parameters: a failed validation query must not print the values it was bound to
            self._sql[name] = self.context.data_sources.add_assay_postgres(
                name=name, connection_string=url, kwargs={"hide_parameters": True}
            )
        return self._sql[name]

    @staticmethod
    def _table_asset(ds: Any, asset_name: str, schema: str, table: str) -> Any:
        """A table asset for a whole table.

        Not a query asset: to learn the columns of a query asset GX 1.24 executes the query itself
        (``column_reflection_fallback``) and psycopg2 buffers every row in the client -- the whole
        table, 1.3 GB of RAM for a 5M-row table, only to read the column names. A table asset is
        reflected from the catalog instead. GX deprecates ``schema_name`` (1.14) in favour of a schema
        in the connection, which its PostgreSQL datasource does not offer; ``public`` needs none.
        """
        import warnings

        if schema == "public":
            return ds.add_table_asset(name=asset_name, table_name=quoted(table))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="`schema_name` is deprecated", category=DeprecationWarning)
            return ds.add_table_asset(name=asset_name, table_name=quoted(table), schema_name=quoted(schema))

    def _pandas_source(self) -> Any:
        if self._pandas is None:
            self._pandas = self.context.data_sources.add_pandas(name="files")
        return self._pandas

    # ---- validation ------------------------------------------------------------------------------
    def _run(
        self, suite_name: str, asset_name: str, batch_definition: Any, run_name: str, logical_date: dt.date,
        result_format: dict[str, Any], batch_parameters: dict[str, Any] | None = None,
    ) -> tuple[Any, Any]:
        from great_expectations.core.run_identifier import RunIdentifier

        vd = self.context.validation_definitions.add(
            self._gx.ValidationDefinition(name=f"{suite_name}:{asset_name}", data=batch_definition, suite=self._suites[suite_name])
        )
        store = self.context.validation_results_store
        before = set(store.list_keys())
        # The attempt's own time (not the logical date's midnight): two attempts never share a key.
        run_id = RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.UTC))
        try:
            result = vd.run(
                batch_parameters=batch_parameters,
                expectation_parameters=day_parameters(logical_date),
                result_format=result_format,
                run_id=run_id,
            )
        finally:
            # The in-memory store now holds the unmasked result: drop it at once.
            new_keys = [k for k in store.list_keys() if k not in before]
            for key in new_keys:
                store.remove_key(key)
            self.context.validation_definitions.delete(vd.name)
        return result, (new_keys[0] if new_keys else None)

    def validate_sql(
        self, *, suite_name: str, source: str, url: str, asset_name: str, schema: str, table: str,
        partition_column: str | None, day: dt.date, run_name: str, result_format: dict[str, Any],
    ) -> tuple[Any, Any]:
        """Validate one table partition (or the whole table); returns (unmasked result, store key).

        One aggregate statement when every expectation passes (:mod:`assay.quality.onescan`),
        GX's own validation otherwise; :attr:`last_route` says which.
        """
        ds = self._sql_source(source, url)
        if self.one_scan:
            found = self._one_scan(ds, suite_name, asset_name, schema, table, partition_column, day, run_name,
                                   result_format)
            if found is not None:
                self.last_route = "scan"
                return found
        self.last_route = "gx"
        query = partition_sql(schema, table, partition_column, day) if partition_column is not None else None
        # COMPLETE writes row-id queries from the batch: with a named source table GX would write
        # them over the whole table, so that format keeps GX's own batch (which fetches the rows).
        register = query is not None and result_format.get("result_format") != "COMPLETE"
        if query is None:
            asset = self._table_asset(ds, asset_name, schema, table)
        else:
            asset = ds.add_query_asset(name=asset_name, query=query)
            if register:  # its columns are the table's: read from the catalog, never by fetching the partition
                ds.get_execution_engine().register(query, schema, table)
        try:
            bd = asset.add_batch_definition_whole_table("partition")
            return self._run(suite_name, asset_name, bd, run_name, day, result_format)
        finally:
            ds.delete_asset(asset_name)
            if register:
                assert query is not None
                ds.get_execution_engine().forget(query)

    def _one_scan(
        self, ds: Any, suite_name: str, asset_name: str, schema: str, table: str, partition_column: str | None,
        day: dt.date, run_name: str, result_format: dict[str, Any],
    ) -> tuple[Any, Any] | None:
        from great_expectations.core.run_identifier import RunIdentifier

        from assay.quality import onescan

        relation = onescan.Relation(schema, table, partition_column,
                                    day.isoformat() if partition_column is not None else None)
        query = partition_sql(schema, table, partition_column, day) if partition_column is not None else None
        return onescan.validate(
            gx_suite=self._suites[suite_name], batch=onescan.Batch(ds.name, asset_name, relation, query),
            engine=ds.get_engine(), gx_engine=ds.get_execution_engine(), context=self.context,
            parameters=day_parameters(day), result_format=result_format,
            run_id=RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.UTC)), cache=self._prepared,
        )

    def validate_frame(
        self, *, suite_name: str, asset_name: str, frame: Any, day: dt.date, run_name: str,
        result_format: dict[str, Any],
    ) -> tuple[Any, Any]:
        """Validate one DataFrame (one file); returns (unmasked result, store key)."""
        ds = self._pandas_source()
        asset = ds.add_dataframe_asset(name=asset_name)
        try:
            bd = asset.add_batch_definition_whole_dataframe("partition")
            return self._run(suite_name, asset_name, bd, run_name, day, result_format, {"dataframe": frame})
        finally:
            ds.delete_asset(asset_name)

    # ---- Data Docs ------------------------------------------------------------------------------
    def store_masked(self, key: Any, masked_result: Any) -> None:
        """Keep the masked result for Data Docs, made HTML-safe; an existing result file is never overwritten.

        Raises:
            FileExistsError: a result is stored under this key already (another attempt's evidence).
        """
        store = self.context.stores[MASKED_STORE]
        if store.has_key(key):
            raise FileExistsError(f"validation result {key.to_fixed_length_tuple()} exists in {self.validations_dir}; "
                                  "evidence is never overwritten")
        store.set(key, html_safe_result(masked_result))
        self.built.append(key)

    def page_url(self, key: Any) -> str | None:
        """The ``file://`` URL of a validation's Data Docs page (it exists once :meth:`build_docs` ran)."""
        found = self.context.get_docs_sites_urls(resource_identifier=key, site_name=SITE_NAME, only_if_exists=False)
        return found[0].get("site_url") if found else None

    def build_docs(self) -> None:
        """Rebuild the site index, every suite page and this run's validation pages, one process at a time.

        Several quality runs (backfilled days, parallel Airflow tasks) share one site, GX writes its
        files in place and every build rewrites ``index.html``: the build holds an exclusive
        ``flock`` on :func:`docs_lock_path` (Linux and other POSIX systems), only while it runs.
        """
        import fcntl

        from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

        suites = [ExpectationSuiteIdentifier(name=n) for n in sorted(self._suites)]
        with docs_lock_path(self.docs_dir).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if this process dies
            self.context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=[*suites, *self.built])
            from assay.quality import docs_assets

            docs_assets.install(self.docs_dir)  # the vendored CSS/JS, so pages opened from disk work offline

    def index_url(self) -> str:
        return (self.docs_dir / "index.html").as_uri()
