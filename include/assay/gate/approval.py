"""Approval of a passing decision by a person before ``champion`` moves (policy ``require_approval``).

With ``require_approval: always`` — or ``when_waived`` and a candidate whose training data relied on
waived expectation results — :func:`assay.gate.run.run_gate` records the passing decision with
``evidence.approval = {"required": true, "status": "pending", "why": …}``, points ``challenger`` at
the candidate and leaves ``champion`` alone. The ``promote`` DAG's ``approve`` task (Airflow's
``ApprovalOperator``, :mod:`assay.orchestration.approval`) then asks a person, and
:func:`record_answer` appends the answer to the append-only ledger as a decision of its own:

* **approved**: a ``pass`` row (actor = the approving user) whose evidence holds the approval
  ``{of_decision_id, approved, by, at, comment}`` and the waivers with who granted them; ``champion``
  moves to the version justified by that row (an ``alias_events`` row);
* **rejected** (or no answer in time): a ``fail`` row (actor = the rejecting user, or
  ``airflow:promote`` on a timeout); ``champion`` stays where it is, the version's gate tags say ``fail``.

Every decision row with waived results carries ``evidence.waivers``: id, asset, suite, expectation,
reason and ``created_by`` (who granted the waiver), so a decision shows what it relied on and whose word.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay.config import Settings
from assay.errors import GateError
from assay.gate import policy as policy_mod
from assay.gate.policy import RequireApproval

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
#: The actor of a rejection nobody gave (the approval timed out or was never asked).
NO_ONE = "airflow:promote"


def waived_ids(evidence: Mapping[str, Any]) -> list[int]:
    """Waivers a decision's evidence relies on: those covering failures now and those the training run recorded."""
    ids = set(evidence.get("waiver_ids") or []) | set(evidence.get("training_waiver_ids") or [])
    return sorted(int(i) for i in ids)


def why_needed(pol: policy_mod.Policy, evidence: Mapping[str, Any]) -> str | None:
    """Why a passing decision needs approval under ``pol`` (``None``: it does not)."""
    if pol.require_approval == RequireApproval.ALWAYS:
        return "require_approval: always"
    if pol.require_approval == RequireApproval.WHEN_WAIVED:
        ids = waived_ids(evidence)
        if ids:
            return f"require_approval: when_waived, and the training data relies on waiver(s) {', '.join(map(str, ids))}"
    return None


def waiver_grants(s: Session, ids: Iterable[int]) -> list[dict[str, Any]]:
    """Each waiver with who granted it (for a decision's evidence)."""
    from sqlalchemy import select

    from assay.catalog.models import Asset, Waiver

    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows = s.execute(select(Waiver, Asset.name).join(Asset, Asset.id == Waiver.asset_id)
                     .where(Waiver.id.in_(wanted)).order_by(Waiver.id)).all()
    return [{"id": w.id, "asset": name, "suite": w.suite_name, "expectation": w.expectation_id, "reason": w.reason,
             "created_by": w.created_by, "valid_from": w.valid_from.isoformat(),
             "valid_until": w.valid_until.isoformat() if w.valid_until else None} for w, name in rows]


def annotate(s: Session, pol: policy_mod.Policy, decision: str, evidence: dict[str, Any]) -> bool:
    """Add ``waivers`` and ``approval`` to a decision's evidence before it is stored; True = hold ``champion``."""
    grants = waiver_grants(s, waived_ids(evidence))
    if grants:
        evidence["waivers"] = grants
    why = why_needed(pol, evidence) if decision == "pass" else None
    if why is None:
        return False
    evidence["approval"] = {"required": True, "status": PENDING, "why": why}
    return True


@dataclass(frozen=True)
class Pending:
    """A passing decision waiting for approval."""

    decision_id: int
    model_name: str
    version: str
    reason: str
    why: str
    checks: list[dict[str, Any]]
    waivers: list[dict[str, Any]]


def pending(settings: Settings, decision_ids: Iterable[int | None]) -> list[Pending]:
    """Those of ``decision_ids`` that wait for an approval no later decision answered."""
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import GateDecision

    wanted = sorted({int(i) for i in decision_ids if i is not None})
    if not wanted:
        return []
    out = []
    with session(settings.catalog_url()) as s:
        for row in s.execute(select(GateDecision).where(GateDecision.id.in_(wanted))).scalars():
            approval = (row.evidence or {}).get("approval") or {}
            if row.decision != "pass" or approval.get("status") != PENDING or _answer_of(s, row) is not None:
                continue
            out.append(Pending(row.id, row.model_name, row.version, row.reason, str(approval.get("why")),
                               list(row.checks or []), list((row.evidence or {}).get("waivers") or [])))
    return out


