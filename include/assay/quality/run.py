"""``run_quality``: validate every suite on its asset partitions, record the evidence, then judge.

Per run: load the suites, plan one validation per (suite, asset partition) of the logical date,
and for each: record the run row as ``running``, validate with GX (SQL pushdown for tables, pandas
for files), mask PII in the result, apply waivers, write the expectation results and review items.
A suite or partition that cannot be validated is recorded as ``error`` and the next one runs. Then
Data Docs are rebuilt from the masked results, scorecards recomputed, and -- only after all of
that is stored -- :class:`~assay.quality.report.QualityFailure` is raised if anything critical
failed or could not be evaluated.

Which partitions each suite covers is planned in :mod:`assay.quality.plan`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.catalog import runs
from assay.catalog.db import engine, masked, session
from assay.catalog.models import AssetKind, QualityStatus
from assay.classify.scrub import safe_json
from assay.config import Settings
from assay.errors import ConfigError, SourceError
from assay.names import ALL_PARTITIONS
from assay.quality import store
from assay.quality.masking import mask_result, scrub_text
from assay.quality.plan import Planned, disambiguate, is_selected, plan_suite, register_asset
from assay.quality.report import Outcome, PartitionResult, QualityFailure, QualityReport
from assay.quality.suites import (
    LoadedSuites,
    SuiteError,
    build_gx_suite,
    load_suites,
    suites_dir,
)
from assay.sources.declarations import Declarations, SqlSource, default_path, load

log = logging.getLogger(__name__)

TRACEBACK_WITHHELD = "(traceback withheld: it may quote data values; see the message)"


def _json_safe(value: Any) -> Any:
    """NaN and infinities become None (JSONB refuses them); containers are walked."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _first_line(text: str, limit: int = 300) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), text.strip())
    return line[:limit]


def _exception_message(info: Any) -> str | None:
    """The first raised exception's message in GX's exception_info (flat or keyed by metric)."""
    if not isinstance(info, dict):
        return None
    candidates = [info] + [v for v in info.values() if isinstance(v, dict)]
    for c in candidates:
        raised = c.get("raised_exception")
        if raised is True or str(raised).lower() == "true":
            return _first_line(str(c.get("exception_message") or "exception without a message"))
    return None



# ---- validating one partition -------------------------------------------------------------------
def _outcomes(result: Any, p: Planned, waivers: dict[str, int]) -> list[Outcome]:
    """Mask every expectation result in place (the GX object is then safe to store) and read it."""
    outcomes = []
    for r in result.results:
        config = r.expectation_config
        eid = (config.meta or {}).get("name")
        try:
            spec = p.suite.expectation(str(eid))
        except KeyError:
            continue  # not one of ours (build_gx_suite names every expectation)
        raw = r.to_json_dict().get("result") or {}
        # PII columns masked by label, then every value of any column through the value-level
        # screen and the 256-character bound: this copy is what the catalog and Data Docs get.
        scrubbed: Counter[str] = Counter()
        safe = safe_json(_json_safe(mask_result(raw, spec.columns, p.pii)), scrubbed)
        r.result = safe
        error = _exception_message(r.exception_info)
        if error is not None:
            error = scrub_text(error)
        # Tracebacks can quote values; the stored and rendered result keeps only the message
        # (GX's renderer needs a string where it shows a traceback).
        r.exception_info = {
            "raised_exception": error is not None,
            "exception_message": error,
            "exception_traceback": TRACEBACK_WITHHELD if error is not None else None,
        }
        success = bool(r.success) and error is None
        observed = safe.get("observed_value")
        unexpected = safe.get("unexpected_count")
        if unexpected is None and spec.type == "unexpected_rows_expectation" and isinstance(observed, int):
            unexpected = observed
        details = {
            k: safe[k]
            for k in ("element_count", "missing_count", "missing_percent", "unexpected_percent_nonmissing",
                      "partial_unexpected_counts", "details")
            if k in safe and safe[k] not in (None, [], {})
        }
        if "partial_unexpected_counts" not in details and safe.get("partial_unexpected_list"):
            details["partial_unexpected_list"] = safe["partial_unexpected_list"]
        if spec.columns and any(c in p.pii for c in spec.columns):
            details["masked"] = True
        if scrubbed:
            details["scrubbed"] = dict(sorted(scrubbed.items()))
        outcomes.append(
            Outcome(
                expectation_id=spec.expectation_id,
                expectation_type=spec.type,
                column=spec.column,
                dimension=spec.dimension,
                severity=spec.severity,
                success=success,
                observed_value=observed,
                unexpected_count=int(unexpected) if isinstance(unexpected, int | float) else None,
                unexpected_percent=float(safe["unexpected_percent"]) if isinstance(safe.get("unexpected_percent"), int | float) else None,
                details=details,
                error=error,
                waiver_id=None if success else waivers.get(spec.expectation_id),
            )
        )
    # An expectation GX silently dropped would otherwise vanish from the evidence.
    seen = {o.expectation_id for o in outcomes}
    for spec in p.suite.expectations:
        if spec.expectation_id not in seen:
            outcomes.append(Outcome(spec.expectation_id, spec.type, spec.column, spec.dimension, spec.severity,
                                    success=False, error="GX returned no result for this expectation",
                                    waiver_id=waivers.get(spec.expectation_id)))
    return outcomes


