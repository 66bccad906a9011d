"""Settings: the only module of assay that reads the environment.

Every value has a default that works on a laptop with the embedded PostgreSQL (pgserver) under
``.assay/`` in the project root. Point assay at real infrastructure with the environment:

* ``ASSAY_DATABASE_URL``   the catalog database (SQLAlchemy URL).
* ``ASSAY_SHOP_URL``       the demo shop source database, as its owner (the seed writes it).
* ``ASSAY_SHOP_READER_URL`` the shop as a read-only role: every source read goes through it.
* ``MLFLOW_TRACKING_URI``  the MLflow tracking and registry store.
* ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` the Airflow metadata database.
* ``ASSAY_EXPECTATIONS_DIR`` the GX suites, one folder per source (default ``expectations/``).

When none of those is set, the URLs are built from the embedded server's state file, written by
``assay db up``: the catalog as the ``assay_writer`` role, the shop's reader as ``assay_reader``
(:mod:`assay.db.roles` creates both).
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assay.errors import ConfigError

#: Databases the embedded server holds, one per concern.
EMBEDDED_DATABASES: tuple[str, ...] = ("airflow", "assay", "mlflow", "shop")
#: The least-privilege roles (assay.db.roles): sources are read as the reader, the catalog written
#: as the writer. The embedded server's superuser stays for the seed, Airflow and MLflow.
READER_ROLE = "assay_reader"
WRITER_ROLE = "assay_writer"
EMBEDDED_SUPERUSER = "postgres"
#: A PostgreSQL duration as ``statement_timeout`` takes it: ``600000`` (ms), ``90s``, ``10min``, ``1h``.
_DURATION = re.compile(r"^\d+\s*(ms|s|min|h|d)?$")


def _project_root() -> Path:
    """The repository root: the folder holding ``pyproject.toml`` above this package."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "dags").is_dir():
            return parent
    return Path.cwd()


