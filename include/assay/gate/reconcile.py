"""Reconcile the MLflow registry with the decision ledger: aliases nobody can move behind the gate's back.

The gate is the only code path that moves ``champion`` (:func:`assay.gate.registry.promote_champion`),
but the registry itself accepts any client its server lets in (the MLflow UI, the REST API). This
check compares, for every registered model assay manages, what the registry says with what the
catalog's append-only ledger (``gate_decisions``, ``alias_events``) says it should say:

* a **gate alias** (``champion``, ``challenger``) must point where the ledger's last ``alias_events``
  row for it put it (every champion row is backed by a passing decision); an alias that points
  elsewhere (:attr:`Kind.MOVED`) or was deleted (:attr:`Kind.MISSING`) is reported;
* **any other alias** (a team's ``prod``) must point at a version with a recorded passing decision
  (:attr:`Kind.UNBACKED`): assay never sets those, it only insists they point at judged models;
* each version's **gate tags** must repeat its latest decision in the ledger (decision, id, reason);
  deleted or edited tags, and gate tags on a version the ledger never judged, are reported
  (:attr:`Kind.TAGS`).

With ``alias_protection: restore`` (``config/promotion_policy.yaml``) an alias finding is repaired:
the alias goes back to the version the ledger last moved it to, through the gate's own functions,
as a new decision row relying on the decision that justified that move plus an ``alias_events`` row
(actor ``reconcile``); an alias the ledger never placed is removed, recorded as a ``fail`` decision
about the version it pointed at. Gate tags are rewritten from the ledger (they are a copy of it).
Everything runs under the model's advisory lock, so a gate run never sees half a repair.
:func:`compare` is pure (registry state + ledger state -> findings); the rest is I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay import names
from assay.config import Settings
from assay.errors import GateError
from assay.gate import policy as policy_mod
from assay.gate import registry
from assay.gate.policy import AliasProtection

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from sqlalchemy.orm import Session

    from assay.gate.decide import Verdict

log = logging.getLogger(__name__)

#: The aliases only the gate moves; the ledger has every move of them.
GATE_ALIASES: tuple[str, ...] = (names.CHAMPION, names.CHALLENGER)
#: Who the ledger names for a repair.
ACTOR = "reconcile"


class AliasDriftError(GateError):
    """The registry disagrees with the decision ledger and the disagreement was not repaired."""


class Kind(StrEnum):
    MOVED = "alias_moved"  # a gate alias points elsewhere than the ledger last put it
    MISSING = "alias_missing"  # the ledger put a gate alias on a version; the registry has none
    UNBACKED = "alias_unbacked"  # another alias points at a version without a passing decision
    TAGS = "gate_tags_changed"  # a version's gate tags differ from its latest decision


@dataclass(frozen=True)
class LedgerDecision:
    id: int
    version: str
    decision: str
    reason: str


@dataclass(frozen=True)
class Ledger:
    """What the catalog says about one model."""

    #: alias -> (to_version, decision_id) of its last ``alias_events`` row.
    moves: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    #: version -> its latest decision.
    latest: Mapping[str, LedgerDecision] = field(default_factory=dict)
    #: versions with at least one ``pass`` decision.
    passing: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RegistryState:
    """What MLflow says about one model: aliases, and the gate tags of every version."""

    aliases: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """One disagreement between registry and ledger, and what was done about it."""

    model_name: str
    kind: Kind
    alias: str | None  # None for tags of a version no alias points at
    version: str | None  # what the registry says (None: alias not set)
    expected: str | None  # what the ledger says (None: the ledger never placed it)
    detail: str
    action: str = "reported"  # reported | restored | removed | retagged | failed
    decision_id: int | None = None  # the ledger row that records the repair

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    """The result of one reconciliation: findings (with actions), what is still wrong, and errors."""

    mode: AliasProtection
    models: list[str]
    findings: list[Finding] = field(default_factory=list)
    unresolved: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the registry agrees with the ledger now (possibly after repairs)."""
        return not self.unresolved and not self.errors

    def summary(self) -> str:
        """One line per problem still open, or a one-line all-clear naming the repairs."""
        if self.ok:
            repaired = [f for f in self.findings if f.action != "reported"]
            tail = f"; repaired: {'; '.join(f'{f.model_name}: {f.detail} [{f.action}]' for f in repaired)}" if repaired else ""
            return f"registry agrees with the decision ledger ({', '.join(self.models) or 'no model'}){tail}"
        lines = [f"{f.model_name}: {f.detail}" for f in self.unresolved] + self.errors
        return f"registry disagrees with the decision ledger ({self.mode.value} mode):\n" + "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "models": self.models, "ok": self.ok,
                "findings": [f.as_json() for f in self.findings],
                "unresolved": [f.as_json() for f in self.unresolved], "errors": self.errors}


