"""train_candidate against a real catalog and a real MLflow store, with a tiny BERT.

The training set is T1's real ``TrainingSet`` (with its catalog row) over synthetic pairs, so
these tests do not need a seeded shop; the DAG test (tests/dags/test_train_dag.py) runs the real
builder. Covers: the success path (tags, metrics, dataset inputs, model, version, catalog rows),
idempotency of a run key, and each bad input (no version registered, run marked failed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from support.db import rows

from assay import names
from assay.errors import TrainingError
from assay.training.config import TrainConfig
from assay.training.request import TrainRequest
from assay.training.run import train_candidate
from assay.training.testing import synthetic_pairs

pytestmark = pytest.mark.integration

END = dt.date(2026, 11, 20)


def config(tiny: str, **kw) -> TrainConfig:
    base = {"base_model": tiny, "epochs": 2, "batch_size": 8, "lr": 2e-3, "progress": False, "checkpoint_every": 5,
            "teacher_weight": 0.0, "val_fraction": 0.1}  # pinned: TrainConfig's defaults are the demo's since #13
    return TrainConfig(**{**base, **kw})


def request(config: TrainConfig, run_key: str) -> TrainRequest:
    """The request of a 14-day window ending at END."""
    return TrainRequest(window_end=END, days=14, run_key=run_key, config=config)


def make_builder(tmp_path: Path, train_df=None, test_df=None, calls: list | None = None):
    """A builder returning a real TrainingSet over synthetic pairs, with its catalog row."""

    def build(settings, window_end, days, *, run_key=None, allow_unvalidated=False, **_kw):
        from assay.catalog.db import session
        from assay.catalog.models import TrainingDataset
        from assay.catalog.upsert import upsert
        from assay.training.materialise import TrainingSet

        pairs = synthetic_pairs(n_queries=30, per_query=8, seed=5)
        is_test = pairs["query_id"].isin({f"q{i}" for i in range(24, 30)})
        tr = pairs[~is_test] if train_df is None else train_df
        te = pairs[is_test] if test_df is None else test_df
        digest = hashlib.sha256(tr.to_json().encode() + te.to_json().encode()).hexdigest()
        location = tmp_path / "datasets" / digest[:16]
        location.mkdir(parents=True, exist_ok=True)
        tr.to_parquet(location / "train.parquet", index=False)
        te.to_parquet(location / "test.parquet", index=False)
        products = pairs[["product_id", "product_text"]].drop_duplicates("product_id")
        products.to_parquet(location / "products.parquet", index=False)
        start = window_end - dt.timedelta(days=days - 1)
        partitions = [f"interactions:{window_end}", f"products:{window_end}"]
        with session(settings.catalog_url()) as s:
            (dataset_id,) = upsert(s, TrainingDataset, [{
                "digest": digest, "window_start": start, "window_end": window_end, "location": str(location),
                "partitions": partitions, "quality_run_ids": [11, 12], "waiver_ids": [], "n_train": len(tr),
                "n_test": len(te), "stats": {}, "run_key": run_key}], key=["digest"])
        if calls is not None:
            calls.append(run_key)
        return TrainingSet(dataset_id=dataset_id, digest=digest, location=location, window_start=start,
                           window_end=window_end, partitions=tuple(partitions), quality_run_ids=(11, 12),
                           gx_run_ids=("gx-1",), waiver_ids=(), n_train=len(tr), n_test=len(te), stats={})

    return build


def mlflow_client(settings):
    from assay.training.tracking import client

    return client(settings)


def all_runs(settings):
    c = mlflow_client(settings)
    exp = c.get_experiment_by_name(names.EXPERIMENT_NAME)
    return [] if exp is None else c.search_runs([exp.experiment_id])


def versions(settings):
    return mlflow_client(settings).search_model_versions(f"name = '{names.MODEL_NAME}'")


@pytest.fixture
def state(isolated_settings, tmp_path):
    return isolated_settings.model_copy(update={"home": tmp_path / "state"})


def test_success_logs_everything_registers_one_version_and_catalogues_it(state, tiny, tmp_path):
    outcome = train_candidate(state, request(config(tiny), "test/ok"), build=make_builder(tmp_path))
    assert outcome.version == "1" and outcome.model_name == names.MODEL_NAME
    assert outcome.model_uri == f"models:/{names.MODEL_NAME}/1" and len(outcome.dataset_digest) == 64

    c = mlflow_client(state)
    run = c.get_run(outcome.run_id)
    assert run.info.status == "FINISHED"
    exp = c.get_experiment_by_name(names.EXPERIMENT_NAME)
    assert exp.artifact_location == (state.mlflow_artifacts / names.EXPERIMENT_NAME).as_uri()
    tags = run.data.tags
    assert tags[names.TAG_DATASET_DIGEST] == outcome.dataset_digest
    assert tags[names.TAG_PARTITIONS] == f"interactions:{END},products:{END}"
    assert tags[names.TAG_QUALITY_RUN_IDS] == "11,12" and tags[names.TAG_GX_RUN_IDS] == "gx-1"
    assert tags[names.TAG_WAIVER_IDS] == "" and tags[names.TAG_RUN_KEY] == "test/ok"
    assert tags[names.TAG_DATASET_ID].isdigit()
    assert tags[names.TAG_EVAL_LABELS] == names.EVAL_INTERACTIONS  # no judgments in this split

    metrics = run.data.metrics
    for m in names.METRICS:
        assert names.metric_key(m) in metrics
        assert names.metric_key(m, "head") in metrics and names.metric_key(m, "tail") in metrics
        for b in names.BASELINES:
            assert names.baseline_key(b, m) in metrics and names.baseline_key(b, m, "tail") in metrics
    assert outcome.metrics == {k: v for k, v in metrics.items() if k in outcome.metrics}
    history = c.get_metric_history(outcome.run_id, "train_loss")
    assert len(history) >= 2 and [h.step for h in history] == sorted(h.step for h in history)
    assert c.get_metric_history(outcome.run_id, "val_ndcg_at_10")
    assert run.data.params["base_model"] == tiny and run.data.params["epochs"] == "2"

    contexts = sorted(
        next(t.value for t in d.tags if t.key == "mlflow.data.context") for d in run.inputs.dataset_inputs
    )
    assert contexts == ["testing", "training"]
    assert {d.dataset.digest for d in run.inputs.dataset_inputs} == {outcome.dataset_digest[:32]}

    (mv,) = versions(state)
    assert str(mv.version) == "1" and mv.run_id == outcome.run_id and mv.tags[names.TAG_RUN_KEY] == "test/ok"
    import mlflow.transformers

    parts = mlflow.transformers.load_model(outcome.model_uri, return_type="components")
    assert parts["model"].config.num_labels == 1

    (run_row,) = rows(state.catalog_url(), "SELECT status, model_uri, run_key, error, metrics->>'ndcg_at_10' FROM training_runs")
    assert run_row[:4] == ("success", outcome.model_uri, "test/ok", None) and float(run_row[4]) > 0
    assert rows(state.catalog_url(), "SELECT model_name, version, mlflow_run_id, model_uri FROM model_candidates") == [
        (names.MODEL_NAME, "1", outcome.run_id, outcome.model_uri)
    ]
    assert not any((state.state_dir / "checkpoints").glob("*/last.pt"))  # cleared once logged


def test_judged_split_is_evaluated_on_its_grades_with_click_metrics_alongside(state, tiny, tmp_path):
    import numpy as np

    from assay.training.baselines import bm25_scores
    from assay.training.evaluation import evaluate
    from assay.training.judgments import JUDGED_COLUMN, NOT_JUDGED

    pairs = synthetic_pairs(n_queries=30, per_query=8, seed=5)
    is_test = pairs["query_id"].isin({f"q{i}" for i in range(24, 30)})
    test = pairs[is_test].reset_index(drop=True)
    # judged grades that disagree with the click labels, and one query nobody judged
    judged = np.where(test["label"] > 0, 0, 2).astype(np.int8)
    judged[test["query_id"].to_numpy() == "q29"] = NOT_JUDGED
    test[JUDGED_COLUMN] = judged
    outcome = train_candidate(state, request(config(tiny, epochs=1), "test/judged"),
                              build=make_builder(tmp_path, train_df=pairs[~is_test], test_df=test))
    run = mlflow_client(state).get_run(outcome.run_id)
    assert run.data.tags[names.TAG_EVAL_LABELS] == names.EVAL_JUDGMENTS

    corpus = dict(zip(pairs["product_id"], pairs["product_text"], strict=True))
    bm25 = np.asarray(bm25_scores(test, corpus), dtype=float)
    rows_judged = test[JUDGED_COLUMN].to_numpy() >= 0
    on_judged = evaluate(test[rows_judged].reset_index(drop=True), bm25[rows_judged], label_column=JUDGED_COLUMN)
    on_clicks = evaluate(test, bm25)
    metrics = run.data.metrics
    key = names.baseline_key("bm25", "ndcg_at_10")
    assert metrics[key] == pytest.approx(on_judged.overall["ndcg_at_10"])
    assert metrics[f"{names.CLICK_LABELS}.{key}"] == pytest.approx(on_clicks.overall["ndcg_at_10"])
    assert metrics[key] != pytest.approx(metrics[f"{names.CLICK_LABELS}.{key}"])
    for m in names.METRICS:
        assert names.metric_key(m) in metrics and f"{names.CLICK_LABELS}.{names.metric_key(m)}" in metrics
    assert set(outcome.metrics) >= {key, f"{names.CLICK_LABELS}.{key}"}


def test_same_run_key_returns_the_same_version(state, tiny, tmp_path):
    calls: list = []
    build = make_builder(tmp_path, calls=calls)
    first = train_candidate(state, request(config(tiny, epochs=1), "test/retry"), build=build)
    again = train_candidate(state, request(config(tiny, epochs=1), "test/retry"), build=build)
    assert again.reused and again.ids() == first.ids() and again.metrics == first.metrics
    assert len(calls) == 1 and len(versions(state)) == 1 and len(all_runs(state)) == 1
    assert rows(state.catalog_url(), "SELECT count(*) FROM model_candidates") == [(1,)]
    other = train_candidate(state, request(config(tiny, epochs=1), "test/other"), build=build)
    assert other.version == "2" and not other.reused


def assert_failed_without_version(state, message: str, catalog_row: bool = True):
    (run,) = all_runs(state)
    assert run.info.status == "FAILED" and message in run.data.tags["assay.error"]
    assert versions(state) == []
    got = rows(state.catalog_url(), "SELECT status, error FROM training_runs")
    if catalog_row:
        assert len(got) == 1 and got[0][0] == "failed" and message in got[0][1]
    else:
        assert got == []
    assert rows(state.catalog_url(), "SELECT count(*) FROM model_candidates") == [(0,)]


def test_nan_loss_fails_the_run_and_registers_nothing(state, tiny, tmp_path):
    with pytest.raises(TrainingError, match=r"loss is .* at step \d+ \(epoch 0, batch \d+\)"):
        train_candidate(state, request(config(tiny, lr=1e12, loss="mse"), "test/nan"),
                        build=make_builder(tmp_path))
    assert_failed_without_version(state, "loss is")


def test_single_class_training_set_is_refused(state, tiny, tmp_path):
    pairs = synthetic_pairs(n_queries=10, per_query=4, seed=1)
    build = make_builder(tmp_path, train_df=pairs.assign(label=0))
    with pytest.raises(TrainingError, match="single label class"):
        train_candidate(state, request(config(tiny), "test/one-class"), build=build)
    assert_failed_without_version(state, "single label class")


def test_empty_training_set_is_refused(state, tiny, tmp_path):
    pairs = synthetic_pairs(n_queries=10, per_query=4, seed=1)
    with pytest.raises(TrainingError, match="is empty"):
        train_candidate(state, request(config(tiny), "test/empty"),
                        build=make_builder(tmp_path, train_df=pairs.iloc[0:0]))
    assert_failed_without_version(state, "is empty")


def test_window_without_validated_partitions(state, tiny):
    """The real builder on a catalog with no quality run: NoValidatedData, the MLflow run failed, and
    the attempt is in the catalog without a dataset."""
    from assay.training.errors import NoValidatedData

    with pytest.raises(NoValidatedData):
        train_candidate(state, request(config(tiny), "test/none"))
    assert_failed_without_version(state, "NoValidatedData")
    assert rows(state.catalog_url(), "SELECT dataset_id, run_key, params->>'window_end' FROM training_runs") == [
        (None, "test/none", END.isoformat())
    ]


def test_missing_base_model_fails_before_anything(state, tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(TrainingError, match=f"base model {missing} does not exist"):
        train_candidate(state, request(TrainConfig(base_model=str(missing)), "test/missing"),
                        build=make_builder(tmp_path))
    assert all_runs(state) == [] and versions(state) == []
    assert rows(state.catalog_url(), "SELECT count(*) FROM training_runs") == [(0,)]
