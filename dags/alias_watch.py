"""
### alias_watch

Protected aliases (issue #14): every hour, compares the MLflow registry with the promotion gate's
decision ledger in the catalog (`gate_decisions`, `alias_events`) for every registered model assay
manages — `champion` and `challenger` must point where the ledger last moved them, any other alias
at a version with a recorded passing decision, and each version's gate tags must repeat its latest
decision (`assay.gate.reconcile`, docs/gate.md#protected-aliases).

What happens to a disagreement is the policy's `alias_protection` (`config/promotion_policy.yaml`):
`report` fails the run at once (no retry) naming each one; `restore` moves the alias back to where
the ledger last put it (or removes it), rewrites the tags, records each move (actor `reconcile`) and
succeeds — the repairs are in the run's return value and in `alias_events`. The `promote` DAG makes
the same check before it judges a candidate.

Params (all optional): `model_name` (empty = every model assay manages), `mode` (`report` /
`restore`; empty = the policy's). An unreachable catalog or MLflow server is retried with backoff.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, dag, task

from assay.orchestration.tasks import record_failure


@dag(
    dag_id="alias_watch",
    schedule="@hourly",
    start_date=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    catchup=False,  # only the registry's state now matters: missed hours are not worth replaying
    max_active_runs=1,
    doc_md=__doc__,
    tags=["assay", "registry"],
    default_args={
        "owner": "ml-platform",
        "retries": 2,
        "retry_delay": dt.timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=10),
        "execution_timeout": dt.timedelta(minutes=10),
        "on_failure_callback": record_failure,  # every failed task in the catalog's task_failures
    },
    params={
        "model_name": Param(None, type=["null", "string"], minLength=1, maxLength=256,
                            pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                            description="registered model to check; empty = every model assay manages"),
        "mode": Param(None, type=["null", "string"], enum=[None, "report", "restore"],
                      description="report or restore; empty = alias_protection of config/promotion_policy.yaml"),
    },
)
def alias_watch():
    @task
    def reconcile(params: dict, **context) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from assay.config import get_settings
        from assay.gate.reconcile import AliasDriftError, reconcile_for_airflow
        from assay.orchestration import run_key

        try:
            return reconcile_for_airflow(get_settings(), params, run_key(context, params))
        except AliasDriftError as exc:  # a finding is data, not a flake: fail now, without a traceback
            raise AirflowFailException(str(exc)) from None

    reconcile()


alias_watch()
