"""The lifecycle of run rows (``inventory_runs``, ``profile_runs``, ``quality_runs``): attempts,
their owners, and reaping the attempts whose process is gone.

**Attempt tables** (``profile_runs``, ``quality_runs``: :attr:`RunTable.current` is set) are
append-only evidence: every attempt on a key (an asset partition and date; a suite, asset
partition and date) is a row of its own, and a pointer table (``profile_current``,
``quality_current``) names the *current* attempt of each key, the one consumers read
(:func:`is_current`). Lineage (training sets, MLflow tags, gate decisions) cites attempt ids, which
keep saying exactly what that attempt saw:

* :func:`start_attempt` inserts a ``running`` row; a key seen for the first time points at it;
* :func:`finish_attempt` writes the attempt's outcome once (with its child rows in the same
  transaction) and moves the key's pointer to it -- unless the attempt failed to run and the
  current attempt is a success (:attr:`RunTable.kept_statuses`): a failed rerun never replaces a
  good record, it is recorded beside it;
* a finished attempt row is never updated again (a trigger refuses it) and a rerun deletes none.

**The inventory** (``inventory_runs``, one row per run key) keeps the record-and-attempt columns: a
row is the *record* of the last finished attempt of its run key and a new attempt only sets
``attempt_started_at`` until its finish writes the record (:func:`finished_sql`); an attempt that
ends without finishing leaves the record with the reason in ``attempt_error`` (:func:`interrupt`).

For both, while an attempt runs its process holds a *shared* advisory lock on the key
(:func:`held`) on a connection of its own. A process killed (``kill -9``, OOM) or cut from the
database loses that connection, and with it the lock. At the start of every run, :func:`reap` takes
each attempt in progress whose lock it can take exclusively (nobody owns it any more) and ends it
with an ``interrupted: …`` reason (an attempt row becomes ``table.interrupted_status``; an inventory
record keeps its outcome and gets the reason in ``attempt_error``). A live attempt of another
process holds its lock and is left alone. No clock decides whether an owner is alive, so a slow
attempt is never reaped and a dead one is reaped by the very next run.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from assay.catalog.db import advisory_key, advisory_lock
from assay.catalog.models import (
    Base,
    InventoryRun,
    ProfileCurrent,
    ProfileRun,
    QualityCurrent,
    QualityRun,
    QualityStatus,
    RunStatus,
)
from assay.catalog.urls import masked

log = logging.getLogger(__name__)

Bind = Connection | Session

#: The status every stage writes for a run row while its first attempt runs.
RUNNING = RunStatus.RUNNING.value


@dataclass(frozen=True)
class RunTable:
    """A table of run rows: its model, natural key and the status of an interrupted first attempt.

    ``kept_statuses`` are the statuses of a record that a failed attempt does not replace;
    ``current`` the pointer table of an attempt table (one row per key naming its current attempt).
    """

    model: type[Base]
    key: tuple[str, ...]
    interrupted_status: str
    kept_statuses: tuple[str, ...] = ()
    current: type[Base] | None = None

    @property
    def pointer(self) -> Any:
        """The pointer column of :attr:`current` (``quality_run_id``, ``profile_run_id``)."""
        assert self.current is not None, f"{self.name} has no current pointer"
        return getattr(self.current, self.name.removesuffix("s") + "_id")

    @property
    def name(self) -> str:
        """The table's name."""
        return str(self.model.__tablename__)

    def column(self, name: str) -> Any:
        """A column of the table, for SQL expressions."""
        return getattr(self.model, name)


INVENTORY = RunTable(InventoryRun, ("run_key",), RunStatus.FAILED.value)
PROFILE = RunTable(
    ProfileRun,
    ("asset_id", "partition_key", "logical_date"),
    RunStatus.FAILED.value,
    (RunStatus.SUCCESS.value,),
    ProfileCurrent,
)
#: A validation whose expectations failed is a record too (it ran); one that could not run is not.
QUALITY = RunTable(
    QualityRun,
    ("suite_name", "asset_id", "partition_key", "logical_date"),
    QualityStatus.ERROR.value,
    (QualityStatus.OK.value, QualityStatus.FAILED.value),
    QualityCurrent,
)


