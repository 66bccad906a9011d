"""The demo shop as one user of the search-log contract: its mapping is ``config/search_log.yaml``.

The seed writes tables; training and drift read whatever tables a source's mapping names
(:mod:`assay.training.contract`). The dependency points this way only: the seed checks that its
own tables fit the contract under the demo's mapping, and no product module imports ``assay.seed``
(``tests/unit/test_architecture.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.seed import schema
from assay.training.contract import SearchLogContract, load
from assay.training.logsql import mismatches


def demo_mapping_path(project_root: Path) -> Path:
    """The demo shop's mapping file (also the default mapping of a fresh checkout)."""
    return project_root / "config" / "search_log.yaml"


def demo_contract(project_root: Path) -> SearchLogContract:
    """The demo shop's mapping, validated."""
    return load(demo_mapping_path(project_root))


def conformance(contract: SearchLogContract) -> list[str]:
    """What the seed's tables lack for ``contract`` (empty: the demo shop fits it)."""
    tables = {t.name: t for t in schema.metadata.tables.values()}
    if contract.schema_ != schema.metadata.schema:
        return [f"schema: the seed writes {schema.metadata.schema!r}, the mapping reads {contract.schema_!r}"]

    def columns_of(name: str) -> dict[str, Any] | None:
        table = tables.get(name)
        return None if table is None else {c.name: c.type for c in table.columns}

    return mismatches(contract, columns_of)
