"""Training checkpoints: written atomically, keyed by dataset digest + config hash.

A checkpoint holds everything a killed run needs to continue as if it had never stopped: model,
optimizer and scheduler state, the RNG states (python, numpy, torch, CUDA), the optimizer step,
the epoch and the position in that epoch's data order, the loss curve so far and the early-stopping
state. The data order of an epoch is a pure function of (seed, epoch), so the position is enough.

The folder is ``<state_dir>/checkpoints/<digest[:16]>-<config hash[:12]>/``: a rerun on the same
data with the same settings finds it, any change of data or settings starts afresh. A write goes to
a temporary file in the same folder and is renamed over ``last.pt``, so a kill mid-write leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILENAME = "last.pt"


def config_hash(values: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the settings that change what training computes."""
    blob = json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def checkpoint_dir(root: Path, dataset_digest: str, cfg_hash: str) -> Path:
    """The checkpoint folder of one (dataset, config) pair under ``root``."""
    return root / f"{dataset_digest[:16]}-{cfg_hash[:12]}"


def rng_state() -> dict[str, Any]:
    """Every RNG state training touches."""
    import numpy as np
    import torch

    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(directory: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``directory/last.pt`` atomically; return the path."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".last-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / FILENAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return directory / FILENAME


def load(directory: Path) -> dict[str, Any] | None:
    """The last checkpoint in ``directory``, or ``None`` when there is none."""
    import torch

    path = directory / FILENAME
    if not path.exists():
        return None
    # Our own file (RNG states hold numpy arrays and python tuples), so not weights-only.
    payload: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    log.info("found checkpoint %s at step %s", path, payload.get("step"))
    return payload


def clear(directory: Path) -> None:
    """Remove a finished run's checkpoints (a finished model lives in MLflow, not here)."""
    shutil.rmtree(directory, ignore_errors=True)
