"""``assay train``: registered on the main CLI by :func:`register`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from assay.cli.output import echo


def register(app: typer.Typer) -> None:
    """Add the training commands to ``app`` (imports stay lazy inside each command)."""

    @app.command("train")
    def train(
        date: Annotated[str | None, typer.Option(help="last day of the window, YYYY-MM-DD")] = None,
        days: Annotated[int, typer.Option(help="window length in days")] = 14,
        epochs: Annotated[int | None, typer.Option(help="passes over the training pairs")] = None,
        max_steps: Annotated[
            int | None, typer.Option(help="stop after N optimizer steps; 0 = no limit")
        ] = None,
        batch_size: Annotated[int | None, typer.Option(help="pairs per step and process")] = None,
        base_model: Annotated[
            str | None, typer.Option(help="local model folder; default the packaged all-MiniLM-L6-v2")
        ] = None,
        nproc: Annotated[int, typer.Option(help="data-parallel processes (torchrun) ")] = 1,
        allow_unvalidated: Annotated[
            bool, typer.Option("--allow-unvalidated", help="include days that failed quality")
        ] = False,
        run_key: Annotated[
            str | None, typer.Option(help="idempotency key; a retry with the same key registers nothing new")
        ] = None,
        max_queries: Annotated[int | None, typer.Option(help="cap the queries of the training set")] = None,
        lr: Annotated[float | None, typer.Option(help="peak learning rate")] = None,
        max_length: Annotated[int | None, typer.Option(help="token limit of a (query, product) pair")] = None,
        precision: Annotated[str, typer.Option(help="auto | fp32 | bf16")] = "auto",
        teacher_weight: Annotated[
            float | None, typer.Option(help="share of the target from the untuned MiniLM teacher (0 = clicks only)")
        ] = None,
        seed: Annotated[
            int | None, typer.Option(help="seed of the split, the model head and the data order")
        ] = None,
        request_file: Annotated[
            Path | None,
            typer.Option("--request", help="a TrainRequest JSON file (assay.training.request) instead of the options"),
        ] = None,
        result_file: Annotated[
            Path | None, typer.Option("--result", help="also write the result ids to this JSON file (atomically)")
        ] = None,
    ) -> None:
        """Fine-tune the cross-encoder on validated data, log it to MLflow and register a version.

        Prints one JSON line: {run_id, model_uri, model_name, version, dataset_digest}; --result
        writes the same object to a file. Any training option not offered here is reachable
        through --request (a new TrainConfig field needs no new flag).
        """
        import datetime as dt
        import json

        from assay.config import get_settings
        from assay.errors import AssayError
        from assay.ops.demo import DEFAULT_DATE
        from assay.training.request import TrainRequest, write_result
        from assay.training.run import train_candidate

        # Option names are TrainRequest / TrainConfig field names: from_params maps them once.
        options: dict[str, Any] = {
            "days": days,
            "nproc": nproc,
            "allow_unvalidated": allow_unvalidated,
            "max_queries": max_queries,
            "epochs": epochs,
            "max_steps": max_steps,
            "batch_size": batch_size,
            "base_model": base_model,
            "lr": lr,
            "max_length": max_length,
            "precision": precision,
            "seed": seed,
            "teacher_weight": teacher_weight,
        }
        if request_file is not None:
            defaults = {"days": 14, "nproc": 1, "allow_unvalidated": False, "precision": "auto"}
            given = [k for k, v in {**options, "date": date, "run_key": run_key}.items() if v not in (None, defaults.get(k))]
            if given:
                raise AssayError(f"--request replaces the other options; also given: {', '.join(sorted(given))}")
            request = TrainRequest.read(request_file)
        else:
            try:
                window_end = dt.date.fromisoformat(date or DEFAULT_DATE)
            except ValueError:
                raise AssayError(f"not a date (YYYY-MM-DD): {date!r}") from None
            key = run_key or f"cli/{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S')}"
            request = TrainRequest.from_params(options, window_end, run_key=key)
        outcome = train_candidate(get_settings(), request)
        if result_file is not None:
            write_result(result_file, outcome.ids())
        echo(json.dumps(outcome.ids()))
