"""A training set on disk and in the catalog: canonical digest, parquet files, manifest, catalog row.

``<state>/datasets/<digest[:16]>/`` holds ``train.parquet``, ``test.parquet``, ``products.parquet``
and ``manifest.json``, written to a temp folder and renamed into place; the ``training_datasets``
row is upserted on the digest. The digest is a sha256 over a canonical JSON serialisation of both
splits, the product corpus and the split parameters, so the same window and parameters give the
same digest on any machine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.config import Settings
from assay.training.errors import DatasetError
from assay.training.evidence import SkippedDay
from assay.training.judgments import JUDGED_COLUMN

if TYPE_CHECKING:
    import pandas as pd

#: Columns of train.parquet / test.parquet, in order (test.parquet adds ``judged_label``).
COLUMNS: tuple[str, ...] = (
    "query_id", "query", "group_id", "product_id", "product_text", "label", "slice_traffic",
    "slice_category", "n_sessions",
)


@dataclass(frozen=True)
class TrainingSet:
    """A built, materialised and catalogued training set. Frames are loaded on demand."""

    dataset_id: int
    digest: str
    location: Path
    window_start: dt.date
    window_end: dt.date
    partitions: tuple[str, ...]
    quality_run_ids: tuple[int, ...]
    gx_run_ids: tuple[str, ...]
    waiver_ids: tuple[int, ...]
    n_train: int
    n_test: int
    stats: dict[str, Any] = field(hash=False, compare=False)
    skipped_days: tuple[SkippedDay, ...] = ()

    def train_frame(self) -> pd.DataFrame:
        """The training split."""
        return _read_parquet(self.location / "train.parquet")

    def test_frame(self) -> pd.DataFrame:
        """The test split (with ``judged_label``)."""
        return _read_parquet(self.location / "test.parquet")

    def products_frame(self) -> pd.DataFrame:
        """The product corpus of the window (``product_id, product_text, slice_category, price, currency``)."""
        return _read_parquet(self.location / "products.parquet")

    def corpus_texts(self) -> dict[str, str]:
        """product_id -> product_text of the whole catalogue (the BM25 baseline's IDF corpus)."""
        frame = self.products_frame()
        return dict(zip(frame["product_id"], frame["product_text"], strict=True))

    @property
    def label_max(self) -> int:
        """Top of the label scale the set was built on (its search-log contract; 3 for sets built
        before the scale was recorded)."""
        return int(self.stats.get("label_scale", {}).get("max", 3))

    @property
    def unvalidated_partitions(self) -> tuple[str, ...]:
        """Partitions that failed quality and were used anyway (``allow_unvalidated``)."""
        return tuple(self.stats.get("unvalidated_partitions", ()))


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    if not path.is_file():
        raise DatasetError(f"training set file {path} is missing: rebuild the training set")
    return pq.read_table(path).to_pandas()


def _canonical(frame: pd.DataFrame) -> bytes:
    columns = list(COLUMNS) + [c for c in (JUDGED_COLUMN,) if c in frame.columns]
    rows = frame[columns].itertuples(index=False, name=None)
    lines = (json.dumps([v.item() if hasattr(v, "item") else v for v in row], ensure_ascii=False,
                        separators=(",", ":")) for row in rows)
    return "\n".join(lines).encode("utf-8")


def dataset_digest(train: pd.DataFrame, test: pd.DataFrame, corpus: pd.DataFrame, params: dict[str, Any]) -> str:
    """sha256 over both splits (canonical JSON lines, sorted rows), the corpus and the parameters."""
    h = hashlib.sha256()
    h.update(json.dumps(params, sort_keys=True, separators=(",", ":")).encode())
    for name, frame in (("train", train), ("test", test)):
        h.update(f"\n#{name}\n".encode())
        h.update(_canonical(frame))
    h.update(b"\n#products\n")
    h.update(_canonical_corpus(corpus))
    return h.hexdigest()


def _canonical_corpus(corpus: pd.DataFrame) -> bytes:
    return "\n".join(f"{p}\t{t}" for p, t in zip(corpus["product_id"], corpus["product_text"], strict=True)).encode()


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, compression="zstd")


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def materialise(root: Path, digest: str, frames: dict[str, pd.DataFrame], manifest: dict[str, Any]) -> Path:
    """Write the files to a temp folder next to the target, then rename it into place.

    An existing folder with the same manifest is left as it is (same digest, same files);
    one whose manifest differs (e.g. new waivers recorded for the same data) is replaced.
    """
    root.mkdir(parents=True, exist_ok=True)
    target = root / digest[:16]
    tmp = root / f".tmp-{digest[:16]}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for name, frame in frames.items():
            _write_parquet(frame, tmp / f"{name}.parquet")
        manifest = {**manifest, "files": {f"{n}.parquet": _sha256_file(tmp / f"{n}.parquet") for n in frames}}
        body = json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
        (tmp / "manifest.json").write_text(body, encoding="utf-8")
        existing = target / "manifest.json"
        if existing.is_file() and existing.read_text(encoding="utf-8") == body and all(
            (target / f).is_file() and _sha256_file(target / f) == sha for f, sha in manifest["files"].items()
        ):
            shutil.rmtree(tmp)
            return target
        old = None
        if target.exists():
            old = root / f".old-{digest[:16]}-{uuid.uuid4().hex[:8]}"
            os.rename(target, old)
        os.rename(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return target
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def open_training_set(location: Path, dataset_id: int = 0) -> TrainingSet:
    """A :class:`TrainingSet` from a materialised folder (its ``manifest.json``)."""
    path = Path(location) / "manifest.json"
    if not path.is_file():
        raise DatasetError(f"{path} is missing: not a training set folder")
    m = json.loads(path.read_text(encoding="utf-8"))
    return TrainingSet(
        dataset_id=dataset_id,
        digest=m["digest"],
        location=Path(location),
        window_start=dt.date.fromisoformat(m["window_start"]),
        window_end=dt.date.fromisoformat(m["window_end"]),
        partitions=tuple(m["partitions"]),
        quality_run_ids=tuple(m["quality_run_ids"]),
        gx_run_ids=tuple(m["gx_run_ids"]),
        waiver_ids=tuple(m["waiver_ids"]),
        n_train=int(m["n_train"]),
        n_test=int(m["n_test"]),
        stats=m["stats"],
        skipped_days=tuple(SkippedDay(dt.date.fromisoformat(s["day"]), tuple(s["reasons"]))
                           for s in m["skipped_days"]),
    )


def record(settings: Settings, row: dict[str, Any], *, run_key: str | None) -> int:
    """Upsert the ``training_datasets`` row on its digest; returns its id.

    ``run_key`` is only overwritten when given (a rebuild from a notebook keeps the DAG's key).
    """
    from assay.catalog.db import session
    from assay.catalog.models import TrainingDataset
    from assay.catalog.upsert import upsert

    update = [c for c in row if c != "digest" and (c != "run_key" or run_key is not None)]
    with session(settings.catalog_url()) as s:
        (dataset_id,) = upsert(s, TrainingDataset, [row], key=["digest"], update=update)
    return int(dataset_id)
