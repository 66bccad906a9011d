"""``assay db|catalog|airflow …``, ``assay mlflow-ui`` and ``assay env``: the local platform."""

from __future__ import annotations

from typing import Annotated

import typer

from assay.cli.output import echo
from assay.config import get_settings
from assay.errors import AssayError

db_app = typer.Typer(no_args_is_help=True, help="The embedded PostgreSQL server.")
catalog_app = typer.Typer(no_args_is_help=True, help="The assay catalog database (Alembic migrations).")
airflow_app = typer.Typer(no_args_is_help=True, help="Airflow on the embedded PostgreSQL.")


# ---- db ---------------------------------------------------------------------------------------
@db_app.command("up")
def db_up() -> None:
    """Start the embedded PostgreSQL (idempotent) and create its databases."""
    from assay.db import embedded

    settings = get_settings()
    state = embedded.up(settings)
    echo(f"PostgreSQL up: pid {state.pid}, socket {state.socket_dir}")
    echo(f"databases: {', '.join(state.databases)}")


@db_app.command("down")
def db_down() -> None:
    """Stop the embedded PostgreSQL (data is kept)."""
    from assay.db import embedded

    stopped = embedded.down(get_settings())
    echo("PostgreSQL stopped" if stopped else "PostgreSQL was not running")


@db_app.command("status")
def db_status() -> None:
    """Show whether the embedded PostgreSQL runs. Exit 1 when it does not."""
    from assay.db import embedded

    st = embedded.status(get_settings())
    for key, value in st.items():
        echo(f"{key:12} {value}")
    raise typer.Exit(0 if st["running"] else 1)


@db_app.command("url")
def db_url(database: Annotated[str, typer.Argument(help="airflow | assay | mlflow | shop")] = "assay") -> None:
    """Print the SQLAlchemy URL of one database (external URLs win over the embedded server).

    A password or secret parameter is shown as ``***``: it stays in the variable that holds it.
    """
    from assay.catalog.urls import masked

    s = get_settings()
    urls = {
        "assay": s.catalog_url,
        "shop": s.shop_database_url,
        "mlflow": s.mlflow_uri,
        "airflow": s.airflow_db_url,
    }
    if database not in urls:
        raise AssayError(f"unknown database {database!r}; choose one of {', '.join(urls)}")
    echo(masked(urls[database]()))


def env() -> None:
    """Print `export` lines for the Airflow/MLflow environment assay uses (eval "$(assay env)").

    A value carrying a password is not printed: it came from the variable of the same name, which
    the shell already has (a comment shows it masked).
    """
    import shlex

    from assay.catalog.urls import has_secret, masked

    for key, value in get_settings().airflow_env().items():
        if has_secret(value):
            echo(f"# {key} kept from your environment (it carries a secret): {masked(value)}")
        else:
            echo(f"export {key}={shlex.quote(value)}")


# ---- catalog ----------------------------------------------------------------------------------
@catalog_app.command("migrate")
def catalog_migrate(revision: str = "head") -> None:
    """Upgrade the catalog schema (Alembic) to REVISION."""
    from assay.catalog import migrate

    url = get_settings().catalog_url()
    migrate.check_reachable(url)
    migrate.upgrade(url, revision)
    echo(f"catalog at revision {migrate.current(url)}")


@catalog_app.command("downgrade")
def catalog_downgrade(revision: str) -> None:
    """Downgrade the catalog schema to REVISION (e.g. base)."""
    from assay.catalog import migrate

    url = get_settings().catalog_url()
    migrate.downgrade(url, revision)
    echo(f"catalog at revision {migrate.current(url)}")


@catalog_app.command("current")
def catalog_current() -> None:
    """Print the catalog's current Alembic revision."""
    from assay.catalog import migrate

    echo(str(migrate.current(get_settings().catalog_url())))


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
    echo(f"Airflow UI: {info.url}  (user {info.user}, password in {info.password_file})")
    echo(f"pool {GPU_POOL!r} ready for the train DAG")
    echo(f"logs: {info.logfile}; stop with `make stop`")


@airflow_app.command("down")
def airflow_down() -> None:
    """Stop the background `airflow standalone` (its whole process group)."""
    from assay.ops import airflow

    stopped = airflow.standalone_down(get_settings())
    echo("Airflow stopped" if stopped else "Airflow was not running")


@airflow_app.command(
    "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def airflow_run(ctx: typer.Context) -> None:
    """Run any `airflow` CLI command with assay's environment, e.g. `assay airflow run dags list`."""
    from assay.ops import airflow

    raise typer.Exit(airflow.run_cli(get_settings(), list(ctx.args)))


# ---- mlflow -----------------------------------------------------------------------------------
def mlflow_ui(
    port: Annotated[int | None, typer.Option(help="default ASSAY_MLFLOW_PORT")] = None,
    stop: Annotated[bool, typer.Option("--stop", help="stop the running UI instead")] = False,
) -> None:
    """Serve the MLflow UI on assay's MLflow store in the background (or stop it)."""
    from assay.ops import mlflow_ui as ui

    if stop:
        echo("MLflow UI stopped" if ui.down(get_settings()) else "MLflow UI was not running")
        return
    echo(f"MLflow UI: {ui.up(get_settings(), port)}; stop with `make stop`")


def register(app: typer.Typer) -> None:
    """Add ``env``, ``mlflow-ui`` and the ``db``, ``catalog`` and ``airflow`` groups to ``app``."""
    app.command("env")(env)
    app.command("mlflow-ui")(mlflow_ui)
    app.add_typer(db_app, name="db")
    app.add_typer(catalog_app, name="catalog")
    app.add_typer(airflow_app, name="airflow")
