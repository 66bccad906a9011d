"""Source declarations: the YAML file that says what assay inventories, validated on load.

See ``config/sources.yaml`` for the format. Validation errors name the file and the offending
source; a ``url`` or ``conn_id`` carrying a secret (``user:password@`` however it is spelled, or a
``password=``/``token=``-like parameter) is refused, so none can reach the catalog or the logs,
and the error never quotes it.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assay.catalog.urls import has_secret, scrub
from assay.config import Settings, read_only_url
from assay.errors import ConfigError
from assay.sources import column_types
from assay.sources.series import DEFAULT_PARTITION_REGEX, after, partition_date, series_of

_NAME = r"^[a-z][a-z0-9_]*$"


def _column_types(value: dict[str, str]) -> dict[str, str]:
    """Declared column types in their canonical spelling; an unknown type names its column."""
    out: dict[str, str] = {}
    for column, type_name in value.items():
        try:
            out[column] = column_types.canonical(type_name)
        except ValueError as exc:
            raise ValueError(f"column {column!r}: {exc}") from None
    return out


class AssetDecl(BaseModel):
    """Per-asset facts a source cannot tell by itself."""

    model_config = ConfigDict(extra="forbid")
    owner: str | None = None
    tags: list[str] = Field(default_factory=list)
    event_time_column: str | None = None
    partition_column: str | None = None
    description: str | None = None
    #: Declared types of a file's columns (``{zip: string}``), applied when the file is read.
    columns: dict[str, str] = Field(default_factory=dict)

    @field_validator("columns")
    @classmethod
    def _known_types(cls, v: dict[str, str]) -> dict[str, str]:
        return _column_types(v)


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(pattern=_NAME)]
    owner: str | None = None
    tags: list[str] = Field(default_factory=list)
    assets: dict[str, AssetDecl] = Field(default_factory=dict)

    def asset_decl(self, name: str) -> AssetDecl:
        return self.assets.get(name, AssetDecl())


class SqlSource(_Base):
    kind: Literal["sql"]
    url_from: Literal["shop", "catalog"] | None = None
    conn_id: str | None = None
    url: str | None = None
    schemas: list[str] = Field(default_factory=lambda: ["public"])
    include: list[str] = Field(default_factory=lambda: ["*"])
    exclude: list[str] = Field(default_factory=list)
    exact_row_count_below: int = 5_000_000

    @field_validator("url", "conn_id")
    @classmethod
    def _no_password(cls, v: str | None) -> str | None:
        if v and has_secret(v):
            raise ValueError("carries a password or secret; use conn_id, PGPASSFILE or the environment instead")
        return v

    @model_validator(mode="after")
    def _one_locator(self) -> SqlSource:
        given = [x for x in (self.url_from, self.conn_id, self.url) if x]
        if len(given) != 1:
            raise ValueError("give exactly one of url_from, conn_id, url")
        typed = sorted(name for name, a in self.assets.items() if a.columns)
        if typed:
            raise ValueError(
                f"assets {', '.join(typed)}: columns (declared types) apply to file sources; "
                "a table's columns have their database types"
            )
        return self

    def wants(self, table: str) -> bool:
        """Whether the include/exclude globs select ``table``."""
        return any(fnmatch.fnmatchcase(table, p) for p in self.include) and not any(
            fnmatch.fnmatchcase(table, p) for p in self.exclude
        )

    def locator(self) -> str:
        """What the catalog stores for this source: never a password."""
        return self.conn_id or self.url or f"settings:{self.url_from}"

    def resolve_url(self, settings: Settings) -> str:
        """The SQLAlchemy URL to connect with (secrets come from settings or Airflow, not the file).

        A source is never written: every PostgreSQL URL starts its sessions read-only, whatever its
        role (``url_from: catalog`` is the catalog's owner; an explicit ``url`` is the operator's).
        """
        if self.url:
            url = self.url
        elif self.url_from == "shop":
            url = settings.source_reader_url()  # the read-only role
        elif self.url_from == "catalog":
            url = settings.catalog_url()
        else:
            assert self.conn_id is not None
            url = _airflow_connection_url(self.conn_id)
        return read_only_url(url)


class FileSource(_Base):
    kind: Literal["files"]
    root_from: Literal["landing"] | None = None
    root: Path | None = None
    patterns: list[str]
    #: Where a file's partition is in its path (a named group ``partition``); default: a date.
    partition_regex: str | None = None
    #: ``false``: the files are not dated, each is its own asset with no partitions.
    partitioned: bool = True
    #: Declared column types for every file of the source; an asset entry's ``columns`` win.
    columns: dict[str, str] = Field(default_factory=dict)

    @field_validator("columns")
    @classmethod
    def _known_types(cls, v: dict[str, str]) -> dict[str, str]:
        return _column_types(v)

    @model_validator(mode="after")
    def _one_root(self) -> FileSource:
        if (self.root_from is None) == (self.root is None):
            raise ValueError("give exactly one of root_from, root")
        if self.partition_regex is not None:
            if not self.partitioned:
                raise ValueError("partition_regex given with partitioned: false; drop one of them")
            try:
                if "partition" not in re.compile(self.partition_regex).groupindex:
                    raise ValueError("partition_regex needs a named group (?P<partition>...)")
            except re.error as exc:
                raise ValueError(f"partition_regex does not compile: {exc}") from exc
        return self

    def resolve_root(self, settings: Settings) -> Path:
        return settings.landing if self.root_from == "landing" else Path(str(self.root))

    def locator(self) -> str:
        return f"settings:{self.root_from}" if self.root_from else str(self.root)

    @property
    def series_regex(self) -> str | None:
        """The regex that finds a file's partition: the declared one, the default date, or none."""
        if not self.partitioned:
            return None
        return self.partition_regex or DEFAULT_PARTITION_REGEX

    def partition_of(self, relative_path: str) -> str | None:
        """The partition of a file (``None`` without one); see :mod:`assay.sources.series`."""
        member = series_of(self.series_regex, relative_path)
        return member.partition if member else None

    def partition_date(self, relative_path: str) -> dt.date | None:
        """The partition of a file as a date (``None``: no partition, or one that is not a date)."""
        return partition_date(self.partition_of(relative_path))

    def after(self, day: dt.date, relative_path: str) -> bool:
        """Whether the file belongs to a later day than ``day``: not part of ``day``'s inventory."""
        return after(day, self.series_regex, relative_path)

    def file_decl(self, relative_path: str) -> AssetDecl:
        """A file's declaration: by relative path, then series key, then a matching glob, then file name."""
        if relative_path in self.assets:
            return self.assets[relative_path]
        member = series_of(self.series_regex, relative_path)
        if member is not None and member.key in self.assets:
            return self.assets[member.key]
        for pattern, adecl in self.assets.items():
            if fnmatch.fnmatchcase(relative_path, pattern):
                return adecl
        return self.asset_decl(relative_path.rsplit("/", 1)[-1])

    def column_types(self, relative_path: str) -> dict[str, str]:
        """``{column: declared type}`` for a file: the source's ``columns``, then its asset entry's."""
        return {**self.columns, **self.file_decl(relative_path).columns}


