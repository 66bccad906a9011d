"""``run_inventory``: discover every declared source and record it in the catalog.

Per source: upsert the ``sources`` row, read the catalog's state of its assets, observe the source
(batched reflection or a folder listing), classify the columns of each chunk of assets, write each
asset in its own transaction, soft-delete the assets that vanished, then read the run's figures
back from the catalog. A source that cannot be listed is recorded as failed and the next source
runs; the run raises at the very end, after everything it learnt is stored.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from assay import progress
from assay.catalog.db import advisory_lock, engine, masked, scrub, without_password
from assay.catalog.models import AssetStatus, RunStatus, SourceKind
from assay.catalog.urls import urls_of
from assay.config import Settings
from assay.errors import ConfigError, DatabaseError, SourceError
from assay.inventory import lifecycle, record
from assay.inventory.classifications import PENDING, LabelRoute, Pending, load_pending, sample_digest
from assay.inventory.figures import source_figures
from assay.inventory.observe import Listing, ObservedAsset, db_error_text, observe_files, observe_sql
from assay.inventory.pipeline import Writers, prefetch
from assay.inventory.report import InventoryReport, SourceReport
from assay.inventory.series_events import record_series_events
from assay.inventory.state import AssetState, load_state
from assay.sources.declarations import Declarations, FileSource, SqlSource, default_path, load

log = logging.getLogger(__name__)

#: Assets classified together: one embedding forward pass per chunk.
CHUNK_ASSETS = 64

Labels = dict[str, tuple[Sequence[Any], str]] | None


def run_inventory(
    settings: Settings,
    logical_date: dt.date,
    run_key: str,
    sources: list[str] | None = None,
    *,
    use_embeddings: bool = True,
    reclassify: bool = False,
    declarations: Declarations | None = None,
    labels: LabelRoute = "inline",
) -> InventoryReport:
    """Inventory the declared sources into the catalog.

    Idempotent: a rerun with the same ``run_key`` and ``logical_date`` rewrites the same rows and
    adds none (schema events are keyed by run key; observation timestamps derive from the
    logical date).

    Args:
        settings: where the catalog and the declarations are.
        logical_date: the run's logical date; observations are stamped with its midnight UTC. A
            file source records only the files whose partition date is on or before it (files
            without a date: always); later files are neither recorded nor marked deleted.
        run_key: ``dag_id/run_id`` in Airflow, ``cli/<date>`` from the command line.
        sources: names of the sources to inventory; ``None`` for all declared sources.
        use_embeddings: classify semantic labels with the sentence embedding (``False``: rules only).
        reclassify: classify every column again, even those whose sample, type and classifier
            settings are unchanged since their stored labels were computed (after a classifier
            upgrade).
        declarations: the source declarations; default: the file the settings name.
        labels: with embeddings, ``inline`` embeds the columns no rule settles in this run;
            ``background`` (what ``assay inventory`` and the DAG use) writes the rule labels and
            marks those columns pending for :func:`assay.inventory.labelling.complete_labels`
            (``assay classify``, the DAG's ``label`` task).

    Returns:
        Figures per source.

    Raises:
        ConfigError: a requested source is not declared.
        DatabaseError: the catalog cannot be reached or written.
        SourceError: at least one source could not be listed. Raised after every source was
            tried and the run recorded; the message summarises each source.
        ClassificationError: the embedding model could not be loaded (assets were recorded
            without new labels).
    """
    started = time.perf_counter()
    decls = declarations or load(default_path(settings))
    chosen = [decls.get(name) for name in sources] if sources is not None else list(decls.sources)
    url = settings.catalog_url()
    observed_at = lifecycle.observed_at_of(logical_date)
    try:
        with engine(url).begin() as conn:
            run_id = lifecycle.start_run(conn, run_key, logical_date, dt.datetime.now(dt.UTC))
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"catalog {masked(url)}: cannot start inventory run {run_key}: {scrub(db_error_text(exc), url)}"
        ) from exc

    classifier = _Classifier(use_embeddings, reclassify, background=use_embeddings and labels == "background")
    try:
        report, status, stats, failures = _inventory(
            settings, url, chosen, run_id, run_key, logical_date, observed_at, classifier, use_embeddings, started
        )
        with engine(url).begin() as conn:
            lifecycle.finish_run(conn, run_key, status, stats, "; ".join(failures) or None, dt.datetime.now(dt.UTC))
    except BaseException as exc:
        # Whatever ends the run here (the catalog refusing a write, a bug, Ctrl-C), the attempt is
        # ended and its owner lock released: a lock left held would keep the row from being reaped
        # while this process lives.
        _record_crash(url, run_key, exc, settings)
        raise
    log.info("%s", report.summary())
    if any(r.status == RunStatus.FAILED.value for r in report.sources):
        raise SourceError(report.summary())
    if classifier.error:
        from assay.classify import ClassificationError

        raise ClassificationError(f"{classifier.error}\n{report.summary()}")
    return report


def _inventory(
    settings: Settings,
    url: str,
    chosen: list[SqlSource | FileSource],
    run_id: int,
    run_key: str,
    logical_date: dt.date,
    observed_at: dt.datetime,
    classifier: _Classifier,
    use_embeddings: bool,
    started: float,
) -> tuple[InventoryReport, RunStatus, dict[str, Any], list[str]]:
    """Inventory every chosen source; the report, the run's status, figures and failures."""
    with Writers(url) as writers:
        reports = [
            _inventory_source(settings, url, decl, run_id, run_key, logical_date, observed_at, classifier, writers)
            for decl in chosen
        ]
    log.info(
        "classification: %d columns classified in %.1f s (main thread), %d kept their stored labels, "
        "%d left to the labelling step",
        classifier.classified, classifier.seconds, classifier.reused, classifier.pending,
    )
    classifier.ticker.finish(
        classifier.assets, columns_classified=classifier.classified, columns_kept=classifier.reused,
        columns_pending=classifier.pending,
    )
    if any(r.status == RunStatus.FAILED.value for r in reports) or classifier.error:
        status = RunStatus.FAILED
    elif any(r.status == RunStatus.PARTIAL.value for r in reports):
        status = RunStatus.PARTIAL
    else:
        status = RunStatus.SUCCESS
    report = InventoryReport(
        run_key=run_key,
        logical_date=logical_date,
        status=status.value,
        sources=tuple(reports),
        elapsed_s=round(time.perf_counter() - started, 3),
    )
    failures = [f"{r.name}: {r.error}" for r in reports if r.error]
    if classifier.error:
        failures.append(f"classification: {classifier.error}")
    stats = {
        "sources": {r.name: r.as_dict() for r in reports},
        "totals": report.totals(),
        "use_embeddings": use_embeddings,
        "labels": "background" if classifier.background else "inline",
        "columns_pending": classifier.pending,
    }
    return report, status, stats, failures


def _record_crash(url: str, run_key: str, exc: BaseException, settings: Settings) -> None:
    """End the attempt that an exception cut short, if the catalog still answers; always release its lock.

    A previous successful record of the run key is kept (the reason goes to ``attempt_error``);
    a run without one is recorded ``failed`` with the reason. A catalog error is quoted as is;
    any other exception is named by its type.
    """
    if isinstance(exc, DatabaseError):
        text = str(exc)
    else:  # an unexpected message may quote a value: screened and bounded like a stored value
        from assay.classify.scrub import safe_value

        text = str(safe_value(f"{type(exc).__name__}: {exc}".rstrip(": "), limit=1000))
    try:
        with engine(url).begin() as conn:
            error = scrub(text, *urls_of(settings))
            lifecycle.abandon_run(conn, run_key, f"interrupted: {error}", dt.datetime.now(dt.UTC))
    except Exception as again:  # the original exception is the one raised; this one is logged
        reason = db_error_text(again) if isinstance(again, SQLAlchemyError) else f"{type(again).__name__}: {again}"
        log.error("could not record the failure of inventory run %s: %s", run_key, reason)
    finally:
        lifecycle.release(url, run_key)


# ---- one source -------------------------------------------------------------------------------
def _source_row(decl: SqlSource | FileSource) -> dict[str, Any]:
    return {
        "name": decl.name,
        "kind": (SourceKind.SQL if isinstance(decl, SqlSource) else SourceKind.FILES).value,
        "url_or_conn_id": without_password(decl.locator()),
        "owner": decl.owner,
        "tags": list(decl.tags),
        "declared": decl.model_dump(mode="json"),
    }


@contextmanager
def _source_lock(url: str, source_name: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock on the source: two runs of one source take turns."""
    with advisory_lock(engine(url), lifecycle.lock_name(source_name)):
        yield


def _observe(
    settings: Settings, decl: SqlSource | FileSource, listing: Listing, day: dt.date
) -> Iterator[ObservedAsset]:
    if isinstance(decl, FileSource):
        return observe_files(decl, settings, listing, until=day)
    try:
        url = decl.resolve_url(settings)
    except ConfigError as exc:
        raise SourceError(f"source {decl.name}: {exc}") from exc
    except Exception as exc:  # Airflow's connection lookup raises its own types; recorded, re-raised at the end
        raise SourceError(f"source {decl.name}: cannot resolve connection {decl.conn_id!r}: {exc}") from exc
    return observe_sql(decl, url, listing)


def _chunks(items: Iterator[ObservedAsset], size: int) -> Iterator[list[ObservedAsset]]:
    """Lists of up to ``size`` items; closing this generator closes ``items`` (and its connection)."""
    try:
        while chunk := list(islice(items, size)):
            yield chunk
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def _inventory_source(
    settings: Settings,
    url: str,
    decl: SqlSource | FileSource,
    run_id: int,
    run_key: str,
    day: dt.date,
    observed_at: dt.datetime,
    classifier: _Classifier,
    writers: Writers,
) -> SourceReport:
    started = time.perf_counter()
    try:
        with engine(url).begin() as conn:
            source_id = lifecycle.record_source(conn, _source_row(decl))
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"catalog {masked(url)}: cannot record source {decl.name}: {scrub(db_error_text(exc), url)}"
        ) from exc
    ctx = lifecycle.RunContext(
        run_id=run_id,
        run_key=run_key,
        observed_at=observed_at,
        source_id=source_id,
        source_owner=decl.owner,
        source_tags=tuple(decl.tags),
    )
    listing = Listing()
    seen: set[tuple[str, str]] = set()
    failure: str | None = None
    shown_url = masked(url)
    with _source_lock(url, decl.name):
        with engine(url).begin() as conn:
            state = load_state(conn, source_id)
            load_pending(conn, source_id, state.values())
        try:
            for chunk in prefetch(_chunks(_observe(settings, decl, listing, day), CHUNK_ASSETS)):
                items = [
                    (state.get(asset.key), asset, labels)
                    for asset, labels in zip(chunk, classifier(chunk, state), strict=True)
                ]
                seen.update(asset.key for asset in chunk)
                writers.submit(_write_chunk, shown_url, ctx, items)
        except SourceError as exc:
            # The message is stored and raised: a driver may have quoted the source URL's secret.
            failure = scrub(str(exc), *urls_of(settings))
            log.error("%s", failure)
        writers.drain()
        if isinstance(decl, FileSource) and decl.series_regex:
            # After every file of the source is written: a backfill lands many days in one run.
            with writers.engine.begin() as conn:
                record_series_events(conn, ctx, decl.series_regex)
        if listing.later:
            log.info("source %s: %d files of days after %s not inventoried", decl.name, listing.later, day)
        if failure is None:
            for key, st in sorted(state.items()):
                if key in seen or st.status == AssetStatus.DELETED.value or key[0] in listing.failed:
                    continue
                if isinstance(decl, FileSource) and decl.after(day, _relpath(key)):
                    continue  # a file of a later day: this run does not judge it, present or gone
                with writers.engine.begin() as conn:
                    record.mark_deleted(conn, ctx, st)
    if listing.failed:
        failure = scrub("; ".join(filter(None, [failure, *listing.failed.values()])), *urls_of(settings))
    with engine(url).begin() as conn:
        figures = source_figures(conn, source_id, run_id, run_key)
    if failure:
        status = RunStatus.FAILED
    elif figures.errors:
        status = RunStatus.PARTIAL
    else:
        status = RunStatus.SUCCESS
    report = SourceReport(
        name=decl.name,
        kind=_source_row(decl)["kind"],
        status=status.value,
        error=failure,
        seen=len(seen),
        new=figures.new,
        changed=figures.changed,
        deleted=figures.deleted,
        restored=figures.restored,
        errors=figures.errors,
        schema_events=figures.schema_events,
        elapsed_s=round(time.perf_counter() - started, 3),
        asset_errors=figures.error_messages,
    )
    log.info(
        "source %s: %s, %d seen, %d new, %d changed, %d deleted, %d errors in %.1f s",
        decl.name, report.status, report.seen, report.new, report.changed, report.deleted, report.errors, report.elapsed_s,
    )
    return report


def _relpath(key: tuple[str, str]) -> str:
    """A file asset's path relative to its root, from its ``(folder, file name)`` key."""
    namespace, name = key
    return f"{namespace}/{name}" if namespace else name


def _write_chunk(
    conn: Connection,
    shown_url: str,
    ctx: lifecycle.RunContext,
    items: list[tuple[AssetState | None, ObservedAsset, Labels]],
) -> None:
    """Write a chunk of assets in one transaction; if the catalog refuses it, asset by asset.

    The fallback keeps the per-asset guarantee: one asset the catalog refuses (say, a NUL
    character in a column name) is recorded as that asset's error and the others are written.
    """
    try:
        with conn.begin():
            record.record_assets(conn, ctx, items)
        return
    except SQLAlchemyError as exc:
        log.info("chunk of %d assets refused (%s); writing them one by one", len(items), db_error_text(exc))
    for state, asset, labels in items:
        _write(conn, shown_url, ctx, state, asset, labels)


def _write(
    conn: Connection,
    shown_url: str,
    ctx: lifecycle.RunContext,
    state: AssetState | None,
    asset: ObservedAsset,
    labels: Labels,
) -> None:
    """Write one asset in its own transaction; a refused write is recorded as the asset's error."""
    try:
        with conn.begin():
            record.record_asset(conn, ctx, state, asset, labels)
    except SQLAlchemyError as exc:
        reason = f"{asset.location}: catalog write failed: {db_error_text(exc)}"
        log.error("%s", reason)
        try:
            with conn.begin():
                record.record_asset_failure(conn, ctx, asset, reason)
        except SQLAlchemyError as again:
            raise DatabaseError(f"catalog {shown_url}: cannot record {asset.location}: {db_error_text(again)}") from again


# ---- classification ---------------------------------------------------------------------------
class _Classifier:
    """Classifies the columns of a chunk of assets in one call.

    A column whose sample, type, table and classifier settings hash to the digest stored with its
    automatic labels is not classified again (its labels stay): a daily run only pays for the
    columns whose data changed. After the model fails once, classification stops for the run.
    ``background``: only the rules run here; a column the embedding must label is marked pending
    (with the digest of its sample, so an unchanged one is not marked again).
    """

    def __init__(self, use_embeddings: bool, reclassify: bool, *, background: bool = False) -> None:
        self.use_embeddings = use_embeddings
        self.reclassify = reclassify
        self.background = background
        self.pending = 0
        self.error: str | None = None
        self.classified = 0
        self.reused = 0
        self.seconds = 0.0
        self.assets = 0
        # A first run with embeddings on thousands of new tables takes minutes: say how far it is.
        self.ticker = progress.Ticker("inventory", unit="assets")

    def __call__(
        self, assets: Sequence[ObservedAsset], state: dict[tuple[str, str], AssetState]
    ) -> list[Labels]:
        from assay.classify import ClassificationError, ColumnSample, classify_columns, classify_rules_first

        self.assets += len(assets)
        if self.error is not None:
            return [None] * len(assets)
        samples: list[ColumnSample] = []
        todo: list[tuple[int, str, str]] = []  # (asset index, column name, digest)
        for i, a in enumerate(assets):
            if a.error or a.columns is None:
                continue
            known = state.get(a.key)
            for c in a.columns:
                values = a.samples.get(c.name, [])
                digest = sample_digest(a.name, c.data_type, values, self.use_embeddings)
                unchanged = not self.reclassify and known is not None and known.sample_digest(c.name) == digest
                # Kept only with its semantic label, or (background) its pending mark: inline, a
                # column still waiting for the labelling step is labelled now.
                kinds = _kinds(known, c.name)
                if unchanged and ("semantic" in kinds or (self.background and PENDING in kinds)):
                    self.reused += 1
                    continue
                samples.append(ColumnSample(c.name, c.data_type, values, a.name))
                todo.append((i, c.name, digest))
        out: list[Labels] = [None if (a.error or a.columns is None) else {} for a in assets]
        if not samples:
            return out
        started = time.perf_counter()
        try:
            if self.background:
                ruled = classify_rules_first(samples)
                results: Sequence[Sequence[object]] = [[*found, Pending()] if waits else found for found, waits in ruled]
                self.pending += sum(waits for _, waits in ruled)
            else:
                results = classify_columns(samples, use_embeddings=self.use_embeddings)
        except ClassificationError as exc:
            self.error = str(exc)
            log.error("classification disabled for the rest of this run: %s", exc)
            return [None] * len(assets)
        self.classified += len(samples)
        self.seconds += time.perf_counter() - started
        self.ticker.update(
            self.assets, columns_classified=self.classified, columns_kept=self.reused, columns_pending=self.pending
        )
        for (i, name, digest), found in zip(todo, results, strict=True):
            labels = out[i]
            assert labels is not None
            labels[name] = (found, digest)
        return out


def _kinds(state: AssetState | None, column: str) -> Mapping[str, str | None]:
    """The kinds of the column's automatic labels (and ``pending``) in the stored state."""
    if state is None or (found := state.columns.get(column)) is None:
        return {}
    return state.auto.get(found[0], {})