def is_current(table: RunTable) -> ColumnElement[bool]:
    """WHERE clause of the current attempts of an attempt table (one row per key)."""
    return table.column("id").in_(select(table.pointer))


def current_of(bind: Bind, table: RunTable, key: Sequence[Any]) -> int | None:
    """The id of the current attempt of one key, or None when the key has none."""
    assert table.current is not None
    where = [getattr(table.current, k) == v for k, v in zip(table.key, key, strict=True)]
    found = bind.execute(select(table.pointer).where(*where)).scalar()
    return None if found is None else int(found)


def _key_text(table: RunTable, name: str, value: Any) -> str:
    """One key value as text, the same for a caller's value and the value read back from the row."""
    if value is None:
        return ""
    kind = table.column(name).type.python_type
    if kind is dt.date:  # a datetime (pendulum's too) names its date; the column holds a date
        return (value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))).date().isoformat()
    if kind is int:
        return str(int(value))
    return str(value)


def owner_key(table: RunTable, key: Sequence[Any]) -> int:
    """The signed 64-bit advisory-lock key of one run row's natural key (stable across processes).

    Values are normalised by their column's type (``5`` and ``"5"``, a date and a datetime of that
    date give the same key), so the owner and the reaper agree whatever types each holds.
    """
    values = (_key_text(table, name, v) for name, v in zip(table.key, key, strict=True))
    return advisory_key("\x1f".join(["assay.run", table.name, *values]))


# ---- owning an attempt ------------------------------------------------------------------------
@contextmanager
def held(bind: Engine, table: RunTable, key: Sequence[Any]) -> Iterator[None]:
    """Hold the shared lock that says "a live process owns this attempt" for the ``with`` block.

    Take it before :func:`start_attempt` and leave the block after the finish committed. Shared,
    so two processes running the same key concurrently never wait for each other; only
    :func:`reap` asks for it exclusively.
    """
    with advisory_lock(bind, owner_key(table, key), shared=True):
        yield


#: Attempts held past one ``with`` block (:func:`claim`), per (engine URL, lock key). The URL is
#: masked: no password is kept in a module dict.
_CLAIMS: dict[tuple[str, int], list[ExitStack]] = {}


def _claim_id(bind: Engine, table: RunTable, key: Sequence[Any]) -> tuple[str, int]:
    return masked(bind.url.render_as_string(hide_password=False)), owner_key(table, key)


def claim(bind: Engine, table: RunTable, key: Sequence[Any]) -> None:
    """:func:`held` for an attempt whose start and finish are separate calls: held until :func:`release`.

    A process that ends without releasing still releases (its connection closes).
    """
    stack = ExitStack()
    stack.enter_context(held(bind, table, key))
    _CLAIMS.setdefault(_claim_id(bind, table, key), []).append(stack)


def release(bind: Engine, table: RunTable, key: Sequence[Any]) -> None:
    """Release the lock :func:`claim` took for this key (nothing if none is held)."""
    claim_id = _claim_id(bind, table, key)
    stacks = _CLAIMS.get(claim_id)
    if stacks:
        stack = stacks.pop()
        if not stacks:
            del _CLAIMS[claim_id]
        stack.close()


