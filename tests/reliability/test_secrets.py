"""Secrets are never shown, logged or stored: one URL mask, declarations refuse passwords, the CLI
and the catalog carry only masked URLs, Airflow's admin password stays in one private file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import socket
import stat
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import yaml

from assay.catalog.urls import PLACEHOLDER, has_secret, masked, scrub, without_password
from assay.config import Settings
from assay.errors import ConfigError, SourceError

ROOT = Path(__file__).resolve().parents[2]
ASSAY = str(Path(sys.executable).with_name("assay"))

# ---- the mask -----------------------------------------------------------------------------------
#: (url, secrets that must never show, text that must still show)
SECRET_URLS: list[tuple[str, tuple[str, ...], str]] = [
    ("postgresql+psycopg2://svc:s3cret-pw@db.example:5432/assay", ("s3cret-pw",), "svc:***@db.example:5432/assay"),
    ("postgresql://svc:pa/ss-w0rd@db/shop", ("pa/ss-w0rd", "ss-w0rd"), "svc:***@db/shop"),
    ("postgresql://svc:pa#ss-w0rd@db/shop", ("pa#ss-w0rd", "ss-w0rd"), "svc:***@db/shop"),
    ("postgresql://svc:pa?ss-w0rd@db:5432/shop?sslmode=require", ("ss-w0rd",), "@db:5432/shop?sslmode=require"),
    ("postgresql://svc:p@ss-w0rd@db/shop", ("ss-w0rd",), "svc:***@db/shop"),
    ("postgresql://svc:pa:ss-w0rd@db/shop", ("ss-w0rd",), "svc:***@db/shop"),
    ("postgresql://svc:p%40ss%2Fw0rd%23x@db/shop", ("p%40ss%2Fw0rd%23x", "p@ss/w0rd#x", "w0rd"), "svc:***@db/shop"),
    ("postgresql://svc@db/shop?password=qs3cret-pw&sslmode=require", ("qs3cret-pw",), "sslmode=require"),
    ("postgresql://svc@db/shop?sslmode=require&PassWord=qs3cret-pw", ("qs3cret-pw",), "svc@db/shop"),
    ("postgresql://svc@db/shop?sslpassword=k3y-pass-1&sslcert=/c.pem", ("k3y-pass-1",), "sslcert=/c.pem"),
    ("https://mlflow.example/api?token=t0ken-value&api_key=ap1-k3y-v", ("t0ken-value", "ap1-k3y-v"), "mlflow.example"),
    ("postgresql://:only-pw-123@db/shop", ("only-pw-123",), "@db/shop"),
    ("postgresql://svc:s3cret-pw@[::1]:5432/shop", ("s3cret-pw",), "svc:***@[::1]:5432/shop"),
    ("postgresql://svc@db/shop?password=raw&tail-secret&sslmode=require", ("tail-secret",), "sslmode=require"),
    ("postgresql://svc:s3cret pw with space@db/shop", ("s3cret", "with space"), "svc:***@db/shop"),
    ("postgresql://svc:s3cret-pw@db:notaport/shop", ("s3cret-pw",), "svc:***@"),
    ("postgresql://svc@db/shop?client_secret=cl1ent-s3c&x=1", ("cl1ent-s3c",), "x=1"),
]


@pytest.mark.parametrize(("url", "secrets", "shown"), SECRET_URLS, ids=[u for u, _, _ in SECRET_URLS])
def test_masked_hides_every_form_of_secret_and_keeps_the_rest(url, secrets, shown):
    out = masked(url)
    assert all(s not in out for s in secrets), out
    assert shown in out
    assert has_secret(url)
    stored = without_password(url)
    assert all(s not in stored for s in secrets), stored
    assert "***" not in stored and not has_secret(stored)
    text = scrub(f"driver said: could not connect to {url} ({secrets[-1]!r})", url)
    assert all(s not in text for s in secrets), text


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg2://postgres@localhost/shop?host=/tmp/pg-sock",
        "sqlite:////var/lib/assay/catalog.db",
        "https://mlflow.example:5000/api?experiment=7",
    ],
)
def test_masked_leaves_urls_without_secrets_as_they_are(url):
    assert masked(url) == url
    assert without_password(url) == url
    assert not has_secret(url)


@pytest.mark.parametrize("value", ["svc:s3cret-pw@db/shop", "host=db password=s3cret-pw", "", None, 42, b"x://u:p@h"])
def test_masked_never_raises_and_shows_nothing_of_what_it_cannot_parse(value):
    assert masked(value) == PLACEHOLDER


def test_no_other_masking_is_left_in_the_package():
    """The one parser is the only place that hides a password: no second, weaker copy."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "include" / "assay").rglob("*.py")
        if "hide_password=True" in p.read_text()
        # the catalog's CHECK constraint is a last net in the database, not a mask
        or ("[^/@?#]*:[^/@?#]*@" in p.read_text() and "catalog/m" not in p.as_posix())
    ]
    assert offenders == []


