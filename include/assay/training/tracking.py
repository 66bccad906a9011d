"""MLflow for training: the experiment, one run per training, the model and its registered version.

* The experiment :data:`assay.names.EXPERIMENT_NAME` is created with an explicit
  ``artifact_location`` (``file://<state>/mlflow-artifacts/<experiment>``): MLflow's default is
  relative to the working directory of whichever process touched the store first.
* Everything goes through an :class:`~mlflow.MlflowClient` bound to one run id, so the trainer's
  callbacks (possibly on another thread or in rank 0 of a ``torchrun`` job) never depend on the
  fluent API's "active run".
* The model is logged with the transformers flavour (task ``text-classification``, explicit pip
  requirements: the flavour's inferred requirements look for torchvision, which is not installed).
  The pytorch flavour would default to ``pt2`` export, which fails on Hugging Face output objects.
* A version is registered from the logged model and its exact number returned; nothing ever
  refers to "latest".
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from assay import names
from assay.config import Settings

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

#: Run tag holding the first line of a failed run's error.
TAG_ERROR = "assay.error"
#: MLflow stores dataset digests in a 36-character column; the full sha256 is in TAG_DATASET_DIGEST.
DATASET_DIGEST_CHARS = 32
#: Metrics per ``log_batch`` call (MLflow's limit is 1000).
BATCH = 500
#: Seconds the store's database has to answer :func:`check_reachable`. MLflow itself retries
#: creating its engine ten times with back-off (about 100 s), then raises a bare driver error.
CONNECT_TIMEOUT_S = 10
#: Store URIs :func:`check_reachable` connects to (others report their own errors).
_DATABASE_BACKENDS = ("postgresql", "mysql", "mssql")


def check_reachable(settings: Settings) -> None:
    """Fail fast when the tracking store's database does not answer, naming MLflow and the masked URI.

    Raises:
        TrainingError: the database refused the connection or did not answer in time.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError
    from sqlalchemy.pool import NullPool

    from assay.catalog.urls import masked, scrub
    from assay.errors import TrainingError

    uri = settings.mlflow_uri()
    try:
        url = make_url(uri)
    except ArgumentError:
        return  # a file or http store
    if url.get_backend_name() not in _DATABASE_BACKENDS:
        return
    args = {"connect_timeout": CONNECT_TIMEOUT_S} if url.get_backend_name() == "postgresql" else {}
    engine = create_engine(url, poolclass=NullPool, connect_args=args, hide_parameters=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = scrub(lines[0], uri) if lines else type(exc).__name__
        raise TrainingError(f"MLflow tracking store unreachable ({masked(uri)}): {reason}") from None
    finally:
        engine.dispose()


def client(settings: Settings) -> MlflowClient:
    """An MLflow client on assay's tracking and registry store (the two are the same store)."""
    import mlflow
    from mlflow import MlflowClient

    uri = settings.mlflow_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_experiment(settings: Settings, c: MlflowClient | None = None) -> str:
    """The id of the training experiment, created with an explicit artifact location if missing."""
    from mlflow.exceptions import MlflowException

    c = c or client(settings)
    found = c.get_experiment_by_name(names.EXPERIMENT_NAME)
    if found is not None:
        return str(found.experiment_id)
    location = settings.mlflow_artifacts / names.EXPERIMENT_NAME
    location.mkdir(parents=True, exist_ok=True)
    try:
        return str(c.create_experiment(names.EXPERIMENT_NAME, artifact_location=location.as_uri()))
    except MlflowException:
        # Another process created it between the lookup and the create.
        again = c.get_experiment_by_name(names.EXPERIMENT_NAME)
        if again is None:
            raise
        return str(again.experiment_id)


class RunTracker:
    """One MLflow run of a training: params, curves, metrics, dataset inputs, model, version."""

    def __init__(self, settings: Settings, run_id: str) -> None:
        self.settings = settings
        self.client = client(settings)
        self.run_id = run_id

    @classmethod
    def start(cls, settings: Settings, run_name: str, tags: Mapping[str, str]) -> RunTracker:
        c = client(settings)
        experiment_id = ensure_experiment(settings, c)
        run = c.create_run(experiment_id, run_name=run_name, tags=dict(tags))
        log.info("MLflow run %s started in experiment %s", run.info.run_id, names.EXPERIMENT_NAME)
        return cls(settings, run.info.run_id)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in params.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[start : start + 100])

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in metrics.items() if not math.isnan(float(v))]
        for start in range(0, len(items), BATCH):
            self.client.log_batch(self.run_id, metrics=items[start : start + BATCH])

    def log_dataset(self, frame: pd.DataFrame, *, digest: str, name: str, source: str, context: str) -> None:
        """Record a split as an MLflow dataset input (``context``: ``training`` or ``testing``)."""
        from mlflow.data.pandas_dataset import from_pandas
        from mlflow.entities import DatasetInput, InputTag

        dataset = from_pandas(frame, source=source, name=name, digest=digest[:DATASET_DIGEST_CHARS])
        entity = DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", context)])
        self.client.log_inputs(self.run_id, datasets=[entity])

    def log_model(self, model: Any, tokenizer: Any) -> str:
        """Log the fine-tuned cross-encoder (transformers flavour); return its ``models:/m-…`` URI."""
        import mlflow
        import mlflow.transformers
        import torch
        import transformers

        requirements = [
            f"transformers=={transformers.__version__}",
            f"torch=={torch.__version__.split('+')[0]}",
        ]
        # The fluent API needs an active run; leaving the block marks the run FINISHED, which
        # finish() overwrites if a later step fails.
        with mlflow.start_run(run_id=self.run_id):
            info = mlflow.transformers.log_model(
                transformers_model={"model": model, "tokenizer": tokenizer},
                name="model",
                task="text-classification",
                pip_requirements=requirements,
            )
        return str(info.model_uri)

    def register(self, model_uri: str, run_key: str) -> str:
        """Register ``model_uri`` as a new version of :data:`names.MODEL_NAME`; return that version."""
        import mlflow

        mv = mlflow.register_model(model_uri, names.MODEL_NAME, tags={names.TAG_RUN_KEY: run_key})
        log.info("registered %s version %s from run %s", names.MODEL_NAME, mv.version, self.run_id)
        return str(mv.version)

    def finish(self, status: str = "FINISHED", error: str | None = None) -> None:
        """End the run: ``FINISHED`` or ``FAILED`` (with the error's first line as a tag)."""
        if error:
            self.set_tags({TAG_ERROR: error.splitlines()[0][:4900]})
        self.client.set_terminated(self.run_id, status)


def versions_of_run(settings: Settings, run_id: str) -> list[str]:
    """Registered versions of :data:`names.MODEL_NAME` that came from ``run_id`` (tests, idempotency)."""
    c = client(settings)
    return sorted(
        str(mv.version)
        for mv in c.search_model_versions(f"name = '{names.MODEL_NAME}'")
        if mv.run_id == run_id
    )
