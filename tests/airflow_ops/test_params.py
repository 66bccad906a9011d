"""#14.3 Forms that work: every DAG's trigger form, as the UI and the REST API get it, takes its
defaults, a filled form, and refuses bad values.

The schema is the serialised DAG's params (what `GET /api/v2/dags/{id}/details` returns and the UI
renders). The UI marks a field required when its schema has a type that does not admit ``null``
(``X2`` in airflow/ui/dist: ``schema.type && (!Array.isArray(type) || !type.includes("null"))``) and
then refuses an empty value: before #14, `train` and `promote` could not be triggered from the form
with their "empty = default" Params (``Param("", type="string")``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.airflow import DAGS, load_dag

pytestmark = pytest.mark.airflow

ALL = sorted(p.stem for p in DAGS.glob("*.py"))

#: A filled form per DAG (what a person types), and values each field must refuse.
FILLED: dict[str, dict[str, Any]] = {
    "inventory": {"sources": ["shop"], "arrival_deadline_hours": 6},
    "profile": {"assets": ["interactions", "feeds/northwind"], "force": True, "arrival_deadline_hours": 0.5},
    "quality": {"assets": ["interactions"], "result_format": "COMPLETE", "arrival_deadline_hours": 48},
    "train": {"window_end": "2026-11-18", "days": 7, "epochs": 2, "max_steps": 0, "batch_size": 8,
              "max_queries": 50, "base_model": "/models/minilm", "teacher_weight": 0.5, "nproc": 2,
              "allow_unvalidated": True},
    "promote": {"model_name": "assay-cross-encoder", "version": 3, "dry_run": True},
    "seed_shop": {"days": 3, "scale": 2, "defects": "2026-11-05:null_burst;2026-11-07:missing_partition", "seed": 1},
    "catalog_maintenance": {},
}
BAD: dict[str, list[tuple[str, Any]]] = {
    "inventory": [("sources", "shop"), ("sources", ["bad name"]), ("arrival_deadline_hours", -1)],
    "profile": [("assets", [""]), ("force", "yes")],
    "quality": [("result_format", "ALL"), ("arrival_deadline_hours", "six")],
    "train": [("window_end", "18/11/2026"), ("window_end", "2026-11-18T00:00"), ("epochs", 0), ("base_model", ""),
              ("teacher_weight", 2), ("days", 0)],
    "promote": [("version", "latest"), ("version", 0), ("version", "1.5"), ("model_name", ""),
                ("model_name", "a b")],
    "seed_shop": [("days", 0), ("defects", "")],
}


def _form(serialized_dag: Any) -> dict[str, dict[str, Any]]:
    """The params as the API serves them (``DAGDetailsResponse.get_params``): ``{name: {"value", "schema", …}}``."""
    return json.loads(json.dumps({k: v.dump() for k, v in serialized_dag.params.items()}, default=str))


def _ui_required(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return bool(kind) and (not isinstance(kind, list) or "null" not in kind)


@pytest.fixture(scope="module")
def forms(serialized):
    return {d: serialized(load_dag(d)) for d in ALL}


@pytest.mark.parametrize("dag_id", ALL)
def test_defaults_can_be_triggered_from_the_form(forms, dag_id):
    form = _form(forms[dag_id])
    blocked = {name: f["value"] for name, f in form.items()
               if f["value"] in (None, "", []) and _ui_required(f["schema"])}
    assert blocked == {}, f"{dag_id}: the UI refuses these empty defaults as required fields"
    forms[dag_id].params.validate()  # what the API server does with a run's conf


@pytest.mark.parametrize("dag_id", ALL)
def test_a_filled_form_is_accepted(forms, dag_id):
    filled = FILLED.get(dag_id, {})
    assert set(filled) <= set(forms[dag_id].params), f"{dag_id}: FILLED names a param the DAG lacks"
    # What the API server does with a trigger's conf: merge it into the DAG's params and validate.
    assert forms[dag_id].params.deep_merge(json.loads(json.dumps(filled))).validate().items() >= filled.items()


@pytest.mark.parametrize(("dag_id", "name", "value"), [(d, n, v) for d, bad in BAD.items() for n, v in bad])
def test_a_bad_value_is_refused(forms, dag_id, name, value):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match=name):
        forms[dag_id].params.deep_merge({name: value}).validate()


def test_every_empty_means_default_param_is_nullable():
    """The docs of each DAG say which Params are "empty = …": each of those admits null."""
    problems = []
    for dag_id in ALL:
        dag = load_dag(dag_id)
        for name in dag.params:
            param = dag.params.get_param(name)
            if "empty" in (param.description or "").lower() and "null" not in json.dumps(param.schema.get("type")):
                problems.append(f"{dag_id}.{name}: {param.schema}")
    assert problems == []


def test_the_train_form_defaults_build_a_training_request():
    """What the form sends with its defaults is a valid TrainRequest (null = DEFAULT_CONFIG)."""
    import datetime as dt

    from assay.training.config import DEFAULT_CONFIG
    from assay.training.request import TrainRequest

    dag = load_dag("train")
    request = TrainRequest.from_params(dict(dag.params.validate()), dt.date(2026, 11, 20), run_key="train/r")
    assert request.window_end == dt.date(2026, 11, 20) and request.config == DEFAULT_CONFIG


def test_the_fixture_folder_is_the_dags_folder():
    assert Path(DAGS).name == "dags" and "promote" in ALL
