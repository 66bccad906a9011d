"""Run the gate for one model version: gather -> decide -> record -> tag -> move aliases.

Order of effects (each one only after the previous succeeded, so the record never lags the registry):

1. take the model's advisory lock on the catalog (:func:`assay.gate.registry.model_lock`);
2. gather evidence, reading the current champion *inside* the lock, and decide (pure);
3. append the decision row to ``gate_decisions`` and commit: it is on the record whatever happens next;
4. tag the model version with the decision, id and reason;
5. unless the decision is ``error``: point ``challenger`` at the candidate;
6. on ``pass`` only: move ``champion`` to exactly this version through
   :func:`assay.gate.registry.promote_champion`; each alias move appends an ``alias_events`` row.

A refused candidate is a normal outcome (``Decision.decision == "fail"``), not an exception. MLflow
failing after the decision was stored raises :class:`GateError` naming the stored decision.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.config import Settings
from assay.errors import GateError
from assay.gate import approval
from assay.gate import policy as policy_mod
from assay.gate.decide import ERROR, PASS, Check, Decision, decide
from assay.gate.evidence import gather
from assay.gate.latest import latest_candidate

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def _utc(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    return now if now.tzinfo else now.replace(tzinfo=dt.UTC)


def _load_policy(settings: Settings, policy: policy_mod.Policy | None, policy_path: Path | None) -> policy_mod.Policy:
    if policy is not None:
        return policy
    return policy_mod.load(policy_path or policy_mod.default_path(settings))


def _store(s: Session, d: Decision, pol: policy_mod.Policy, evidence: dict[str, Any], actor: str, run_key: str | None,
           *, policy_json: dict[str, Any] | None = None, policy_digest: str | None = None) -> int:
    from assay.catalog.models import GateDecision

    row = GateDecision(
        model_name=d.model_name,
        version=str(d.version),
        decision=d.decision,
        policy_digest=policy_digest or pol.digest(),
        policy=policy_json if policy_json is not None else pol.as_json(),
        checks=d.checks_json(),
        evidence=evidence,
        reason=d.reason,
        actor=actor,
        run_key=run_key,
    )
    s.add(row)
    s.flush()
    s.commit()
    return int(row.id)


def run_gate(
    settings: Settings,
    model_name: str,
    version: str | int,
    *,
    actor: str,
    run_key: str | None,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    policy: policy_mod.Policy | None = None,
    policy_path: Path | None = None,
) -> Decision:
    """Judge ``model_name`` version ``version`` and act on the decision.

    Args:
        settings: where the catalog, MLflow and the shop are.
        actor: who or what asked (a user name, ``airflow:promote``).
        run_key: the run this belongs to (``dag_id/run_id`` or ``cli/<timestamp>``).
        now: the decision time freshness and drift are measured at (default: the wall clock).
        dry_run: decide and return without recording or moving anything.
        policy / policy_path: the policy (default ``config/promotion_policy.yaml``).

    Returns:
        The decision; ``decision_id`` and ``champion_version`` set unless ``dry_run``.

    Raises:
        PolicyError: the policy file is invalid.
        GateError: the catalog is unreachable (nothing recorded), or MLflow failed after the
            decision was recorded (the message names the decision id).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from assay.gate import registry

    pol = _load_policy(settings, policy, policy_path)
    when = _utc(now)
    version = str(version)
    if dry_run:
        try:
            d = decide(gather(settings, model_name, version, pol, when), pol)
        except SQLAlchemyError as exc:
            raise GateError(f"{model_name} v{version}: catalog unreachable: {registry.short(exc)}") from exc
        d.dry_run = True
        return d

    try:
        with registry.model_lock(settings.catalog_url(), model_name) as s:
            client, problem = registry.client_or_error(settings)
            ev = gather(settings, model_name, version, pol, when, client=client)
            if client is None and problem and problem not in ev.errors:
                ev.errors.append(problem)
            d = decide(ev, pol)
            evidence = ev.as_json()
            # require_approval (assay.gate.approval): a pass that needs a person keeps champion where it is.
            hold = approval.annotate(s, pol, d.decision, evidence)
            d.decision_id = _store(s, d, pol, evidence, actor, run_key)
            log.info("%s v%s: decision #%s %s: %s", model_name, version, d.decision_id, d.decision, d.reason)
            if d.decision == ERROR or client is None:
                d.champion_version = ev.champion_version
                _tag_if_possible(client, d)
                return d
            d.champion_version = _act(client, s, d, actor, hold_champion=hold)
            return d
    except SQLAlchemyError as exc:
        raise GateError(
            f"{model_name} v{version}: catalog unreachable or failing ({registry.short(exc)}); nothing recorded"
        ) from exc


