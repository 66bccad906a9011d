"""Expectation suites: the JSON files in ``expectations/``, loaded and checked before GX sees them.

Suites belong to a source: ``<expectations>/<source>/<asset>.json`` (the folder is
``ASSAY_EXPECTATIONS_DIR``, default ``expectations/``), proposals beside them in
``<expectations>/<source>/proposed/``. Files directly in ``<expectations>/`` (the layout before
sources had folders) still load; their source is their ``meta.assay.source``. Names:

* the **catalog** keeps the file stem (``products``) as ``quality_runs.suite_name``: its rows are
  keyed with the asset, and an asset belongs to one source, so two sources' ``products`` suites
  never share a row;
* **GX** (its context, Data Docs pages) gets ``<source>.<stem>`` (:attr:`SuiteSpec.gx_name`),
  unique because source names hold no dot;
* two files claiming one source and asset (the same stem, or the same table or file glob) are a
  clash: both are errors naming both files, and neither runs.

A suite is a GX Core 1.x suite file (``name``, ``expectations`` of ``{type, kwargs, meta}``,
``meta``) plus a few conventions assay relies on:

* the file is ``<name>.json`` (so a file too broken to read still names its suite);
* in a source's folder, ``meta.assay.source`` is that folder's name;
* ``meta.assay`` says what the suite validates: a table of a declared SQL source (``source``,
  ``table``, optional ``partition_column``, ``row_id_columns``) or files of a declared file source
  (``source``, ``files`` -- a glob relative to the source root with one ``{day}`` placeholder; the
  folder part before ``{day}`` names each target, e.g. ``feeds/northwind``);
* ``meta.pii_columns`` lists the columns whose values are masked wherever results go, either as a
  list of names or as ``{column: pii label}`` (labels as :func:`assay.classify.mask_value` knows
  them); the catalog's classifications add to it;
* every expectation's ``meta`` has a ``name`` (unique in the suite; what waivers and review items
  refer to), a ``dimension`` and a ``severity``.

:func:`load_suites` never stops at a bad file: each problem becomes a :class:`SuiteError` that
names the file, and the run records it for the assets that suite validates. Checking expectation
types and arguments needs GX (:func:`build_gx_suite`), so it happens in the run, not at import.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.catalog.models import Dimension, Severity
from assay.errors import QualityError

# The layout's names are re-exported: callers import suite paths from here too.
from assay.quality.layout import (  # noqa: F401
    PROPOSED,
    SUITE_NAME,
    live_suite_path,
    proposal_path,
    split_name,
    suite_files,
    suite_path,
    suite_stem,
    suites_dir,
)

#: Kwargs that name the column(s) an expectation looks at.
COLUMN_KWARGS: tuple[str, ...] = ("column", "column_A", "column_B")
COLUMN_LIST_KWARGS: tuple[str, ...] = ("column_list", "column_set")
#: Placeholder of the partition day in a file glob.
DAY = "{day}"


class SuiteError(QualityError):
    """A suite file cannot be used; the message starts with the file's path."""

    def __init__(self, path: Path, message: str, source: str | None = None) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.suite_name = path.stem
        #: The source the file belongs to (its folder), when known: broken suites are recorded
        #: only against that source's assets.
        self.source = source


