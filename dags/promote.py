"""
### promote

The promotion gate (issue #6): judges each new model version of the cross-encoder against
`config/promotion_policy.yaml` — data evidence of its exact training snapshot (unwaived critical
failures, warnings, freshness, open anomalies, train-vs-serving drift) and its metrics (thresholds,
the current champion, the BM25 baseline) — records the decision in the catalog (`gate_decisions`,
append-only), tags the version, points `challenger` at it and moves `champion` only on `pass`.

Runs when `train` emits the `candidate` asset (extra `{model_name, version, run_id, logical_date}`),
or manually with Params `model_name`, `version` (and `dry_run` to decide without recording).
A refused candidate is a successful run whose return value says `fail`: the refusal is data. The
task fails only when no decision could be reached (`error`, still recorded) or a store is down.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from assay import names
from assay.assets import CANDIDATE


@dag(
    dag_id="promote",
    schedule=[CANDIDATE],
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["assay", "registry"],
    default_args={"owner": "ml-platform", "retries": 1, "retry_delay": pendulum.duration(minutes=1)},
    params={
        "model_name": Param(names.MODEL_NAME, type="string", description="registered model name"),
        "version": Param("", type="string", description="model version to judge; empty = from the candidate asset"),
        "dry_run": Param(False, type="boolean", description="decide only: record nothing, move no alias"),
    },
)
def promote():
    @task
    def gate(params: dict, **context) -> dict:
        from assay.config import get_settings
        from assay.gate.run import gate_for_airflow
        from assay.orchestration import run_key

        return gate_for_airflow(get_settings(), params, context, run_key(context))

    gate()


promote()
