"""GX's PostgreSQL datasource with one change: a partition's columns come from the catalog, not its rows.

GX 1.24 learns the columns of a query asset by running the query and reading the cursor's
description (``column_reflection_fallback``); psycopg2 buffers every row of the result first, so
validating one day of a table fetched that day into the client (361 MB at 400k rows). Here a
partition's query (``SELECT * FROM "schema"."table" WHERE "day" = '<day>'``, registered by
:class:`~assay.quality.gxrun.GxSession` with :meth:`PartitionEngine.register`) becomes a batch
whose source table is named, as GX's own partitioned table assets are: GX reflects the columns of
``schema.table`` from the catalog and every metric still reads ``(<the same query>) AS anon_1``.
Nothing else of GX changes; the datasource is registered under its own type name
(``assay_postgres``) so GX's ``postgres`` type is left as it is.
"""

from __future__ import annotations

import builtins
from typing import Any, ClassVar, Literal

from great_expectations.core.batch_spec import RuntimeQueryBatchSpec
from great_expectations.datasource.fluent import PostgresDatasource
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.execution_engine.sqlalchemy_batch_data import SqlAlchemyBatchData

from assay.quality.onescan import quoted


class PartitionEngine(SqlAlchemyExecutionEngine):
    """GX's SQL engine; a registered partition query is a batch of its table (columns from the catalog)."""

    def register(self, query: str, schema: str, table: str) -> None:
        """The query's rows are rows of ``schema.table`` (its columns, in its order)."""
        self._partitions()[query] = (schema, table)

    def forget(self, query: str) -> None:
        self._partitions().pop(query, None)

    def _partitions(self) -> dict[str, tuple[str, str]]:
        # GX builds the engine from the datasource's fields: the registry is set on first use
        if not hasattr(self, "_assay_partitions"):
            self._assay_partitions: dict[str, tuple[str, str]] = {}
        return self._assay_partitions

    def get_batch_data_and_markers(self, batch_spec: Any) -> tuple[SqlAlchemyBatchData, Any]:
        """GX's batch, except that a registered partition query names its source table."""
        batch_data, markers = super().get_batch_data_and_markers(batch_spec)
        query = batch_spec.get("query") if isinstance(batch_spec, RuntimeQueryBatchSpec) else None
        source = self._partitions().get(query) if isinstance(query, str) else None
        if query is None or source is None:
            return batch_data, markers
        import sqlalchemy as sa

        schema, table = source
        # The same query text as a selectable (GX aliases it); reflection reads the named table.
        data = SqlAlchemyBatchData(
            execution_engine=self,
            selectable=sa.text(query).columns(),
            create_temp_table=False,
            source_table_name=quoted(table),
            source_schema_name=quoted(schema),
        )
        return data, markers


class AssayPostgresDatasource(PostgresDatasource):
    """GX's PostgreSQL datasource driving :class:`PartitionEngine`."""

    type: Literal["assay_postgres"] = "assay_postgres"  # type: ignore[assignment]
    # ``type`` is GX's field name in this class body: the builtin is spelt out
    execution_engine_override: ClassVar[builtins.type[SqlAlchemyExecutionEngine] | None] = PartitionEngine