def _validate(gx: Any, p: Planned, day: dt.date, result_format: str) -> tuple[Any, Any, dict[str, Any]]:
    """Run GX on the partition; returns (result, store key, statistics about the input)."""
    from assay.quality import feeds
    from assay.quality.gxrun import attempt_run_name, result_format_config

    spec = p.suite
    rf = result_format_config(result_format, spec.target.row_id_columns)
    run_name = attempt_run_name(p.result.partition_key, day, p.result.quality_run_id)  # per attempt: never overwritten
    asset_name = p.result.target.replace("/", ".")
    if isinstance(p.source, SqlSource):
        assert p.url is not None
        result, key = gx.validate_sql(
            suite_name=spec.gx_name, source=p.source.name, url=p.url, asset_name=asset_name,
            schema=p.namespace, table=p.name, partition_column=spec.target.partition_column, day=day,
            run_name=run_name, result_format=rf,
        )
        # "scan": one aggregate statement (nothing failed); "gx": GX's own validation (assay.quality.onescan)
        return result, key, {"route": gx.last_route}
    types = p.source.column_types(f"{p.namespace}/{p.name}")  # declared column types, as inventory reads them
    feed = feeds.read_feed(p.file, types) if p.file is not None else feeds.missing_feed(spec.columns())
    stats = {"file": str(p.file.name) if p.file else None, "rows": len(feed.frame), "notes": feed.notes,
             "file_facts": {k: v for k, v in feed.facts.items()}}
    result, key = gx.validate_frame(suite_name=spec.gx_name, asset_name=asset_name, frame=feed.frame, day=day,
                                    run_name=run_name, result_format=rf)
    return result, key, stats


