"""``assay``: the one entry point for people and for ``make``.

Each command is a few lines that call a typed function of the package; errors of type
:class:`assay.errors.AssayError` are printed as one clear line and exit with status 2.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Annotated

import typer

from assay.config import get_settings
from assay.errors import AssayError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
db_app = typer.Typer(no_args_is_help=True, help="The embedded PostgreSQL server.")
catalog_app = typer.Typer(no_args_is_help=True, help="The assay catalog database (Alembic migrations).")
airflow_app = typer.Typer(no_args_is_help=True, help="Airflow on the embedded PostgreSQL.")
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")
app.add_typer(airflow_app, name="airflow")


def _register_feature_commands() -> None:
    """Training and gate keep their commands beside their code; each module only adds them here."""
    from assay.cli import train as training_cli
    from assay.gate import cli as gate_cli

    training_cli.register(app)
    gate_cli.register(app)


def _echo(msg: str) -> None:
    typer.echo(msg)


# ---- db ---------------------------------------------------------------------------------------
@db_app.command("up")
def db_up() -> None:
    """Start the embedded PostgreSQL (idempotent) and create its databases."""
    from assay.db import embedded

    settings = get_settings()
    state = embedded.up(settings)
    _echo(f"PostgreSQL up: pid {state.pid}, socket {state.socket_dir}")
    _echo(f"databases: {', '.join(state.databases)}")


@db_app.command("down")
def db_down() -> None:
    """Stop the embedded PostgreSQL (data is kept)."""
    from assay.db import embedded

    stopped = embedded.down(get_settings())
    _echo("PostgreSQL stopped" if stopped else "PostgreSQL was not running")


@db_app.command("status")
def db_status() -> None:
    """Show whether the embedded PostgreSQL runs. Exit 1 when it does not."""
    from assay.db import embedded

    st = embedded.status(get_settings())
    for key, value in st.items():
        _echo(f"{key:12} {value}")
    raise typer.Exit(0 if st["running"] else 1)


@db_app.command("url")
def db_url(database: Annotated[str, typer.Argument(help="airflow | assay | mlflow | shop")] = "assay") -> None:
    """Print the SQLAlchemy URL of one database (external URLs win over the embedded server)."""
    s = get_settings()
    urls = {
        "assay": s.catalog_url,
        "shop": s.shop_database_url,
        "mlflow": s.mlflow_uri,
        "airflow": s.airflow_db_url,
    }
    if database not in urls:
        raise AssayError(f"unknown database {database!r}; choose one of {', '.join(urls)}")
    _echo(urls[database]())


@app.command("env")
def env() -> None:
    """Print `export` lines for the Airflow/MLflow environment assay uses (eval "$(assay env)")."""
    import shlex

    for key, value in get_settings().airflow_env().items():
        _echo(f"export {key}={shlex.quote(value)}")


# ---- catalog ----------------------------------------------------------------------------------
@catalog_app.command("migrate")
def catalog_migrate(revision: str = "head") -> None:
    """Upgrade the catalog schema (Alembic) to REVISION."""
    from assay.catalog import migrate

    url = get_settings().catalog_url()
    migrate.check_reachable(url)
    migrate.upgrade(url, revision)
    _echo(f"catalog at revision {migrate.current(url)}")


@catalog_app.command("downgrade")
def catalog_downgrade(revision: str) -> None:
    """Downgrade the catalog schema to REVISION (e.g. base)."""
    from assay.catalog import migrate

    url = get_settings().catalog_url()
    migrate.downgrade(url, revision)
    _echo(f"catalog at revision {migrate.current(url)}")


@catalog_app.command("current")
def catalog_current() -> None:
    """Print the catalog's current Alembic revision."""
    from assay.catalog import migrate

    _echo(str(migrate.current(get_settings().catalog_url())))


