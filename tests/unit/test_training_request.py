"""The DAG ↔ ``assay train`` ↔ torchrun contract: TrainRequest from Params / options / JSON, and the
result file the process leaves (no parsing of stdout)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys

import pytest

from assay.errors import AssayError, TrainingError
from assay.training import process
from assay.training.config import DEFAULT_CONFIG, TrainConfig
from assay.training.request import RESULT_KEYS, TrainOutcome, TrainRequest, read_result, write_result

DAY = dt.date(2026, 11, 20)
IDS = {"run_id": "r1", "model_uri": "models:/m/3", "model_name": "m", "version": "3", "dataset_digest": "d" * 64}


def test_every_config_field_crosses_json_and_params_without_being_named_here():
    # A value different from the default for every TrainConfig field: a new field needs no edit here.
    changed = {}
    for f in dataclasses.fields(TrainConfig):
        value = getattr(DEFAULT_CONFIG, f.name)
        changed[f.name] = {
            bool: lambda v: not v, int: lambda v: v + 1, float: lambda v: v / 2, str: lambda v: v,
            type(None): lambda v: 7,
        }[type(value)](value)
    changed.update(base_model="/models/x", loss="bce", precision="fp32", teacher_weight=0.15)
    request = TrainRequest.from_params({**changed, "days": 3, "nproc": 2}, DAY, run_key="k")
    assert request.config == TrainConfig(**changed)
    assert TrainRequest.from_json(request.to_json()) == request
    assert json.loads(request.to_json())["config"] == changed


def test_params_nulls_and_empties_keep_defaults_and_max_steps_zero_is_no_limit():
    request = TrainRequest.from_params(
        {"window_end": "", "base_model": "", "epochs": None, "max_steps": 0, "days": 14}, DAY, run_key="k"
    )
    assert request == TrainRequest(window_end=DAY, run_key="k", config=DEFAULT_CONFIG)
    assert TrainRequest.from_params({"window_end": "2026-11-02"}, DAY, run_key="k").window_end == dt.date(2026, 11, 2)


def test_integers_for_float_options_arrive_as_floats():
    # The trigger form sends 0 for a "number" Param; `assay train --teacher-weight 0` always gave 0.0.
    request = TrainRequest.from_params({"teacher_weight": 0, "lr": 1, "epochs": 2}, DAY, run_key="k")
    assert repr(request.config.teacher_weight) == "0.0" and repr(request.config.lr) == "1.0"
    assert request.config.epochs == 2 and isinstance(request.config.epochs, int)
    assert repr(TrainRequest.from_dict({**request.to_dict(), "config": {"teacher_weight": 1}}).config.teacher_weight) == "1.0"


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"learning_rate": 0.1}, TrainingError, "unknown training option.*learning_rate"),
        ({"run_key": "other"}, TrainingError, "unknown training option.*run_key"),
        ({"window_end": "20-11-2026"}, AssayError, "not a date"),
        ({"epochs": 0}, TrainingError, "epochs must be >= 1"),
    ],
)
def test_bad_params_are_refused(params, error, message):
    with pytest.raises(error, match=message):
        TrainRequest.from_params(params, DAY, run_key="k")


def test_bad_request_documents_are_refused(tmp_path):
    good = TrainRequest(window_end=DAY, run_key="k").to_dict()
    with pytest.raises(TrainingError, match="unknown key"):
        TrainRequest.from_dict({**good, "config": {**good["config"], "nope": 1}})
    with pytest.raises(TrainingError, match="schema"):
        TrainRequest.from_dict({**good, "schema": 99})
    with pytest.raises(TrainingError, match="needs window_end"):
        TrainRequest.from_dict({k: v for k, v in good.items() if k != "run_key"})
    with pytest.raises(TrainingError, match="not JSON"):
        TrainRequest.from_json("{")
    with pytest.raises(TrainingError, match="cannot read"):
        TrainRequest.read(tmp_path / "missing.json")
    # Config fields left out take DEFAULT_CONFIG's values (not TrainConfig's bare defaults).
    assert TrainRequest.from_dict({**good, "config": {"epochs": 3}}).config == dataclasses.replace(
        DEFAULT_CONFIG, epochs=3
    )


def test_result_file_round_trip_and_errors(tmp_path):
    path = tmp_path / "result.json"
    outcome = TrainOutcome(**IDS, metrics={"ndcg_at_10": 0.9})
    write_result(path, outcome.ids())
    assert read_result(path) == IDS and set(IDS) == set(RESULT_KEYS)
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temp file left behind
    with pytest.raises(TrainingError, match="left no readable result"):
        read_result(tmp_path / "none.json")
    path.write_text(json.dumps({**IDS, "version": 3}))
    with pytest.raises(TrainingError, match="lacks version"):
        read_result(path)


def fake_train(monkeypatch, script: str) -> None:
    """Make train_in_subprocess run ``python -c script REQUEST RESULT`` instead of ``assay train``."""
    monkeypatch.setattr(process, "command", lambda req, res: [sys.executable, "-c", script, str(req), str(res)])


def test_subprocess_returns_the_result_file_not_stdout(monkeypatch):
    script = (
        "import json, sys\n"
        "from assay.training.request import TrainRequest, write_result\n"
        "req = TrainRequest.read(sys.argv[1])\n"
        "print('{\"run_id\": \"a line that looks like a result\"}')\n"
        f"write_result(sys.argv[2], {{**{IDS!r}, 'run_id': req.run_key}})\n"
    )
    fake_train(monkeypatch, script)
    ids = process.train_in_subprocess(TrainRequest(window_end=DAY, run_key="train/r9"))
    assert ids == {**IDS, "run_id": "train/r9"}


def test_subprocess_failure_and_missing_result_are_errors(monkeypatch):
    fake_train(monkeypatch, "import sys; print('boom: out of memory', file=sys.stderr); sys.exit(3)")
    with pytest.raises(TrainingError, match="exited 3: boom: out of memory"):
        process.train_in_subprocess(TrainRequest(window_end=DAY, run_key="k"))
    fake_train(monkeypatch, "print('{\"run_id\": \"x\"}')")
    with pytest.raises(TrainingError, match="left no readable result"):
        process.train_in_subprocess(TrainRequest(window_end=DAY, run_key="k"))


@pytest.fixture
def cli(monkeypatch):
    """``assay train`` with train_candidate replaced by a recorder; returns (invoke, seen requests)."""
    from typer.testing import CliRunner

    from assay.cli.app import app
    from assay.training import run

    seen: list[TrainRequest] = []

    def recorder(settings, request, **_kw):
        seen.append(request)
        return TrainOutcome(**IDS)

    monkeypatch.setattr(run, "train_candidate", recorder)
    runner = CliRunner()
    return (lambda args: runner.invoke(app, ["train", *args])), seen


def test_cli_options_and_request_file_build_the_same_request(cli, tmp_path):
    invoke, seen = cli
    args = ["--date", "2026-11-20", "--days", "7", "--run-key", "cli/x", "--nproc", "2", "--epochs", "2",
            "--max-steps", "0", "--teacher-weight", "0.0", "--allow-unvalidated", "--lr", "0.001"]
    first = invoke(args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout.strip().splitlines()[-1]) == IDS
    expected = TrainRequest(
        window_end=DAY, run_key="cli/x", days=7, nproc=2, allow_unvalidated=True,
        config=dataclasses.replace(DEFAULT_CONFIG, epochs=2, teacher_weight=0.0, lr=0.001),
    )
    assert seen == [expected]
    request_file, result_file = tmp_path / "request.json", tmp_path / "result.json"
    request_file.write_text(expected.to_json())
    second = invoke(["--request", str(request_file), "--result", str(result_file)])
    assert second.exit_code == 0, second.output
    assert seen == [expected, expected] and read_result(result_file) == IDS
    mixed = invoke(["--request", str(request_file), "--epochs", "3"])
    assert isinstance(mixed.exception, AssayError) and "--request replaces the other options" in str(mixed.exception)