# ---- pure ----------------------------------------------------------------------------------------
def _vkey(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 62, version)


def compare(model_name: str, reg: RegistryState, ledger: Ledger,
            gate_aliases: Sequence[str] = GATE_ALIASES) -> list[Finding]:
    """Every disagreement between the registry and the ledger of one model (no I/O)."""
    found: list[Finding] = []
    for alias in gate_aliases:
        move = ledger.moves.get(alias)
        expected = move[0] if move else None
        actual = reg.aliases.get(alias)
        if actual == expected:
            continue
        where = f"the ledger last moved it to v{move[0]} (decision #{move[1]})" if move else "the ledger never moved it"
        if actual is None:
            found.append(Finding(model_name, Kind.MISSING, alias, None, expected,
                                 f"{alias} is not set in the registry, but {where}"))
            continue
        backing = ("has a recorded passing decision" if actual in ledger.passing
                   else "has no recorded passing decision")
        found.append(Finding(model_name, Kind.MOVED, alias, actual, expected,
                             f"{alias} -> v{actual} was set outside the gate ({where}; v{actual} {backing})"))
    for alias, version in sorted(reg.aliases.items()):
        if alias not in gate_aliases and version not in ledger.passing:
            found.append(Finding(model_name, Kind.UNBACKED, alias, version, None,
                                 f"alias {alias} -> v{version}: v{version} has no recorded passing decision"))
    by_version: dict[str, list[str]] = {}
    for name, version in reg.aliases.items():
        by_version.setdefault(version, []).append(name)
    for version in sorted(reg.tags, key=_vkey):
        tags = reg.tags[version]
        on = sorted(by_version.get(version, []))
        tagged_alias = on[0] if on else None
        shown = f"v{version}" + (f" ({', '.join(on)})" if on else "")
        latest = ledger.latest.get(version)
        if latest is None:
            if tags:
                found.append(Finding(model_name, Kind.TAGS, tagged_alias, version, None,
                                     f"{shown} carries gate tags ({', '.join(sorted(tags))}) but the ledger "
                                     "has no decision for it"))
            continue
        want = registry.expected_gate_tags(latest.decision, latest.id, latest.reason)
        missing = [k for k in registry.GATE_TAGS if k not in tags]
        changed = [k for k in registry.GATE_TAGS if k in tags and tags[k] != want[k]]
        if missing or changed:
            parts = ([f"removed: {', '.join(missing)}"] if missing else []) + (
                [f"changed: {', '.join(changed)}"] if changed else [])
            found.append(Finding(model_name, Kind.TAGS, tagged_alias, version, version,
                                 f"{shown} gate tags {'; '.join(parts)} (ledger: decision #{latest.id} "
                                 f"{latest.decision})"))
    return found


# ---- reading both sides --------------------------------------------------------------------------
def managed_models(s: Session) -> list[str]:
    """The registered model assay trains plus every model the ledger or the candidates name."""
    from sqlalchemy import select, union

    from assay.catalog.models import AliasEvent, GateDecision, ModelCandidate

    stmt = union(select(GateDecision.model_name), select(AliasEvent.model_name), select(ModelCandidate.model_name))
    return sorted({names.MODEL_NAME, *s.execute(stmt).scalars()})


def read_ledger(s: Session, model_name: str) -> Ledger:
    """The last move of each alias, the latest decision of each version, the versions that passed."""
    from sqlalchemy import select

    from assay.catalog.models import AliasEvent, GateDecision

    moves: dict[str, tuple[str, int]] = {}
    for ev in s.execute(select(AliasEvent).where(AliasEvent.model_name == model_name).order_by(AliasEvent.id)).scalars():
        moves[ev.alias] = (ev.to_version, int(ev.decision_id))
    latest: dict[str, LedgerDecision] = {}
    passing: set[str] = set()
    rows = s.execute(select(GateDecision.id, GateDecision.version, GateDecision.decision, GateDecision.reason)
                     .where(GateDecision.model_name == model_name).order_by(GateDecision.id))
    for did, version, decision, reason in rows:
        latest[version] = LedgerDecision(int(did), version, decision, reason)
        if decision == "pass":
            passing.add(version)
    return Ledger(moves, latest, frozenset(passing))


def read_registry(c: MlflowClient, model_name: str) -> RegistryState:
    """Aliases of the model and the gate tags of each of its versions ({} when a version has none)."""
    tags = {str(mv.version): {k: v for k, v in (mv.tags or {}).items() if k in registry.GATE_TAGS}
            for mv in registry.versions(c, model_name)}
    return RegistryState(registry.aliases(c, model_name), tags)