def _validate_partition(
    url: str, gx: Any, p: Planned, day: dt.date, run_key: str, result_format: str
) -> None:
    res = p.result
    started = time.perf_counter()
    with session(url) as s:
        res.quality_run_id = store.start_run(s, res, run_key, p.suite.digest, dt.datetime.now(dt.UTC))
        waivers = _waivers(s, p, day)
    gx_run_id = None
    if p.error is not None:
        res.error = p.error
    else:
        try:
            result, key, stats = _validate(gx, p, day, result_format)
            res.outcomes = _outcomes(result, p, waivers)
            if res.outcomes and all(o.error for o in res.outcomes):
                # Nothing could be evaluated: the batch itself is unreadable (table gone, no access).
                res.error = f"no expectation could be evaluated: {res.outcomes[0].error}"
            gx_run_id = str(result.meta.get("run_id")) if result.meta else None
            if key is not None:
                gx.store_masked(key, result)
                res.data_docs_url = gx.page_url(key)
            res.statistics = {**stats, "gx": _json_safe(result.statistics)}
        except SourceError as exc:  # a feed file that cannot be read even after transcoding
            res.error = scrub_text(str(exc))
        except Exception as exc:  # GX and drivers raise many types; recorded, then the run fails at the end
            res.error = scrub_text(f"{type(exc).__name__}: {_first_line(str(exc))}")
        if res.error is not None:
            log.error("quality %s on %s %s could not run: %s", p.suite.name, res.target, res.partition_key, res.error)
    res.statistics["elapsed_s"] = round(time.perf_counter() - started, 3)
    res.statistics["pii_columns"] = sorted(p.pii)
    res.statistics["scrubbed"] = _scrubbed_total(res.outcomes)
    res.status = res.decide_status()
    with session(url) as s:
        kept = store.finish_run(s, res, gx_run_id, dt.datetime.now(dt.UTC), run_key=run_key, suite_digest=p.suite.digest)
        store.sync_review_items(s, res, kept=kept)
    if kept:  # the record's Data Docs page stays the one the catalog links
        log.warning("quality %s on %s %s: the previous result is kept", p.suite.name, res.target, res.partition_key)
        res.data_docs_url = None
    log.info(
        "quality %s on %s %s: %s (%d critical, %d warning failed, %d waived, %d could not evaluate)",
        p.suite.name, res.target, res.partition_key, res.status, len(res.critical_failures),
        len(res.warning_failures), len(res.waived), len(res.errored),
    )


def _scrubbed_total(outcomes: list[Outcome]) -> dict[str, int]:
    """Values the screen masked (by kind) and cut, over a partition's expectation results."""
    total: Counter[str] = Counter()
    for o in outcomes:
        total.update(o.details.get("scrubbed") or {})
    return dict(sorted(total.items()))


def _waivers(s: Any, p: Planned, day: dt.date) -> dict[str, int]:
    from assay.quality.waivers import active_waivers

    assert p.result.asset_id is not None
    return active_waivers(s, p.result.asset_id, p.suite.name, day)


