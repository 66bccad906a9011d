"""Thin facade over :class:`mlflow.MlflowClient` for the gate: read versions and aliases, move aliases.

:func:`promote_champion` is the one path in the code base that sets the ``champion`` alias (a test
greps ``include/``, ``dags/`` and ``plugins/`` for any other). It refuses unless the decision id it
is given is stored in the catalog as ``pass`` for exactly that model and version, and it records the
move in ``alias_events`` in the caller's catalog transaction. Callers hold :func:`model_lock`, so
the champion read here is the one the decision was compared against.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from assay import names
from assay.catalog.db import advisory_lock, engine, masked
from assay.catalog.models import AliasEvent, GateDecision
from assay.config import Settings
from assay.errors import AssayError, GateError

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)

#: Advisory-lock namespace, so the key never collides with another feature's locks.
LOCK_PREFIX = "assay.gate:"


def client(settings: Settings) -> MlflowClient:
    """An MLflow client on the project's tracking + registry store."""
    from mlflow import MlflowClient

    uri = settings.mlflow_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def client_or_error(settings: Settings) -> tuple[MlflowClient | None, str | None]:
    """(client, None), or (None, why) when MLflow cannot even be addressed (bad URI scheme …)."""
    from mlflow.exceptions import MlflowException

    try:
        return client(settings), None
    except (MlflowException, AssayError, ValueError) as exc:
        return None, f"MLflow at {masked_uri(settings)} unusable: {short(exc)}"


def masked_uri(settings: Settings) -> str:
    try:
        return masked(settings.mlflow_uri())
    except AssayError:  # no embedded server state: only used inside error messages
        return "<MLflow URI unavailable>"


def short(exc: BaseException) -> str:
    """First line of an exception's message (MLflow errors carry stack-sized bodies)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]


def _not_found(exc: Exception) -> bool:
    return getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST"


def model_version(c: MlflowClient, model_name: str, version: str) -> ModelVersion | None:
    """The registered version, or ``None`` if it does not exist (other MLflow errors propagate)."""
    from mlflow.exceptions import MlflowException

    try:
        return c.get_model_version(model_name, str(version))
    except MlflowException as exc:
        if _not_found(exc):
            return None
        raise


def aliases(c: MlflowClient, model_name: str) -> dict[str, str]:
    """Alias -> version of a registered model (empty if the model is not registered)."""
    from mlflow.exceptions import MlflowException

    try:
        model = c.get_registered_model(model_name)
    except MlflowException as exc:
        if _not_found(exc):
            return {}
        raise
    return {alias: str(v) for alias, v in (model.aliases or {}).items()}


def champion_version(c: MlflowClient, model_name: str) -> str | None:
    return aliases(c, model_name).get(names.CHAMPION)


def versions(c: MlflowClient, model_name: str) -> list[ModelVersion]:
    """Every version of a registered model (all pages; empty if the model is not registered)."""
    # MLflow's filter grammar has no escape inside a quoted string (a doubled quote silently matches
    # nothing): quote with the kind the name lacks, or list every version and filter here.
    quote = next((q for q in ("'", '"') if q not in model_name), None)
    where = f"name = {quote}{model_name}{quote}" if quote else None
    found: list[ModelVersion] = []
    token: str | None = None
    while True:
        page = c.search_model_versions(where, page_token=token)
        found.extend(mv for mv in page if mv.name == model_name)
        token = page.token
        if not token:
            return found


#: The model-version tags :func:`tag_version` writes (what reconciliation compares with the ledger).
GATE_TAGS: tuple[str, ...] = (names.TAG_GATE_DECISION, names.TAG_GATE_DECISION_ID, names.TAG_GATE_REASON)
#: MLflow caps tag values at 5000 characters; the full reason is in the catalog.
REASON_TAG_CHARS = 4900


def expected_gate_tags(decision: str, decision_id: int, reason: str) -> dict[str, str]:
    """The gate tags a version carries for a stored decision (what :func:`tag_version` writes)."""
    return {
        names.TAG_GATE_DECISION: decision,
        names.TAG_GATE_DECISION_ID: str(decision_id),
        names.TAG_GATE_REASON: reason[:REASON_TAG_CHARS],
    }


def delete_alias(c: MlflowClient, model_name: str, alias: str) -> None:
    """Remove ``alias`` from the model (reconciliation, when the ledger never put it anywhere)."""
    c.delete_registered_model_alias(model_name, alias)


def tag_version(c: MlflowClient, model_name: str, version: str, decision: str, decision_id: int, reason: str) -> None:
    """Write the gate's decision onto the model version (the registry UI shows it)."""
    for key, value in expected_gate_tags(decision, decision_id, reason).items():
        c.set_model_version_tag(model_name, str(version), key, value)


@contextmanager
def model_lock(catalog_url: str, model_name: str) -> Iterator[Session]:
    """Serialise decide-and-move for one model: a session-level PostgreSQL advisory lock.

    Yields a session on the locked connection; commits inside the block keep the lock (it is
    released at the end, or by the server if the process dies).
    """
    with advisory_lock(engine(catalog_url), LOCK_PREFIX + model_name) as conn, Session(
        bind=conn, expire_on_commit=False
    ) as s:
        yield s


def _record_move(
    s: Session, model_name: str, alias: str, from_version: str | None, to_version: str,
    decision_id: int, actor: str, reason: str,
) -> None:
    s.execute(
        insert(AliasEvent)
        .values(
            model_name=model_name, alias=alias, from_version=from_version, to_version=str(to_version),
            decision_id=decision_id, actor=actor, reason=reason,
        )
        .on_conflict_do_nothing(index_elements=["decision_id", "alias"])
    )


def set_challenger(
    c: MlflowClient, s: Session, model_name: str, version: str, decision_id: int, actor: str, reason: str
) -> bool:
    """Point ``challenger`` at ``version`` and record the move; False if it already pointed there."""
    current = aliases(c, model_name).get(names.CHALLENGER)
    if current == str(version):
        return False
    c.set_registered_model_alias(model_name, names.CHALLENGER, str(version))
    _record_move(s, model_name, names.CHALLENGER, current, version, decision_id, actor, reason)
    return True


def promote_champion(
    c: MlflowClient, s: Session, model_name: str, version: str, decision_id: int, actor: str, reason: str
) -> str | None:
    """Move ``champion`` to ``version``, justified by stored passing decision ``decision_id``.

    Returns:
        The previous champion version (``None`` if there was none).

    Raises:
        GateError: the decision does not exist, is not ``pass``, or is for another model or version;
            or ``version`` already is the champion. Nothing is changed then.
    """
    d = s.get(GateDecision, decision_id)
    if d is None:
        raise GateError(f"{model_name} v{version}: decision #{decision_id} does not exist; champion not moved")
    if d.model_name != model_name or d.version != str(version):
        raise GateError(
            f"{model_name} v{version}: decision #{decision_id} is about {d.model_name} v{d.version}; champion not moved"
        )
    if d.decision != "pass":
        raise GateError(
            f"{model_name} v{version}: decision #{decision_id} is {d.decision!r}, not 'pass'; champion not moved"
        )
    previous = champion_version(c, model_name)
    if previous == str(version):
        raise GateError(f"{model_name} v{version} already is {names.CHAMPION}")
    c.set_registered_model_alias(model_name, names.CHAMPION, str(version))
    _record_move(s, model_name, names.CHAMPION, previous, version, decision_id, actor, reason)
    log.info("%s: %s moved %s -> %s (decision #%s)", model_name, names.CHAMPION, previous, version, decision_id)
    return previous