# ---- repairing -----------------------------------------------------------------------------------
def _record(s: Session, model_name: str, version: str, decision: str, reason: str, evidence: dict[str, Any],
            policy_json: dict[str, Any], policy_digest: str, run_key: str | None) -> int:
    """Append a decision row for a repair (the alias event needs one to point at)."""
    from assay.catalog.models import GateDecision
    from assay.gate.decide import Check

    verdict: Verdict = "pass" if decision == "pass" else "fail"
    check = Check("alias_protection", evidence.get("observed", ""), "registry agrees with the decision ledger",
                  verdict, reason)
    row = GateDecision(model_name=model_name, version=version, decision=decision, policy_digest=policy_digest,
                       policy=policy_json, checks=[asdict(check)], evidence={"reconcile": evidence},
                       reason=reason, actor=ACTOR, run_key=run_key)
    s.add(row)
    s.flush()
    return int(row.id)


def _restore(c: MlflowClient, s: Session, f: Finding, ledger: Ledger, run_key: str | None) -> Finding:
    """Put a gate alias back where the ledger last moved it, as a new decision relying on that move's."""
    from assay.catalog.models import GateDecision

    assert f.alias is not None and f.expected is not None
    target, relied_id = ledger.moves[f.alias]
    if registry.model_version(c, f.model_name, target) is None:
        return replace(f, action="failed", detail=f"{f.detail}; cannot restore: v{target} is no longer in the registry")
    relied = s.get(GateDecision, relied_id)
    assert relied is not None  # alias_events.decision_id is a foreign key
    reason = (f"reconcile: {f.detail}; {f.alias} restored to v{target}, relying on decision #{relied_id} "
              f"({relied.decision})")
    evidence = {"observed": f"{f.alias} -> v{f.version}" if f.version else f"{f.alias} not set",
                "alias": f.alias, "from_version": f.version, "to_version": target,
                "relies_on_decision_id": relied_id, "finding": f.kind.value}
    did = _record(s, f.model_name, target, relied.decision, reason, evidence, dict(relied.policy),
                  relied.policy_digest, run_key)
    if f.alias == names.CHAMPION:
        registry.promote_champion(c, s, f.model_name, target, did, ACTOR, reason)
    else:
        registry.set_challenger(c, s, f.model_name, target, did, ACTOR, reason)
    registry.tag_version(c, f.model_name, target, relied.decision, did, reason)
    s.commit()
    return replace(f, action="restored", decision_id=did)


def _remove(c: MlflowClient, s: Session, f: Finding, pol: policy_mod.Policy, run_key: str | None) -> Finding:
    """Remove an alias the ledger does not back, recorded as a ``fail`` decision about its version."""
    assert f.alias is not None and f.version is not None
    reason = f"reconcile: {f.detail}; alias {f.alias} removed"
    evidence = {"observed": f"{f.alias} -> v{f.version}", "alias": f.alias, "from_version": f.version,
                "to_version": None, "finding": f.kind.value}
    did = _record(s, f.model_name, f.version, "fail", reason, evidence, pol.as_json(), pol.digest(), run_key)
    registry.delete_alias(c, f.model_name, f.alias)
    registry.tag_version(c, f.model_name, f.version, "fail", did, reason)
    s.commit()
    return replace(f, action="removed", decision_id=did)


def _retag(c: MlflowClient, f: Finding, ledger: Ledger) -> Finding:
    """Rewrite a version's gate tags from its latest decision (or drop tags the ledger never wrote)."""
    assert f.version is not None
    latest = ledger.latest.get(f.version)
    if latest is None:
        for key in registry.GATE_TAGS:
            c.delete_model_version_tag(f.model_name, f.version, key)
    else:
        registry.tag_version(c, f.model_name, f.version, latest.decision, latest.id, latest.reason)
    return replace(f, action="retagged")


def _repair(c: MlflowClient, s: Session, f: Finding, ledger: Ledger, pol: policy_mod.Policy,
            run_key: str | None) -> Finding:
    from mlflow.exceptions import MlflowException

    try:
        if f.kind is Kind.TAGS:
            return _retag(c, f, ledger)
        if f.kind in (Kind.MOVED, Kind.MISSING) and f.expected is not None:
            return _restore(c, s, f, ledger, run_key)
        return _remove(c, s, f, pol, run_key)
    except (MlflowException, GateError, OSError) as exc:
        s.rollback()  # nothing of a failed repair stays on the record
        log.error("%s: repairing %r failed: %s", f.model_name, f.detail, registry.short(exc))
        return replace(f, action="failed", detail=f"{f.detail}; repair failed: {registry.short(exc)}")


