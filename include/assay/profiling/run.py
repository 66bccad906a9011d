"""``run_profile``: profile every active asset's partition for one logical date into the catalog.

Which partitions (see :mod:`assay.profiling.targets`), the catalog writes
(:mod:`assay.profiling.store`) and the anomaly history (:mod:`assay.profiling.history`) live
apart; this module runs the lifecycle of each partition.

Each partition's outcome is written in one transaction: its ``profile_runs`` attempt (a new row
per attempt, never changed after), its ``column_metrics`` and its anomalies (upserted per metric,
keeping a steward's status; anomalies no longer found deleted); the attempt then becomes the
current one of its key. A partition that fails is recorded as ``failed`` with its error and the
others carry on; :class:`~assay.profiling.report.ProfilingError` is raised at the end. A rerun that
fails keeps a successful current attempt (the failed attempt is recorded beside it), and a run
first reaps the attempts whose process is gone (:mod:`assay.catalog.runs`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete
from sqlalchemy.exc import SQLAlchemyError

from assay import progress
from assay.catalog import runs
from assay.catalog.db import engine, masked, scrub, session
from assay.catalog.models import Anomaly, RunStatus
from assay.classify.scrub import safe_value
from assay.config import Settings
from assay.errors import AssayError, SourceError
from assay.names import ALL_PARTITIONS
from assay.profiling.anomalies import AnomalyConfig
from assay.profiling.history import detect_findings
from assay.profiling.pii_review import open_reviews
from assay.profiling.report import AssetResult, ProfileReport, ProfilingError
from assay.profiling.sql import DEFAULT_TUNING, SqlTuning
from assay.profiling.store import anomaly_scope, finish_profile, replace_anomalies, replace_metrics
from assay.profiling.targets import Profile, Target, resolve
from assay.sources.declarations import Declarations, SqlSource, default_path, load

log = logging.getLogger(__name__)

#: Characters of an error message kept in ``profile_runs.error``.
MAX_ERROR_CHARS = 1000


def run_profile(
    settings: Settings,
    logical_date: dt.date,
    run_key: str,
    assets: list[str] | None = None,
    force: bool = False,
    *,
    anomaly_config: AnomalyConfig | None = None,
    tuning: SqlTuning = DEFAULT_TUNING,
    declarations: Declarations | None = None,
    source: str | None = None,
) -> ProfileReport:
    """Profile every active asset's partition for ``logical_date`` and detect anomalies.

    Args:
        settings: where the catalog and the source declarations are.
        logical_date: the partition date (Airflow's logical date).
        run_key: ``dag_id/run_id`` in Airflow, ``cli/<date>`` from the command line; stored on
            each ``profile_runs`` row.
        assets: restrict to these assets, each given as its name, ``namespace.name`` or location;
            ``None`` for every active asset.
        force: profile partitions already profiled successfully for this date again.
        anomaly_config: detector thresholds (k, warm-up, window, tolerances).
        tuning: SQL profiler sample and sketch sizes.
        declarations: the source declarations; default: the file the settings name.
        source: only the assets of this declared source (``assets`` then name assets of it).

    Returns:
        One :class:`AssetResult` per asset partition considered.

    Raises:
        ConfigError: ``source`` is not declared, or a requested asset is not an active asset of
            the catalog (of ``source``, when given).
        ProfilingError: at least one partition failed; raised after every partition was tried and
            recorded, with the report attached.
    """
    url = settings.catalog_url()
    decls = declarations or load(default_path(settings))
    config = anomaly_config or AnomalyConfig()
    with session(url) as s:
        # Attempts left in progress by a process that is gone (killed, cut from the catalog).
        runs.reap(s, runs.PROFILE, run_key, dt.datetime.now(dt.UTC))
    with session(url) as s:
        targets = resolve(s, decls, logical_date, assets, source)
    results: list[AssetResult] = []
    # Progress on the assay.progress logger (at most one line per 10 s, and a closing line).
    ticker = progress.Ticker("profile", total=len(targets), unit="assets")
    columns = 0
    with _engines() as engines:
        for done, target in enumerate(targets, start=1):
            if target.done and not force:
                results.append(AssetResult(target.asset_id, target.label, target.partition_key, "skipped"))
            else:
                # The attempt's owner lock, held until its outcome is committed.
                with runs.held(engine(url), runs.PROFILE, (target.asset_id, target.partition_key, logical_date)):
                    results.append(
                        _profile_one(url, settings, decls, engines, target, logical_date, run_key, config, tuning)
                    )
                columns += results[-1].columns
            ticker.update(done, columns=columns, last=target.label)
    ticker.finish(len(targets), columns=columns)
    report = ProfileReport(run_key=run_key, logical_date=logical_date, results=tuple(results))
    log.info("%s", report.summary())
    if report.failed:
        raise ProfilingError(report)
    return report


# ---- profiling one partition --------------------------------------------------------------------
@contextmanager
def _engines() -> Iterator[dict[str, Engine]]:
    """Source engines shared by the assets of one run, disposed at its end."""
    engines: dict[str, Engine] = {}
    try:
        yield engines
    finally:
        for e in engines.values():
            e.dispose()


def _profile_one(
    url: str,
    settings: Settings,
    decls: Declarations,
    engines: dict[str, Engine],
    target: Target,
    day: dt.date,
    run_key: str,
    config: AnomalyConfig,
    tuning: SqlTuning,
) -> AssetResult:
    started = dt.datetime.now(dt.UTC)
    base = {
        "asset_id": target.asset_id,
        "partition_key": target.partition_key,
        "logical_date": day,
        "run_key": run_key,
        "started_at": started,
    }
    with session(url) as s:
        # A new attempt row; the key's current attempt (status, metrics) stays until this one finishes.
        run_id = runs.start_attempt(s, runs.PROFILE, base, started)
    from pyarrow import ArrowException

    try:
        profile = _compute(settings, decls, engines, target, day, tuning)
    except (SQLAlchemyError, OSError, AssayError, ArrowException) as exc:
        # A table dropped since the inventory, an unreadable file, a broken declaration: recorded
        # for this asset; the rest of the run carries on and the run fails at the end.
        error = _error_text(exc)
        log.warning("profiling %s [%s] failed: %s", target.label, target.partition_key, error)
        with session(url) as s:
            # The failed attempt is recorded; a successful current attempt stays current (its metrics,
            # anomalies and the review items on them stay). Otherwise this failure becomes current.
            failed: dict[str, Any] = {"status": RunStatus.FAILED.value, "error": error, "row_count": None, "stats": {}}
            if finish_profile(s, run_id, failed, dt.datetime.now(dt.UTC)):
                return AssetResult(target.asset_id, target.label, target.partition_key, "failed", run_id, error=error)
            s.execute(delete(Anomaly).where(*anomaly_scope(target, day)))
        return AssetResult(target.asset_id, target.label, target.partition_key, "failed", run_id, error=error)

    with session(url) as s:
        # Metrics first: the run's stats record how many values their screen masked.
        scrubbed = replace_metrics(s, run_id, profile)
        success = {"status": RunStatus.SUCCESS.value, "error": None, "row_count": profile.row_count,
                   "stats": {**profile.stats, "scrubbed": scrubbed}}
        finish_profile(s, run_id, success, dt.datetime.now(dt.UTC))
        findings = detect_findings(s, target, day, profile, config)
        replace_anomalies(s, target, day, run_id, findings)
        # PII found value by value in columns not classified PII: a question for the steward.
        pii_columns = open_reviews(s, target, day, run_id, profile)
    log.info(
        "profiled %s [%s]: %d rows, %d columns, %d anomalies, %d columns with PII-looking values",
        target.label,
        target.partition_key,
        profile.row_count,
        len(profile.columns),
        len(findings),
        pii_columns,
    )
    return AssetResult(
        target.asset_id,
        target.label,
        target.partition_key,
        "profiled",
        run_id,
        profile.row_count,
        len(findings),
        pii_columns=pii_columns,
        columns=len(profile.columns),
    )


def _compute(
    settings: Settings,
    decls: Declarations,
    engines: dict[str, Engine],
    target: Target,
    day: dt.date,
    tuning: SqlTuning,
) -> Profile:
    decl = decls.get(target.source)
    if isinstance(decl, SqlSource):
        from assay.profiling.sql import profile_sql
        from assay.sources.sql import source_engine

        source_url = decl.resolve_url(settings)
        if source_url not in engines:
            try:
                engines[source_url] = source_engine(source_url)
            except (SQLAlchemyError, ValueError) as exc:  # unparsable (a port that is no number): this asset's error
                # Not chained: the parser's message may quote a piece of a password it cut in the wrong place.
                reason = scrub(str(exc), source_url)
                raise SourceError(f"source {decl.name}: unusable URL {masked(source_url)}: {reason}") from None
        part = target.partition_key != ALL_PARTITIONS
        prof = profile_sql(
            engines[source_url],
            target.name,
            target.namespace or None,
            target.partition_column if part else None,
            day if part else None,
            pii=target.pii,
            tuning=tuning,
        )
        return Profile(prof.row_count, prof.columns, prof.data_types, prof.stats)
    from assay.profiling.arrow import profile_arrow
    from assay.sources import files
    from assay.sources.column_types import type_notes

    root = decl.resolve_root(settings)
    path = Path(target.location or target.name)
    if not path.is_absolute():
        path = root / path
    # Re-checked at read time: a link inventoried inside the root may have been re-pointed since.
    table = files.read_table(path, root=root, types=decl.column_types(target.location or target.name))
    columns = profile_arrow(table, pii=target.pii)
    for name, note in type_notes(table).items():  # why the column has its type: declared, or leading zeros
        columns[name]["type_note"] = note
    data_types = {f.name: files.arrow_type_name(f.type) for f in table.schema}
    stats = {"engine": "arrow", "statements": 0, "row_count": table.num_rows, "exact": True}
    return Profile(table.num_rows, columns, data_types, stats)


def _error_text(exc: BaseException) -> str:
    """The first line of the error (SQLAlchemy appends the statement and a documentation link).

    Scrubbed and bounded like a stored value: a driver's message may quote the value it choked on.
    """
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return str(safe_value((text.splitlines() or [type(exc).__name__])[0], limit=MAX_ERROR_CHARS))
