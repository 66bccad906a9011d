"""One set of training defaults: TrainConfig's own; DEFAULT_CONFIG, TrainRequest and `assay train` derive from it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from assay.training.config import DEFAULT_CONFIG, TrainConfig
from assay.training.request import TrainRequest


def cli_defaults() -> dict[str, object]:
    """Option name (as the field it sets) -> the default ``assay train`` shows in --help."""
    import typer.main

    from assay.cli.app import app

    command = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    return {p.name: p.default for p in command.params}


def test_default_config_is_trainconfig_itself():
    assert TrainConfig() == DEFAULT_CONFIG
    for f in dataclasses.fields(TrainConfig):
        assert getattr(DEFAULT_CONFIG, f.name) == f.default, f.name


def test_the_request_defaults_to_the_same_config():
    request = TrainRequest(window_end=dt.date(2026, 1, 1), run_key="k")
    assert request.config == TrainConfig()
    assert TrainRequest.from_params({}, dt.date(2026, 1, 1), run_key="k").config == TrainConfig()
    assert TrainRequest.from_dict({"window_end": "2026-01-01", "run_key": "k"}).config == TrainConfig()


def test_every_cli_option_shows_the_default_of_its_field():
    shown = cli_defaults()
    config = dataclasses.asdict(TrainConfig())
    request = {f.name: f.default for f in dataclasses.fields(TrainRequest) if f.default is not dataclasses.MISSING}
    compared = 0
    for name, value in shown.items():
        if name in config:
            assert value == config[name], f"--{name.replace('_', '-')} shows {value!r}, TrainConfig has {config[name]!r}"
            compared += 1
        elif name in request and name != "config":
            assert value == request[name], f"--{name.replace('_', '-')} shows {value!r}, TrainRequest has {request[name]!r}"
            compared += 1
    # lr, teacher_weight, max_length, max_query_length, batch_size, epochs, … and days, nproc, …
    assert compared == 14
    assert {"lr", "teacher_weight", "val_fraction"} - set(shown) == {"val_fraction"}  # val_fraction: --request only


def test_the_request_conflict_check_uses_the_derived_defaults(tmp_path):
    from typer.testing import CliRunner

    from assay.cli.app import app

    path = tmp_path / "request.json"
    path.write_text(json.dumps(TrainRequest(window_end=dt.date(2026, 1, 1), run_key="k").to_dict()))
    from assay.errors import AssayError

    result = CliRunner().invoke(app, ["train", "--request", str(path), "--lr", "0.5", "--days", "3"])
    assert isinstance(result.exception, AssayError)
    assert str(result.exception).endswith("also given: days, lr")


@pytest.mark.parametrize("field", ["lr", "teacher_weight", "val_fraction"])
def test_the_fields_that_used_to_disagree_now_agree(field):
    # Before #13: TrainConfig() had lr 5e-5, teacher 0.0, validation 10 %; DEFAULT_CONFIG 1e-4, 0.3, 5 %.
    assert getattr(TrainConfig(), field) == {"lr": 1e-4, "teacher_weight": 0.3, "val_fraction": 0.05}[field]
