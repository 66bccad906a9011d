"""``assay``: the one entry point for people and for ``make``.

Each command is a few lines that call a typed function of the package; errors of type
:class:`assay.errors.AssayError` are printed as one clear line and exit with status 2. So is a
database that cannot be reached or is lost mid-run (a driver's ``OperationalError`` or
``InterfaceError``): ``assay: error: catalog database unreachable (<masked URL>): <driver message>``.
Only the error itself and its ``__cause__`` chain count: a bug raised while handling a database error
(its ``__context__``) stays a traceback, exit 1. A setting the environment gets wrong is one line
naming the variable, exit 2.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from assay.catalog.urls import scrub, urls_of
from assay.cli import classify, gate, logs, pipeline, platform, quality, steward, train
from assay.cli.output import echo
from assay.config import get_settings
from assay.errors import AssayError, ConfigError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.callback()
def _options(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="show Airflow's and the libraries' log records on the console too")
    ] = False,
) -> None:
    # The records go to <state>/logs/<command>-<time>.log either way (assay.cli.logs).
    logs.set_verbose(verbose)


# Registration order is the order `assay --help` lists the commands (groups after commands).
platform.register(app)
pipeline.register(app)
classify.register(app)
quality.register(app)
train.register(app)
gate.register(app)
steward.register(app)

#: Attributes the ``handle_error`` listener sets on a SQLAlchemy error: the masked URL of the
#: engine that raised it, and whether the connection was lost (or never made).
URL_ATTR, LOST_ATTR = "assay_db_url", "assay_db_lost"
#: SQLSTATEs that mean the server went away or refused the session (class 08, shutdowns,
#: a database that no longer exists).
_LOST_SQLSTATES = ("08", "57P01", "57P02", "57P03", "3D000")


def _tag(ctx: Any) -> None:
    """``handle_error`` listener: the error carries its engine's masked URL and whether it was lost."""
    from assay.catalog.db import masked

    exc = ctx.sqlalchemy_exception
    if exc is None or ctx.engine is None:
        return
    setattr(exc, URL_ATTR, masked(ctx.engine.url.render_as_string(hide_password=False)))
    # No connection: the connect itself failed (refused, timed out, database gone).
    setattr(exc, LOST_ATTR, bool(ctx.is_disconnect or ctx.connection is None))


def _tag_database_errors() -> None:
    """Make every engine's errors carry its masked URL (the driver's exception does not name it)."""
    from sqlalchemy import Engine, event

    if not event.contains(Engine, "handle_error", _tag):
        event.listen(Engine, "handle_error", _tag)


def _database_error(exc: BaseException) -> BaseException | None:
    """The driver-level database error behind ``exc`` (itself or its ``__cause__`` chain), if any.

    Not ``__context__``: an error raised inside an ``except OperationalError:`` block or a cleanup
    is a bug of its own, and must not be reported as "database unreachable".
    """
    from sqlalchemy.exc import InterfaceError, OperationalError

    kinds: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
    try:
        import psycopg2

        kinds += (psycopg2.OperationalError, psycopg2.InterfaceError)
    except ImportError:  # only the SQLAlchemy types then
        pass
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return current
        seen.add(id(current))
        current = current.__cause__
    return None


def database_error_line(exc: BaseException, catalog_url: str | None) -> str:
    """The one line shown for a database error: which database, its masked URL, the driver's message.

    Args:
        exc: a SQLAlchemy or psycopg2 ``OperationalError`` / ``InterfaceError``.
        catalog_url: the catalog's URL, to tell the catalog from a source database.
    """
    from assay.catalog.db import masked

    driver: Any = getattr(exc, "orig", None) or exc
    text = str(driver).strip()
    first = text.splitlines()[0].strip() if text else type(driver).__name__
    code = str(getattr(driver, "pgcode", None) or "")
    lost = bool(
        getattr(exc, LOST_ATTR, False)
        or getattr(exc, "connection_invalidated", False)
        or type(driver).__name__ == "InterfaceError"
        or (not code and type(driver).__name__ == "OperationalError")  # libpq's own: no server reply
        or code.startswith(_LOST_SQLSTATES)
    )
    url: str | None = getattr(exc, URL_ATTR, None)
    if url is None:
        what, where = "a", ""
    else:
        what = "catalog" if catalog_url is not None and url == masked(_rendered(catalog_url)) else "source"
        where = f" ({url})"
    state = "unreachable" if lost else "error"
    return f"{what} database {state}{where}: {first}"


def _rendered(url: str) -> str:
    """``url`` spelled as SQLAlchemy renders an engine's URL (same quoting), to compare the two."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=False)
    except ArgumentError:
        return url


def _catalog_url() -> str | None:
    try:
        return get_settings().catalog_url()
    except AssayError:
        return None


def settings_error_line(exc: Any) -> str:
    """One line for a pydantic ``ValidationError`` of :class:`~assay.config.Settings`, naming each variable.

    The input is not quoted (it may be a password); a validator's own message may quote it.
    """
    from assay.config import Settings

    model_config: Any = Settings.model_config
    prefix = str(model_config.get("env_prefix", ""))
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = str(err["loc"][0]) if err.get("loc") else "?"
        field = Settings.model_fields.get(loc)
        alias = field.validation_alias if field is not None else None
        variable = alias if isinstance(alias, str) else (prefix + loc if field is not None else loc)
        parts.append(f"{variable.upper()}: {err['msg']}")
    return "invalid setting " + "; ".join(parts)


def _start() -> str | None:
    """Load the settings, set up logging (:mod:`assay.cli.logs`) and error tagging; the catalog URL if known."""
    settings = get_settings()
    logs.setup(settings.logs_dir, settings.log_level, sys.argv[1:], verbose=settings.verbose)
    _tag_database_errors()
    # Read now: the embedded server's state file (its socket folder) is gone once it has stopped.
    return _catalog_url()


def main() -> None:
    """Run the CLI; an :class:`AssayError`, a bad setting or a lost database is one line ``assay: error: …``, exit 2."""
    from pydantic import ValidationError

    try:
        catalog_url = _start()
    except ConfigError as exc:  # no settings, so no URLs to scrub: the message is assay's own
        echo(f"assay: error: {exc}", err=True)
        sys.exit(2)
    except ValidationError as exc:
        echo(f"assay: error: {settings_error_line(exc)}", err=True)
        sys.exit(2)
    try:
        app()
    except AssayError as exc:
        echo(f"assay: error: {scrub(str(exc), *urls_of(get_settings()))}", err=True)
        sys.exit(2)
    except Exception as exc:
        found = _database_error(exc)
        if found is None:
            raise
        # A driver may quote a piece of a password (a raw '@' in it makes the rest a host name).
        line = scrub(database_error_line(found, catalog_url or _catalog_url()), *urls_of(get_settings()))
        echo(f"assay: error: {line}", err=True)
        sys.exit(2)