@dataclass(frozen=True)
class Target:
    """What a suite validates, from ``meta.assay``.

    Attributes:
        source: the declared source name (``config/sources.yaml``).
        table: ``schema.table`` for a SQL source; ``None`` for files.
        partition_column: the date column a table is partitioned by; ``None`` = the whole table is
            validated on every logical date (partition key ``__all__``).
        files: the glob of a file source with ``{day}`` in it; ``None`` for tables.
        row_id_columns: columns GX reports unexpected rows by with ``result_format=COMPLETE``.
    """

    source: str
    table: str | None = None
    partition_column: str | None = None
    files: str | None = None
    row_id_columns: tuple[str, ...] = ()

    @property
    def schema(self) -> str:
        assert self.table is not None
        return self.table.split(".", 1)[0] if "." in self.table else "public"

    @property
    def relation(self) -> str:
        assert self.table is not None
        return self.table.split(".", 1)[1] if "." in self.table else self.table


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation of a suite, with assay's tags."""

    expectation_id: str
    type: str
    kwargs: dict[str, Any]
    dimension: str
    severity: str
    meta: dict[str, Any]

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the expectation names (single, pair and list arguments)."""
        out = [self.kwargs[k] for k in COLUMN_KWARGS if isinstance(self.kwargs.get(k), str)]
        for k in COLUMN_LIST_KWARGS:
            value = self.kwargs.get(k)
            if isinstance(value, list):
                out.extend(v for v in value if isinstance(v, str))
        return tuple(dict.fromkeys(out))

    @property
    def column(self) -> str | None:
        """The single column the expectation is about, if there is exactly one."""
        cols = self.columns
        return cols[0] if len(cols) == 1 else None


@dataclass(frozen=True)
class SuiteSpec:
    """A suite file that passed assay's checks (GX has not looked at it yet)."""

    name: str
    path: Path
    digest: str
    target: Target
    pii_columns: Mapping[str, str]
    expectations: tuple[ExpectationSpec, ...]
    document: dict[str, Any] = field(repr=False)

    @property
    def source(self) -> str:
        return self.target.source

    @property
    def gx_name(self) -> str:
        """The suite's name in GX and Data Docs: ``<source>.<name>``, unique across sources."""
        return f"{self.target.source}.{self.name}"

    def expectation(self, expectation_id: str) -> ExpectationSpec:
        for e in self.expectations:
            if e.expectation_id == expectation_id:
                return e
        raise KeyError(expectation_id)

    def columns(self) -> list[str]:
        """Every column any expectation names, plus the exact column set if the suite has one."""
        cols: list[str] = []
        for e in self.expectations:
            cols.extend(e.columns)
        return list(dict.fromkeys(cols))


@dataclass
class LoadedSuites:
    """What :func:`load_suites` found: the usable suites and one error per unusable file."""

    suites: list[SuiteSpec] = field(default_factory=list)
    errors: list[SuiteError] = field(default_factory=list)

    def get(self, name: str, source: str | None = None) -> SuiteSpec:
        """The suite called ``name`` (``stem``, ``source.stem`` or ``source/stem``), of ``source`` if given.

        Raises:
            KeyError: no such suite, or a bare stem that several sources have (the message lists them).
        """
        found = [s for s in self.suites if _named(s, name) and (source is None or s.source == source)]
        if len(found) != 1:
            raise KeyError(name if not found else f"{name} is a suite of several sources: "
                           f"{', '.join(s.gx_name for s in found)}; name one as source.{name}")
        return found[0]


def _named(spec: SuiteSpec, name: str) -> bool:
    return name in (spec.name, spec.gx_name, f"{spec.source}/{spec.name}")


def expectation_key(type_: str, kwargs: Mapping[str, Any]) -> str:
    """The fallback id of an unnamed expectation: its type plus a hash of its arguments."""
    blob = json.dumps(kwargs, sort_keys=True, default=str).encode()
    return f"{type_}:{hashlib.sha256(blob).hexdigest()[:12]}"