# ---- airflow ----------------------------------------------------------------------------------
@airflow_app.command("up")
def airflow_up(timeout: float = 180.0) -> None:
    """Run `airflow standalone` in the background and wait until the UI answers."""
    from assay.names import GPU_POOL
    from assay.ops import airflow
    from assay.training.run import ensure_gpu_pool

    settings = get_settings()
    info = airflow.standalone_up(settings, timeout=timeout)
    ensure_gpu_pool(settings)  # without the pool a scheduler never queues the train task
    _echo(f"Airflow UI: {info.url}  (user {info.user}, password {info.password})")
    _echo(f"pool {GPU_POOL!r} ready for the train DAG")
    _echo(f"logs: {info.logfile}; stop with `make stop`")


@airflow_app.command("down")
def airflow_down() -> None:
    """Stop the background `airflow standalone` (its whole process group)."""
    from assay.ops import airflow

    stopped = airflow.standalone_down(get_settings())
    _echo("Airflow stopped" if stopped else "Airflow was not running")


@airflow_app.command(
    "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def airflow_run(ctx: typer.Context) -> None:
    """Run any `airflow` CLI command with assay's environment, e.g. `assay airflow run dags list`."""
    from assay.ops import airflow

    raise typer.Exit(airflow.run_cli(get_settings(), list(ctx.args)))


# ---- mlflow -----------------------------------------------------------------------------------
@app.command("mlflow-ui")
def mlflow_ui(
    port: Annotated[int | None, typer.Option(help="default ASSAY_MLFLOW_PORT")] = None,
    stop: Annotated[bool, typer.Option("--stop", help="stop the running UI instead")] = False,
) -> None:
    """Serve the MLflow UI on assay's MLflow store in the background (or stop it)."""
    from assay.ops import mlflow_ui as ui

    if stop:
        _echo("MLflow UI stopped" if ui.down(get_settings()) else "MLflow UI was not running")
        return
    _echo(f"MLflow UI: {ui.up(get_settings(), port)}; stop with `make stop`")


# ---- pipeline stages (the same functions the DAGs call) --------------------------------------
def _date(value: str | None) -> dt.date:
    from assay.ops.demo import DEFAULT_DATE

    try:
        return dt.date.fromisoformat(value or DEFAULT_DATE)
    except ValueError:
        raise AssayError(f"not a date (YYYY-MM-DD): {value!r}") from None


@app.command("seed")
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
    _echo(f"seeded {summary['start']}..{summary['end']}: {summary['rows']} + {summary['dimension_rows']}")
    for day, names in summary["defects"].items():
        _echo(f"  defect {day}: {', '.join(names)}")


@app.command("inventory")
def inventory(
    date: Annotated[str | None, typer.Option(help="logical date, YYYY-MM-DD")] = None,
    source: Annotated[list[str] | None, typer.Option(help="source name (repeatable); default all")] = None,
) -> None:
    """Inventory the declared sources for one logical date (what the `inventory` DAG runs)."""
    from assay.inventory import run_inventory

    day = _date(date)
    report = run_inventory(get_settings(), day, f"cli/{day.isoformat()}", sources=source or None)
    _echo(str(report.summary()))


@app.command("profile")
def profile(
    date: Annotated[str | None, typer.Option(help="logical date, YYYY-MM-DD")] = None,
    asset: Annotated[list[str] | None, typer.Option(help="asset name (repeatable); default all")] = None,
    force: bool = False,
) -> None:
    """Profile one logical-date partition of every asset (what the `profile` DAG runs)."""
    from assay.profiling import run_profile

    day = _date(date)
    report = run_profile(get_settings(), day, f"cli/{day.isoformat()}", assets=asset or None, force=force)
    _echo(str(report.summary()))


# ---- pipeline ---------------------------------------------------------------------------------
@app.command("demo")
def demo(date: Annotated[str | None, typer.Option(help="logical date, YYYY-MM-DD")] = None) -> None:
    """Run the main job end to end on the embedded PostgreSQL and print a summary."""
    from assay.ops import demo as demo_mod

    demo_mod.run(get_settings(), date, echo=_echo)


_register_feature_commands()


def main() -> None:
    logging.basicConfig(
        level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        app()
    except AssayError as exc:
        typer.echo(f"assay: error: {exc}", err=True)
        sys.exit(2)
