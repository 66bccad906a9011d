"""The contract between the ``train`` DAG, ``assay train`` and the ``torchrun`` workers.

:class:`TrainRequest` is one frozen value carrying every training option once: the window, the run
key, the process count and a :class:`~assay.training.config.TrainConfig`. It crosses each boundary
as JSON (:meth:`TrainRequest.to_json` / :meth:`TrainRequest.from_json`):

* the DAG builds it from its Params (:meth:`TrainRequest.from_params`) and runs
  ``assay train --request FILE --result FILE`` (:mod:`assay.training.process`);
* ``assay train`` builds the same request from its options (through ``from_params`` too) or reads
  it from ``--request``;
* data-parallel workers read it from their job folder (:mod:`assay.training.ddp`).

Results come back as :class:`TrainOutcome` ids in a JSON file written atomically
(:func:`write_result` / :func:`read_result`); ``assay train`` also prints the same object as its
one stdout line.

**Adding a training option.** Add a field (with its default and validation) to
:class:`~assay.training.config.TrainConfig`; that is the one place. ``from_params`` accepts any
Param named like a ``TrainConfig`` or request field, JSON carries every field, and ``assay train
--request FILE`` reaches it. To show it in the DAG's trigger form, also add a ``Param`` with that
name (type and description only; null or empty means the default of
:data:`~assay.training.config.DEFAULT_CONFIG`). A Param naming no option fails the run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.errors import AssayError, TrainingError
from assay.training.config import DEFAULT_CONFIG, TrainConfig

#: Version of the request and result JSON documents (bumped when a field changes meaning).
SCHEMA = 1
#: Keys of the result document (the ids a DAG passes on through XCom).
RESULT_KEYS: tuple[str, ...] = ("run_id", "model_uri", "model_name", "version", "dataset_digest")


@dataclass(frozen=True)
class TrainRequest:
    """One training run as asked for: window, idempotency key, processes and trainer settings.

    Attributes:
        window_end, days: the training window (last day inclusive, length in days).
        run_key: ``dag_id/run_id`` or ``cli/<…>``; a retry with the same key never registers twice.
        nproc: data-parallel processes (``torchrun``); 1 trains in the calling process.
        allow_unvalidated: include days that failed quality (the gate will refuse the model).
        max_queries: cap the queries of the training set (quick runs).
        config: the trainer settings (every field a training option).
    """

    window_end: dt.date
    run_key: str
    days: int = 14
    nproc: int = 1
    allow_unvalidated: bool = False
    max_queries: int | None = None
    config: TrainConfig = DEFAULT_CONFIG

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any], logical_date: dt.date, *, run_key: str
    ) -> TrainRequest:
        """The request of a DAG run's Params (or of ``assay train``'s options, named the same).

        ``None`` or ``""`` leaves the default; ``window_end`` empty is ``logical_date``;
        ``max_steps`` 0 means no limit.

        Raises:
            AssayError: ``window_end`` is not a date.
            TrainingError: a key names no option, or a value is out of range.
        """
        values = {k: v for k, v in params.items() if v is not None and v != ""}
        unknown = sorted(set(values) - (_REQUEST_FIELDS - {"run_key"}) - _CONFIG_FIELDS)
        if unknown:
            raise TrainingError(f"unknown training option(s) {', '.join(unknown)} (see TrainConfig)")
        window_end = values.pop("window_end", logical_date)
        if not isinstance(window_end, dt.date):
            try:
                window_end = dt.date.fromisoformat(str(window_end))
            except ValueError:
                raise AssayError(f"not a date (YYYY-MM-DD): {window_end!r}") from None
        if values.get("max_steps") == 0:
            values["max_steps"] = None
        overrides = {k: values.pop(k) for k in list(values) if k in _CONFIG_FIELDS}
        config = dataclasses.replace(DEFAULT_CONFIG, **_as_declared(overrides))
        return cls(window_end=window_end, run_key=run_key, config=config, **values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: plain values, ``config`` as a nested object of every TrainConfig field."""
        return {
            "schema": SCHEMA,
            "window_end": self.window_end.isoformat(),
            "run_key": self.run_key,
            "days": self.days,
            "nproc": self.nproc,
            "allow_unvalidated": self.allow_unvalidated,
            "max_queries": self.max_queries,
            "config": self.config.as_params(),
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainRequest:
        """The request of :meth:`to_dict`'s form (config fields left out take ``DEFAULT_CONFIG``'s).

        Raises:
            TrainingError: another schema, a missing or unknown key, or a bad value.
        """
        body = dict(data)
        if body.pop("schema", SCHEMA) != SCHEMA:
            raise TrainingError(f"training request schema {data.get('schema')!r}, expected {SCHEMA}")
        config = body.pop("config", {})
        unknown = sorted((set(body) - _REQUEST_FIELDS) | (set(config) - _CONFIG_FIELDS))
        if unknown:
            raise TrainingError(f"training request has unknown key(s) {', '.join(unknown)}")
        try:
            window_end = dt.date.fromisoformat(body.pop("window_end"))
            run_key = str(body.pop("run_key"))
        except (KeyError, TypeError, ValueError) as exc:
            raise TrainingError(f"training request needs window_end (YYYY-MM-DD) and run_key: {exc}") from None
        config = dataclasses.replace(DEFAULT_CONFIG, **_as_declared(config))
        return cls(window_end=window_end, run_key=run_key, config=config, **body)

    @classmethod
    def from_json(cls, text: str) -> TrainRequest:
        """The request of :meth:`to_json`'s text.

        Raises:
            TrainingError: not JSON, or not a valid request (see :meth:`from_dict`).
        """
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise TrainingError(f"training request is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise TrainingError("training request must be a JSON object")
        return cls.from_dict(data)

    @classmethod
    def read(cls, path: Path) -> TrainRequest:
        """The request in the JSON file ``path``."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise TrainingError(f"cannot read training request {path}: {exc}") from None
        return cls.from_json(text)


_REQUEST_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainRequest)) - {"config"}
_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainConfig))
#: TrainConfig fields declared ``float``: a form or JSON may send 0 for 0.0.
_FLOAT_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainConfig) if str(f.type).startswith("float"))


def _as_declared(values: dict[str, Any]) -> dict[str, Any]:
    """Integers given for float fields as floats, so params, logs and the checkpoint key read the
    same whichever way the value came in (``--teacher-weight 0`` was always 0.0)."""
    return {
        k: float(v) if k in _FLOAT_FIELDS and isinstance(v, int) and not isinstance(v, bool) else v
        for k, v in values.items()
    }


@dataclass(frozen=True)
class TrainOutcome:
    """What a training run produced: ids and URIs only (safe for XCom and the CLI)."""

    run_id: str
    model_uri: str
    model_name: str
    version: str
    dataset_digest: str
    metrics: dict[str, float] = field(default_factory=dict, compare=False)
    reused: bool = False

    def ids(self) -> dict[str, str]:
        """The result document: :data:`RESULT_KEYS` and their values."""
        return {
            "run_id": self.run_id,
            "model_uri": self.model_uri,
            "model_name": self.model_name,
            "version": self.version,
            "dataset_digest": self.dataset_digest,
        }


def write_result(path: Path, ids: Mapping[str, str]) -> None:
    """Write the result document to ``path`` atomically (temp file in the same folder, renamed)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(dict(ids), fh, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_result(path: Path) -> dict[str, str]:
    """The result document in ``path``.

    Raises:
        TrainingError: the file is missing, not JSON, or lacks one of :data:`RESULT_KEYS`.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TrainingError(f"`assay train` left no readable result in {path}: {exc}") from None
    missing = [k for k in RESULT_KEYS if not isinstance(data, dict) or not isinstance(data.get(k), str)]
    if missing:
        raise TrainingError(f"training result {path} lacks {', '.join(missing)}")
    return {k: data[k] for k in RESULT_KEYS}
