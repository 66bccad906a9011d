"""Planning a quality run: which asset partitions each suite validates on a logical date.

A table suite validates one partition (the day, or ``__all__`` for a table without a partition
column); a file suite validates every file of the day in each folder (supplier) its pattern
matches, and records a missing file as a partition too. :func:`register_asset` then finds or
creates the catalog rows of each planned asset and reads its PII columns.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.catalog.models import AssetKind, SourceKind
from assay.catalog.urls import scrub, urls_of
from assay.config import Settings
from assay.db.roles import with_statement_timeout
from assay.errors import ConfigError
from assay.names import ALL_PARTITIONS
from assay.quality import store
from assay.quality.report import PartitionResult
from assay.quality.suites import DAY, SuiteError, SuiteSpec
from assay.sources.declarations import Declarations, FileSource, SqlSource

log = logging.getLogger(__name__)


@dataclass
class Planned:
    """One validation to do: a suite on one asset partition."""

    suite: SuiteSpec
    result: PartitionResult
    source: SqlSource | FileSource
    url: str | None = None
    file: Path | None = None
    namespace: str = ""
    name: str = ""
    pii: dict[str, str] = field(default_factory=dict)
    gx_suite: Any = None
    error: str | None = None  # known before validating (suite refused by GX)


def _file_groups(root: Path, pattern: str) -> tuple[list[Path], str]:
    """The folders matching the part of ``pattern`` before ``/{day}``, and the part after it.

    A folder reached through a symbolic link out of ``root`` is listed too (it is reported, never read).
    """
    prefix, rest = pattern.split("/" + DAY, 1)
    return sorted(p for p in root.glob(prefix) if p.is_dir()), rest.lstrip("/")


def _usual_name(root: Path, group: Path, rest: str) -> str:
    """The file name a group's partitions usually have (for recording a missing partition)."""
    from assay.sources.files import inside

    names = sorted(p.name for p in group.glob(f"*/{rest}") if p.is_file() and inside(root, p))
    return max(set(names), key=names.count) if names else rest.replace("*", "")


def _day_files(root: Path, group: Path, day: dt.date, rest: str) -> tuple[list[Path], list[Path]]:
    """The group's files of ``day``: those inside ``root``, and those a symbolic link leads out of it."""
    from assay.sources.files import inside

    found = {p: inside(root, p) for p in sorted((group / day.isoformat()).glob(rest)) if p.is_file()}
    return [p for p, ok in found.items() if ok], [p for p, ok in found.items() if not ok]


def _outside(spec: SuiteSpec, decl: FileSource, relpath: str, group_rel: str, name: str, label: str,
             day: dt.date) -> Planned:
    """A file (or supplier folder) linked from outside the root: planned as an error, nothing of it read."""
    from assay.sources.files import OUTSIDE_ROOT

    log.warning("source %s: %s: %s", decl.name, relpath, OUTSIDE_ROOT)
    return Planned(
        suite=spec,
        result=PartitionResult(spec.name, label, day.isoformat(), day),
        source=decl,
        namespace=f"{group_rel}/{day.isoformat()}",
        name=name,
        error=f"{relpath}: {OUTSIDE_ROOT}",
    )


def plan_suite(
    settings: Settings, spec: SuiteSpec, decls: Declarations, day: dt.date, run_key: str
) -> list[Planned]:
    """The validations of one suite on ``day``; :class:`SuiteError` when its target cannot be planned."""
    target = spec.target
    try:
        decl = decls.get(target.source)
    except ConfigError as exc:
        raise SuiteError(spec.path, str(exc)) from None
    if target.table is not None:
        if not isinstance(decl, SqlSource):
            raise SuiteError(spec.path, f"meta.assay.table needs a SQL source; {decl.name} is a file source")
        partition = day.isoformat() if target.partition_column else ALL_PARTITIONS
        try:
            # GX runs suite SQL too: its sessions get the suite's own, shorter statement timeout.
            url = with_statement_timeout(decl.resolve_url(settings), settings.suite_statement_timeout)
        except Exception as exc:  # settings or Airflow's connection lookup; recorded like a bad suite
            # A URL parser's message may quote a piece of a password (a raw '@' cut it): scrubbed, not chained.
            reason = scrub(str(exc), *urls_of(settings))
            raise SuiteError(spec.path, f"source {decl.name}: cannot resolve its URL: {reason}") from None
        return [
            Planned(
                suite=spec,
                result=PartitionResult(spec.name, target.relation, partition, day),
                source=decl,
                url=url,
                namespace=target.schema,
                name=target.relation,
            )
        ]
    if not isinstance(decl, FileSource):
        raise SuiteError(spec.path, f"meta.assay.files needs a file source; {decl.name} is a SQL source")
    assert target.files is not None
    root = decl.resolve_root(settings)
    groups, rest = _file_groups(root, target.files)
    if not groups:
        # Not one folder (supplier) matches: the landing zone is gone or moved, not "nothing to check".
        raise SuiteError(spec.path, f"no folder under {root} matches {target.files.split('/' + DAY)[0]}")
    from assay.sources.files import inside

    planned = []
    for group in groups:
        group_rel = group.relative_to(root).as_posix()
        if not inside(root, group):
            # A supplier folder linked from elsewhere on the machine: reported, not globbed further.
            planned.append(_outside(spec, decl, group_rel, group_rel, rest.replace("*", ""), group_rel, day))
            continue
        found, linked_out = _day_files(root, group, day, rest)
        several = len(found) + len(linked_out) > 1
        for link in linked_out:
            relpath = link.relative_to(root).as_posix()
            label = f"{group_rel}/{link.name}" if several else group_rel
            planned.append(_outside(spec, decl, relpath, group_rel, link.name, label, day))
        paths: list[Path | None] = list(found) or ([] if linked_out else [None])
        for path in paths:
            name = path.name if path is not None else _usual_name(root, group, rest)
            label = group_rel if not several else f"{group_rel}/{name}"
            planned.append(
                Planned(
                    suite=spec,
                    result=PartitionResult(spec.name, label, day.isoformat(), day),
                    source=decl,
                    file=path,
                    namespace=f"{group_rel}/{day.isoformat()}",
                    name=name,
                )
            )
    return planned


