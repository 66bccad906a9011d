"""Test session set-up: isolate the environment first, then load the shared support in tests/support.

The test server lives in ``.assay/test`` (ASSAY_TEST_HOME overrides), apart from the demo's
``.assay``, so ``make test`` never touches demo state. Fixtures and helpers shared by test modules
live in ``tests/support`` (registered below); a module keeps only what is its own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_HOME = Path(os.environ.get("ASSAY_TEST_HOME", ROOT / ".assay" / "test"))

# Before any assay import reads the environment: tests never use the developer's demo state.
os.environ["ASSAY_HOME"] = str(TEST_HOME)
for var in ("ASSAY_DATABASE_URL", "ASSAY_SHOP_URL", "MLFLOW_TRACKING_URI", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
    os.environ.pop(var, None)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

# Imported after the lines above (pytest reads this name once the module has run); importable as
# ``support`` because pytest puts this folder on sys.path for its conftest.
pytest_plugins = ["support.db", "support.worlds", "support.gate_world", "support.airflow", "support.models",
                  "support.standalone"]

if TYPE_CHECKING:
    from assay.config import Settings

#: Variables that code under test may set in-process (``mlflow.set_tracking_uri`` exports
#: MLFLOW_TRACKING_URI to the environment); restored after every test so none leaks into the next.
_LEAKY_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


#: Module globals where ``mlflow.set_tracking_uri`` / ``set_registry_uri`` keep the URI; they win over
#: the environment, so a later test's client would otherwise reach an earlier test's (dropped) store.
_LEAKY_GLOBALS = (("mlflow.tracking._model_registry.utils", "_registry_uri"),
                  ("mlflow.tracking._tracking_service.utils", "_tracking_uri"))


@pytest.fixture(autouse=True)
def _restore_leaky_env() -> Iterator[None]:
    before = {var: os.environ.get(var) for var in _LEAKY_ENV}
    globals_before = {(mod, attr): getattr(sys.modules[mod], attr, None)
                      for mod, attr in _LEAKY_GLOBALS if mod in sys.modules}
    yield
    for var, value in before.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
    for mod, attr in _LEAKY_GLOBALS:
        if mod in sys.modules:
            setattr(sys.modules[mod], attr, globals_before.get((mod, attr)))


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The session's settings: state in TEST_HOME, stores on the embedded test server."""
    from assay.config import Settings, get_settings

    get_settings.cache_clear()
    s = get_settings()
    assert isinstance(s, Settings)
    assert s.state_dir == TEST_HOME.resolve()
    return s