def _tag_if_possible(client: Any, d: Decision) -> None:
    """Best effort on an ``error`` decision: MLflow may be the reason for the error."""
    from mlflow.exceptions import MlflowException

    from assay.gate import registry

    if client is None or d.decision_id is None:
        return
    try:
        if registry.model_version(client, d.model_name, d.version) is not None:
            registry.tag_version(client, d.model_name, d.version, d.decision, d.decision_id, d.reason)
    except (MlflowException, OSError) as exc:
        log.warning("%s v%s: could not tag decision #%s on the version: %s", d.model_name, d.version,
                    d.decision_id, registry.short(exc))


def _act(client: Any, s: Session, d: Decision, actor: str, *, hold_champion: bool = False) -> str | None:
    """Tag, set challenger, and on pass move champion (unless held for approval); returns the champion afterwards."""
    from mlflow.exceptions import MlflowException

    from assay import names
    from assay.gate import registry

    assert d.decision_id is not None
    try:
        registry.tag_version(client, d.model_name, d.version, d.decision, d.decision_id, d.reason)
        registry.set_challenger(client, s, d.model_name, d.version, d.decision_id, actor,
                                f"gate decision #{d.decision_id} ({d.decision})")
        s.commit()
        if d.decision == PASS and not hold_champion:
            current = registry.champion_version(client, d.model_name)
            if current != d.version:
                registry.promote_champion(client, s, d.model_name, d.version, d.decision_id, actor,
                                          f"gate decision #{d.decision_id}: {d.reason}")
                s.commit()
        return registry.aliases(client, d.model_name).get(names.CHAMPION)
    except (MlflowException, OSError) as exc:
        raise GateError(
            f"{d.model_name} v{d.version}: decision #{d.decision_id} ({d.decision}) is recorded, but updating "
            f"the MLflow registry failed: {registry.short(exc)}"
        ) from exc


def newest_passes(s: Session, model_name: str, version: str | None = None) -> dict[str, Any]:
    """The newest ``pass`` row of each version of ``model_name`` (or of ``version`` only): what a rollback relies on."""
    from sqlalchemy import select

    from assay.catalog.models import GateDecision

    q = select(GateDecision).where(GateDecision.model_name == model_name, GateDecision.decision == PASS)
    if version is not None:
        q = q.where(GateDecision.version == str(version))
    out: dict[str, Any] = {}
    for row in s.execute(q.order_by(GateDecision.id)).scalars():
        out[row.version] = row  # ascending ids: the newest wins
    return out


def held(row: Any) -> bool:
    """A pass still held for approval: never approved (an approval appends a newer pass row), so no rollback basis."""
    return ((row.evidence or {}).get("approval") or {}).get("status") == approval.PENDING


def rollback_targets(s: Session, model_name: str) -> list[str]:
    """Versions :func:`rollback` accepts a basis for (newest pass not held), newest first; the one rule for both."""
    ok = [v for v, row in newest_passes(s, model_name).items() if not held(row)]
    return sorted(ok, key=lambda v: (len(v), v), reverse=True)


