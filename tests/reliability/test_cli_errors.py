"""How the CLI reports errors: database errors as one line, bugs as tracebacks, bad settings as one line.

Also: a SQL error that escapes as a traceback must not print the values it was bound to (sampled
values, top values, evidence): every engine of assay sets ``hide_parameters=True``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from assay.cli import app as cli_app

ASSAY = str(Path(sys.executable).with_name("assay"))


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ASSAY, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def _operational() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))


def _main_with(monkeypatch: pytest.MonkeyPatch, body: Any) -> None:
    """Run ``assay.cli.app.main`` with the Typer app replaced by ``body``."""
    monkeypatch.setattr(cli_app, "app", body)
    monkeypatch.setattr(cli_app, "_catalog_url", lambda: None)
    cli_app.main()


# ---- database errors: only the exception and its __cause__ chain count -------------------------
def test_a_bug_raised_while_handling_a_database_error_is_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def body() -> None:
        try:
            raise _operational()
        except OperationalError:
            {}["missing"]  # a programming error in the handler: its __context__ is the database error

    with pytest.raises(KeyError):
        _main_with(monkeypatch, body)


def test_a_bug_in_cleanup_after_a_database_error_is_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def body() -> None:
        try:
            raise _operational()
        finally:
            raise TypeError("cleanup bug")  # noqa: B012 - the point: a bug raised in a finally block

    with pytest.raises(TypeError, match="cleanup bug"):
        _main_with(monkeypatch, body)


def test_a_database_error_itself_or_as_the_cause_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def direct() -> None:
        raise _operational()

    def wrapped() -> None:
        try:
            raise _operational()
        except OperationalError as exc:
            raise RuntimeError("while reading the source") from exc

    for body in (direct, wrapped):
        with pytest.raises(SystemExit) as exited:
            _main_with(monkeypatch, body)
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("assay: error: a database error: server closed") and err.count("\n") == 1, err


# ---- settings: a bad variable is one line naming it ---------------------------------------------
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ASSAY_READER_STATEMENT_TIMEOUT", "10min'; DROP TABLE x; --"),
        ("ASSAY_AIRFLOW_PORT", "eighty"),
    ],
)
def test_an_invalid_setting_is_one_error_line_naming_the_variable(variable: str, value: str) -> None:
    res = _run("env", env={variable: value})
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and "ValidationError" not in res.stderr, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("assay: error:") and variable in lines[0], res.stderr
    assert res.stdout == ""


def test_a_config_error_from_settings_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from assay.errors import ConfigError

    def broken() -> Any:
        raise ConfigError("ASSAY_HOME is not a folder")

    monkeypatch.setattr(cli_app, "get_settings", broken)
    monkeypatch.setattr(cli_app, "app", lambda: None)
    with pytest.raises(SystemExit) as exited:
        cli_app.main()
    assert exited.value.code == 2
    assert capsys.readouterr().err == "assay: error: ASSAY_HOME is not a folder\n"


# ---- bound values stay out of SQL error messages ------------------------------------------------
@pytest.mark.integration
def test_an_integrity_error_through_the_catalog_engine_hides_the_bound_values(catalog_url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from assay.catalog.db import engine

    planted = "sampled-value-4111111111111111"
    eng = engine(catalog_url)
    with pytest.raises(IntegrityError) as raised, eng.connect() as conn:
        # the key is a plain number: the driver's DETAIL line quotes the key, not the planted text
        conn.execute(text("CREATE TEMPORARY TABLE t_hidden (k int PRIMARY KEY, v text)"))
        conn.execute(text("INSERT INTO t_hidden VALUES (1, :v)"), {"v": planted})
        conn.execute(text("INSERT INTO t_hidden VALUES (1, :v)"), {"v": planted})
    message = str(raised.value)
    assert "t_hidden" in message and "SQL parameters hidden" in message, message  # the statement is named
    assert planted not in message, message