# ---- declarations -------------------------------------------------------------------------------
REFUSED = [
    ("url", "postgresql://svc:s3cret-pw@db/shop"),
    ("url", "postgresql://svc:pa/ss-w0rd@db/shop"),
    ("url", "postgresql://svc:pa#ss-w0rd@db/shop"),
    ("url", "postgresql://svc:pa?ss-w0rd@db/shop"),
    ("url", "postgresql://svc:p@ss-w0rd@db/shop"),
    ("url", "postgresql://svc:p%40ss%2Fw0rd@db/shop"),
    ("url", "postgresql://svc@db/shop?password=ss-w0rd"),
    ("url", "postgresql://svc@db/shop?sslmode=require&PASSWORD=ss-w0rd"),
    ("url", "postgresql://svc@db/shop?sslpassword=ss-w0rd"),
    ("url", "postgresql://svc@db/shop?token=ss-w0rd"),
    ("conn_id", "postgresql://svc:ss-w0rd@db/shop"),
]


@pytest.mark.parametrize(("field", "value"), REFUSED, ids=[v for _, v in REFUSED])
def test_declarations_refuse_an_embedded_secret_naming_file_and_source(tmp_path, field, value):
    from assay.sources.declarations import load

    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [
        {"name": "files_ok", "kind": "files", "root": str(tmp_path), "patterns": ["*.csv"]},
        {"name": "warehouse", "kind": "sql", field: value},
    ]}))
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message and "warehouse" in message and "password" in message
    everything = "".join(traceback.format_exception(info.value))
    for secret in ("ss-w0rd", "s3cret-pw", "w0rd"):
        assert secret not in everything, everything


def test_declarations_yaml_error_does_not_echo_a_secret(tmp_path):
    from assay.sources.declarations import load

    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - {name: w, kind: sql, url: postgresql://svc:s3cret-pw@db/shop: x\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    everything = "".join(traceback.format_exception(info.value))
    assert str(path) in str(info.value) and "s3cret-pw" not in everything


def test_declarations_without_secrets_still_load(tmp_path):
    from assay.sources.declarations import load

    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [
        {"name": "a", "kind": "sql", "url": "postgresql://svc@db/shop?sslmode=require&host=/tmp/s"},
        {"name": "b", "kind": "sql", "conn_id": "shop_postgres"},
    ]}))
    assert [s.name for s in load(path).sources] == ["a", "b"]


# ---- settings URLs: nothing printed, logged or stored -------------------------------------------
def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SHOP_SECRETS = ("pa%2Fss%23w0rd", "pa/ss#w0rd", "qs3cret-pw", "k3y-pass-1")


def _secret_shop_url() -> str:
    return (
        f"postgresql+psycopg2://svc:pa%2Fss%23w0rd@127.0.0.1:{_closed_port()}/shop"
        "?password=qs3cret-pw&sslpassword=k3y-pass-1&connect_timeout=3"
    )


