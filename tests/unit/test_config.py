"""Settings: URL resolution, external overrides and the error when the embedded server is down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.config import Settings
from assay.errors import ConfigError


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(home=tmp_path, **kw)  # type: ignore[arg-type]


def test_embedded_urls_come_from_the_state_file(tmp_path):
    (tmp_path / "pg.json").write_text(json.dumps({"socket_dir": "/s/pg"}))
    s = _settings(tmp_path)
    assert s.catalog_url() == "postgresql+psycopg2://assay_writer@localhost/assay?host=/s/pg"  # the writer role
    assert s.shop_database_url().endswith("/shop?host=/s/pg")
    assert s.mlflow_uri().endswith("/mlflow?host=/s/pg")
    assert s.airflow_db_url().endswith("/airflow?host=/s/pg")
    assert s.uses_embedded()


def test_external_urls_win(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_DATABASE_URL", "postgresql+psycopg2://u@db.example/cat")
    monkeypatch.setenv("ASSAY_SHOP_URL", "postgresql+psycopg2://u@db.example/shop")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql+psycopg2://u@db.example/af")
    s = Settings(home=tmp_path)
    # No state file: nothing may touch the embedded server.
    assert s.catalog_url() == "postgresql+psycopg2://u@db.example/cat"
    assert s.shop_database_url() == "postgresql+psycopg2://u@db.example/shop"
    assert s.mlflow_uri() == "http://mlflow:5000"
    assert s.airflow_db_url() == "postgresql+psycopg2://u@db.example/af"
    assert not s.uses_embedded()


def test_missing_state_file_says_what_to_run(tmp_path):
    with pytest.raises(ConfigError, match="assay db up"):
        _settings(tmp_path).catalog_url()


def test_corrupt_state_file_is_reported(tmp_path):
    (tmp_path / "pg.json").write_text("{not json")
    with pytest.raises(ConfigError, match="corrupt"):
        _settings(tmp_path).catalog_url()


def test_airflow_env_is_complete_and_small(tmp_path):
    (tmp_path / "pg.json").write_text(json.dumps({"socket_dir": "/s/pg"}))
    env = _settings(tmp_path, airflow_port=18080).airflow_env()
    assert env["AIRFLOW_HOME"] == str(tmp_path.resolve() / "airflow")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert int(env["AIRFLOW__CORE__PARALLELISM"]) <= 8
    assert env["AIRFLOW__API__PORT"] == "18080"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/dags")
    assert all(isinstance(v, str) for v in env.values())
