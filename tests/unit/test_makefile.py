"""The two commands' guard rails: `make` refuses a missing or wrong Python with a clear message,
and CI runs the README's test command."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    # -B: always run the install recipe, whose first step is the Python check (it fails before
    # touching .venv, so this never reinstalls anything).
    return subprocess.run(["make", "-B", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=60)


def test_missing_python_is_named():
    res = _make("venv", "PYTHON=python3.11-does-not-exist")
    assert res.returncode != 0
    assert "assay needs Python 3.11" in res.stdout + res.stderr
    assert "python3.11-does-not-exist" in res.stdout + res.stderr


def test_wrong_python_version_is_named(tmp_path):
    fake = tmp_path / "python-fake"
    fake.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Python 3.12.4"; exit 0; fi\nexit 1\n')
    fake.chmod(0o755)
    res = _make("venv", f"PYTHON={fake}")
    assert res.returncode != 0
    assert "assay needs Python 3.11" in res.stdout + res.stderr
    assert "3.12.4" in res.stdout + res.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme
    assert "make test" in ci
    assert "set -euo pipefail" in ci
