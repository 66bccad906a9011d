"""``assay train``: registered on the main CLI by :func:`register`."""

from __future__ import annotations

from typing import Annotated, Any

import typer


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
    ) -> None:
        """Fine-tune the cross-encoder on validated data, log it to MLflow and register a version.

        Prints one JSON line: {run_id, model_uri, model_name, version, dataset_digest}.
        """
        import dataclasses
        import datetime as dt
        import json

        from assay.config import get_settings
        from assay.errors import AssayError
        from assay.ops.demo import DEFAULT_DATE
        from assay.training.run import DEFAULT_CONFIG, train_candidate

        try:
            window_end = dt.date.fromisoformat(date or DEFAULT_DATE)
        except ValueError:
            raise AssayError(f"not a date (YYYY-MM-DD): {date!r}") from None
        overrides: dict[str, Any] = {
            k: v
            for k, v in {
                "epochs": epochs,
                "max_steps": max_steps,
                "batch_size": batch_size,
                "base_model": base_model,
                "lr": lr,
                "max_length": max_length,
                "seed": seed,
                "teacher_weight": teacher_weight,
            }.items()
            if v is not None
        }
        if overrides.get("max_steps") == 0:
            overrides["max_steps"] = None
        config = dataclasses.replace(DEFAULT_CONFIG, precision=precision, **overrides)
        key = run_key or f"cli/{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S')}"
        outcome = train_candidate(
            get_settings(),
            window_end,
            days,
            config=config,
            run_key=key,
            allow_unvalidated=allow_unvalidated,
            nproc=nproc,
            max_queries=max_queries,
        )
        typer.echo(json.dumps(outcome.ids()))