# ---- broken suite files -------------------------------------------------------------------------
def _is_day(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _record_broken(
    url: str, err: SuiteError, day: dt.date, run_key: str, wanted: set[str] | None
) -> tuple[list[PartitionResult], str | None]:
    """Record a suite file that cannot be used against the assets it covers.

    Those are the assets it validated last time (from ``quality_runs``), else the catalog asset
    named like the file -- of the file's source only, when its folder names one. With neither,
    the error is returned to be reported without a row.
    """
    from sqlalchemy import select

    from assay.catalog.models import Asset, Source

    with session(url) as s:
        covered: list[tuple[int, str | None]] = list(store.assets_last_validated(s, err.suite_name))
        if not covered:
            covered = [(aid, None) for aid in store.find_assets(s, err.suite_name)]
        if err.source is not None:  # another source's asset of the same name is not this suite's
            mine = set(s.execute(select(Asset.id).join(Source, Source.id == Asset.source_id).where(
                Source.name == err.source, Asset.id.in_([a for a, _ in covered]))).scalars())
            covered = [c for c in covered if c[0] in mine]
        named = {aid: (sid, ns, n, pc, kind) for aid, sid, ns, n, pc, kind in s.execute(
            select(Asset.id, Asset.source_id, Asset.namespace, Asset.name, Asset.partition_column, Asset.kind)
            .where(Asset.id.in_([a for a, _ in covered]))
        ).all()}
        # A file suite last covered yesterday's files: record today's partition on today's file
        # asset of each group (same folder layout, same file name).
        for i, (asset_id, style) in enumerate(covered):
            source_id, ns, name, _, kind = named[asset_id]
            group, _, last = ns.rpartition("/")
            if kind == AssetKind.FILE.value and group and _is_day(last) and last != day.isoformat():
                today = f"{group}/{day.isoformat()}"
                new_id = store.ensure_asset(s, source_id, today, name, AssetKind.FILE, f"{today}/{name}")
                named[new_id] = (source_id, today, name, None, kind)
                covered[i] = (new_id, style)
    results = []
    for asset_id, style in dict.fromkeys(covered):
        _, ns, name, partition_column, _ = named[asset_id]
        target = name if "/" not in ns else ns.rsplit("/", 1)[0]
        names = {err.suite_name, target, name, *((f"{err.source}.{err.suite_name}",) if err.source else ())}
        if wanted is not None and not (names & wanted):
            continue
        if style is None:  # never validated: a table without a partition column is validated whole
            style = "day" if partition_column or "/" in ns else ALL_PARTITIONS
        partition = ALL_PARTITIONS if style == ALL_PARTITIONS else day.isoformat()
        res = PartitionResult(err.suite_name, target, partition, day, asset_id=asset_id, error=str(err))
        res.status = QualityStatus.ERROR.value
        with session(url) as s:
            res.quality_run_id = store.start_run(s, res, run_key, None, dt.datetime.now(dt.UTC))
            kept = store.finish_run(s, res, None, dt.datetime.now(dt.UTC), run_key=run_key, suite_digest=None)
            store.sync_review_items(s, res, kept=kept)
        log.error("quality %s on %s %s: %s", err.suite_name, target, partition, res.error)
        results.append(res)
    if results:
        return results, None
    if wanted is not None and not ({err.suite_name, f"{err.source}.{err.suite_name}"} & wanted):
        return [], None
    log.error("%s (no asset to record it against)", err)
    return [], str(err)


# ---- entry point --------------------------------------------------------------------------------
def run_quality(
    settings: Settings,
    logical_date: dt.date,
    run_key: str,
    assets: list[str] | None = None,
    result_format: str = "SUMMARY",
    *,
    raise_on_failure: bool = True,
    suites: Path | None = None,
    declarations: Declarations | None = None,
    source: str | None = None,
    progress: Callable[[PartitionResult], None] | None = None,
) -> QualityReport:
    """Validate the suites in ``expectations/`` on the partitions of ``logical_date``.

    Idempotent for consumers: re-running a date adds a validation attempt per partition (with its
    results and Data Docs page; earlier attempts are never changed) that becomes the current one
    of its key, refreshes review items and scorecards.

    Args:
        settings: where the catalog, the sources and the GX state folder are.
        logical_date: the partition day (event tables and feeds); whole tables are validated as
            of that date (partition ``__all__``).
        run_key: ``dag_id/run_id`` in Airflow, ``cli/quality/<scope>/<date>`` from the command line.
        assets: names to validate -- tables (``interactions``), file targets (``feeds/northwind``),
            suite or source names; ``None`` for everything.
        result_format: GX's ``BOOLEAN_ONLY``, ``BASIC``, ``SUMMARY`` or ``COMPLETE``.
        raise_on_failure: raise at the end when something failed (the DAG passes ``False`` and
            calls :func:`assay.quality.enforce` after publishing the partitions that passed).
        suites: the suites folder (default ``ASSAY_EXPECTATIONS_DIR``, ``expectations/``).
        declarations: the source declarations (default: the file the settings name).
        source: validate only this source's suites (``assets`` then narrows within it).
        progress: called with each partition's result as soon as it is recorded (the CLI prints it).

    Returns:
        The report; ``.summary()`` is small and JSON-able.

    Raises:
        ConfigError: bad ``result_format``, or ``assets`` names nothing the suites cover.
        QualityFailure: (a :class:`~assay.errors.QualityError`) an unwaived critical expectation
            failed, or a suite or partition could not be validated. Raised after everything is stored.
    """
    from assay.quality.gxrun import RESULT_FORMATS
    from assay.quality.scorecard import update_scorecards

    started = time.perf_counter()
    if result_format not in RESULT_FORMATS:
        raise ConfigError(f"result_format must be one of {', '.join(RESULT_FORMATS)}, got {result_format!r}")
    folder = suites or suites_dir(settings)
    loaded: LoadedSuites = load_suites(folder)
    decls = declarations or load(default_path(settings))
    if source is not None:
        decls.get(source)  # an undeclared source is a ConfigError naming the declared ones
        loaded = LoadedSuites(
            suites=[sp for sp in loaded.suites if sp.source == source],
            errors=[e for e in loaded.errors if e.source in (source, None)],
        )
    wanted = set(assets) if assets else None
    url = settings.catalog_url()

    planned: list[Planned] = []
    for spec in loaded.suites:
        try:
            planned.extend(plan_suite(settings, spec, decls, logical_date, run_key))
        except SuiteError as exc:
            loaded.errors.append(exc)
    planned = [p for p in planned if is_selected(p, wanted)]
    if wanted is not None:
        known = {n for p in planned for n in (p.result.target, p.suite.name, p.suite.gx_name, p.source.name)}
        broken = {n for e in loaded.errors for n in (e.suite_name, f"{e.source}.{e.suite_name}")}
        unknown = sorted(wanted - known - broken - {f"{p.namespace}/{p.name}" for p in planned})
        if unknown:
            raise ConfigError(f"no suite covers {', '.join(unknown)}; suites are in {folder}")
    if not loaded.suites and not loaded.errors:
        raise ConfigError(f"no suites {f'of source {source} ' if source else ''}in {folder}")
    disambiguate(planned)  # two sources' ``products`` on one partition: ``<source>.products`` keys

    log.info("quality %s (%s): %d partitions to validate, catalog %s", run_key, logical_date, len(planned), masked(url))
    with session(url) as s:
        # Attempts left in progress by a process that is gone (killed, cut from the catalog).
        runs.reap(s, runs.QUALITY, run_key, dt.datetime.now(dt.UTC))
    registered: list[Planned] = []
    with session(url) as s:
        for p in planned:
            try:
                register_asset(s, p)
            except SuiteError as exc:  # its table does not exist: recorded like a broken suite
                loaded.errors.append(exc)
                continue
            registered.append(p)
    planned = registered

    results: list[PartitionResult] = []
    unrecorded: list[str] = []
    for err in list(loaded.errors):
        recorded, message = _record_broken(url, err, logical_date, run_key, wanted)
        results.extend(recorded)
        if message:
            unrecorded.append(message)

    docs_index = None
    if planned:
        from assay.quality.gxrun import GxSession

        gx = GxSession(settings.state_dir)
        for spec in loaded.suites:
            try:
                gx.add_suite(build_gx_suite(spec))
            except SuiteError as exc:
                for p in planned:
                    if p.suite is spec:
                        p.error = str(exc)
        for p in planned:
            assert p.result.asset_id is not None
            # The attempt's owner lock, held until its outcome is committed (see assay.catalog.runs).
            owned = (p.suite.name, p.result.asset_id, p.result.partition_key, logical_date)
            with runs.held(engine(url), runs.QUALITY, owned):
                _validate_partition(url, gx, p, logical_date, run_key, result_format)
            results.append(p.result)
            if progress is not None:
                progress(p.result)
        try:
            gx.build_docs()
            docs_index = gx.index_url()
            with session(url) as s:
                for p in planned:
                    if p.result.quality_run_id is not None and p.result.data_docs_url:
                        store.set_docs_url(s, p.result.quality_run_id, p.result.data_docs_url)
        except Exception as exc:  # the evidence is stored; a docs failure must still fail the run
            message = scrub_text(f"Data Docs could not be built: {type(exc).__name__}: {_first_line(str(exc))}")
            log.error("%s", message)
            unrecorded.append(message or "Data Docs could not be built")

    with session(url) as s:
        update_scorecards(s, [r.asset_id for r in results if r.asset_id is not None], logical_date)

    report = QualityReport(
        run_key=run_key,
        logical_date=logical_date,
        partitions=tuple(results),
        unrecorded_errors=tuple(unrecorded),
        data_docs_index=docs_index,
        elapsed_s=round(time.perf_counter() - started, 3),
    )
    log.info("quality %s (%s): %d partitions, %d validated, %s in %.1f s", run_key, logical_date,
             len(results), len(report.validated_partitions), "ok" if report.ok else "FAILED", report.elapsed_s)
    if raise_on_failure and not report.ok:
        raise QualityFailure(report.failure_text(), report.summary())
    return report