def _catalog_text(url: str) -> str:
    from support.db import rows

    tables = [t for (t,) in rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    return "\n".join(str(r) for t in tables for r in rows(url, f'SELECT t::text FROM "{t}" t'))


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["closed port", "raw @ and : in the password"])
def test_an_unreachable_shop_url_with_secrets_is_stored_raised_and_logged_masked(isolated_settings, caplog, kind):
    from assay.inventory import run_inventory
    from assay.sources.declarations import Declarations

    url = _secret_shop_url()
    if kind != "closed port":  # SQLAlchemy cuts this password at '@' and reports the rest as a bad port
        url = url.replace("pa%2Fss%23w0rd", "pa%2Fss%23w0rd@sec:k3y-pass-1")
    settings = isolated_settings.model_copy(update={"shop_url": url})
    decls = Declarations.model_validate({"sources": [{"name": "shop", "kind": "sql", "url_from": "shop"}]})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError) as info:
        run_inventory(settings, dt.date(2026, 1, 5), "secrets/run", declarations=decls, use_embeddings=False)
    raised = "".join(traceback.format_exception(info.value))
    assert "shop" in str(info.value) and "svc:***@127.0.0.1" in str(info.value)
    stored = _catalog_text(settings.catalog_url())
    assert "svc:***@127.0.0.1" in stored  # the run's error names the masked URL
    for secret in SHOP_SECRETS:
        assert secret not in raised
        assert secret not in stored
        assert secret not in caplog.text


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["closed port", "raw @ and : in the password"])
def test_a_quality_run_on_an_unreachable_shop_with_secrets_stores_and_raises_them_masked(
    isolated_settings, tmp_path, caplog, kind
):
    from assay.quality import run_quality
    from assay.sources.declarations import Declarations

    url = _secret_shop_url()
    if kind != "closed port":
        url = url.replace("pa%2Fss%23w0rd", "pa%2Fss%23w0rd@sec:k3y-pass-1")
    settings = isolated_settings.model_copy(update={"shop_url": url, "shop_reader_url": url})
    suites = tmp_path / "expectations"
    suites.mkdir()
    (suites / "orders.json").write_text(json.dumps({
        "name": "orders",
        "meta": {"assay": {"source": "shop", "table": "public.orders"}, "pii_columns": []},
        "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"},
                          "meta": {"name": "id_not_null", "dimension": "completeness", "severity": "critical"}}],
    }))
    decls = Declarations.model_validate({"sources": [{"name": "shop", "kind": "sql", "url_from": "shop"}]})
    caplog.set_level(logging.DEBUG)
    try:
        report = run_quality(settings, dt.date(2026, 1, 5), "secrets/quality", suites=suites, declarations=decls,
                             raise_on_failure=False)
        shown = str(report)
    except Exception as exc:  # any typed failure: its whole text is what a user or a log sees
        shown = "".join(traceback.format_exception(exc))
    stored = _catalog_text(settings.catalog_url())
    assert "orders.json" in shown and "source shop" in shown  # the error names the suite and its source
    for secret in SHOP_SECRETS:
        assert secret not in shown
        assert secret not in stored
        assert secret not in caplog.text


@pytest.mark.integration
def test_profiling_a_source_whose_url_turned_unparsable_records_it_masked(isolated_settings, fresh_db, caplog):
    """Inventoried through a good URL; then the shop URL is mistyped with a raw '@' in its password."""
    from support.db import execute

    from assay.inventory import run_inventory
    from assay.profiling.run import run_profile
    from assay.sources.declarations import Declarations

    day = dt.date(2026, 1, 5)
    source = fresh_db("src")
    execute(source, "CREATE TABLE orders (id int, note text)")
    execute(source, "INSERT INTO orders VALUES (1, 'a'), (2, 'b')")
    good = Declarations.model_validate({"sources": [{"name": "shop", "kind": "sql", "url": source}]})
    run_inventory(isolated_settings, day, "secrets/inv", declarations=good, use_embeddings=False)
    bad_url = _secret_shop_url().replace("pa%2Fss%23w0rd", "pa%2Fss%23w0rd@sec:k3y-pass-1")
    settings = isolated_settings.model_copy(update={"shop_url": bad_url, "shop_reader_url": bad_url})
    bad = Declarations.model_validate({"sources": [{"name": "shop", "kind": "sql", "url_from": "shop"}]})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Exception) as info:  # the run fails at its end, after recording the asset's error
        run_profile(settings, day, "secrets/profile", declarations=bad)
    shown = "".join(traceback.format_exception(info.value))
    stored = _catalog_text(settings.catalog_url())
    assert "unusable URL" in stored and "svc:***@" in stored  # recorded against the asset, masked
    for secret in SHOP_SECRETS:
        assert secret not in shown
        assert secret not in stored
        assert secret not in caplog.text


