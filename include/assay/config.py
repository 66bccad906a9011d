"""Settings: the only module of assay that reads the environment.

Every value has a default that works on a laptop with the embedded PostgreSQL (pgserver) under
``.assay/`` in the project root. Point assay at real infrastructure with the environment:

* ``ASSAY_DATABASE_URL``   the catalog database (SQLAlchemy URL).
* ``ASSAY_SHOP_URL``       the demo shop source database.
* ``MLFLOW_TRACKING_URI``  the MLflow tracking and registry store.
* ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` the Airflow metadata database.

When none of those is set, the URLs are built from the embedded server's state file, written by
``assay db up``.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from assay.errors import ConfigError

#: Databases the embedded server holds, one per concern.
EMBEDDED_DATABASES: tuple[str, ...] = ("airflow", "assay", "mlflow", "shop")


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
    shop_url: str | None = Field(default=None, description="Demo shop source database URL")
    landing_dir: Path | None = Field(default=None, description="File landing folder for supplier feeds")
    sources_file: Path | None = Field(default=None, description="Source declarations; default config/sources.yaml")
    judgments_dir: Path | None = Field(
        default=None, description="Graded relevance judgments (parquet) candidates are evaluated on"
    )
    log_level: str = "INFO"
    airflow_parallelism: int = 4
    airflow_port: int = 8080
    mlflow_port: int = 5000
    # Read by assay but named by the tools that own them.
    mlflow_tracking_uri: str | None = Field(default=None, validation_alias="MLFLOW_TRACKING_URI")
    airflow_sql_alchemy_conn: str | None = Field(
        default=None, validation_alias="AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
    )

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

    def embedded_url(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        """URL of one database on the embedded server.

        ``localhost`` is a placeholder that libpq's ``host=`` query parameter overrides; GX rejects
        URLs without a host, so every client gets the same form.
        """
        return f"{driver}://postgres@localhost/{database}?host={self.embedded_socket_dir()}"

    def catalog_url(self) -> str:
        return self.database_url or self.embedded_url("assay")

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
