"""``make venv`` keeps pip's output off the console: it goes to a log file whose path is printed.

The success path runs in CI for real (``make test`` installs through the same recipe). Here the
failure path: a requirement that cannot be found must still show pip's own error and the log's
path, and fail the make run, so hiding pip's chatter never hides why an install broke.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_failed_install_shows_pips_error_and_the_log(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "requirements.txt").write_text("assay-no-such-package-zzz==9.9.9\n")
    (tmp_path / "requirements-dev.txt").write_text("")
    (tmp_path / "constraints.txt").write_text("")
    (tmp_path / "pyproject.toml").write_text("")
    # The project's venv python is a 3.11 (the recipe checks the version).
    done = subprocess.run(
        ["make", "venv", f"PYTHON={sys.executable}"], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "assay-no-such-package-zzz" in out  # pip's own error reaches the console
    logs = list((tmp_path / ".assay" / "logs").glob("install-*.log"))
    assert len(logs) == 1, out
    assert f"install failed: the whole log is .assay/logs/{logs[0].name}" in out
    assert "assay-no-such-package-zzz" in logs[0].read_text()
    assert not (tmp_path / ".venv" / ".installed").exists()  # a failed install is never stamped done