@pytest.mark.integration
def test_drift_on_an_unreachable_shop_reports_the_masked_url():
    from assay.gate import drift

    url = _secret_shop_url()
    day = dt.date(2026, 1, 5)
    out = drift.measure(url, [("price", 10)], (day, day), (day, day))
    text = json.dumps({k: str(v) for k, v in out.items()})
    assert "svc:***@127.0.0.1" in text
    assert all(s not in text for s in SHOP_SECRETS)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg2://svc:p@ssw0rd-x@127.0.0.1:1/x",  # SQLAlchemy takes 'ssw0rd-x@127.0.0.1' for the host
        "postgresql+psycopg2://svc:pa:ssw0rd-x@127.0.0.1:1/x?password=qs3cret-pw",
        "postgresql+psycopg2://svc:ssw0rd-x@127.0.0.1:notaport/x",  # a port that is no number
    ],
)
def test_an_unreachable_catalog_names_its_masked_url_and_no_piece_of_the_password(url):
    from assay.catalog import migrate
    from assay.errors import DatabaseError

    with pytest.raises(DatabaseError) as info:
        migrate.check_reachable(url)
    shown = "".join(traceback.format_exception(info.value))
    assert "svc:***@" in str(info.value)
    for secret in ("ssw0rd-x", "qs3cret-pw"):
        assert secret not in shown


def test_masked_mlflow_uri_hides_query_secrets(settings):
    from assay.gate.registry import masked_uri

    s = settings.model_copy(update={"mlflow_tracking_uri": "postgresql://m@db/mlflow?password=qs3cret-pw"})
    assert "qs3cret-pw" not in masked_uri(s) and "m@db/mlflow" in masked_uri(s)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ASSAY, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **env})


SECRET_ENV = {
    "ASSAY_SHOP_URL": "postgresql+psycopg2://svc:pa%2Fss%23w0rd@db.example/shop?password=qs3cret-pw",
    "ASSAY_DATABASE_URL": "postgresql+psycopg2://svc@db.example/assay?sslpassword=k3y-pass-1",
    "MLFLOW_TRACKING_URI": "postgresql+psycopg2://svc:qs3cret-pw@db.example/mlflow",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://svc:qs3cret-pw@db.example/airflow",
}


@pytest.mark.parametrize("command", [["profile"], ["inventory"], ["catalog", "migrate"]])
def test_cli_error_lines_carry_no_piece_of_a_password(command):
    """SQLAlchemy cuts this password at its raw '@' and hands the tail to libpq as the host name."""
    res = _cli(*command, env={"ASSAY_DATABASE_URL": "postgresql+psycopg2://svc:p@ssw0rd-x@127.0.0.1:1/assay"})
    assert res.returncode == 2, res.stderr[-2000:]
    assert "assay: error:" in res.stderr and "svc:***@127.0.0.1" in res.stderr
    assert "ssw0rd-x" not in res.stdout + res.stderr


def test_cli_db_url_and_env_print_no_secret():
    shown = _cli("db", "url", "shop", env=SECRET_ENV)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "postgresql+psycopg2://svc:***@db.example/shop?password=***"
    exported = _cli("env", env=SECRET_ENV)
    assert exported.returncode == 0, exported.stderr
    out = exported.stdout + exported.stderr
    assert all(s not in out for s in SHOP_SECRETS)
    assert "AIRFLOW_HOME=" in out and "ASSAY_SHOP_URL" in out  # named, its value kept from the environment
    evaluated = subprocess.run(
        ["bash", "-c", f'eval "$({ASSAY} env)" && echo "$ASSAY_SHOP_URL|$AIRFLOW_HOME"'],
        capture_output=True, text=True, env={**os.environ, **SECRET_ENV}, timeout=60,
    )
    shop, home = evaluated.stdout.strip().split("|")
    assert shop == SECRET_ENV["ASSAY_SHOP_URL"] and home.endswith("airflow")


# ---- local services: private files, no secret in argv or logs -----------------------------------
def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _local_settings(tmp_path: Path) -> Settings:
    sqlite = f"sqlite:///{tmp_path}/x.db"
    return Settings().model_copy(update={
        "home": tmp_path / "state", "database_url": sqlite, "shop_url": sqlite,
        "mlflow_tracking_uri": "postgresql://m:qs3cret-pw@127.0.0.1:1/mlflow", "airflow_sql_alchemy_conn": sqlite,
    })


