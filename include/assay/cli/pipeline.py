"""``assay seed|inventory|profile|demo``: the pipeline stages (the same functions the DAGs call).

Dates default to the last complete day in UTC (yesterday) and any date runs, also one before the
DAGs' ``start_date``; run keys carry their scope (``cli/<command>/<sources or assets>/<date>``).
A run that finds nothing to do for its date says so and exits 3 unless ``--allow-empty``
(:mod:`assay.cli.scope`). ``assay demo`` runs on the demo's own date.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from assay.cli.output import echo
from assay.cli.scope import ALLOW_EMPTY_HELP, DATE_HELP, EMPTY_EXIT, cli_run_key, parse_day
from assay.config import get_settings
from assay.ops.demo import DEMO_DATE

if TYPE_CHECKING:
    from assay.ops.demo import Event


def _nothing_to_do(message: str, allow_empty: bool) -> None:
    """Say loudly that the run found nothing for its date; exit :data:`EMPTY_EXIT` unless allowed."""
    echo(f"assay: NOTHING TO DO: {message}" + ("" if allow_empty else f" (exit {EMPTY_EXIT}; --allow-empty to accept)"),
         err=True)
    if not allow_empty:
        raise typer.Exit(EMPTY_EXIT)


def seed(
    date: Annotated[str | None, typer.Option(help="last day to seed, YYYY-MM-DD; default: yesterday in UTC")] = None,
    days: int = 21,
    scale: int = 1,
    defects: Annotated[str, typer.Option(help="none | demo | day:defect,...;day:...")] = "demo",
    seed: int = 7,
) -> None:
    """Write the deterministic demo shop (tables + feed files) for DAYS days ending at DATE."""
    from assay.seed.runner import seed_window

    summary = seed_window(get_settings(), parse_day(date), days, scale, defects, seed)
    echo(f"seeded {summary['start']}..{summary['end']}: {summary['rows']} + {summary['dimension_rows']}")
    for day, names in summary["defects"].items():
        echo(f"  defect {day}: {', '.join(names)}")


def inventory(
    date: Annotated[str | None, typer.Option(help=DATE_HELP)] = None,
    source: Annotated[list[str] | None, typer.Option(help="source name (repeatable); default: all declared")] = None,
    embeddings: Annotated[
        bool, typer.Option(help="classify columns with the sentence embedding too (--no-embeddings: rules only)")
    ] = True,
    labels: Annotated[
        str,
        typer.Option(help="background: rule labels now, the embedding's by `assay classify` after; inline: all now"),
    ] = "background",
    allow_empty: Annotated[bool, typer.Option("--allow-empty", help=ALLOW_EMPTY_HELP)] = False,
) -> None:
    """Inventory the declared sources for one logical date (what the `inventory` DAG runs)."""
    from assay.inventory import run_inventory
    from assay.inventory.classifications import LABEL_ROUTES

    if labels not in LABEL_ROUTES:
        raise typer.BadParameter(f"{labels!r} is not one of {', '.join(LABEL_ROUTES)}", param_hint="--labels")
    day = parse_day(date)
    run_key = cli_run_key("inventory", day, source)
    echo(f"inventory of {', '.join(source) if source else 'every source'} for {day} ({run_key}) ...")
    report = run_inventory(
        get_settings(), day, run_key, sources=source or None, use_embeddings=embeddings,
        labels="inline" if labels == "inline" else "background",
    )
    echo(str(report.summary()))
    if embeddings and labels == "background":
        from assay.inventory.labelling import pending_count

        if waiting := pending_count(get_settings(), source or None):
            echo(f"{waiting} columns wait for their semantic label (\"classifying\"): run `assay classify`")
    if not any(s.seen for s in report.sources):
        _nothing_to_do(f"the inventory of {day} found no asset in {', '.join(source or ['any source'])}", allow_empty)


def profile(
    date: Annotated[str | None, typer.Option(help=DATE_HELP)] = None,
    asset: Annotated[list[str] | None, typer.Option(help="asset name (repeatable); default: every active asset")] = None,
    source: Annotated[str | None, typer.Option(help="profile only this source's assets; default: every source")] = None,
    force: Annotated[bool, typer.Option(help="profile again partitions already profiled for the date")] = False,
    allow_empty: Annotated[bool, typer.Option("--allow-empty", help=ALLOW_EMPTY_HELP)] = False,
) -> None:
    """Profile one logical-date partition of every asset (what the `profile` DAG runs)."""
    from assay.profiling import run_profile

    day = parse_day(date)
    run_key = cli_run_key("profile", day, [source] if source else None, asset)
    scope = ", ".join(asset) if asset else "every active asset"
    echo(f"profile of {scope}{f' of source {source}' if source else ''} for {day} ({run_key}) ...")
    report = run_profile(get_settings(), day, run_key, assets=asset or None, force=force, source=source)
    echo(str(report.summary()))
    rows = [r.row_count for r in report.results if r.status != "skipped"]
    if not report.results:
        _nothing_to_do(f"no asset partition to profile for {day}", allow_empty)
    elif rows and all(not n for n in rows) and not report.skipped:
        _nothing_to_do(f"every partition of {day} is empty ({len(rows)} profiled, 0 rows)", allow_empty)


def demo(
    date: Annotated[str, typer.Option(help="logical date, YYYY-MM-DD; default: the demo's own date")] = DEMO_DATE,
) -> None:
    """Run the main job end to end on the embedded PostgreSQL and print a summary."""
    import time

    from assay.cli import logs, render
    from assay.ops.demo import HistoryDay, StageFinished
    from assay.ops.demo import run as run_demo
    from assay.ops.status import demo_status

    def line(event: Event) -> str:
        if isinstance(event, StageFinished):
            return f"    {event.dag_id} done in {event.seconds:.1f} s"
        if isinstance(event, HistoryDay):
            return (f"    {event.stage} history {event.index}/{event.days}: {event.day} in {event.seconds:.1f} s"
                    + (" (failed)" if event.failed else ""))
        return render.progress_line(event)

    settings = get_settings()
    log_file = logs.current_path()
    if log_file is not None:
        echo(f"logs of Airflow and the libraries: {log_file} (assay -v demo shows them here)")
    t0 = time.perf_counter()
    try:
        report = run_demo(settings, parse_day(date).isoformat(), progress=lambda event: echo(line(event)))
        echo(render.demo_summary(settings, report, demo_status(settings, report.logical_date)))
    finally:
        echo(f"\ndemo took {time.perf_counter() - t0:.0f} s" + (f"; full log: {log_file}" if log_file else ""))


def register(app: typer.Typer) -> None:
    """Add ``seed``, ``inventory``, ``profile`` and ``demo`` to ``app``."""
    app.command("seed")(seed)
    app.command("inventory")(inventory)
    app.command("profile")(profile)
    app.command("demo")(demo)
