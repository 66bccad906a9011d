"""One training run end to end: build the set, train, evaluate, track, register, catalogue.

:func:`train_candidate` is what ``assay train`` and the ``train`` DAG call:

1. **Idempotency.** A version of :data:`names.MODEL_NAME` tagged with this ``run_key`` already
   exists: its outcome is returned (and its catalog rows rewritten), nothing is trained or
   registered again. Runs of the same key left ``running`` by a killed attempt are marked failed;
   the new attempt resumes from their checkpoint (same data and config, same checkpoint key).
2. **Inputs.** The base model folder is checked first (nothing heavy before that), then an MLflow
   run is started and the training set built from validated partitions only
   (:func:`assay.training.dataset.build_training_set`).
3. **Train** in-process, or with ``nproc > 1`` as a ``torchrun`` job (:mod:`assay.training.ddp`).
4. **Evaluate** the candidate, BM25 and untuned MiniLM cosine on the held-out queries, overall and
   per slice, under the keys of :mod:`assay.names`.
5. **Track** params, loss and validation curves, metrics, both splits as dataset inputs and the
   evidence tags the promotion gate reads; log the model (transformers flavour); register a
   version and return its exact number.
6. **Catalogue** ``training_runs`` (running → success / failed) and ``model_candidates``.

Any failure marks the MLflow run and the catalog row failed and registers nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay import names
from assay.config import Settings
from assay.errors import AssayError, TrainingError
from assay.training import checkpoint, trainer
from assay.training.trainer import TrainConfig, TrainResult

if TYPE_CHECKING:
    import pandas as pd

    from assay.training.dataset import TrainingSet
    from assay.training.device import DevicePlan
    from assay.training.tracking import RunTracker

log = logging.getLogger(__name__)

#: Share of the test rows of the split (the training-set builder's default).
TEST_FRACTION = 0.2

#: Defaults of ``assay train`` and the ``train`` DAG, sized for the demo shop on two CPU cores:
#: one epoch over the ~15–20k training pairs of a 14-day window (about 1,000 listwise steps of 16
#: pairs, ~5 minutes on two idle cores, plus ~10 s for the MiniLM teacher's scores), with the
#: teacher at 0.3. On the demo's training set: teacher 0.3 / 1,000 steps 0.973 judged nDCG@10,
#: teacher 0.5 / one epoch 0.971, 400 steps 0.969–0.971, BM25 0.926; see docs/training.md
#: ("Candidate vs baselines"). ``--max-steps N`` caps it for quick runs.
DEFAULT_CONFIG = TrainConfig(
    epochs=1, max_steps=None, batch_size=16, lr=1e-4, max_length=96, val_fraction=0.05, teacher_weight=0.3
)


@dataclass(frozen=True)
class TrainOutcome:
    """What a training run produced: ids and URIs only (safe for XCom and the CLI)."""

    run_id: str
    model_uri: str
    model_name: str
    version: str
    dataset_digest: str
    metrics: dict[str, float] = field(default_factory=dict, compare=False)
    reused: bool = False

    def ids(self) -> dict[str, str]:
        return {
            "run_id": self.run_id,
            "model_uri": self.model_uri,
            "model_name": self.model_name,
            "version": self.version,
            "dataset_digest": self.dataset_digest,
        }


def checkpoint_root(settings: Settings) -> Path:
    return settings.state_dir / "checkpoints"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- catalog ----------------------------------------------------------------------------------------
def _record_run(settings: Settings, row: dict[str, Any]) -> int:
    from assay.catalog.db import session
    from assay.catalog.models import TrainingRun
    from assay.catalog.upsert import upsert

    with session(settings.catalog_url()) as s:
        (run_pk,) = upsert(s, TrainingRun, [row], key=["mlflow_run_id"])
    return run_pk


def _record_candidate(settings: Settings, outcome: TrainOutcome, training_run_pk: int) -> None:
    from assay.catalog.db import session
    from assay.catalog.models import ModelCandidate
    from assay.catalog.upsert import upsert

    with session(settings.catalog_url()) as s:
        upsert(
            s,
            ModelCandidate,
            [
                {
                    "model_name": outcome.model_name,
                    "version": outcome.version,
                    "mlflow_run_id": outcome.run_id,
                    "training_run_id": training_run_pk,
                    "model_uri": outcome.model_uri,
                }
            ],
            key=["model_name", "version"],
        )


def _fail_stale_attempts(settings: Settings, run_key: str) -> None:
    """Runs of this key still ``running`` were killed: mark them failed in the catalog and MLflow."""
    from sqlalchemy import select, update

    from assay.catalog.db import session
    from assay.catalog.models import RunStatus, TrainingRun
    from assay.training.tracking import TAG_ERROR, client

    with session(settings.catalog_url()) as s:
        stale = list(
            s.execute(
                select(TrainingRun.mlflow_run_id).where(
                    TrainingRun.run_key == run_key, TrainingRun.status == RunStatus.RUNNING
                )
            ).scalars()
        )
        if stale:
            s.execute(
                update(TrainingRun)
                .where(TrainingRun.mlflow_run_id.in_(stale))
                .values(
                    status=RunStatus.FAILED, finished_at=_now(), error="interrupted; superseded by a retry"
                )
            )
    if stale:
        c = client(settings)
        for run_id in stale:
            c.set_tag(run_id, TAG_ERROR, "interrupted; superseded by a retry")
            c.set_terminated(run_id, "FAILED")
        log.info("marked %d interrupted attempt(s) of %s failed: %s", len(stale), run_key, ", ".join(stale))


def finished_outcome(settings: Settings, run_key: str) -> TrainOutcome | None:
    """The outcome of an earlier run of ``run_key`` that registered a version, if there is one.

    The registry is the source of truth (a version is what must never be made twice); the catalog
    rows are rewritten from the MLflow run in case the earlier attempt died before writing them.
    """
    from assay.catalog.models import RunStatus
    from assay.training.tracking import client

    c = client(settings)
    versions = [
        mv
        for mv in c.search_model_versions(f"name = '{names.MODEL_NAME}'")
        if mv.tags.get(names.TAG_RUN_KEY) == run_key
    ]
    if not versions:
        return None
    mv = min(versions, key=lambda v: int(v.version))
    if not mv.run_id:
        raise TrainingError(f"{names.MODEL_NAME} v{mv.version} (run key {run_key}) has no source run")
    run = c.get_run(mv.run_id)
    outcome = TrainOutcome(
        run_id=mv.run_id,
        model_uri=f"models:/{names.MODEL_NAME}/{mv.version}",
        model_name=names.MODEL_NAME,
        version=str(mv.version),
        dataset_digest=run.data.tags.get(names.TAG_DATASET_DIGEST, ""),
        metrics=_ranking_metrics(dict(run.data.metrics)),
        reused=True,
    )
    run_pk = _record_run(
        settings,
        {
            "mlflow_run_id": mv.run_id,
            "dataset_id": int(run.data.tags[names.TAG_DATASET_ID]),
            "run_key": run_key,
            "params": dict(run.data.params),
            "metrics": outcome.metrics,
            "status": RunStatus.SUCCESS,
            "model_uri": outcome.model_uri,
            "finished_at": _now(),
            "error": None,
        },
    )
    _record_candidate(settings, outcome, run_pk)
    log.info(
        "run key %s already produced %s v%s (run %s): reusing it",
        run_key,
        names.MODEL_NAME,
        mv.version,
        mv.run_id,
    )
    return outcome


def _ranking_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The evaluation metrics among a run's metrics (not the curves)."""
    stems = set(names.METRICS) | set(names.BASELINES) | {names.CLICK_LABELS}
    return {k: v for k, v in metrics.items() if k.split(".")[0] in stems}


