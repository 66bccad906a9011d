"""``assay seed|inventory|profile|demo``: the pipeline stages (the same functions the DAGs call)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from assay.cli.output import echo
from assay.config import get_settings
from assay.errors import AssayError


def _date(value: str | None) -> dt.date:
    from assay.ops.demo import DEFAULT_DATE

    try:
        return dt.date.fromisoformat(value or DEFAULT_DATE)
    except ValueError:
        raise AssayError(f"not a date (YYYY-MM-DD): {value!r}") from None


def seed(
    date: Annotated[str | None, typer.Option(help="last day to seed, YYYY-MM-DD")] = None,
    days: int = 21,
    scale: int = 1,
    defects: Annotated[str, typer.Option(help="none | demo | day:defect,...;day:...")] = "demo",
    seed: int = 7,
) -> None:
    """Write the deterministic demo shop (tables + feed files) for DAYS days ending at DATE."""
    from assay.seed.runner import seed_window

    summary = seed_window(get_settings(), _date(date), days, scale, defects, seed)
    echo(f"seeded {summary['start']}..{summary['end']}: {summary['rows']} + {summary['dimension_rows']}")
    for day, names in summary["defects"].items():
        echo(f"  defect {day}: {', '.join(names)}")


def inventory(
    date: Annotated[str | None, typer.Option(help="logical date, YYYY-MM-DD")] = None,
    source: Annotated[list[str] | None, typer.Option(help="source name (repeatable); default all")] = None,
) -> None:
    """Inventory the declared sources for one logical date (what the `inventory` DAG runs)."""
    from assay.inventory import run_inventory

    day = _date(date)
    report = run_inventory(get_settings(), day, f"cli/{day.isoformat()}", sources=source or None)
    echo(str(report.summary()))


def profile(
    date: Annotated[str | None, typer.Option(help="logical date, YYYY-MM-DD")] = None,
    asset: Annotated[list[str] | None, typer.Option(help="asset name (repeatable); default all")] = None,
    force: bool = False,
) -> None:
    """Profile one logical-date partition of every asset (what the `profile` DAG runs)."""
    from assay.profiling import run_profile

    day = _date(date)
    report = run_profile(get_settings(), day, f"cli/{day.isoformat()}", assets=asset or None, force=force)
    echo(str(report.summary()))


def demo(date: Annotated[str | None, typer.Option(help="logical date, YYYY-MM-DD")] = None) -> None:
    """Run the main job end to end on the embedded PostgreSQL and print a summary."""
    from assay.cli import render
    from assay.ops.demo import run as run_demo
    from assay.ops.status import demo_status

    settings = get_settings()
    report = run_demo(settings, date, progress=lambda event: echo(render.progress_line(event)))
    echo(render.demo_summary(settings, report, demo_status(settings, report.logical_date)))


def register(app: typer.Typer) -> None:
    """Add ``seed``, ``inventory``, ``profile`` and ``demo`` to ``app``."""
    app.command("seed")(seed)
    app.command("inventory")(inventory)
    app.command("profile")(profile)
    app.command("demo")(demo)
