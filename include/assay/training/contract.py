"""The search-log contract: what training and drift read, and how a source's tables map onto it.

Training a ranker needs four kinds of record (see ``docs/search-log-contract.md``):

* **sessions** — one search: ``session_id`` (text), ``query`` (text, NULL allowed), ``day`` (date);
* **impressions** — a product shown in a session: ``session_id``, ``product_id`` (text), ``day``;
  optional ``position`` (integer);
* **interactions** — what the user did with a shown product: ``session_id``, ``product_id``,
  ``day`` and either ``event_type`` (text, graded through ``labels.events``) or ``grade`` (a number
  0..``labels.max``);
* **products** — the catalogue: ``product_id``, ``title`` (text); optional ``brand``, ``category``
  (a ``>``-separated path), ``colour``, ``size``, ``material`` (text), ``price`` (number),
  ``currency`` (text).

A mapping file (``config/search_log.yaml``, or ``ASSAY_SEARCH_LOG_FILE``) names a declared
**SQL source** of ``config/sources.yaml``, a schema, and per record kind a table and the columns
that hold each contract column (a column left out is looked up under the contract's own name).
The **label scale** is part of the contract: ``binary`` (0/1) or ``graded`` 0..``max``; losses
and the teacher mix normalise by that max. **Judgments** (graded relevance from raters) are
optional; without them evaluation uses the click labels and the run says so.

Pure: parsing and validation only. SQL lives in :mod:`assay.training.logsql`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assay.config import Settings
from assay.errors import ConfigError

#: Contract column -> its type family (``text``, ``date``, ``integer``, ``number``), per record kind.
REQUIRED: dict[str, dict[str, str]] = {
    "sessions": {"session_id": "text", "query": "text", "day": "date"},
    "impressions": {"session_id": "text", "product_id": "text", "day": "date"},
    "interactions": {"session_id": "text", "product_id": "text", "day": "date"},
    "products": {"product_id": "text", "title": "text"},
}
OPTIONAL: dict[str, dict[str, str]] = {
    "sessions": {},
    "impressions": {"position": "integer"},
    # One of the two is required (checked below): events graded by ``labels.events``, or a grade.
    "interactions": {"event_type": "text", "grade": "number"},
    "products": {
        "brand": "text", "category": "text", "colour": "text", "size": "text", "material": "text",
        "price": "number", "currency": "text",
    },
}
#: Record kinds whose rows belong to a day (the partition the quality stage validates).
EVENT_KINDS: tuple[str, ...] = ("sessions", "impressions", "interactions")
KINDS: tuple[str, ...] = (*EVENT_KINDS, "products")

_IDENT = Annotated[str, Field(min_length=1, max_length=63)]


class TableMap(BaseModel):
    """One record kind: the table that holds it and, per contract column, the source column."""

    model_config = ConfigDict(extra="forbid")
    table: _IDENT
    columns: dict[str, _IDENT] = Field(default_factory=dict)

    def column(self, name: str) -> str:
        """The source column of contract column ``name`` (its own name when not mapped)."""
        return self.columns.get(name, name)


class Labels(BaseModel):
    """The label scale: ``binary`` (0/1) or ``graded`` 0..``max``; events map to grades."""

    model_config = ConfigDict(extra="forbid")
    scale: Literal["binary", "graded"]
    max: int | None = None
    events: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Labels:
        if self.scale == "binary":
            if self.max not in (None, 1):
                raise ValueError(f"a binary scale has max 1 (got {self.max})")
            self.max = 1
        elif self.max is None or self.max < 1:
            raise ValueError(f"a graded scale needs max >= 1 (got {self.max})")
        bad = {k: v for k, v in self.events.items() if not 1 <= v <= int(self.max)}
        if bad:
            event, grade = next(iter(bad.items()))
            raise ValueError(f"event {event!r} has grade {grade}, outside 1..{self.max}")
        return self

    @property
    def top(self) -> int:
        """The highest grade (1 on a binary scale)."""
        return int(self.max or 1)

    def as_dict(self) -> dict[str, object]:
        """JSON form (the training set's manifest and digest)."""
        return {"scale": self.scale, "max": self.top, "events": dict(sorted(self.events.items()))}


class Judgments(BaseModel):
    """Where graded judgments come from (parquet files) and their scale; optional."""

    model_config = ConfigDict(extra="forbid")
    folder: Path | None = None
    max: int = Field(default=3, ge=1)


class SearchLogContract(BaseModel):
    """A source's search log mapped onto the contract (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    source: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    schema_: _IDENT = Field(default="public", alias="schema")
    labels: Labels
    tables: dict[Literal["sessions", "impressions", "interactions", "products"], TableMap]
    judgments: Judgments | None = None

    @model_validator(mode="after")
    def _complete(self) -> SearchLogContract:
        missing = [k for k in KINDS if k not in self.tables]
        if missing:
            raise ValueError(f"tables: missing {', '.join(missing)}")
        for kind, mapping in self.tables.items():
            known = set(REQUIRED[kind]) | set(OPTIONAL[kind])
            unknown = sorted(set(mapping.columns) - known)
            if unknown:
                raise ValueError(f"tables.{kind}.columns: {', '.join(unknown)} is not a contract column of {kind} "
                                 f"(known: {', '.join(sorted(known))})")
        inter = self.tables["interactions"].columns
        has_grade = "grade" in inter
        if not has_grade and not self.labels.events:
            raise ValueError("labels.events: map event_type values to grades, or map tables.interactions.columns.grade")
        return self

    @property
    def label_max(self) -> int:
        """The top of the training label scale (what losses and the teacher mix divide by)."""
        return self.labels.top

    @property
    def graded_by_column(self) -> bool:
        """Whether interactions carry a ``grade`` column (else ``event_type`` is graded by ``labels.events``)."""
        return "grade" in self.tables["interactions"].columns

    def table(self, kind: str) -> TableMap:
        """The mapping of record kind ``kind`` (``sessions`` … ``products``)."""
        return self.tables[kind]  # type: ignore[index]

    def wanted_columns(self, kind: str) -> dict[str, str]:
        """Contract column -> type family of ``kind``: required ones and the optional ones mapped or
        needed (``event_type`` when graded by events)."""
        out = dict(REQUIRED[kind])
        mapped = self.table(kind).columns
        for name, family in OPTIONAL[kind].items():
            if name in mapped:
                out[name] = family
        if kind == "interactions" and not self.graded_by_column:
            out["event_type"] = "text"
        return out

    def describe(self) -> dict[str, object]:
        """JSON form recorded with a training set (tables, label scale, source)."""
        return {
            "source": self.source,
            "schema": self.schema_,
            "labels": self.labels.as_dict(),
            "tables": {k: {"table": m.table, "columns": dict(sorted(m.columns.items()))}
                       for k, m in sorted(self.tables.items())},
        }


def default_path(settings: Settings) -> Path:
    """The mapping file: ``ASSAY_SEARCH_LOG_FILE``, else ``config/search_log.yaml`` of the project."""
    return settings.search_log_file or settings.project_root / "config" / "search_log.yaml"


def parse(raw: object, where: str) -> SearchLogContract:
    """Validate an already-parsed mapping; errors name ``where`` and each offending key.

    Raises:
        ConfigError: the mapping does not validate.
    """
    try:
        return SearchLogContract.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"{where}: invalid search-log contract: {problems}") from None


def load(path: Path) -> SearchLogContract:
    """Read and validate a mapping file.

    Raises:
        ConfigError: the file is missing, not YAML, or invalid; the message names the file and key.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"search-log contract not found: {path} (set ASSAY_SEARCH_LOG_FILE or write "
                          "config/search_log.yaml; see docs/search-log-contract.md)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse(raw, str(path))


def load_default(settings: Settings) -> SearchLogContract:
    """The contract of :func:`default_path`."""
    return load(default_path(settings))


def source_url(settings: Settings, contract: SearchLogContract) -> str:
    """The (read-only) SQLAlchemy URL of the contract's source, resolved by its declaration.

    Raises:
        ConfigError: the source is not declared, or is not a SQL source.
    """
    from assay.sources import declarations

    path = declarations.default_path(settings)
    decl = declarations.load(path).get(contract.source)
    if decl.kind != "sql":
        raise ConfigError(f"search-log contract: source {contract.source!r} is a {decl.kind} source in {path}; "
                          "training and drift read a SQL source (load the files into a database first)")
    return decl.resolve_url(settings)


def judgments_folder(settings: Settings, contract: SearchLogContract) -> Path | None:
    """Where judgments are read from: the contract's folder, else the settings' (``ASSAY_JUDGMENTS_DIR``
    or ``<landing>/_truth``); ``None`` when the contract has no ``judgments`` section."""
    if contract.judgments is None:
        return None
    return (contract.judgments.folder or settings.judgments).resolve()