def _answer_of(s: Session, row: Any) -> Any:
    from sqlalchemy import select

    from assay.catalog.models import GateDecision

    later = s.execute(select(GateDecision).where(GateDecision.model_name == row.model_name,
                                                 GateDecision.version == row.version, GateDecision.id > row.id)
                      .order_by(GateDecision.id)).scalars()
    return next((d for d in later if ((d.evidence or {}).get("approval") or {}).get("of_decision_id") == row.id), None)


def record_answer(settings: Settings, decision_id: int, *, approved: bool, user: str | None,
                  at: dt.datetime | None = None, comment: str | None = None,
                  run_key: str | None = None) -> dict[str, Any]:
    """Append the approval or rejection of pending decision ``decision_id``; on approval move ``champion``.

    Returns:
        ``{"decision_id", "decision", "model_name", "version", "champion_version", "reason"}`` of the new row.

    Raises:
        GateError: the decision is not a pending approval (or was answered already), or MLflow failed
            (the message names what was recorded).
    """
    from mlflow.exceptions import MlflowException

    from assay import names
    from assay.catalog.db import session
    from assay.catalog.models import GateDecision
    from assay.gate import registry

    when = at or dt.datetime.now(dt.UTC)
    with session(settings.catalog_url()) as s0:
        first = s0.get(GateDecision, decision_id)
        if first is None:
            raise GateError(f"no gate decision #{decision_id}")
        model_name = first.model_name
    with registry.model_lock(settings.catalog_url(), model_name) as s:
        row = s.get(GateDecision, decision_id)
        if row is None:
            raise GateError(f"no gate decision #{decision_id}")
        approval = (row.evidence or {}).get("approval") or {}
        if row.decision != "pass" or approval.get("status") != PENDING:
            raise GateError(f"decision #{decision_id} ({row.model_name} v{row.version}) does not wait for an approval")
        answered = _answer_of(s, row)
        if answered is not None:
            raise GateError(f"decision #{decision_id} was answered already by decision #{answered.id}")
        who = user or NO_ONE
        grants = (row.evidence or {}).get("waivers") or []
        # The reason is also the version's MLflow tag: name the waivers relied on and whose word they are.
        note = (f": {comment}" if comment else "") + ("; relies on " + ", ".join(
            f"waiver #{g.get('id')} granted by {g.get('created_by')}" for g in grants) if grants else "")
        if approved:
            verdict, text = "pass", f"approved by {who} (decision #{decision_id}: {row.reason}){note}"
        elif user:
            verdict, text = "fail", f"approval rejected by {who} (decision #{decision_id}){note}"
        else:
            verdict, text = "fail", f"no approval given (decision #{decision_id}){note}; champion unchanged"
        check = {"name": "approval", "observed": APPROVED if approved else REJECTED,
                 "threshold": approval.get("why", "require_approval"), "verdict": verdict,
                 "detail": f"{who} at {when.isoformat()}{note}"}
        evidence = {"approval": {"of_decision_id": decision_id, "approved": approved, "by": user,
                                 "at": when.isoformat(), "comment": comment, "why": approval.get("why")},
                    "relies_on_decision_id": decision_id,
                    "waivers": (row.evidence or {}).get("waivers") or []}
        new = GateDecision(model_name=row.model_name, version=row.version, decision=verdict,
                           policy_digest=row.policy_digest, policy=dict(row.policy), checks=[*row.checks, check],
                           evidence=evidence, reason=text, actor=who, run_key=run_key)
        s.add(new)
        s.flush()
        s.commit()
        new_id = int(new.id)
        client, problem = registry.client_or_error(settings)
        if client is None:
            raise GateError(f"decision #{new_id} ({verdict}) is recorded, but MLflow is unreachable: {problem}")
        try:
            if approved and registry.champion_version(client, row.model_name) != row.version:
                registry.promote_champion(client, s, row.model_name, row.version, new_id, who, text)
                s.commit()
            registry.tag_version(client, row.model_name, row.version, verdict, new_id, text)
            champion = registry.aliases(client, row.model_name).get(names.CHAMPION)
        except (MlflowException, OSError) as exc:
            raise GateError(f"decision #{new_id} ({verdict}) is recorded, but updating the MLflow registry failed: "
                            f"{registry.short(exc)}") from exc
        log.info("%s v%s: decision #%s %s", row.model_name, row.version, new_id, text)
        return {"decision_id": new_id, "decision": verdict, "model_name": row.model_name, "version": row.version,
                "champion_version": champion, "reason": text}
