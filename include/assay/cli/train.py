"""``assay train``: registered on the main CLI by :func:`register`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer

from assay.cli.output import echo
from assay.training.config import DEFAULT_CONFIG
from assay.training.request import TrainRequest

#: Defaults of every option: TrainConfig's and TrainRequest's own (one set; a test checks they agree).
_CONFIG = DEFAULT_CONFIG
_REQUEST = {f.name: f.default for f in dataclasses.fields(TrainRequest) if f.default is not dataclasses.MISSING}


def register(app: typer.Typer) -> None:
    """Add the training commands to ``app`` (imports stay lazy inside each command)."""

    @app.command("train")
    def train(
        date: Annotated[str | None, typer.Option(help="last day of the window, YYYY-MM-DD; default: yesterday in UTC")] = None,
        days: Annotated[int, typer.Option(help="window length in days")] = _REQUEST["days"],
        epochs: Annotated[int, typer.Option(help="passes over the training pairs")] = _CONFIG.epochs,
        max_steps: Annotated[
            int | None, typer.Option(help="stop after N optimizer steps; 0 or unset = no limit")
        ] = _CONFIG.max_steps,
        batch_size: Annotated[
            int, typer.Option(help="pairs per step and process (a larger query is split into lists)")
        ] = _CONFIG.batch_size,
        base_model: Annotated[
            str | None, typer.Option(help="local model folder; unset = the packaged all-MiniLM-L6-v2")
        ] = _CONFIG.base_model,
        nproc: Annotated[int, typer.Option(help="data-parallel processes (torchrun)")] = _REQUEST["nproc"],
        allow_unvalidated: Annotated[
            bool, typer.Option("--allow-unvalidated", help="include days that failed quality")
        ] = _REQUEST["allow_unvalidated"],
        run_key: Annotated[
            str | None, typer.Option(help="idempotency key; a retry with the same key registers nothing new")
        ] = None,
        max_queries: Annotated[
            int | None, typer.Option(help="cap the queries of the training set")
        ] = _REQUEST["max_queries"],
        lr: Annotated[float, typer.Option(help="peak learning rate")] = _CONFIG.lr,
        max_length: Annotated[
            int, typer.Option(help="token limit of a (query, product) pair")
        ] = _CONFIG.max_length,
        max_query_length: Annotated[
            int, typer.Option(help="token limit of the query side (longer queries are cut)")
        ] = _CONFIG.max_query_length,
        precision: Annotated[str, typer.Option(help="auto | fp32 | bf16")] = _CONFIG.precision,
        teacher_weight: Annotated[
            float, typer.Option(help="share of the target from the untuned MiniLM teacher (0 = clicks only)")
        ] = _CONFIG.teacher_weight,
        seed: Annotated[int, typer.Option(help="seed of the split, the model head and the data order")] = _CONFIG.seed,
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

        from assay.cli.scope import parse_day
        from assay.config import get_settings
        from assay.errors import AssayError
        from assay.training.request import write_result
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
            "max_query_length": max_query_length,
        }
        if request_file is not None:
            # An option differs from its default only when given (defaults derived, never re-spelled).
            defaults = {**_REQUEST, **_CONFIG.as_params()}
            given = [k for k, v in {**options, "date": date, "run_key": run_key}.items()
                     if v is not None and v != defaults.get(k)]
            if given:
                raise AssayError(f"--request replaces the other options; also given: {', '.join(sorted(given))}")
            request = TrainRequest.read(request_file)
        else:
            try:
                window_end = parse_day(date)  # yesterday in UTC by default, never the demo's date
            except ValueError:
                raise AssayError(f"not a date (YYYY-MM-DD): {date!r}") from None
            key = run_key or f"cli/{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S')}"
            request = TrainRequest.from_params(options, window_end, run_key=key)
        outcome = train_candidate(get_settings(), request)
        if result_file is not None:
            write_result(result_file, outcome.ids())
        echo(json.dumps(outcome.ids()))

    @app.command("candidates")
    def candidates(
        queries: Annotated[Path, typer.Argument(help="queries: one per line, or a .csv/.parquet with a 'query' column")],
        out: Annotated[Path, typer.Option(help="where to write the lists (.parquet or .csv)")],
        k: Annotated[int, typer.Option(help="candidates per query")] = 30,
    ) -> None:
        """BM25 top-k over the product catalogue of the search-log contract, for each query.

        Writes query, product_id, rank, score, product_text per candidate and prints one JSON line
        {queries, with_candidates, rows, out}. The catalogue is the contract's products table
        (config/search_log.yaml or ASSAY_SEARCH_LOG_FILE), read as the trainer reads it.
        """
        import json

        from assay.config import get_settings
        from assay.errors import AssayError
        from assay.training.candidates import bm25_top_k, catalogue_of, read_queries

        if out.suffix not in (".parquet", ".csv"):
            raise AssayError(f"--out {out}: use a .parquet or .csv file name")
        asked = read_queries(queries)
        frame = bm25_top_k(asked, catalogue_of(get_settings()), k=k)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".parquet":
            frame.to_parquet(out, index=False)
        else:
            frame.to_csv(out, index=False)
        echo(json.dumps({"queries": len(set(asked)), "with_candidates": int(frame["query"].nunique()),
                         "rows": len(frame), "out": str(out)}))