def rollback(
    settings: Settings,
    model_name: str,
    to_version: str | int,
    *,
    actor: str,
    reason: str | None = None,
    run_key: str | None = None,
) -> Decision:
    """Move ``champion`` back to ``to_version``, which must have a recorded passing decision.

    The rollback is itself a new ``pass`` decision ("rollback to vN, relying on decision #k") with an
    alias event; the relied-on decision's policy is stored with it.

    Raises:
        GateError: no passing decision for that version, the version is unknown or already champion,
            or a store is unreachable. Nothing is changed then.
    """
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    from assay.gate import registry

    to_version = str(to_version)
    try:
        with registry.model_lock(settings.catalog_url(), model_name) as s:
            relied = newest_passes(s, model_name, to_version).get(to_version)
            if relied is None:
                raise GateError(
                    f"{model_name} v{to_version} has no recorded passing gate decision; rollback refused "
                    "(champion unchanged)"
                )
            if held(relied):
                raise GateError(f"{model_name} v{to_version}: its passing decision #{relied.id} was not approved; "
                                "rollback refused (champion unchanged)")
            client, problem = registry.client_or_error(settings)
            if client is None:
                raise GateError(f"{model_name}: rollback to v{to_version} impossible: {problem}")
            try:
                if registry.model_version(client, model_name, to_version) is None:
                    raise GateError(f"{model_name} has no version {to_version} in the MLflow registry")
                current = registry.champion_version(client, model_name)
            except MlflowException as exc:
                raise GateError(f"{model_name}: MLflow unreachable, rollback refused: {registry.short(exc)}") from exc
            if current == to_version:
                raise GateError(f"{model_name} v{to_version} already is champion; nothing to roll back")
            text = f"rollback to v{to_version}, relying on decision #{relied.id}" + (f": {reason}" if reason else "")
            check = Check("rollback", f"decision #{relied.id} pass", f"a recorded passing decision for v{to_version}",
                          PASS, f"decision #{relied.id} of {relied.decided_at.isoformat()}: {relied.reason}")
            d = Decision(model_name, to_version, PASS, text, [check])
            evidence = {"rollback": {"from_version": current, "to_version": to_version,
                                     "relies_on_decision_id": relied.id, "reason": reason}}
            # A rollback is judged by the decision it relies on, not by metric rules of its own.
            rollback_policy = policy_mod.Policy(allow_no_metric_checks=True)
            d.decision_id = _store(s, d, rollback_policy, evidence, actor, run_key or f"cli/rollback/{to_version}",
                                   policy_json=dict(relied.policy), policy_digest=relied.policy_digest)
            try:
                registry.promote_champion(client, s, model_name, to_version, d.decision_id, actor, text)
                s.commit()
                registry.tag_version(client, model_name, to_version, d.decision, d.decision_id, text)
            except MlflowException as exc:
                raise GateError(f"{model_name}: rollback decision #{d.decision_id} is recorded, but moving the "
                                f"alias failed: {registry.short(exc)}") from exc
            d.champion_version = to_version
            return d
    except SQLAlchemyError as exc:
        raise GateError(f"{model_name}: catalog unreachable or failing ({registry.short(exc)})") from exc


# ---- Airflow glue (the `promote` DAG's task calls this) ------------------------------------------
def candidates(params: Mapping[str, Any], context: Mapping[str, Any],
               newest: Callable[[str], tuple[str, str] | None] | None = None) -> list[tuple[str, str]]:
    """The (model, version) pairs a ``promote`` run judges, in order.

    The ``version`` param (and ``model_name``) when set. Asset-triggered runs: every candidate
    event's extra ``{model_name, version, …}`` (several trainings may have finished before the run).
    A manual run with the form's defaults (no version, no event): ``newest(model_name)``, the newest
    registered candidate of the model.

    Raises:
        GateError: none of these names a version.
    """
    from assay import names

    model = str(params.get("model_name") or names.MODEL_NAME)
    if params.get("version"):
        return [(model, str(params["version"]))]
    found: list[tuple[str, str]] = []
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:
            extra = getattr(event, "extra", None) or {}
            if extra.get("version") is not None:
                pair = (str(extra.get("model_name") or names.MODEL_NAME), str(extra["version"]))
                if pair not in found:
                    found.append(pair)
    if not found and newest is not None:
        latest = newest(model)
        found = [latest] if latest is not None else []
    if not found:
        raise GateError(f"promote: no candidate of {model} to judge: none is registered; set the `version` param "
                        "or trigger through the candidate asset")
    return found


def decision_time(context: Mapping[str, Any]) -> dt.datetime:
    """The run's logical date when it has one, else when the run was due (asset-triggered runs)."""
    value = context.get("logical_date") or context["dag_run"].run_after
    return _utc(value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value)))


def gate_for_airflow(settings: Settings, params: Mapping[str, Any], context: Mapping[str, Any],
                     run_key: str) -> dict[str, Any]:
    """Gate every candidate of the run; a refusal is data, an ``error`` decision fails the task.

    Returns:
        ``{"decision_id", "decision", "champion_version"}`` of the last candidate plus ``decisions``
        (one summary per candidate).

    Raises:
        GateError: a decision was ``error`` (raised after every candidate was judged and recorded).
    """
    when = decision_time(context)
    dry_run = bool(params.get("dry_run"))
    summaries = [
        run_gate(settings, model, version, actor="airflow:promote", run_key=run_key, now=when,
                 dry_run=dry_run).summary()
        for model, version in candidates(params, context, lambda m: latest_candidate(settings.catalog_url(), m))
    ]
    errors = [s for s in summaries if s["decision"] == ERROR]
    if errors:
        raise GateError("; ".join(f"{s['model_name']} v{s['version']}: decision #{s['decision_id']} error: "
                                  f"{s['reason']}" for s in errors))
    last = summaries[-1]
    return {"decision_id": last["decision_id"], "decision": last["decision"],
            "champion_version": last["champion_version"], "decisions": summaries}
