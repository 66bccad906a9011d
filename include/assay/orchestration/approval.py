"""The ``promote`` DAG's ``approve`` task: Airflow's ``ApprovalOperator`` between a passing decision and ``champion``.

When the gate held a passing decision for approval (policy ``require_approval``,
:mod:`assay.gate.approval`), this task asks a person — Browse → Required Actions, or
``PATCH /api/v2/dags/promote/dagRuns/{run_id}/taskInstances/approve/-1/hitlDetails`` with
``{"chosen_options": ["Approve"], "params_input": {"comment": "…"}}``. The answer is recorded as a
decision of its own with the responding user: *Approve* moves ``champion``; *Reject* leaves it
where it is and fails the task (a refusal, like the gate's own). No answer within
``approval_hours`` is a rejection by nobody (the operator's default option).

Skipped when no decision of the run waits for approval. Manual runs (``airflow dags test``,
``make demo``) and backfills do not wait unless ``approval_hours`` is set: a held decision is then
recorded as not approved at once, so no run ever blocks on a person nobody asked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import Param

from assay.gate.approval import Pending
from assay.orchestration.hitl import STEWARD_PREFIX, UNATTENDED_RUN_TYPES, md, responder

#: Hours a candidate-triggered run waits for an approval before it counts as rejected.
DEFAULT_APPROVAL_HOURS = 72.0


def approval_hours_param() -> Param:
    """The DAG Param that sets how long an approval is waited for (0 = do not ask)."""
    return Param(
        None, type=["null", "number"], minimum=0, maximum=24 * 14,
        description=(f"hours a person has to approve a held passing decision; 0 = do not ask (not approved); "
                     f"empty = {DEFAULT_APPROVAL_HOURS:g} for candidate-triggered runs, 0 for manual runs and backfills"),
    )


def approval_hours(value: Any, run_type: str | None) -> float:
    """Hours to wait: the Param when set, else by who started the run."""
    if value is not None:
        return float(value)
    return 0.0 if (run_type or "") in UNATTENDED_RUN_TYPES else DEFAULT_APPROVAL_HOURS


def approval_body(items: Sequence[Pending], hours: float) -> str:
    """Markdown: each held decision, its checks, the waivers it relies on and who granted them."""
    lines = []
    for p in items:
        lines += [f"### {md(p.model_name)} v{md(p.version)} — decision #{p.decision_id} pass, held for approval",
                  f"Why: {md(p.why, 300)}", "", f"Gate: {md(p.reason, 400)}", "",
                  "| check | observed | threshold | verdict |", "|---|---|---|---|"]
        lines += [f"| {md(c.get('name'))} | {md(c.get('observed'), 40)} | {md(c.get('threshold'), 60)} | "
                  f"{md(c.get('verdict'))} |" for c in p.checks]
        if p.waivers:
            lines += ["", "Waivers the training data relies on:"]
            lines += [f"- #{w.get('id')} {md(w.get('asset'))} / {md(w.get('expectation'))}: "
                      f"{md(w.get('reason'), 200)} — granted by **{md(w.get('created_by'))}**" for w in p.waivers]
        lines.append("")
    lines += [f"[Models]({STEWARD_PREFIX}/models) · [waivers]({STEWARD_PREFIX}/waivers)", "",
              f"**Approve** moves `champion` to the version; **Reject** leaves it where it is. Both are recorded "
              f"with your name and the comment. No answer within {hours:g} h counts as not approved."]
    return "\n".join(lines)


class GateApproval(ApprovalOperator):
    """``approve``: ask for the approval of every held passing decision of the run (module doc)."""

    def __init__(self, *, gate_task: str = "gate", **kwargs: Any) -> None:
        kwargs.setdefault("response_timeout", dt.timedelta(hours=DEFAULT_APPROVAL_HOURS))
        kwargs.pop("params", None)  # the form is this task's own; the DAG's Params stay DAG-level
        super().__init__(subject="promote: approve the new champion", defaults=ApprovalOperator.REJECT,
                         params={"comment": Param(None, type=["null", "string"], maxLength=2000,
                                                  description="why (recorded with the decision)")}, **kwargs)
        self.gate_task = gate_task

    def _pending(self, context: Any) -> list[Pending]:
        from assay.config import get_settings
        from assay.gate.approval import pending

        result = context["ti"].xcom_pull(task_ids=self.gate_task) or {}
        return pending(get_settings(), [d.get("decision_id") for d in result.get("decisions") or []])

    def _record(self, context: Any, items: Sequence[Pending], approved: bool, user: str | None,
                comment: str | None) -> list[dict[str, Any]]:
        from assay.config import get_settings
        from assay.gate.approval import record_answer
        from assay.orchestration import run_key

        key = run_key(context)
        return [record_answer(get_settings(), p.decision_id, approved=approved, user=user, comment=comment,
                              run_key=key) for p in items]

    def execute(self, context: Any) -> Any:
        """Skip when nothing waits; record "not approved" at once when nobody is asked; else ask."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        items = self._pending(context)
        if not items:
            raise AirflowSkipException("no passing decision of this run waits for approval")
        run_type = str(getattr(context["dag_run"].run_type, "value", context["dag_run"].run_type))
        hours = approval_hours(context["params"].get("approval_hours"), run_type)
        if hours <= 0:
            done = self._record(context, items, False, None, f"nobody asked (approval_hours 0 in this {run_type} run)")
            raise AirflowFailException("not approved: " + "; ".join(f"{d['model_name']} v{d['version']} decision "
                                                                    f"#{d['decision_id']}: {d['reason']}" for d in done))
        self.response_timeout = dt.timedelta(hours=hours)
        self.body = approval_body(items, hours)
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Record the answer for every held decision; a rejection fails the task after it is recorded."""
        from airflow.sdk.exceptions import AirflowFailException

        # HITLOperator's, not ApprovalOperator's: nothing downstream to skip, the answer is recorded here.
        result = HITLOperator.execute_complete(self, context, event)
        approved = result["chosen_options"] == [self.APPROVE]
        user = responder(result)
        comment = ((result.get("params_input") or {}).get("comment") or "").strip() or None
        items = self._pending(context)
        if approved and user is None:
            raise AirflowFailException("an approval without a responding user is not accepted")
        done = self._record(context, items, approved, user, comment)
        if not approved:
            raise AirflowFailException("not approved: " + "; ".join(
                f"{d['model_name']} v{d['version']} decision #{d['decision_id']}: {d['reason']}" for d in done))
        return {"decisions": done, "approved_by": user}
