"""
### train

Fine-tunes the cross-encoder (all-MiniLM-L6-v2 by default) on the validated partitions of the
14 days ending at the logical date, evaluates it against BM25 and untuned MiniLM cosine on
held-out queries, logs everything to MLflow (experiment `assay-cross-encoder`) and registers a new
version of `assay-cross-encoder`. The promotion gate judges that version next.

Two tasks:

* `train` turns the Params into one `TrainRequest` (`assay.training.request`) and runs
  `assay train --request FILE --result FILE` **as its own process** on queue `gpu` and in pool
  `gpu`: a Celery worker serving that queue owns the GPU, the process's memory is freed when it
  exits, and an out-of-memory kill fails the task instead of the worker. It returns the ids of the
  result file only (`run_id`, `model_uri`, `model_name`, `version`, `dataset_digest`). Retries are safe: the run key is
  `train/<run_id>`, a retry after a registered version returns that version, and a retry after a
  kill resumes from the last checkpoint.
* `publish` emits the `candidate` asset with `{model_name, version, run_id, logical_date}`.

Runs when `quality` publishes the `validated` asset (the window ends at the event's logical date),
or manually (logical date D: the window ends at D). Params: `window_end` (YYYY-MM-DD; empty = the run's partition date), `days`,
`epochs`, `max_steps`, `batch_size`, `max_queries`, `base_model` (a local model folder; empty =
the packaged MiniLM), `teacher_weight`, `nproc` (data-parallel processes via torchrun),
`allow_unvalidated`. Null params take `assay train`'s defaults, sized to train in about two minutes
on two CPU cores on the demo shop. A Param is a training option by its name: adding one here only
shows an existing `TrainConfig` field in the trigger form (see `assay.training.request`).
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import Param, dag, task

from assay import names
from assay.assets import CANDIDATE, VALIDATED
from assay.orchestration import params as P
from assay.orchestration.tasks import default_args

#: Training defaults live in one place, `assay.training.config.DEFAULT_CONFIG` (sized for the demo).
_DEFAULT = "empty = the default of `assay train` (assay.training.config.DEFAULT_CONFIG)"


@dag(
    dag_id="train",
    schedule=[VALIDATED],
    start_date=P.EARLIEST_DAY,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["assay", "training"],
    default_args=default_args("ml-platform", retries=1, timeout=dt.timedelta(minutes=15)),
    params={
        "window_end": P.day("YYYY-MM-DD; empty = the run's partition date"),
        "days": Param(14, type="integer", minimum=1, maximum=366, description="window length in days"),
        "epochs": P.optional("integer", _DEFAULT, minimum=1),
        "max_steps": P.optional("integer", _DEFAULT + "; 0 = no limit", minimum=0),
        "batch_size": P.optional("integer", _DEFAULT, minimum=1),
        "max_queries": P.optional("integer", "cap the training set's queries; empty = all", minimum=2),
        "base_model": P.optional(
            "string", "local model folder; empty = all-MiniLM-L6-v2 (packaged)", minLength=1, maxLength=4096
        ),
        "teacher_weight": P.optional(
            "number",
            _DEFAULT + "; share of the target from the untuned MiniLM teacher, 0 = clicks only",
            minimum=0,
            maximum=1,
        ),
        "nproc": Param(1, type="integer", minimum=1, maximum=64, description="data-parallel processes (torchrun)"),
        "allow_unvalidated": Param(False, type="boolean", description="include days that failed quality"),
    },
)
def train():
    # A training run may take hours on a real set; the demo's takes about two minutes.
    @task(queue=names.GPU_QUEUE, pool=names.GPU_POOL, execution_timeout=dt.timedelta(hours=12))
    def train_model(params: dict, **context) -> dict:
        from assay.orchestration import partition_date, run_key
        from assay.training.process import train_in_subprocess
        from assay.training.request import TrainRequest

        request = TrainRequest.from_params(params, partition_date(context), run_key=run_key(context, params))
        ids = train_in_subprocess(request)
        return {**ids, "logical_date": request.window_end.isoformat()}

    @task(outlets=[CANDIDATE], execution_timeout=pendulum.duration(minutes=5))
    def publish(ids: dict, **context) -> None:
        context["outlet_events"][CANDIDATE].extra = {
            "model_name": ids["model_name"],
            "version": ids["version"],
            "run_id": ids["run_id"],
            "logical_date": ids["logical_date"],
        }

    publish(train_model())


train()
