"""Run ``assay train`` as its own process: a request file in, a result file out.

This is how the ``train`` DAG runs training: a worker on the ``gpu`` queue (or a container started
with this command) owns the GPU memory for the process's lifetime only, and an out-of-memory kill
fails the task, not the worker. The process's output streams into the task log; the ids come back
through the result file (:func:`assay.training.request.read_result`), never by parsing stdout.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
from pathlib import Path

from assay.errors import TrainingError
from assay.training.request import TrainRequest, read_result

log = logging.getLogger(__name__)

#: Lines of the process's output kept for the error message of a failed run.
TAIL_LINES = 20


def command(request_file: Path, result_file: Path) -> list[str]:
    """The ``assay train`` command line for a request file and a result file."""
    # -v: every record of the child comes back on its output, so the task log (which relays it) is
    # complete rather than split between the task log and the child's own file under logs/.
    return [
        sys.executable, "-m", "assay.cli", "-v", "train", "--request", str(request_file), "--result",
        str(result_file),
    ]


def train_in_subprocess(request: TrainRequest, env: dict[str, str] | None = None) -> dict[str, str]:
    """Run ``assay train --request … --result …`` as its own process and return the result ids.

    Raises:
        TrainingError: the command failed (the message carries its last error lines) or left no
            valid result file.
    """
    from assay.config import environ_snapshot

    with tempfile.TemporaryDirectory(prefix="assay-train-") as work:
        request_file, result_file = Path(work) / "request.json", Path(work) / "result.json"
        request_file.write_text(request.to_json(), encoding="utf-8")
        cmd = command(request_file, result_file)
        log.info("running %s for %s", " ".join(cmd), request.run_key)
        # One stream (stdout joined to stderr): the log, the progress bar and the printed ids all
        # go to the task log, and a full pipe can never block the child.
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env if env is not None else environ_snapshot(),
        )
        tail: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            log.info("train | %s", line.rstrip())
            tail = [*tail[-(TAIL_LINES - 1) :], line.rstrip()]
        code = proc.wait()
        if code != 0:
            raise TrainingError(f"`assay train` exited {code}: " + " | ".join(t for t in tail if t)[-3000:])
        return read_result(result_file)