# ---- evaluation ---------------------------------------------------------------------------------
def evaluate_all(
    model: Any, tokenizer: Any, test_df: pd.DataFrame, corpus: Any, plan: DevicePlan, max_length: int
) -> tuple[dict[str, float], str]:
    """Candidate and baseline metrics on the test split, under :mod:`assay.names` keys.

    With judgments (the split's ``judged_label``), the main keys (``ndcg_at_10``,
    ``bm25.ndcg_at_10`` …) are computed on the judged rows and grades, and the same metrics on the
    click labels of every test row are kept under ``clicks.`` (``clicks.ndcg_at_10``,
    ``clicks.bm25.ndcg_at_10`` …). Without judgments the main keys use the click labels. Returns
    the metrics and which labels the main keys used (:data:`names.EVAL_JUDGMENTS` or
    :data:`names.EVAL_INTERACTIONS`).
    """
    import numpy as np

    from assay.training.baselines import bm25_scores, minilm_cosine_scores
    from assay.training.evaluation import evaluate
    from assay.training.judgments import JUDGED_COLUMN

    baselines: dict[str, Callable[[], Any]] = {
        "bm25": lambda: bm25_scores(test_df, corpus),
        "minilm_cosine": lambda: minilm_cosine_scores(test_df),
    }
    missing = set(names.BASELINES) - set(baselines)
    if missing:
        raise TrainingError(f"no scorer for baseline(s) {sorted(missing)} named in assay.names.BASELINES")
    scored: dict[str | None, Any] = {
        None: np.asarray(
            trainer.score(
                model, tokenizer, test_df["query"].tolist(), test_df["product_text"].tolist(), plan, max_length
            ),
            dtype=float,
        )
    }
    scored.update({name: np.asarray(baselines[name](), dtype=float) for name in names.BASELINES})

    def metrics_on(frame: pd.DataFrame, mask: np.ndarray, label_column: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, scores in scored.items():
            out.update(evaluate(frame, scores[mask], label_column=label_column).as_mlflow_metrics(prefix_baseline=name))
        return out

    everything = np.ones(len(test_df), dtype=bool)
    judged = (
        test_df[JUDGED_COLUMN].to_numpy() >= 0 if JUDGED_COLUMN in test_df.columns else ~everything
    )
    if not judged.any():
        return metrics_on(test_df, everything, "label"), names.EVAL_INTERACTIONS
    metrics = metrics_on(test_df[judged].reset_index(drop=True), judged, JUDGED_COLUMN)
    clicks = metrics_on(test_df, everything, "label")
    metrics.update({f"{names.CLICK_LABELS}.{k}": v for k, v in clicks.items()})
    return metrics, names.EVAL_JUDGMENTS


# ---- training (in-process or torchrun) -------------------------------------------------------------
def _train(
    settings: Settings,
    train_df: pd.DataFrame,
    config: TrainConfig,
    digest: str,
    tracker: RunTracker,
    nproc: int,
) -> TrainResult:
    from assay.training.device import detect

    if config.teacher_weight > 0:
        from assay.training.baselines import teacher_targets

        started = time.monotonic()
        train_df = train_df.assign(**{trainer.TEACHER_COLUMN: teacher_targets(train_df)})
        tracker.log_metrics({"teacher_seconds": time.monotonic() - started})
    if nproc <= 1:
        return trainer.train(
            train_df,
            config,
            detect(config.precision),
            dataset_digest=digest,
            checkpoint_root=checkpoint_root(settings),
            on_metrics=lambda step, values: tracker.log_metrics(values, step=step),
        )
    import assay.training.ddp as ddp

    with tempfile.TemporaryDirectory(prefix="assay-ddp-", dir=settings.state_dir) as work:
        return ddp.launch(
            Path(work),
            train_df,
            config,
            nproc=nproc,
            dataset_digest=digest,
            checkpoint_root=checkpoint_root(settings),
            mlflow_uri=settings.mlflow_uri(),
            mlflow_run_id=tracker.run_id,
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
    settings: Settings,
    window_end: dt.date,
    days: int = 14,
    *,
    config: TrainConfig,
    run_key: str,
    allow_unvalidated: bool = False,
    nproc: int = 1,
    max_queries: int | None = None,
    build: Callable[..., TrainingSet] | None = None,
) -> TrainOutcome:
    """Train, evaluate, track and register a candidate cross-encoder on validated data.

    Args:
        window_end, days: the training window (last day inclusive, length in days).
        config: trainer settings; ``config.base_model`` ``None`` means the packaged MiniLM.
        run_key: ``dag_id/run_id`` or ``cli/<…>``; a retry with the same key never registers twice.
        allow_unvalidated: include days that failed quality (the gate will refuse the model).
        nproc: processes for data-parallel training (``torchrun``); 1 trains in this process.
        max_queries: cap the queries of the training set (quick runs).
        build: the training-set builder (default :func:`assay.training.dataset.build_training_set`).

    Raises:
        TrainingError: missing base model, untrainable set, divergence; the run is marked failed.
        NoValidatedData: no validated partition in the window.
    """
    from assay.catalog.models import RunStatus
    from assay.training.tracking import RunTracker

    # Cheap checks first: a typo in a path fails in a second, not after the MLflow store wakes up.
    if nproc < 1:
        raise TrainingError(f"nproc must be >= 1 (got {nproc})")
    config = dataclasses.replace(config, base_model=trainer.resolve_base_model(config.base_model))
    previous = finished_outcome(settings, run_key)
    if previous is not None:
        return previous
    _fail_stale_attempts(settings, run_key)
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
        run_pk = _record_run(settings, run_row)
        train_df, test_df = ts.train_frame(), ts.test_frame()
        what = f"training set #{ts.dataset_id} ({ts.digest[:12]})"
        trainer.check_trainable(train_df, f"{what}, train split")
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

        result = _train(settings, train_df, config, ts.digest, tracker, nproc)
        tracker.log_params(
            {
                "trained_on": result.device,
                "trained_precision": result.precision,
                "steps": result.steps,
                "n_fit_pairs": result.n_train_pairs,
                "n_val_pairs": result.n_val_pairs,
            }
        )
        from assay.training.device import detect

        metrics, eval_labels = evaluate_all(
            result.model,
            result.tokenizer,
            test_df,
            ts.corpus_texts(),
            detect(config.precision),
            config.max_length,
        )
        tracker.set_tags({names.TAG_EVAL_LABELS: eval_labels})
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
        run_pk = _record_run(
            settings,
            {
                **run_row,
                "status": RunStatus.SUCCESS,
                "metrics": metrics,
                "model_uri": outcome.model_uri,
                "finished_at": _now(),
            },
        )
        _record_candidate(settings, outcome, run_pk)
        checkpoint.clear(checkpoint.checkpoint_dir(checkpoint_root(settings), ts.digest, result.config_hash))
        return outcome
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"
        tracker.finish("FAILED", message)
        if run_pk is not None:
            _record_run(
                settings,
                {**run_row, "status": RunStatus.FAILED, "finished_at": _now(), "error": message[:4000]},
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
                "finished_at": _now(),
                "error": message[:4000],
            }
            try:
                _record_run(settings, early)
            except AssayError as record_error:  # the catalog itself may be what failed
                log.warning("training run %s: could not record the failure: %s", tracker.run_id, record_error)
        if isinstance(exc, AssayError) or not isinstance(exc, Exception):
            raise
        raise TrainingError(f"training run {tracker.run_id} ({run_key}) failed: {message}") from exc


#: The Airflow pool of the training task (one slot per GPU machine).


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


def cli_args(
    window_end: dt.date,
    days: int,
    *,
    run_key: str,
    epochs: int | None = None,
    max_steps: int | None = None,
    batch_size: int | None = None,
    base_model: str | None = None,
    allow_unvalidated: bool = False,
    nproc: int = 1,
    max_queries: int | None = None,
    teacher_weight: float | None = None,
) -> list[str]:
    """The ``assay train`` arguments for these settings (``None`` leaves the command's default)."""
    args = [
        "--date",
        window_end.isoformat(),
        "--days",
        str(days),
        "--run-key",
        run_key,
        "--nproc",
        str(nproc),
    ]
    for flag, value in (
        ("--epochs", epochs),
        ("--max-steps", max_steps),
        ("--batch-size", batch_size),
        ("--base-model", base_model),
        ("--max-queries", max_queries),
        ("--teacher-weight", teacher_weight),
    ):
        if value is not None and value != "":
            args += [flag, str(value)]
    if allow_unvalidated:
        args.append("--allow-unvalidated")
    return args


def train_in_subprocess(args: list[str], env: dict[str, str] | None = None) -> dict[str, str]:
    """Run ``assay train ARGS`` as its own process and return the ids it printed.

    This is how the ``train`` DAG runs training: a worker on the ``gpu`` queue (or a container
    started with this command) owns the GPU memory for the process's lifetime only, and an
    out-of-memory kill fails the task, not the worker. Its log lines stream into the task log.

    Raises:
        TrainingError: the command failed; the message carries its last error lines.
    """
    from assay.config import environ_snapshot

    cmd = [sys.executable, "-m", "assay.cli", "train", *args]
    log.info("running %s", " ".join(cmd))
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env if env is not None else environ_snapshot(),
    )
    # stderr carries the log and the progress bar; stream it, keep the tail for the error.
    tail: list[str] = []
    assert proc.stderr is not None and proc.stdout is not None
    for line in proc.stderr:
        log.info("train | %s", line.rstrip())
        tail = [*tail[-19:], line.rstrip()]
    out = proc.stdout.read()
    code = proc.wait()
    if code != 0:
        raise TrainingError(f"`assay train` exited {code}: " + " | ".join(t for t in tail if t)[-3000:])
    lines = [ln for ln in out.splitlines() if ln.strip().startswith("{")]
    if not lines:
        raise TrainingError(f"`assay train` printed no result line; stdout was {out[-500:]!r}")
    ids: dict[str, str] = json.loads(lines[-1])
    return ids
