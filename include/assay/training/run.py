"""One training run end to end: build the set, train, evaluate, track, register, catalogue.

:func:`train_candidate` is what ``assay train`` (and through it the ``train`` DAG) calls with a
:class:`~assay.training.request.TrainRequest`:

1. **Idempotency.** A version of :data:`names.MODEL_NAME` tagged with this ``run_key`` already
   exists: its outcome is returned (and its catalog rows rewritten), nothing is trained or
   registered again. Runs of the same key left ``running`` by a killed attempt are marked failed;
   the new attempt resumes from their checkpoint (same data and config, same checkpoint key).
2. **Inputs.** The base model folder is checked first (nothing heavy before that), then an MLflow
   run is started and the training set built from validated partitions only
   (:func:`assay.training.dataset.build_training_set`).
3. **Train** in-process, or with ``nproc > 1`` as a ``torchrun`` job (:mod:`assay.training.ddp`).
4. **Evaluate** the candidate, BM25 and untuned MiniLM cosine on the held-out queries, overall and
   per slice, under the keys of :mod:`assay.names` (:mod:`assay.training.compare`).
5. **Track** params, loss and validation curves, metrics, both splits as dataset inputs and the
   evidence tags the promotion gate reads; log the model (transformers flavour); register a
   version and return its exact number.
6. **Catalogue** ``training_runs`` (running → success / failed) and ``model_candidates``
   (:mod:`assay.training.records`).

Any failure marks the MLflow run and the catalog row failed and registers nothing.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay import names
from assay.config import Settings
from assay.errors import AssayError, TrainingError
from assay.training import checkpoint, trainer
from assay.training.batching import TEACHER_COLUMN, check_trainable
from assay.training.model import resolve_base_model
from assay.training.records import fail_stale_attempts, finished_outcome, now, record_candidate, record_run
from assay.training.request import TrainOutcome, TrainRequest
from assay.training.tracking import check_reachable
from assay.training.trainer import TrainResult

if TYPE_CHECKING:
    import pandas as pd

    from assay.training.materialise import TrainingSet
    from assay.training.tracking import RunTracker

log = logging.getLogger(__name__)

#: Share of the test rows of the split (the training-set builder's default).
TEST_FRACTION = 0.2


#: ``training_runs.mlflow_run_id`` prefix of an attempt that failed before MLflow could start a run
#: (its store unreachable): one row per run key, rewritten by each such retry.
UNSTARTED = "unstarted:"


def _record_unstarted(settings: Settings, request: TrainRequest, error: str) -> None:
    """The catalog row of an attempt that never reached MLflow (nothing trained, nothing written)."""
    from assay.catalog.models import RunStatus

    params = {**request.config.as_params(), "window_end": request.window_end.isoformat(), "days": request.days}
    row = {
        "mlflow_run_id": f"{UNSTARTED}{request.run_key}",
        "dataset_id": None,
        "run_key": request.run_key,
        "params": json.loads(json.dumps(params, default=str)),
        "metrics": {},
        "status": RunStatus.FAILED,
        "model_uri": None,
        "finished_at": now(),
        "error": error[:4000],
    }
    try:
        record_run(settings, row)
    except AssayError as record_error:  # the catalog may be down too
        log.warning("training %s: could not record the failure: %s", request.run_key, record_error)


def checkpoint_root(settings: Settings) -> Path:
    """Where the checkpoint folders of every run live (keyed by dataset digest and config hash)."""
    return settings.state_dir / "checkpoints"


def _train(
    settings: Settings,
    train_df: pd.DataFrame,
    request: TrainRequest,
    digest: str,
    tracker: RunTracker,
    label_max: int,
) -> TrainResult:
    from assay.training.device import detect

    config = request.config
    if config.teacher_weight > 0:
        from assay.training.baselines import teacher_targets

        started = time.monotonic()
        train_df = train_df.assign(**{TEACHER_COLUMN: teacher_targets(train_df)})
        tracker.log_metrics({"teacher_seconds": time.monotonic() - started})
    if request.nproc <= 1:
        return trainer.train(
            train_df,
            config,
            detect(config.precision),
            dataset_digest=digest,
            checkpoint_root=checkpoint_root(settings),
            on_metrics=lambda step, values: tracker.log_metrics(values, step=step),
            label_max=label_max,
        )
    import assay.training.ddp as ddp

    with tempfile.TemporaryDirectory(prefix="assay-ddp-", dir=settings.state_dir) as work:
        return ddp.launch(
            Path(work),
            train_df,
            request,
            dataset_digest=digest,
            checkpoint_root=checkpoint_root(settings),
            mlflow_uri=settings.mlflow_uri(),
            mlflow_run_id=tracker.run_id,
            label_max=label_max,
        )


def _dataset_tags(ts: TrainingSet) -> dict[str, str]:
    return {
        names.TAG_DATASET_ID: str(ts.dataset_id),
        names.TAG_DATASET_DIGEST: ts.digest,
        names.TAG_PARTITIONS: ",".join(ts.partitions),
        names.TAG_QUALITY_RUN_IDS: ",".join(str(i) for i in ts.quality_run_ids),
        names.TAG_GX_RUN_IDS: ",".join(ts.gx_run_ids),
        names.TAG_WAIVER_IDS: ",".join(str(i) for i in ts.waiver_ids),
    }


def train_candidate(
    settings: Settings, request: TrainRequest, *, build: Callable[..., TrainingSet] | None = None
) -> TrainOutcome:
    """Train, evaluate, track and register a candidate cross-encoder on validated data.

    Args:
        request: the window, run key, processes and trainer settings (``config.base_model``
            ``None`` means the packaged MiniLM); a retry with the same run key never registers twice.
        build: the training-set builder (default :func:`assay.training.dataset.build_training_set`).

    Raises:
        TrainingError: missing base model, untrainable set, divergence; the run is marked failed.
        NoValidatedData: no validated partition in the window.
    """
    from assay.catalog.models import RunStatus
    from assay.training.tracking import RunTracker

    # Cheap checks first: a typo in a path fails in a second, not after the MLflow store wakes up.
    if request.nproc < 1:
        raise TrainingError(f"nproc must be >= 1 (got {request.nproc})")
    config = dataclasses.replace(request.config, base_model=resolve_base_model(request.config.base_model))
    request = dataclasses.replace(request, config=config)
    window_end, days, run_key = request.window_end, request.days, request.run_key
    nproc, max_queries, allow_unvalidated = request.nproc, request.max_queries, request.allow_unvalidated
    try:
        check_reachable(settings)
    except TrainingError as exc:
        _record_unstarted(settings, request, str(exc))
        raise
    previous = finished_outcome(settings, run_key)
    if previous is not None:
        return previous
    fail_stale_attempts(settings, run_key)
    if build is None:
        from assay.training.dataset import build_training_set

        build = build_training_set

    tracker = RunTracker.start(
        settings,
        run_name=f"{names.MODEL_NAME} {window_end.isoformat()}",
        tags={
            names.TAG_RUN_KEY: run_key,
            "assay.window_end": window_end.isoformat(),
            "assay.days": str(days),
        },
    )
    run_pk: int | None = None
    run_row: dict[str, Any] = {}
    try:
        ts = build(
            settings,
            window_end,
            days,
            run_key=run_key,
            test_fraction=TEST_FRACTION,
            seed=config.seed,
            max_queries=max_queries,
            allow_unvalidated=allow_unvalidated,
        )
        tracker.set_tags(_dataset_tags(ts))
        params = {
            **config.as_params(),
            "nproc": nproc,
            "window_end": window_end.isoformat(),
            "days": days,
            "max_queries": max_queries,
            "allow_unvalidated": allow_unvalidated,
            "label_max": ts.label_max,
        }
        run_row = {
            "mlflow_run_id": tracker.run_id,
            "dataset_id": ts.dataset_id,
            "run_key": run_key,
            "params": json.loads(json.dumps(params, default=str)),
            "metrics": {},
            "status": RunStatus.RUNNING,
            "model_uri": None,
            "finished_at": None,
            "error": None,
        }
        run_pk = record_run(settings, run_row)
        train_df, test_df = ts.train_frame(), ts.test_frame()
        what = f"training set #{ts.dataset_id} ({ts.digest[:12]})"
        check_trainable(train_df, f"{what}, train split")
        if len(test_df) == 0:
            raise TrainingError(f"{what} has an empty test split: nothing to evaluate the candidate on")
        tracker.log_params(
            {
                **params,
                "n_train": ts.n_train,
                "n_test": ts.n_test,
                "window_start": ts.window_start.isoformat(),
            }
        )
        source = ts.location.as_uri()
        tracker.log_dataset(
            train_df, digest=ts.digest, name=f"train-{ts.digest[:12]}", source=source, context="training"
        )
        tracker.log_dataset(
            test_df, digest=ts.digest, name=f"test-{ts.digest[:12]}", source=source, context="testing"
        )

        result = _train(settings, train_df, request, ts.digest, tracker, ts.label_max)
        tracker.log_params(
            {
                "trained_on": result.device,
                "trained_precision": result.precision,
                "steps": result.steps,
                "n_fit_pairs": result.n_train_pairs,
                "n_val_pairs": result.n_val_pairs,
            }
        )
        from assay.training.compare import evaluate_all
        from assay.training.device import detect

        metrics, eval_labels = evaluate_all(
            result.model,
            result.tokenizer,
            test_df,
            ts.corpus_texts(),
            detect(config.precision),
            config.max_length,
            max_query_length=config.max_query_length,
        )
        tracker.set_tags({names.TAG_EVAL_LABELS: eval_labels})
        if eval_labels != names.EVAL_JUDGMENTS:
            log.warning("training %s: no judged test pair, so the candidate is evaluated on click labels "
                        "(tag %s=%s); the gate compares it only with runs evaluated the same way",
                        run_key, names.TAG_EVAL_LABELS, eval_labels)
        extra = {"train_samples_per_s": result.samples_per_s, "train_seconds": result.seconds}
        if result.best_val_ndcg is not None:
            extra["best_val_ndcg_at_10"] = result.best_val_ndcg
        tracker.log_metrics({**metrics, **extra}, step=result.steps)
        log.info(
            "candidate nDCG@10 %.4f vs bm25 %.4f, minilm_cosine %.4f (%d test rows, %s labels)",
            metrics.get(names.metric_key("ndcg_at_10"), float("nan")),
            metrics.get(names.baseline_key("bm25", "ndcg_at_10"), float("nan")),
            metrics.get(names.baseline_key("minilm_cosine", "ndcg_at_10"), float("nan")),
            len(test_df),
            eval_labels,
        )
        logged_uri = tracker.log_model(result.model, result.tokenizer)
        version = tracker.register(logged_uri, run_key)
        tracker.finish("FINISHED")
        outcome = TrainOutcome(
            run_id=tracker.run_id,
            model_uri=f"models:/{names.MODEL_NAME}/{version}",
            model_name=names.MODEL_NAME,
            version=version,
            dataset_digest=ts.digest,
            metrics=metrics,
        )
        run_pk = record_run(
            settings,
            {
                **run_row,
                "status": RunStatus.SUCCESS,
                "metrics": metrics,
                "model_uri": outcome.model_uri,
                "finished_at": now(),
            },
        )
        record_candidate(settings, outcome, run_pk)
        checkpoint.clear(checkpoint.checkpoint_dir(checkpoint_root(settings), ts.digest, result.config_hash))
        return outcome
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"
        from mlflow.exceptions import MlflowException

        try:
            tracker.finish("FAILED", message)
        except (MlflowException, OSError) as mlflow_error:  # MLflow lost mid-run: record the attempt, raise the cause
            log.warning("training run %s: MLflow could not mark it failed: %s", tracker.run_id, mlflow_error)
            message = f"{message} (MLflow unreachable: the run is not marked failed there)"
        if run_pk is not None:
            record_run(
                settings,
                {**run_row, "status": RunStatus.FAILED, "finished_at": now(), "error": message[:4000]},
            )
        else:
            # Failed before the training set existed (no validated day, a bad judgments file …):
            # still one catalog row per attempt, without a dataset.
            early = {
                "mlflow_run_id": tracker.run_id,
                "dataset_id": None,
                "run_key": run_key,
                "params": json.loads(
                    json.dumps(
                        {**config.as_params(), "window_end": window_end.isoformat(), "days": days}, default=str
                    )
                ),
                "metrics": {},
                "status": RunStatus.FAILED,
                "model_uri": None,
                "finished_at": now(),
                "error": message[:4000],
            }
            try:
                record_run(settings, early)
            except AssayError as record_error:  # the catalog itself may be what failed
                log.warning("training run %s: could not record the failure: %s", tracker.run_id, record_error)
        if isinstance(exc, AssayError) or not isinstance(exc, Exception):
            raise
        raise TrainingError(f"training run {tracker.run_id} ({run_key}) failed: {message}") from exc


def ensure_gpu_pool(settings: Settings, slots: int = 1) -> None:
    """Create or resize the ``gpu`` pool (``airflow pools set``) so the scheduler queues ``train``.

    ``airflow dags test`` runs tasks whose pool does not exist (checked with Airflow 3.3), but a
    scheduler never schedules them. ``assay airflow up`` should call this once.

    Raises:
        TrainingError: the ``airflow pools set`` command failed.
    """
    from assay.ops import airflow

    code = airflow.run_cli(settings, ["pools", "set", names.GPU_POOL, str(slots), "GPU slots for the train DAG"])
    if code != 0:
        raise TrainingError(f"`airflow pools set {names.GPU_POOL} {slots}` exited {code}")