# ---- one model, every model ----------------------------------------------------------------------
def _unreachable(model_name: str, exc: BaseException) -> str:
    code = getattr(exc, "error_code", "")
    if code in ("UNAUTHENTICATED", "PERMISSION_DENIED") or " 401" in str(exc) or " 403" in str(exc):
        return (f"{model_name}: MLflow refused assay's credentials ({registry.short(exc)}): set "
                "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (docs/mlflow-auth.md)")
    return f"{model_name}: MLflow unreachable: {registry.short(exc)}"


def reconcile_model(c: MlflowClient, s: Session, model_name: str, mode: AliasProtection, pol: policy_mod.Policy,
                    run_key: str | None) -> tuple[list[Finding], list[Finding]]:
    """Compare (and in restore mode repair) one model; caller holds its lock. Returns (findings, unresolved)."""
    ledger = read_ledger(s, model_name)
    found = compare(model_name, read_registry(c, model_name), ledger)
    if mode is AliasProtection.REPORT or not found:
        return found, found
    # Aliases first: a repair appends decisions and retags versions, so tags are judged afterwards.
    done = [_repair(c, s, f, ledger, pol, run_key) for f in found if f.kind is not Kind.TAGS]
    ledger = read_ledger(s, model_name)
    tags = [f for f in compare(model_name, read_registry(c, model_name), ledger) if f.kind is Kind.TAGS]
    done += [_repair(c, s, f, ledger, pol, run_key) for f in tags]
    for f in done:
        log.warning("%s: %s [%s%s]", model_name, f.detail, f.action,
                    f", decision #{f.decision_id}" if f.decision_id else "")
    return done, compare(model_name, read_registry(c, model_name), read_ledger(s, model_name))


def reconcile(
    settings: Settings,
    *,
    mode: AliasProtection | str | None = None,
    models: Sequence[str] | None = None,
    run_key: str | None = None,
    policy: policy_mod.Policy | None = None,
    policy_path: Path | None = None,
) -> Report:
    """Compare the MLflow registry with the decision ledger for ``models`` and act per ``mode``.

    Args:
        mode: ``report`` or ``restore``; default: the policy's ``alias_protection``.
        models: registered model names; default: every model assay manages (:func:`managed_models`).
        run_key: the run this belongs to (stored on repair decisions).
        policy / policy_path: the promotion policy (default ``config/promotion_policy.yaml``).

    Returns:
        The report; MLflow failures of one model are in ``errors`` (other models are still checked).

    Raises:
        PolicyError: the policy file is invalid. ValueError: ``mode`` is not report/restore.
        GateError: the catalog is unreachable.
    """
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    from assay.catalog.db import session

    pol = policy or policy_mod.load(policy_path or policy_mod.default_path(settings))
    how = AliasProtection(mode) if mode else pol.alias_protection
    catalog = settings.catalog_url()
    try:
        if models:
            wanted = sorted(set(models))
        else:
            with session(catalog) as s:
                wanted = managed_models(s)
        report = Report(how, wanted)
        c, problem = registry.client_or_error(settings)
        if c is None:
            report.errors.append(problem or "MLflow unusable")
            return report
        for model_name in wanted:
            with registry.model_lock(catalog, model_name) as s:
                try:
                    found, left = reconcile_model(c, s, model_name, how, pol, run_key)
                except (MlflowException, OSError) as exc:
                    report.errors.append(_unreachable(model_name, exc))
                    continue
            report.findings += found
            report.unresolved += left
    except SQLAlchemyError as exc:
        raise GateError(f"reconcile: catalog unreachable or failing ({registry.short(exc)})") from exc
    log.log(logging.INFO if report.ok else logging.WARNING, "%s", report.summary())
    return report


# ---- Airflow glue (dags/alias_watch.py, and `promote` before it judges) ---------------------------
def reconcile_for_airflow(settings: Settings, params: Mapping[str, Any], run_key: str) -> dict[str, Any]:
    """Reconcile per the run's Params (``model_name``, ``mode``; empty = all / the policy's).

    Returns:
        The report as JSON (for XCom).

    Raises:
        AliasDriftError: the registry still disagrees with the ledger (report mode, or a failed repair).
    """
    model = params.get("model_name")
    report = reconcile(settings, mode=params.get("mode") or None, models=[str(model)] if model else None,
                       run_key=run_key)
    if not report.ok:
        raise AliasDriftError(report.summary())
    return report.as_json()