def test_airflow_admin_password_file_is_private_and_kept(tmp_path):
    from assay.ops import airflow

    settings = _local_settings(tmp_path)
    path = airflow.ensure_admin_password(settings)
    assert path == settings.airflow_home / "simple_auth_manager_passwords.json.generated"
    password = json.loads(path.read_text())["admin"]
    assert len(password) >= 16
    assert _mode(path) == 0o600
    for folder in (settings.airflow_home, settings.state_dir / "logs", settings.state_dir / "run"):
        assert _mode(folder) == 0o700, folder
    # The state folder stays traversable: the embedded PostgreSQL may run as another user below it.
    assert _mode(settings.state_dir) & 0o055 == 0o055 or not settings.state_dir.exists()
    path.chmod(0o644)  # a file an older assay (or Airflow itself) wrote world-readable
    settings.airflow_home.chmod(0o755)
    assert airflow.ensure_admin_password(settings) == path
    assert json.loads(path.read_text())["admin"] == password  # kept: the user may have noted it
    assert _mode(path) == 0o600 and _mode(settings.airflow_home) == 0o700


def test_airflow_does_not_print_a_password_it_finds_in_the_file(tmp_path):
    """With the file in place SimpleAuthManager generates nothing, so nothing reaches its output."""
    from assay.ops import airflow

    settings = _local_settings(tmp_path)
    password = json.loads(airflow.ensure_admin_password(settings).read_text())["admin"]
    code = (
        "from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager\n"
        "SimpleAuthManager().init()\nprint('init done')\n"
        "import hashlib\nprint('reads', hashlib.sha256(SimpleAuthManager.get_passwords()['admin'].encode()).hexdigest())\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=airflow.child_env(settings))
    assert "init done" in res.stdout, res.stderr[-2000:]
    assert f"reads {hashlib.sha256(password.encode()).hexdigest()}" in res.stdout  # the login checks this one
    assert password not in res.stdout + res.stderr
    assert "Password for user" not in res.stdout + res.stderr


def test_airflow_log_filter_drops_the_password_line(tmp_path):
    from assay.ops import airflow

    log = tmp_path / "airflow.log"
    colour = "\x1b[37mSimple auth manager\x1b[0m"
    before = (
        "standalone | Starting Airflow Standalone\n"
        f"{colour} | Password for user 'admin': NXUPhYfYGHpNvwgE\n"
        "Simple auth manager | Password for user 'ops': Zq7kPmW2xRtY9bCd\n"
        "api-server | INFO: Started server process\n"
    )
    log.write_text(before)
    assert airflow.redact_log(log) == 2
    after = log.read_text()
    assert "NXUPhYfYGHpNvwgE" not in after and "Zq7kPmW2xRtY9bCd" not in after
    assert "Starting Airflow Standalone" in after and "Started server process" in after
    assert len(after) == len(before)  # redacted in place: a running standalone keeps appending
    assert airflow.redact_log(log) == 0


def test_service_log_is_private_and_its_command_line_logged_masked(tmp_path, caplog):
    from assay.ops import proc

    service = proc.Service("probe", tmp_path / "state")
    caplog.set_level(logging.INFO, logger="assay.ops.proc")
    pid = proc.start(service, [sys.executable, "-c", "print('hi')", "postgresql://u:qs3cret-pw@h/db"], dict(os.environ))
    os.waitpid(pid, 0)
    assert "qs3cret-pw" not in caplog.text and "u:***@h/db" in caplog.text
    assert _mode(service.logfile) == 0o600
    assert _mode(service.logfile.parent) == 0o700 and _mode(service.pidfile.parent) == 0o700


def test_service_log_tail_shown_in_errors_masks_urls(tmp_path):
    from assay.ops import proc

    log = tmp_path / "svc.log"
    log.write_text("starting\nsqlalchemy.exc.OperationalError: postgresql://af:qs3cret-pw@db/airflow?x=1 refused\n")
    shown = proc.tail(log)
    assert "qs3cret-pw" not in shown and "af:***@db/airflow" in shown


def test_mlflow_ui_passes_its_store_uri_by_environment_not_argv(tmp_path):
    from assay.ops import mlflow_ui

    settings = _local_settings(tmp_path)
    argv, env = mlflow_ui.server_command(settings, 5999)
    assert all("qs3cret-pw" not in a for a in argv)  # argv is world-readable in `ps`
    assert env["MLFLOW_BACKEND_STORE_URI"] == settings.mlflow_uri()