def disambiguate(planned: list[Planned]) -> None:
    """Prefix ``<source>.`` to targets that two sources share on one partition, so keys stay unique.

    A partition's key (``<target>:<partition>``) is what the summary and the VALIDATED asset event
    list; without the prefix, two sources' ``products`` tables validated on one day would be one key.
    Targets no other source shares keep their plain name (the demo's keys do not change).
    """
    sources: dict[str, set[str]] = {}
    for p in planned:
        sources.setdefault(p.result.key, set()).add(p.source.name)
    for p in planned:
        if len(sources[p.result.key]) > 1:
            p.result.target = f"{p.source.name}.{p.result.target}"


def is_selected(p: Planned, wanted: set[str] | None) -> bool:
    """Whether a planned validation is among the ``wanted`` names (target, suite, source, asset)."""
    if wanted is None:
        return True
    names = {p.result.target, p.suite.name, p.suite.gx_name, p.source.name, f"{p.namespace}/{p.name}",
             f"{p.namespace}.{p.name}"}
    return bool(names & wanted)


def _relation_exists(url: str, schema: str, name: str) -> bool:
    """Whether the source has the table or view ``schema.name`` (one catalog lookup, names as they are)."""
    from sqlalchemy import inspect

    from assay.sources.sql import source_engine

    engine = source_engine(url)
    try:
        with engine.connect() as conn:
            return bool(inspect(conn).has_table(name, schema=schema))
    finally:
        engine.dispose()


def register_asset(s: Any, p: Planned) -> None:
    """Find (or create) the catalog rows of the planned asset; read its PII columns.

    A table the catalog does not know yet is created only if the source has it: a suite naming a
    missing table (a typo, a table never created) is an error on that suite, never a new active
    asset that nothing can ever validate.

    Raises:
        SuiteError: the suite's table is neither in the catalog nor in the source, or the source
            cannot be asked.
    """
    is_sql = isinstance(p.source, SqlSource)
    source_id = store.ensure_source(
        s, p.source.name, SourceKind.SQL if is_sql else SourceKind.FILES, p.source.locator()
    )
    if is_sql:
        kind, location = AssetKind.TABLE, f"{p.namespace}.{p.name}"
        if store.find_asset(s, source_id, p.namespace, p.name) is None:
            _require_relation(p)
    else:
        kind, location = AssetKind.FILE, f"{p.namespace}/{p.name}"
    p.result.asset_id = store.ensure_asset(
        s, source_id, p.namespace, p.name, kind, location, partition_column=p.suite.target.partition_column
    )
    # The catalog's labels first; the suite's list covers what the catalog has not classified.
    p.pii = {**dict(p.suite.pii_columns), **store.pii_columns(s, p.result.asset_id)}


def _require_relation(p: Planned) -> None:
    """:class:`SuiteError` unless the source has the planned table (checked before it becomes an asset)."""
    from sqlalchemy.exc import SQLAlchemyError

    assert p.url is not None
    where = f"{p.namespace}.{p.name}"
    try:
        exists = _relation_exists(p.url, p.namespace, p.name)
    except SQLAlchemyError as exc:
        from assay.catalog.urls import scrub as without_secrets

        # A driver's message may quote the URL it was given: its secrets are masked.
        reason = without_secrets(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0], p.url)
        raise SuiteError(p.suite.path, f"table {where}: source {p.source.name} cannot be read: {reason}") from None
    if not exists:
        raise SuiteError(
            p.suite.path,
            f"table {where} does not exist in source {p.source.name} (not in the catalog either); "
            "nothing validated, no asset created",
        )