def start_attempt(bind: Bind, table: RunTable, row: dict[str, Any], now: dt.datetime) -> int:
    """Begin an attempt on ``row``'s key and return its row id.

    Attempt tables: a new ``running`` row; the key's pointer is created pointing at it when the
    key has no current attempt yet (so a first attempt shows as running), else left alone until
    :func:`finish_attempt`. Inventory: a new key is inserted from ``row`` as ``running``; an
    existing row keeps its record (status, error, times, figures): only ``attempt_started_at`` is
    set. ``attempt_error`` (why an earlier attempt did not finish) stays until this attempt finishes.
    """
    model_table: Any = table.model.__table__
    if table.current is not None:
        attempt = {**row, "status": RUNNING, "error": None, "started_at": now, "finished_at": None}
        attempt_id = int(bind.execute(insert(model_table).values(attempt).returning(model_table.c.id)).scalar_one())
        pointer: Any = table.current.__table__
        first = {**{k: row[k] for k in table.key}, table.pointer.key: attempt_id}
        bind.execute(insert(pointer).values(first).on_conflict_do_nothing(index_elements=list(table.key)))
        return attempt_id
    values = {
        **row,
        "status": RUNNING,
        "error": None,
        "started_at": now,
        "finished_at": None,
        "attempt_started_at": now,
        "attempt_error": None,
    }
    ins = insert(model_table).values(values)
    stmt = ins.on_conflict_do_update(
        index_elements=list(table.key), set_={"attempt_started_at": ins.excluded.attempt_started_at}
    ).returning(model_table.c.id)
    return int(bind.execute(stmt).scalar_one())


