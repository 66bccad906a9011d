"""
### promote

The promotion gate (issue #6): judges each new model version of the cross-encoder against
`config/promotion_policy.yaml` — data evidence of its exact training snapshot (unwaived critical
failures, warnings, freshness, open anomalies, train-vs-serving drift) and its metrics (thresholds,
the current champion, the BM25 baseline) — records the decision in the catalog (`gate_decisions`,
append-only), tags the version, points `challenger` at it and moves `champion` only on `pass`.

Runs when `train` emits the `candidate` asset (extra `{model_name, version, run_id, logical_date}`),
or manually with Params `model_name`, `version` (a positive integer; empty = from the candidate
asset, or on a manual run the model's newest registered candidate) and `dry_run` to decide without
recording. Before judging, the registry is reconciled with the decision ledger
(`assay.gate.reconcile`). The task fails — at once, without retry, with the reasons as its message, after everything was recorded — when the gate refused a
candidate (`fail`: it became `challenger`, `champion` stayed), when no decision could be reached
(`error`), or when the registry disagrees with the ledger; a store that is down is retried with
backoff. A `dry_run` never fails on a refusal: its return value carries the decision.

With `require_approval` in the policy (`always`, or `when_waived`: the training data relied on
waived results), a passing decision is held: `champion` stays, and the `approve` task (Airflow's
ApprovalOperator, `assay.orchestration.approval`) asks a person in Browse → Required Actions or
through `PATCH …/taskInstances/approve/-1/hitlDetails`. The answer is a decision row of its own
with the responding user: *Approve* moves `champion`; *Reject* (or no answer within
`approval_hours`) leaves it and fails the task. `approve` is skipped when nothing is held; manual
runs (`airflow dags test`, `make demo`) and backfills do not wait unless `approval_hours` is set.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, dag, task

from assay import names
from assay.assets import CANDIDATE
from assay.orchestration import params as P
from assay.orchestration.approval import GateApproval, approval_hours_param
from assay.orchestration.tasks import default_args


@dag(
    dag_id="promote",
    schedule=[CANDIDATE],
    start_date=P.EARLIEST_DAY,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["assay", "registry"],
    default_args=default_args("ml-platform", retries=1, timeout=dt.timedelta(minutes=30)),
    params={
        "model_name": P.model_name(names.MODEL_NAME),
        "version": P.version("model version to judge; empty = from the candidate asset, else the newest candidate"),
        "dry_run": Param(False, type="boolean", description="decide only: record nothing, move no alias"),
        "approval_hours": approval_hours_param(),
    },
)
def promote():
    @task
    def gate(params: dict, **context) -> dict:
        from assay.config import get_settings
        from assay.gate.reconcile import reconcile_for_airflow
        from assay.gate.run import gate_for_airflow
        from assay.orchestration import run_key
        from assay.orchestration.tasks import data_failures, fail_on_refusal

        settings, key = get_settings(), run_key(context, params)
        with data_failures():
            # #14.5: the registry reconciled with the decision ledger before judging (alias protection).
            if not params.get("dry_run"):
                reconcile_for_airflow(settings, {"model_name": params.get("model_name")}, key)
            result = gate_for_airflow(settings, params, context, key)
        if not params.get("dry_run"):
            fail_on_refusal(result)  # recorded first, then red: a refusal needs a look, not a retry
        return result

    # Between a passing decision and the champion move when the policy asks for a person (skipped
    # otherwise). A rejection is AirflowFailException (no retry); an infrastructure error retries and asks again.
    gate() >> GateApproval(task_id="approve", execution_timeout=dt.timedelta(minutes=10))


promote()