SourceDecl = Annotated[SqlSource | FileSource, Field(discriminator="kind")]


class Declarations(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[SourceDecl]

    @model_validator(mode="after")
    def _unique_names(self) -> Declarations:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        return self

    def get(self, name: str) -> SqlSource | FileSource:
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError(f"no source named {name!r}; declared: {', '.join(s.name for s in self.sources)}")


def default_path(settings: Settings) -> Path:
    return settings.sources_file or settings.project_root / "config" / "sources.yaml"


def load(path: Path) -> Declarations:
    """Read and validate a declarations file.

    Raises:
        ConfigError: the file is missing, is not YAML, or does not validate; the message names the
            file and each offending entry.
    """
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"source declarations not found: {path}") from None
    except yaml.YAMLError as exc:
        # The parser quotes the offending line, which may hold a URL: masked, and not chained.
        raise ConfigError(f"{path}: not valid YAML: {scrub(str(exc))}") from None
    try:
        return Declarations.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(err['loc'], raw)}: {err['msg']}" for err in exc.errors())
        # Not chained: pydantic's own message repeats the input value, which may be a secret.
        raise ConfigError(f"{path}: invalid source declarations: {problems}") from None


def _where(loc: tuple[int | str, ...], raw: object) -> str:
    """``sources.1.sql.url`` as ``source 'shop' (sql.url)`` when the entry has a name."""
    if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int) and isinstance(raw, dict):
        entries = raw.get("sources")
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        label = f"source {scrub(repr(name))}" if isinstance(name, str) else f"source #{loc[1] + 1}"
        rest = ".".join(str(p) for p in loc[2:])
        return f"{label} ({rest})" if rest else label
    return ".".join(str(p) for p in loc)


def _airflow_connection_url(conn_id: str) -> str:
    """SQLAlchemy URL of an Airflow connection (resolved at run time, never at DAG parse time)."""
    try:
        from airflow.sdk import BaseHook
    except ImportError as exc:  # pragma: no cover - Airflow is a hard dependency
        raise ConfigError(f"conn_id {conn_id!r} needs Airflow installed") from exc
    conn = BaseHook.get_connection(conn_id)
    uri = conn.get_uri()
    return uri.replace("postgres://", "postgresql+psycopg2://", 1)
