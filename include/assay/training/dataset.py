"""The training-set builder: validated partitions in, a frozen, content-addressed query/product set out.

``build_training_set(settings, window_end, days=14)``:

1. **Evidence.** For each day of the window, the latest quality run of every event table
   (``search_sessions``, ``impressions``, ``interactions``) on that day's partition must be ``ok``;
   the ``products`` table (validated whole, partition ``__all__``) must have an ``ok`` latest run on
   or before ``window_end``. Other days are skipped with a reason. ``allow_unvalidated=True`` keeps
   them and lists them in ``stats["unvalidated_partitions"]`` (the promotion gate refuses such sets).
2. **Rows.** One example per (normalised query, product) shown on a usable day, labelled
   ESCI-style with the best event of any of its sessions: purchase 3, add to cart 2, click 1,
   impression without a click 0. Duplicated events cannot inflate a label (max, not count).
3. **Split by query group.** Near-duplicate queries (typos, word order, punctuation; see
   :func:`assay.training.text.near_duplicate_groups`) form one group, and a group is wholly in
   train or wholly in test; groups are ordered by ``sha256(seed:group)`` and taken into test while
   they fit in ``test_fraction`` of the rows (first fit, never above it).
4. **Slices.** ``slice_traffic``: ``head`` for the most frequent queries that together cover the
   first half of the window's sessions (``HEAD_SHARE``), ``tail`` otherwise. ``slice_category``:
   the shop category (slug of the 2-level path) of the query's most-interacted product, or of the
   majority of its impressions when nothing was clicked.
5. **Materialise** ``<state>/datasets/<digest[:16]>/`` (train/test/products parquet + manifest,
   written to a temp folder and renamed) and **record** the ``training_datasets`` row (upsert on the
   digest) with the partitions, quality runs, GX run ids and waivers relied on.

The digest is a sha256 over a canonical JSON serialisation of both splits, the product corpus and
the split parameters, so the same window and parameters give the same digest on any machine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.config import Settings
from assay.errors import TrainingError
from assay.names import ALL_PARTITIONS
from assay.training import text as txt
from assay.training.judgments import JUDGED_COLUMN, judged_labels, load_judgments

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: Event tables a day's examples are read from; each must pass quality on that day.
EVENT_TABLES: tuple[str, ...] = ("search_sessions", "impressions", "interactions")
#: The dimension table product texts come from; validated whole (partition ``__all__``).
PRODUCTS_TABLE = "products"
#: Partition key of tables the quality stage validates whole.
#: The catalog source the shop tables belong to (config/sources.yaml).
SHOP_SOURCE = "shop"
SHOP_SCHEMA = "public"
#: ESCI-style grade of the best event of a (session, product).
EVENT_LABELS: dict[str, int] = {"click": 1, "add_to_cart": 2, "purchase": 3}
#: ``head`` = the most frequent queries that together cover this share of the window's sessions.
HEAD_SHARE = 0.5
#: Bumped whenever the rows, split or serialisation change meaning (part of the digest).
FORMAT_VERSION = 2
#: Columns of train.parquet / test.parquet, in order (test.parquet adds ``judged_label``).
COLUMNS: tuple[str, ...] = (
    "query_id", "query", "group_id", "product_id", "product_text", "label", "slice_traffic",
    "slice_category", "n_sessions",
)
PRICE_BINS: tuple[float, ...] = (0, 50, 100, 250, 500, 1000, 2500)


class DatasetError(TrainingError):
    """The training set cannot be built from this window (bad input); the message says why."""


class NoValidatedData(DatasetError):
    """No day of the window has validated partitions of every table the training set reads."""


@dataclass(frozen=True)
class SkippedDay:
    day: dt.date
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "reasons": list(self.reasons)}


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
        return _read_parquet(self.location / "train.parquet")

    def test_frame(self) -> pd.DataFrame:
        return _read_parquet(self.location / "test.parquet")

    def products_frame(self) -> pd.DataFrame:
        """The product corpus of the window (``product_id, product_text, slice_category, price, currency``)."""
        return _read_parquet(self.location / "products.parquet")

    def corpus_texts(self) -> dict[str, str]:
        """product_id -> product_text of the whole catalogue (the BM25 baseline's IDF corpus)."""
        frame = self.products_frame()
        return dict(zip(frame["product_id"], frame["product_text"], strict=True))

    @property
    def unvalidated_partitions(self) -> tuple[str, ...]:
        return tuple(self.stats.get("unvalidated_partitions", ()))


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    if not path.is_file():
        raise DatasetError(f"training set file {path} is missing: rebuild the training set")
    return pq.read_table(path).to_pandas()


# ---- quality evidence -----------------------------------------------------------------------------
@dataclass
class _Evidence:
    """The latest quality runs of one table partition (one per suite that validates it)."""

    table: str
    partition_key: str
    logical_date: dt.date | None = None
    run_ids: list[int] = field(default_factory=list)
    gx_run_ids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def partition(self) -> str:
        day = self.logical_date.isoformat() if self.partition_key == ALL_PARTITIONS and self.logical_date \
            else self.partition_key
        return f"{self.table}:{day}"

    @property
    def ok(self) -> bool:
        return bool(self.run_ids) and not self.problems


def _failed_expectations(s: Any, run_ids: list[int]) -> dict[int, list[str]]:
    from sqlalchemy import select

    from assay.catalog.models import ExpectationResult

    if not run_ids:
        return {}
    rows = s.execute(
        select(ExpectationResult.quality_run_id, ExpectationResult.expectation_id)
        .where(ExpectationResult.quality_run_id.in_(run_ids), ExpectationResult.success.is_(False),
               ExpectationResult.waived.is_(False), ExpectationResult.severity == "critical")
        .order_by(ExpectationResult.quality_run_id, ExpectationResult.expectation_id)
    ).all()
    out: dict[int, list[str]] = defaultdict(list)
    for run_id, eid in rows:
        out[run_id].append(eid)
    return out


def _collect_evidence(
    settings: Settings, days: list[dt.date], window_end: dt.date
) -> tuple[dict[tuple[str, dt.date], _Evidence], _Evidence]:
    """Evidence per (event table, day) and the products table's evidence."""
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import Asset, QualityRun, QualityStatus, Source

    tables = (*EVENT_TABLES, PRODUCTS_TABLE)
    keys = [d.isoformat() for d in days]
    with session(settings.catalog_url()) as s:
        assets = dict(
            s.execute(
                select(Asset.name, Asset.id)
                .join(Source, Source.id == Asset.source_id)
                .where(Source.name == SHOP_SOURCE, Asset.namespace == SHOP_SCHEMA, Asset.name.in_(tables))
            ).all()
        )
        by_id = {aid: name for name, aid in assets.items()}
        runs = s.execute(
            select(QualityRun.id, QualityRun.asset_id, QualityRun.suite_name, QualityRun.partition_key,
                   QualityRun.logical_date, QualityRun.status, QualityRun.gx_run_id, QualityRun.error)
            .where(QualityRun.asset_id.in_(list(by_id)),
                   QualityRun.partition_key.in_([*keys, ALL_PARTITIONS]),
                   QualityRun.logical_date <= window_end)
            .order_by(QualityRun.logical_date, QualityRun.id)
        ).all()
        # Latest run per (asset, suite, partition): later logical date wins, then the later row.
        latest: dict[tuple[str, str, str], Any] = {}
        for r in runs:
            latest[(by_id[r.asset_id], r.suite_name, r.partition_key)] = r
        # The products table: only its runs of the newest logical date count.
        product_runs = [r for (t, _, pk), r in latest.items() if t == PRODUCTS_TABLE and pk == ALL_PARTITIONS]
        if product_runs:
            newest = max(r.logical_date for r in product_runs)
            product_runs = [r for r in product_runs if r.logical_date == newest]
        chosen = [r for (t, _, pk), r in latest.items() if t != PRODUCTS_TABLE and pk != ALL_PARTITIONS]
        chosen += product_runs
        failed = _failed_expectations(s, [r.id for r in chosen])

    def describe(r: Any) -> str:
        what = ", ".join(failed.get(r.id, [])) or (r.error or "no critical failure recorded")
        return f"quality run {r.id} ({r.suite_name}) is {r.status}: {what}"

    evidence: dict[tuple[str, dt.date], _Evidence] = {}
    for table in EVENT_TABLES:
        for day in days:
            ev = _Evidence(table, day.isoformat(), day)
            evidence[(table, day)] = ev
    products = _Evidence(PRODUCTS_TABLE, ALL_PARTITIONS)
    for r in chosen:
        table = by_id[r.asset_id]
        ev = products if table == PRODUCTS_TABLE else evidence[(table, dt.date.fromisoformat(r.partition_key))]
        ev.logical_date = ev.logical_date or r.logical_date
        ev.run_ids.append(int(r.id))
        if r.gx_run_id:
            ev.gx_run_ids.append(_gx_run_id(str(r.gx_run_id)))
        if r.status != QualityStatus.OK.value:
            ev.problems.append(describe(r))
    for key, ev in evidence.items():
        if not ev.run_ids:
            ev.problems.append(f"no quality run of {key[0]} on partition {key[1].isoformat()}"
                               + ("" if key[0] in assets else f" (asset {SHOP_SCHEMA}.{key[0]} is not in the catalog)"))
    if not products.run_ids:
        products.problems.append(f"no quality run of {PRODUCTS_TABLE} on or before {window_end.isoformat()}")
    return evidence, products


def _gx_run_id(stored: str) -> str:
    """``run_name/run_time`` of a GX run id stored as its JSON form (GX's own store-key layout)."""
    try:
        parsed = json.loads(stored)
    except ValueError:
        return stored
    if isinstance(parsed, dict) and "run_name" in parsed:
        return f"{parsed.get('run_name')}/{parsed.get('run_time')}"
    return stored


# ---- reading the shop -------------------------------------------------------------------------
def _shop_engine(settings: Settings) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from assay.catalog.db import connect_args

    url = settings.shop_database_url()
    return create_engine(url, poolclass=NullPool, connect_args=connect_args(url))


def _read_rows(settings: Settings, days: list[dt.date]) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(raw query, product) examples, sessions per raw query, and NULL-query sessions on ``days``.

    The label is computed per (session, product) in SQL (best event of that impression), then the
    max over sessions and the number of sessions are taken per (raw query, product).
    """
    import pandas as pd
    from sqlalchemy import Integer, and_, case, func, select

    from assay.seed.schema import impressions, interactions, search_sessions

    s, i, e = search_sessions.c, impressions.c, interactions.c
    grade = case(*[(e.event_type == name, value) for name, value in EVENT_LABELS.items()], else_=0)
    per_session = (
        select(
            s.query.label("query"),
            i.product_id.label("product_id"),
            i.session_id.label("session_id"),
            func.coalesce(func.max(grade), 0).cast(Integer).label("label"),
        )
        .select_from(
            impressions.join(search_sessions, s.session_id == i.session_id).outerjoin(
                interactions,
                and_(e.session_id == i.session_id, e.product_id == i.product_id, e.day.in_(days)),
            )
        )
        .where(i.day.in_(days), s.day.in_(days), s.query.is_not(None))
        .group_by(s.query, i.product_id, i.session_id)
        .subquery("per_session")
    )
    p = per_session.c
    examples = (
        select(p.query, p.product_id, func.max(p.label).label("label"),
               func.count(p.session_id).label("n_sessions"),
               func.count(p.session_id).filter(p.label > 0).label("n_interacted"))
        .group_by(p.query, p.product_id)
    )
    sessions = (
        select(s.query, func.count().label("n"))
        .where(s.day.in_(days), s.query.is_not(None))
        .group_by(s.query)
    )
    nulls = select(func.count()).select_from(search_sessions).where(s.day.in_(days), s.query.is_(None))
    engine = _shop_engine(settings)
    try:
        with engine.connect() as conn:
            rows = pd.DataFrame(conn.execute(examples).all(),
                                columns=["query", "product_id", "label", "n_sessions", "n_interacted"])
            freq = pd.DataFrame(conn.execute(sessions).all(), columns=["query", "n"])
            null_queries = int(conn.execute(nulls).scalar_one())
    finally:
        engine.dispose()
    return rows, freq, null_queries


def read_products(settings: Settings) -> pd.DataFrame:
    """The whole product catalogue: ``product_id, product_text, slice_category, price, currency``."""
    import pandas as pd
    from sqlalchemy import select

    from assay.seed.schema import products

    c = products.c
    stmt = select(c.product_id, c.title, c.brand, c.category_path, c.colour, c.size, c.material, c.price,
                  c.currency).order_by(c.product_id)
    engine = _shop_engine(settings)
    try:
        with engine.connect() as conn:
            raw = [dict(r._mapping) for r in conn.execute(stmt)]
    finally:
        engine.dispose()
    return pd.DataFrame(
        {
            "product_id": [r["product_id"] for r in raw],
            "product_text": [txt.product_text(r) for r in raw],
            "slice_category": [txt.category_slug(r["category_path"]) for r in raw],
            "price": [float(r["price"]) if r["price"] is not None else None for r in raw],
            "currency": [r["currency"] for r in raw],
        },
        columns=["product_id", "product_text", "slice_category", "price", "currency"],
    )


# ---- rows, groups, slices, split ----------------------------------------------------------------
def examples_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Re-aggregate (raw query, product) rows to (normalised query, product): max label, summed
    sessions (a session has one query, so sums of distinct sessions stay exact)."""
    frame = rows.assign(query=rows["query"].map(txt.normalise_query))
    frame = frame[frame["query"] != ""]
    out = (
        frame.groupby(["query", "product_id"], sort=True, as_index=False)
        .agg(label=("label", "max"), n_sessions=("n_sessions", "sum"), n_interacted=("n_interacted", "sum"))
    )
    return out


def head_queries(frequency: dict[str, int], share: float = HEAD_SHARE) -> set[str]:
    """The most frequent queries that together cover ``share`` of the sessions (the query that
    crosses the line is included); ties in frequency are broken by the query text."""
    total = sum(frequency.values())
    head: set[str] = set()
    covered = 0
    for q, n in sorted(frequency.items(), key=lambda kv: (-kv[1], kv[0])):
        if covered >= share * total:
            break
        head.add(q)
        covered += n
    return head


def query_categories(examples: pd.DataFrame, categories: dict[str, str]) -> dict[str, str]:
    """Category slug per query: its most-interacted product's (sessions with an event, then best
    label, then product id), else the category of the majority of its impressions (ties by slug)."""
    frame = examples.assign(category=examples["product_id"].map(categories).fillna("unknown"))
    touched = (
        frame[frame["n_interacted"] > 0]
        .sort_values(["query", "n_interacted", "label", "product_id"], ascending=[True, False, False, True])
        .drop_duplicates("query")
    )
    majority = (
        frame.groupby(["query", "category"], as_index=False)["n_sessions"].sum()
        .sort_values(["query", "n_sessions", "category"], ascending=[True, False, True])
        .drop_duplicates("query")
    )
    out = dict(zip(majority["query"].astype(str), majority["category"].astype(str), strict=True))
    out.update(zip(touched["query"].astype(str), touched["category"].astype(str), strict=True))
    return out


def split_groups(group_rows: dict[str, int], test_fraction: float, seed: int) -> set[str]:
    """The groups (by key) that go to test.

    Groups are ordered by ``sha256("<seed>:<key>")`` and each is taken if it still fits in
    ``test_fraction`` of the rows (first fit: a big group is passed over, later small ones can
    still fill up). Deterministic and independent of input order; the test share never exceeds
    ``test_fraction`` (it can be empty when every group is bigger than the target).
    """
    target = test_fraction * sum(group_rows.values())
    order = sorted(group_rows, key=lambda k: (hashlib.sha256(f"{seed}:{k}".encode()).hexdigest(), k))
    test: set[str] = set()
    taken = 0
    for key in order:
        if taken + group_rows[key] <= target:
            test.add(key)
            taken += group_rows[key]
    return test


def _limit_queries(examples: pd.DataFrame, max_queries: int, seed: int) -> pd.DataFrame:
    queries = sorted(examples["query"].unique(), key=lambda q: hashlib.sha256(f"{seed}:q:{q}".encode()).hexdigest())
    return examples[examples["query"].isin(set(queries[:max_queries]))]


def _histogram(values: Iterable[float], edges: tuple[float, ...]) -> dict[str, int]:
    labels = [f"{int(a)}-{int(b)}" for a, b in zip(edges, edges[1:], strict=False)] + [f"{int(edges[-1])}+"]
    counts = dict.fromkeys(labels, 0)
    for v in values:
        idx = sum(1 for edge in edges[1:] if v >= edge)
        counts[labels[idx]] += 1
    return counts


def _split_stats(frame: pd.DataFrame) -> dict[str, Any]:
    labels = Counter(int(v) for v in frame["label"])
    per_query = frame.drop_duplicates("query_id")
    return {
        "rows": len(frame),
        "queries": int(frame["query_id"].nunique()),
        "groups": int(frame["group_id"].nunique()),
        "labels": {str(k): labels.get(k, 0) for k in range(4)},
        "queries_with_positive": int(frame.loc[frame["label"] > 0, "query_id"].nunique()),
        "traffic": {k: int(v) for k, v in sorted(Counter(per_query["slice_traffic"]).items())},
        "category": {k: int(v) for k, v in sorted(Counter(per_query["slice_category"]).items())},
    }


def _judged_stats(test: pd.DataFrame, judgments: pd.DataFrame, folder: Path) -> dict[str, Any]:
    judged = test[test[JUDGED_COLUMN] >= 0]
    grades = Counter(int(g) for g in judged[JUDGED_COLUMN])
    return {
        "source": str(folder),
        "judged_pairs_available": len(judgments),
        "test_rows_judged": len(judged),
        "test_rows": len(test),
        "test_queries_judged": int(judged["query_id"].nunique()),
        "grades": {str(k): grades.get(k, 0) for k in range(4)},
    }


# ---- serialisation, digest, files ---------------------------------------------------------------
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


def _materialise(root: Path, digest: str, frames: dict[str, pd.DataFrame], manifest: dict[str, Any]) -> Path:
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


# ---- the builder --------------------------------------------------------------------------------
def build_training_set(
    settings: Settings,
    window_end: dt.date,
    days: int = 14,
    *,
    run_key: str | None = None,
    test_fraction: float = 0.2,
    seed: int = 13,
    max_queries: int | None = None,
    allow_unvalidated: bool = False,
) -> TrainingSet:
    """Build, materialise and catalogue the training set of the ``days`` days ending at ``window_end``.

    Args:
        settings: where the shop, the catalog and the state folder are.
        window_end: the last day of the window (inclusive).
        days: window length in days.
        run_key: recorded on the catalog row (``dag_id/run_id`` or ``cli/<timestamp>``).
        test_fraction: share of rows (whole query groups) held out for evaluation.
        seed: orders the query groups for the split (and the query sample of ``max_queries``).
        max_queries: keep only this many queries (a seeded sample), for quick experiments.
        allow_unvalidated: include days whose partitions failed quality; they are listed in
            ``stats["unvalidated_partitions"]``.

    Raises:
        NoValidatedData: no day of the window has validated partitions.
        DatasetError: bad parameters, no rows, single-class train labels, or an empty split.
    """
    import numpy as np
    import pandas as pd

    from assay.catalog.db import session
    from assay.catalog.models import TrainingDataset
    from assay.catalog.upsert import upsert

    if days < 1:
        raise DatasetError(f"days must be >= 1, got {days}")
    if not 0 < test_fraction < 1:
        raise DatasetError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if max_queries is not None and max_queries < 2:
        raise DatasetError(f"max_queries must be >= 2 (one train and one test query), got {max_queries}")
    window_start = window_end - dt.timedelta(days=days - 1)
    window = f"{window_start.isoformat()}..{window_end.isoformat()}"
    all_days = [window_start + dt.timedelta(days=k) for k in range(days)]

    evidence, products_ev = _collect_evidence(settings, all_days, window_end)
    usable: list[dt.date] = []
    skipped: list[SkippedDay] = []
    unvalidated: list[str] = []
    for day in all_days:
        evs = [evidence[(t, day)] for t in EVENT_TABLES] + [products_ev]
        reasons = tuple(f"{ev.partition}: {p}" for ev in evs for p in ev.problems)
        if not reasons:
            usable.append(day)
        elif allow_unvalidated:
            usable.append(day)
            unvalidated += [ev.partition for ev in evs if ev.problems and ev.partition not in unvalidated]
        else:
            skipped.append(SkippedDay(day, reasons))
    for sk in skipped:
        log.warning("training set %s: day %s skipped: %s", window, sk.day, "; ".join(sk.reasons))
    if not usable:
        detail = "; ".join(f"{sk.day}: {sk.reasons[0]}" for sk in skipped[:3])
        raise NoValidatedData(
            f"training window {window}: no day has validated partitions of {', '.join(EVENT_TABLES)} and "
            f"{PRODUCTS_TABLE} (run the quality stage, or waive the failures) — {detail}"
        )
    used_evs = [evidence[(t, d)] for d in usable for t in EVENT_TABLES] + [products_ev]
    partitions = sorted({ev.partition for ev in used_evs})
    quality_run_ids = sorted({i for ev in used_evs for i in ev.run_ids})
    gx_run_ids = sorted({g for ev in used_evs for g in ev.gx_run_ids})
    # Waivers relied on: those recorded on the runs of the days actually used.
    waiver_ids = _waivers_of(settings, quality_run_ids)

    rows, freq, null_queries = _read_rows(settings, usable)
    corpus = read_products(settings)
    if rows.empty:
        raise DatasetError(f"training window {window}: the usable days {_days(usable)} have no impressions "
                           "with a query in the shop")
    examples = examples_from_rows(rows)
    if max_queries is not None:
        examples = _limit_queries(examples, max_queries, seed)
    categories = dict(zip(corpus["product_id"], corpus["slice_category"], strict=True))
    texts = dict(zip(corpus["product_id"], corpus["product_text"], strict=True))
    missing = sorted(set(examples["product_id"]) - set(texts))
    if missing:
        log.warning("training set %s: %d shown products are not in %s (e.g. %s); their rows are dropped",
                    window, len(missing), PRODUCTS_TABLE, missing[0])
        examples = examples[examples["product_id"].isin(texts)]
    if examples.empty:
        raise DatasetError(f"training window {window}: no example is left after filtering")

    frequency: dict[str, int] = defaultdict(int)
    for q, n in zip(freq["query"], freq["n"], strict=True):
        nq = txt.normalise_query(q)
        if nq:
            frequency[nq] += int(n)
    head = head_queries(frequency)
    query_cat = query_categories(examples, categories)
    groups = txt.groups_of(examples["query"])
    group_key = _group_keys(groups)

    frame = pd.DataFrame(
        {
            "query_id": examples["query"].map(txt.query_id),
            "query": examples["query"],
            "group_id": examples["query"].map(group_key),
            "product_id": examples["product_id"],
            "product_text": examples["product_id"].map(texts),
            "label": examples["label"].astype(np.int8),
            "slice_traffic": examples["query"].map(lambda q: "head" if q in head else "tail"),
            "slice_category": examples["query"].map(query_cat),
            "n_sessions": examples["n_sessions"].astype(np.int32),
        },
        columns=list(COLUMNS),
    ).sort_values(["query_id", "product_id"], kind="mergesort").reset_index(drop=True)

    group_rows = frame.groupby("group_id").size().to_dict()
    test_groups = split_groups({str(k): int(v) for k, v in group_rows.items()}, test_fraction, seed)
    in_test = frame["group_id"].isin(test_groups)
    train, test = frame[~in_test].reset_index(drop=True), frame[in_test].reset_index(drop=True)
    if train.empty:
        raise DatasetError(f"training window {window}: the training split is empty "
                           f"({len(group_rows)} query group(s); lower test_fraction={test_fraction})")
    if test.empty:
        raise DatasetError(f"training window {window}: the test split is empty "
                           f"({len(group_rows)} query group(s); raise test_fraction={test_fraction} or widen the window)")
    positives = int((train["label"] > 0).sum())
    if positives == 0 or positives == len(train):
        kind = "no positive (clicked) example" if positives == 0 else "no negative (unclicked) example"
        raise DatasetError(f"training window {window}: the training split has {kind} among its {len(train)} rows: "
                           "a ranker cannot learn from one class")
    judgments = load_judgments(settings.judgments)
    test = test.assign(**{JUDGED_COLUMN: judged_labels(test, judgments)})

    params = {
        "format_version": FORMAT_VERSION,
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
        "days": days,
        "test_fraction": test_fraction,
        "seed": seed,
        "max_queries": max_queries,
        "head_share": HEAD_SHARE,
        "labels": EVENT_LABELS,
        "near_duplicates": {"jaccard_3gram_min": txt.JACCARD_MIN, "edit_distance_max": txt.EDIT_MAX,
                            "edit_min_len": txt.EDIT_MIN_LEN},
    }
    digest = dataset_digest(train, test, corpus, params)
    shown = corpus[corpus["product_id"].isin(set(frame["product_id"]))]
    query_lengths = Counter(min(len(q.split()), 6) for q in frame["query"].unique())
    stats: dict[str, Any] = {
        "params": params,
        "days_used": _days(usable),
        "days_skipped": [s.as_dict() for s in skipped],
        "unvalidated_partitions": sorted(unvalidated),
        "null_queries_dropped": null_queries,
        "sessions": int(sum(frequency.values())),
        "queries": int(frame["query_id"].nunique()),
        "groups": int(frame["group_id"].nunique()),
        "largest_group": int(max(Counter(groups.values()).values())),
        "head_rule": f"most frequent queries covering {HEAD_SHARE:.0%} of sessions",
        "head_queries": len(head),
        "train": _split_stats(train),
        "test": _split_stats(test),
        "query_tokens": {(str(k) if k < 6 else "6+"): int(v) for k, v in sorted(query_lengths.items())},
        "category_mix": {k: int(v) for k, v in sorted(Counter(frame["slice_category"]).items())},
        "price_shown": _histogram(shown["price"].dropna(), PRICE_BINS),
        "currency_shown": {k: int(v) for k, v in sorted(Counter(shown["currency"]).items())},
        "gx_run_ids": gx_run_ids,
        "corpus_products": len(corpus),
        "judgments": _judged_stats(test, judgments, settings.judgments),
    }
    manifest = {
        "digest": digest,
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
        "partitions": partitions,
        "quality_run_ids": quality_run_ids,
        "gx_run_ids": gx_run_ids,
        "waiver_ids": waiver_ids,
        "n_train": len(train),
        "n_test": len(test),
        "skipped_days": [s.as_dict() for s in skipped],
        "stats": stats,
        "columns": list(COLUMNS),
    }
    location = _materialise(settings.state_dir / "datasets", digest,
                            {"train": train, "test": test, "products": corpus}, manifest)
    row = {
        "digest": digest,
        "window_start": window_start,
        "window_end": window_end,
        "location": str(location),
        "partitions": partitions,
        "quality_run_ids": quality_run_ids,
        "waiver_ids": waiver_ids,
        "n_train": len(train),
        "n_test": len(test),
        "stats": stats,
        "run_key": run_key,
    }
    update = [c for c in row if c != "digest" and (c != "run_key" or run_key is not None)]
    with session(settings.catalog_url()) as s:
        (dataset_id,) = upsert(s, TrainingDataset, [row], key=["digest"], update=update)
    log.info("training set %s: %d train / %d test rows, %d days used, %d skipped, digest %s, dataset id %d",
             window, len(train), len(test), len(usable), len(skipped), digest[:16], dataset_id)
    return TrainingSet(
        dataset_id=dataset_id,
        digest=digest,
        location=location,
        window_start=window_start,
        window_end=window_end,
        partitions=tuple(partitions),
        quality_run_ids=tuple(quality_run_ids),
        gx_run_ids=tuple(gx_run_ids),
        waiver_ids=tuple(waiver_ids),
        n_train=len(train),
        n_test=len(test),
        stats=stats,
        skipped_days=tuple(skipped),
    )


def _group_keys(groups: dict[str, int]) -> dict[str, str]:
    """Query -> key of its group (the query id of the group's alphabetically first query)."""
    first: dict[int, str] = {}
    for q in sorted(groups):
        first.setdefault(groups[q], q)
    return {q: txt.query_id(first[gid]) for q, gid in groups.items()}


def _days(days: list[dt.date]) -> list[str]:
    return [d.isoformat() for d in days]


def _waivers_of(settings: Settings, run_ids: list[int]) -> list[int]:
    from sqlalchemy import select

    from assay.catalog.db import session
    from assay.catalog.models import ExpectationResult

    if not run_ids:
        return []
    with session(settings.catalog_url()) as s:
        ids = s.execute(
            select(ExpectationResult.waiver_id)
            .where(ExpectationResult.quality_run_id.in_(run_ids), ExpectationResult.waived.is_(True),
                   ExpectationResult.waiver_id.is_not(None))
            .distinct()
        ).scalars().all()
    return sorted(int(i) for i in ids if i is not None)


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