def _target(path: Path, meta: Mapping[str, Any]) -> Target:
    spec = meta.get("assay")
    if not isinstance(spec, dict):
        raise SuiteError(path, 'meta.assay is missing: say what the suite validates ({"source", "table"|"files"})')
    allowed = {"source", "table", "partition_column", "files", "row_id_columns"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise SuiteError(path, f"meta.assay has unknown keys {unknown}; allowed: {sorted(allowed)}")
    source = spec.get("source")
    if not isinstance(source, str) or not source:
        raise SuiteError(path, "meta.assay.source must name a declared source")
    table, files = spec.get("table"), spec.get("files")
    if (table is None) == (files is None):
        raise SuiteError(path, "meta.assay needs exactly one of table, files")
    if files is not None and (not isinstance(files, str) or files.count(DAY) != 1 or "/" not in files.split(DAY)[0]):
        raise SuiteError(path, f"meta.assay.files must be a glob with one {DAY} folder, e.g. feeds/*/{DAY}/x.*")
    if table is not None and (not isinstance(table, str) or not table):
        raise SuiteError(path, "meta.assay.table must be 'schema.table'")
    row_ids = spec.get("row_id_columns", [])
    if not isinstance(row_ids, list) or not all(isinstance(c, str) for c in row_ids):
        raise SuiteError(path, "meta.assay.row_id_columns must be a list of column names")
    partition = spec.get("partition_column")
    if partition is not None and (table is None or not isinstance(partition, str)):
        raise SuiteError(path, "meta.assay.partition_column is a column name and only applies to tables")
    return Target(source=source, table=table, partition_column=partition, files=files, row_id_columns=tuple(row_ids))


def _pii(path: Path, meta: Mapping[str, Any]) -> dict[str, str]:
    value = meta.get("pii_columns", [])
    if isinstance(value, list) and all(isinstance(c, str) for c in value):
        # No label given: the column name is the best hint mask_value can use (email, phone, ...).
        return {c: c for c in value}
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return dict(value)
    raise SuiteError(path, "meta.pii_columns must be a list of column names or {column: pii label}")


def _expectation(path: Path, index: int, raw: Any) -> ExpectationSpec:
    where = f"expectation #{index + 1}"
    if not isinstance(raw, dict):
        raise SuiteError(path, f"{where} is not an object")
    unknown = sorted(set(raw) - {"type", "kwargs", "meta", "id", "severity", "notes", "rendered_content"})
    if unknown:
        raise SuiteError(path, f"{where} has unknown keys {unknown}")
    type_ = raw.get("type")
    if not isinstance(type_, str) or not type_:
        raise SuiteError(path, f"{where} has no type")
    kwargs = raw.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise SuiteError(path, f"{where} ({type_}): kwargs must be an object")
    meta = raw.get("meta") or {}
    if not isinstance(meta, dict):
        raise SuiteError(path, f"{where} ({type_}): meta must be an object")
    name = meta.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise SuiteError(path, f"{where} ({type_}): meta.name must be a non-empty string")
    eid = name or expectation_key(type_, kwargs)
    dimension, severity = meta.get("dimension"), meta.get("severity")
    dimensions = [d.value for d in Dimension]
    severities = [s.value for s in Severity]
    if dimension not in dimensions:
        raise SuiteError(path, f"{where} ({eid}): meta.dimension must be one of {dimensions}, got {dimension!r}")
    if severity not in severities:
        raise SuiteError(path, f"{where} ({eid}): meta.severity must be one of {severities}, got {severity!r}")
    gx_severity = raw.get("severity")
    if gx_severity is not None and gx_severity != severity:
        raise SuiteError(path, f"{where} ({eid}): severity {gx_severity!r} contradicts meta.severity {severity!r}")
    return ExpectationSpec(
        expectation_id=eid, type=type_, kwargs=kwargs, dimension=dimension, severity=severity, meta=meta
    )


def parse_suite(path: Path, data: bytes) -> SuiteSpec:
    """Check one suite file's content.

    Raises:
        SuiteError: the JSON does not parse, or breaks one of the conventions above.
    """
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SuiteError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise SuiteError(path, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(doc, dict):
        raise SuiteError(path, "a suite file holds one JSON object")
    name = doc.get("name")
    if name != path.stem:
        raise SuiteError(path, f"suite name {name!r} must equal the file name {path.stem!r}")
    if not SUITE_NAME.match(path.stem):
        raise SuiteError(path, f"suite name {path.stem!r} must match {SUITE_NAME.pattern}")
    raw_expectations = doc.get("expectations")
    if not isinstance(raw_expectations, list) or not raw_expectations:
        raise SuiteError(path, "expectations must be a non-empty list")
    meta = doc.get("meta") or {}
    if not isinstance(meta, dict):
        raise SuiteError(path, "meta must be an object")
    expectations = tuple(_expectation(path, i, e) for i, e in enumerate(raw_expectations))
    seen: set[str] = set()
    for e in expectations:
        if e.expectation_id in seen:
            raise SuiteError(path, f"two expectations are named {e.expectation_id!r}; names must be unique")
        seen.add(e.expectation_id)
    return SuiteSpec(
        name=name,
        path=path,
        digest=hashlib.sha256(data).hexdigest(),
        target=_target(path, meta),
        pii_columns=_pii(path, meta),
        expectations=expectations,
        document=doc,
    )


def _read(path: Path, source: str | None) -> SuiteSpec:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SuiteError(path, f"cannot be read: {exc.strerror or exc}", source) from None
    try:
        spec = parse_suite(path, data)
    except SuiteError as exc:
        exc.source = source
        raise
    if source is not None and spec.source != source:
        raise SuiteError(path, f"meta.assay.source is {spec.source!r} but the file is in the folder of source "
                               f"{source!r}; a suite belongs to the source whose folder holds it", source)
    return spec


def _claim(spec: SuiteSpec) -> tuple[str, str]:
    """What a suite validates, as a comparable key within its source (table or file glob)."""
    t = spec.target
    if t.table is not None:
        return ("table", t.table if "." in t.table else f"public.{t.table}")
    return ("files", t.files or "")


def _clashes(suites: list[SuiteSpec]) -> dict[Path, SuiteError]:
    """One error per suite file that claims what another file claims (name or target, one source)."""
    errors: dict[Path, SuiteError] = {}
    by_name: dict[str, SuiteSpec] = {}
    by_claim: dict[tuple[str, str, str], SuiteSpec] = {}
    for spec in suites:
        kind, what = _claim(spec)
        for other, reason in (
            (by_name.get(spec.gx_name), f"suite {spec.gx_name!r}"),
            (by_claim.get((spec.source, kind, what)), f"the {kind} {what!r} of source {spec.source!r}"),
        ):
            if other is None:
                continue
            for mine, theirs in ((spec, other), (other, spec)):
                errors.setdefault(mine.path, SuiteError(
                    mine.path, f"clashes with {theirs.path}: both claim {reason}; keep one file", mine.source))
        by_name.setdefault(spec.gx_name, spec)
        by_claim.setdefault((spec.source, kind, what), spec)
    return errors


def load_suites(folder: Path) -> LoadedSuites:
    """Every live suite under ``folder``: ``<source>/*.json`` and, from the older layout, ``*.json``.

    Proposals (``proposed/`` folders) are not live. A missing folder is an empty result. Files are
    read in path order; files that clash (see the module doc) are errors, both of them.
    """
    out = LoadedSuites()
    parsed: list[SuiteSpec] = []
    for path, source in suite_files(folder):
        try:
            parsed.append(_read(path, source))
        except SuiteError as exc:
            out.errors.append(exc)
    clashing = _clashes(parsed)
    out.suites = [s for s in parsed if s.path not in clashing]
    out.errors.extend(clashing.values())
    return out


def build_gx_suite(spec: SuiteSpec) -> Any:
    """The suite as a GX ``ExpectationSuite``; unknown types and bad arguments name the file.

    Each expectation is built on its own so the error names the one GX refuses.

    Raises:
        SuiteError: an expectation type GX does not know, or arguments GX refuses.
    """
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.exceptions import ExpectationNotFoundError
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    from great_expectations.expectations.metadata_types import FailureSeverity
    from great_expectations.expectations.registry import get_expectation_impl

    built = []
    for e in spec.expectations:
        try:
            get_expectation_impl(e.type)
        except ExpectationNotFoundError:
            raise SuiteError(spec.path, f"expectation {e.expectation_id!r}: unknown expectation type {e.type!r}") from None
        try:
            # meta.name is how a result finds its expectation again (GX reorders results).
            meta = {**e.meta, "name": e.expectation_id}
            config = ExpectationConfiguration(
                type=e.type, kwargs=e.kwargs, meta=meta, severity=FailureSeverity(e.severity)
            )
            built.append(config.to_domain_obj())
        except Exception as exc:  # GX raises pydantic and its own errors; both mean "this expectation is wrong"
            detail = " ".join(str(exc).split())[:400]
            raise SuiteError(spec.path, f"expectation {e.expectation_id!r} ({e.type}): GX refuses it: {detail}") from exc
    doc = spec.document
    # GX's name carries the source: two sources' ``products`` suites are two pages, never one.
    return ExpectationSuite(name=spec.gx_name, expectations=built, meta=doc.get("meta"), notes=doc.get("notes"))