def finish_attempt(bind: Bind, table: RunTable, attempt_id: int, outcome: dict[str, Any], now: dt.datetime) -> bool:
    """Write attempt ``attempt_id``'s outcome (``status`` and figures) and make it current; True if it was not.

    The attempt becomes its key's current attempt unless it failed to run (its ``status`` is not
    in ``table.kept_statuses``) while the current attempt is a success: then the current attempt
    stays (its figures and child rows are what consumers read) and this one is recorded beside it.
    Write the attempt's child rows in the same transaction.

    Raises:
        RuntimeError: the attempt was ended meanwhile (reaped: its owner lock was lost); its row is
            finished and stays as it is.
    """
    assert table.current is not None
    done = bind.execute(
        update(table.model)
        .where(table.column("id") == attempt_id, table.column("status") == RUNNING)
        .values(**outcome, finished_at=now)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise RuntimeError(
            f"{table.name} attempt {attempt_id} was ended by another process before its outcome was written "
            "(its owner lock was lost); run it again"
        )
    pointer: Any = table.current.__table__
    fk = pointer.c[table.pointer.key]
    key = bind.execute(select(*[table.column(k) for k in table.key]).where(table.column("id") == attempt_id)).one()
    where = [pointer.c[k] == v for k, v in zip(table.key, key, strict=True)]
    new_key = {**dict(zip(table.key, key, strict=True)), fk.name: attempt_id}
    bind.execute(insert(pointer).values(new_key).on_conflict_do_nothing(index_elements=list(table.key)))
    # The pointer row is locked until commit: concurrent finishes of one key take turns.
    current = bind.execute(select(fk).where(*where).with_for_update()).scalar_one()
    if current == attempt_id:
        return False
    status = bind.execute(select(table.column("status")).where(table.column("id") == current)).scalar_one()
    # A success always becomes current; a failure only where the current attempt is no success.
    if outcome.get("status") in table.kept_statuses or status not in table.kept_statuses:
        bind.execute(update(pointer).where(*where).values({fk.name: attempt_id, "updated_at": now}))
        return False
    return True


def finished() -> dict[str, Any]:
    """Columns an attempt's finish writes beside its outcome (in an upsert of the whole row)."""
    return {"attempt_started_at": None, "attempt_error": None}


def finished_sql(table: RunTable) -> dict[str, Any]:
    """:func:`finished` for an ``UPDATE``: also stamps the record with the attempt's own start."""
    return {
        "started_at": func.coalesce(table.column("attempt_started_at"), table.column("started_at")),
        **finished(),
    }


# ---- ending an attempt that did not finish ---------------------------------------------------------
def _in_progress(table: RunTable) -> ColumnElement[bool]:
    if table.current is not None:  # an attempt row is in progress until its outcome is written
        return table.column("status") == RUNNING
    return or_(table.column("attempt_started_at").is_not(None), table.column("status") == RUNNING)


def interrupt(bind: Bind, table: RunTable, row_id: int, reason: str, now: dt.datetime) -> bool:
    """End the attempt in progress on row ``row_id`` without an outcome; True if there was one.

    An attempt row (and an inventory row whose first attempt this was) becomes
    ``table.interrupted_status`` with ``reason`` as its error; an inventory row holding an earlier
    attempt's record keeps it, with ``reason`` in ``attempt_error``. Guarded by "an attempt is still in progress", so an attempt that finished
    meanwhile is left as its finish wrote it.
    """
    first = table.column("status") == RUNNING
    if table.current is not None:  # an attempt row records its own end; the key's pointer is left alone
        ended = update(table.model).where(table.column("id") == row_id, first).values(
            status=table.interrupted_status, error=reason, finished_at=now
        )
        return bool(bind.execute(ended).rowcount)  # type: ignore[attr-defined]
    stmt = (
        update(table.model)
        .where(and_(table.column("id") == row_id, _in_progress(table)))
        .values(
            status=case((first, table.interrupted_status), else_=table.column("status")),
            error=case((first, reason), else_=table.column("error")),
            finished_at=case((first, now), else_=table.column("finished_at")),
            attempt_error=case((first, None), else_=reason),
            attempt_started_at=None,
        )
    )
    return bool(bind.execute(stmt).rowcount)  # type: ignore[attr-defined]


def _require_head(bind: Bind) -> None:
    """Fail with "run `assay catalog migrate`" when the catalog is not at this code's revision.

    Read on ``bind`` itself: an unreachable catalog fails as the run's first statement would.
    """
    # alembic is loaded only where a run starts
    from alembic.runtime.migration import MigrationContext

    from assay.catalog.migrate import head, require_head
    from assay.catalog.models import VERSION_TABLE

    conn = bind.connection() if isinstance(bind, Session) else bind
    at = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
    if at != head():
        require_head(conn.engine.url.render_as_string(hide_password=False))  # raises, with the fix


def reap(bind: Bind, table: RunTable, reaper: str, now: dt.datetime) -> int:
    """End every attempt in progress in ``table`` whose owner is gone; return how many.

    Run it in a transaction of its own at the start of a run (the exclusive locks it takes are
    released at commit). An attempt whose owner still holds its shared lock is left alone. First
    checks that the catalog is migrated to this code's revision.

    Args:
        bind: a connection or session inside a transaction.
        table: the run table.
        reaper: the run key of the run that reaps (recorded in the reason).
        now: the time recorded as the end of a reaped first attempt.

    Raises:
        DatabaseError: the catalog is not at this code's revision (the message says to migrate).
    """
    _require_head(bind)
    columns = [table.column(k) for k in table.key]
    since_column = table.column("started_at" if table.current is not None else "attempt_started_at")
    found = bind.execute(
        select(table.column("id"), since_column, table.column("started_at"), *columns)
        .where(_in_progress(table))
        .order_by(table.column("id"))
    ).all()
    reaped = 0
    for row_id, attempt_started, started, *key in found:
        if not bind.execute(select(func.pg_try_advisory_xact_lock(owner_key(table, key)))).scalar_one():
            continue  # a live process owns the attempt
        since = attempt_started or started
        reason = (
            f"interrupted: the attempt started at {since.isoformat(timespec='seconds')} did not finish "
            f"(its process ended or lost the database); reaped by run {reaper}"
        )
        if interrupt(bind, table, row_id, reason, now):
            reaped += 1
            log.warning("%s row %d %s: %s", table.name, row_id, dict(zip(table.key, key, strict=True)), reason)
    return reaped