class Settings(BaseSettings):
    """Typed view of the environment (prefix ``ASSAY_``)."""

    model_config = SettingsConfigDict(env_prefix="ASSAY_", env_file=None, extra="ignore")

    project_root: Path = Field(default_factory=_project_root)
    home: Path | None = Field(default=None, description="State folder; default <project_root>/.assay")
    database_url: str | None = Field(default=None, description="Catalog database URL (external PostgreSQL)")
    shop_url: str | None = Field(default=None, description="Demo shop source database URL (its owner)")
    shop_reader_url: str | None = Field(
        default=None, description="The shop as a read-only role; default: ASSAY_SHOP_URL, or assay_reader embedded"
    )
    reader_statement_timeout: str = Field(
        default="10min", description="statement_timeout of the reader role (every source read)"
    )
    suite_statement_timeout: str = Field(
        default="5min", description="statement_timeout of GX validations (suite SQL included)"
    )
    # Only the role set-up of an external server (compose's airflow-init) uses these three.
    admin_url: str | None = Field(default=None, description="A superuser URL that creates the roles")
    reader_password: SecretStr | None = None
    writer_password: SecretStr | None = None
    landing_dir: Path | None = Field(default=None, description="File landing folder for supplier feeds")
    sources_file: Path | None = Field(default=None, description="Source declarations; default config/sources.yaml")
    search_log_file: Path | None = Field(
        default=None, description="Search-log contract mapping; default config/search_log.yaml"
    )
    expectations_dir: Path | None = Field(
        default=None, description="GX suites, one folder per source; default <project_root>/expectations"
    )
    judgments_dir: Path | None = Field(
        default=None, description="Graded relevance judgments (parquet) candidates are evaluated on"
    )
    log_level: str = Field(default="INFO", description="Level of the command log file (<state>/logs/)")
    verbose: bool = Field(
        default=False, description="Show every log record on the console too, as `assay -v` does"
    )
    airflow_parallelism: int = 4
    airflow_port: int = 8080
    mlflow_port: int = 5000
    # Read by assay but named by the tools that own them.
    mlflow_tracking_uri: str | None = Field(default=None, validation_alias="MLFLOW_TRACKING_URI")
    airflow_sql_alchemy_conn: str | None = Field(
        default=None, validation_alias="AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
    )

    @field_validator("reader_statement_timeout", "suite_statement_timeout")
    @classmethod
    def _duration(cls, v: str) -> str:
        if not _DURATION.match(v.strip()):
            raise ValueError(f"{v!r} is not a PostgreSQL duration such as 600000, 90s, 10min or 1h")
        return v.strip()

    # ---- paths -------------------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return (self.home or self.project_root / ".assay").resolve()

    @property
    def pgdata(self) -> Path:
        return self.state_dir / "pg"

    @property
    def pg_state_file(self) -> Path:
        return self.state_dir / "pg.json"

    @property
    def airflow_home(self) -> Path:
        return self.state_dir / "airflow"

    @property
    def logs_dir(self) -> Path:
        """Command logs (``<command>-<time>.log``) and the background services' logs."""
        return self.state_dir / "logs"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.state_dir / "mlflow-artifacts"

    @property
    def data_docs_dir(self) -> Path:
        """Where GX writes the Data Docs site (served by the assay plugin)."""
        return data_docs_dir(self.state_dir)

    @property
    def landing(self) -> Path:
        return (self.landing_dir or self.state_dir / "landing").resolve()

    @property
    def suites_dir(self) -> Path:
        """The live suites: ``<expectations>/<source>/<asset>.json`` (see :mod:`assay.quality.suites`)."""
        return (self.expectations_dir or self.project_root / "expectations").resolve()

    @property
    def judgments(self) -> Path:
        """Folder of judged (query, product, grade) files; default: the demo seed's ``<landing>/_truth``."""
        return (self.judgments_dir or self.landing / "_truth").resolve()

    @property
    def dags_folder(self) -> Path:
        return self.project_root / "dags"

    @property
    def plugins_folder(self) -> Path:
        return self.project_root / "plugins"

    # ---- URLs ----------------------------------------------------------------------------------
    def embedded_socket_dir(self) -> str:
        """Socket folder of the embedded server, from the state file ``assay db up`` writes."""
        try:
            state = json.loads(self.pg_state_file.read_text())
            return str(state["socket_dir"])
        except FileNotFoundError:
            raise ConfigError(
                "the embedded PostgreSQL is not running (no "
                f"{self.pg_state_file}): run `assay db up` or `make demo`, or set ASSAY_DATABASE_URL"
            ) from None
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"{self.pg_state_file} is corrupt ({exc}): run `assay db up`") from exc

    def embedded_url(
        self, database: str, driver: str = "postgresql+psycopg2", user: str = EMBEDDED_SUPERUSER
    ) -> str:
        """URL of one database on the embedded server, as ``user`` (socket trust: no password).

        ``localhost`` is a placeholder that libpq's ``host=`` query parameter overrides; GX rejects
        URLs without a host, so every client gets the same form.
        """
        return f"{driver}://{user}@localhost/{database}?host={self.embedded_socket_dir()}"

    def catalog_url(self) -> str:
        """The catalog, as the writer role on the embedded server (owner of the catalog's tables)."""
        return self.database_url or self.embedded_url("assay", user=WRITER_ROLE)

    def source_reader_url(self) -> str:
        """The shop as assay reads it: the read-only role (ASSAY_SHOP_READER_URL, or embedded ``assay_reader``).

        An external ``ASSAY_SHOP_URL`` without a reader URL is read with its own role: the operator
        chose that role (docs/compose.md says what to grant a read-only one).
        """
        return self.shop_reader_url or self.shop_url or self.embedded_url("shop", user=READER_ROLE)

    def shop_database_url(self) -> str:
        return self.shop_url or self.embedded_url("shop")

    def mlflow_uri(self) -> str:
        return self.mlflow_tracking_uri or self.embedded_url("mlflow")

    def airflow_db_url(self) -> str:
        return self.airflow_sql_alchemy_conn or self.embedded_url("airflow")

    def uses_embedded(self) -> bool:
        """True when at least one store still points at the embedded server."""
        return not (
            self.database_url and self.shop_url and self.mlflow_tracking_uri and self.airflow_sql_alchemy_conn
        )

    def airflow_env(self) -> dict[str, str]:
        """Environment for Airflow processes (standalone, ``dags test``) started by assay."""
        env = {
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.airflow_db_url(),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.plugins_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.airflow_parallelism),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__API__PORT": str(self.airflow_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            # Task workers reach the API server here; the default assumes port 8080.
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.airflow_port}/execution/",
            # serve-logs ports follow the API port so two installs on one machine do not collide.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.airflow_port + 1),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.airflow_port + 2),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "ASSAY_DATABASE_URL": self.catalog_url(),
            "ASSAY_SHOP_URL": self.shop_database_url(),
            "ASSAY_SHOP_READER_URL": self.source_reader_url(),
            "ASSAY_HOME": str(self.state_dir),
            "MLFLOW_TRACKING_URI": self.mlflow_uri(),
            "HF_HUB_OFFLINE": "1",
            "GX_ANALYTICS_ENABLED": "false",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "1",
        }
        return env


def data_docs_dir(state_dir: Path) -> Path:
    """The Data Docs site under a state folder: the one place this path is spelled."""
    return state_dir / "gx" / "data_docs"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; call ``get_settings.cache_clear()`` in tests)."""
    return Settings()


def environ_snapshot() -> dict[str, str]:
    """A copy of the process environment, for starting child processes."""
    return dict(os.environ)


def with_session_options(url: str, **settings: str) -> str:
    """``url`` whose sessions start with each ``name = value`` of ``settings`` (libpq ``options``, merged)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    query = dict(u.query)
    flags = " ".join(f"-c {name}={value.replace(' ', '')}" for name, value in settings.items())
    existing = query.get("options")
    query["options"] = f"{existing} {flags}" if isinstance(existing, str) and existing else flags
    return u.set(query=query).render_as_string(hide_password=False)


def read_only_url(url: str) -> str:
    """A PostgreSQL ``url`` whose sessions start read-only; any other URL unchanged.

    Whatever role a source URL names (the catalog's owner, an operator's), reading it does not
    write. A session may lift the default; the reader role's missing grants stop a determined one.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        if make_url(url).get_backend_name() != "postgresql":
            return url
        return with_session_options(url, default_transaction_read_only="on")
    except (ArgumentError, ValueError):
        # Unparsable (e.g. a raw '@' in a password): left as it is, so the reader that opens it
        # records the source's masked "unusable URL" error instead of a crash here.
        return url
