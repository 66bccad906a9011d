"""The promotion gate's world: a small hand-made shop for drift, a fresh catalog and MLflow store.

Used by tests/integration/test_gate_run.py and the promote DAG's end-to-end test. The two shops
(stable and drifted) are only read by the gate, so they are built once per session; the catalog
and MLflow store are written by every test, so each test gets its own (``gate_world``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from assay import names

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from assay.config import Settings

TRAIN = [dt.date(2026, 11, 3), dt.date(2026, 11, 4), dt.date(2026, 11, 5)]
SERVING = [dt.date(2026, 11, 6), dt.date(2026, 11, 7), dt.date(2026, 11, 8)]
TABLES = ("search_sessions", "interactions")
#: Metrics of a candidate that passes every metric rule of the tests' policies.
GOOD = {"ndcg_at_10": 0.62, "mrr": 0.55, "auc": 0.81, "ndcg_at_10.head": 0.70, "ndcg_at_10.tail": 0.45,
        "bm25.ndcg_at_10": 0.41, "minilm_cosine.ndcg_at_10": 0.48}


# ---- the shop: products, searches and impressions for the training and serving days -----------
PRODUCTS = [  # id, category_path, price
    ("P1", "Home > Furniture > Chairs", "20.00"), ("P2", "Home > Furniture > Tables", "150.00"),
    ("P3", "Fashion > Shoes > Running", "60.00"), ("P4", "Fashion > Bags", "35.00"),
    ("P5", "Electronics > Audio", "90.00"), ("P6", "Electronics > Laptops", "900.00"),
]
QUERIES = ["chair", "oak table", "running shoes", "red bag", "headphones", "gaming laptop 16gb"]


def fill_shop(url: str, drifted: bool) -> None:
    """Products, sessions and impressions for TRAIN and SERVING; ``drifted`` changes the serving days."""
    from sqlalchemy import create_engine, insert
    from sqlalchemy.pool import NullPool

    from assay.seed import schema

    engine = create_engine(url, poolclass=NullPool)
    schema.metadata.create_all(engine, tables=[schema.products, schema.search_sessions, schema.impressions])
    ts = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    prods = [{"product_id": p, "title": p, "brand": "b", "category_path": c, "product_type": "t", "colour": "c",
              "size": "s", "material": "m", "description": "d", "price": Decimal(pr), "currency": "EUR",
              "attributes": {}, "updated_at": ts} for p, c, pr in PRODUCTS]
    sessions, shown = [], []
    for day in TRAIN + SERVING:
        serving_drift = drifted and day in SERVING
        for i in range(60):
            sid = f"{day}-{i}"
            q = "ultra wide curved gaming monitor 34 inch" if serving_drift else QUERIES[i % len(QUERIES)]
            sessions.append({"session_id": sid, "customer_id": None, "started_at": ts, "day": day, "query": q,
                             "device": "web"})
            for pos in range(3):
                pid = "P6" if serving_drift else PRODUCTS[(i + pos) % len(PRODUCTS)][0]
                shown.append({"session_id": sid, "product_id": pid, "position": pos, "shown_at": ts, "day": day})
    with engine.begin() as conn:
        conn.execute(insert(schema.products), prods)
        conn.execute(insert(schema.search_sessions), sessions)
        conn.execute(insert(schema.impressions), shown)
    engine.dispose()


@pytest.fixture(scope="session")
def gate_shops(scratch_db: Callable[[str], AbstractContextManager[str]]) -> Iterator[dict[str, str]]:
    """URLs of the stable and the drifted shop (read only: the gate only measures drift on them)."""
    with scratch_db("gshop") as stable, scratch_db("gdrift") as drifted:
        fill_shop(stable, drifted=False)
        fill_shop(drifted, drifted=True)
        yield {"stable": stable, "drifted": drifted}


# ---- the world: MLflow store + catalog + shop --------------------------------------------------
@dataclass
class World:
    settings: Any
    client: Any
    artifacts: Path
    exp_id: str = ""
    asset_ids: dict[str, int] = field(default_factory=dict)
    source_id: int = 0

    @property
    def catalog(self) -> str:
        return self.settings.catalog_url()

    # -- catalog --
    def dataset(self, days: list[dt.date] = TRAIN, *, critical_fail_on: tuple[str, dt.date] | None = None,
                warnings: int = 0, anomaly_on: tuple[str, dt.date] | None = None,
                skip_quality: tuple[str, dt.date] | None = None) -> int:
        """A training dataset over ``days`` with one quality run per partition (shared by datasets)."""
        from assay.catalog.db import session
        from assay.catalog.models import (
            Anomaly,
            ExpectationResult,
            QualityCurrent,
            QualityRun,
            TrainingDataset,
        )

        parts = [(t, d) for d in days for t in TABLES]
        run_ids = []
        with session(self.catalog) as s:
            for t, d in parts:
                if skip_quality == (t, d):
                    continue
                bad = critical_fail_on == (t, d)
                existing = s.query(QualityRun).filter_by(asset_id=self.asset_ids[t], logical_date=d).one_or_none()
                if existing is not None:  # one quality run per partition, shared by datasets
                    run_ids.append(existing.id)
                    continue
                qr = QualityRun(suite_name=t, asset_id=self.asset_ids[t], partition_key=d.isoformat(),
                                logical_date=d, run_key=f"test/{d}", gx_run_id=f"gx-{t}-{d}", success=not bad,
                                critical_failures=int(bad), status="failed" if bad else "ok")
                s.add(qr)
                s.flush()
                s.add(QualityCurrent(suite_name=t, asset_id=qr.asset_id, partition_key=qr.partition_key,
                                     logical_date=d, quality_run_id=qr.id))  # the key's current attempt
                run_ids.append(qr.id)
                results = [ExpectationResult(quality_run_id=qr.id, expectation_id="session_id_unique",
                                             expectation_type="expect_column_values_to_be_unique",
                                             column_name="session_id", dimension="uniqueness",
                                             severity="critical", success=True)]
                if bad:
                    results.append(ExpectationResult(
                        quality_run_id=qr.id, expectation_id="query_not_null",
                        expectation_type="expect_column_values_to_not_be_null", column_name="query",
                        dimension="completeness", severity="critical", success=False, unexpected_count=12))
                if t == "search_sessions" and d == days[0]:
                    for k in range(warnings):
                        results.append(ExpectationResult(
                            quality_run_id=qr.id, expectation_id=f"warn_{k}",
                            expectation_type="expect_column_value_lengths_to_be_between", column_name="query",
                            dimension="validity", severity="warning", success=False))
                s.add_all(results)
            if anomaly_on is not None:
                t, d = anomaly_on
                s.add(Anomaly(asset_id=self.asset_ids[t], partition_key=d.isoformat(), logical_date=d,
                              column_name="", metric="row_count", observed=3.0, lower=900.0, upper=1100.0,
                              method="mad", status="open"))
            digest = hashlib.sha256(repr((parts, run_ids)).encode()).hexdigest()
            same = s.query(TrainingDataset).filter_by(digest=digest).one_or_none()
            if same is not None:
                return int(same.id)
            ds = TrainingDataset(digest=digest, window_start=min(days), window_end=max(days),
                                 partitions=[f"{t}:{d.isoformat()}" for t, d in parts], quality_run_ids=run_ids,
                                 waiver_ids=[], n_train=100, n_test=20, stats={})
            s.add(ds)
            s.flush()
            return int(ds.id)

    def waive(self, table: str, expectation: str, day: dt.date) -> int:
        """A steward's waiver of ``expectation`` on ``table`` for ``day``; returns its id."""
        from assay.catalog.db import session
        from assay.catalog.models import Waiver

        with session(self.catalog) as s:
            w = Waiver(asset_id=self.asset_ids[table], suite_name=table, expectation_id=expectation,
                       reason="upstream bug INC-1, fixed", created_by="steward",
                       valid_from=dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC),
                       valid_until=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC))
            s.add(w)
            s.flush()
            return int(w.id)

    # -- MLflow --
    def candidate(self, metrics: dict[str, float], dataset_id: int | None = None, eval_labels: str | None = None) -> str:
        """A finished MLflow run with ``metrics``, registered as a new version; returns the version."""
        from mlflow.exceptions import MlflowException

        c = self.client
        if not self.exp_id:
            self.exp_id = c.create_experiment(names.EXPERIMENT_NAME, artifact_location=self.artifacts.as_uri())
        ds_id = dataset_id if dataset_id is not None else self.dataset()
        run = c.create_run(self.exp_id, tags={names.TAG_DATASET_ID: str(ds_id), names.TAG_RUN_KEY: "test/run"})
        rid = run.info.run_id
        if eval_labels is not None:
            c.set_tag(rid, names.TAG_EVAL_LABELS, eval_labels)
        for k, v in metrics.items():
            c.log_metric(rid, k, v)
        c.log_text(rid, "tiny model", "model/MODEL.txt")
        c.set_terminated(rid)
        with contextlib.suppress(MlflowException):  # already registered by an earlier candidate
            c.create_registered_model(names.MODEL_NAME)
        mv = c.create_model_version(names.MODEL_NAME, source=f"{run.info.artifact_uri}/model", run_id=rid)
        return str(mv.version)

    def aliases(self) -> dict[str, str]:
        """The registered model's aliases (alias -> version)."""
        return {a: str(v) for a, v in self.client.get_registered_model(names.MODEL_NAME).aliases.items()}


@pytest.fixture
def gate_world(isolated_settings: Settings, gate_shops: dict[str, str], tmp_path: Path) -> World:
    """A fresh catalog (the shop's source and TABLES as assets) and MLflow store, on the stable shop."""
    from mlflow import MlflowClient

    from assay.catalog.db import session
    from assay.catalog.models import Asset, Source

    settings = isolated_settings.model_copy(update={"shop_url": gate_shops["stable"]})
    client: MlflowClient = MlflowClient(tracking_uri=settings.mlflow_uri(), registry_uri=settings.mlflow_uri())
    w = World(settings, client, tmp_path / "artifacts")
    with session(settings.catalog_url()) as s:
        src = Source(name="shop", kind="sql", url_or_conn_id="settings:shop")
        s.add(src)
        s.flush()
        for t in TABLES:
            a = Asset(source_id=src.id, namespace="public", name=t, kind="table", location=f"public.{t}")
            s.add(a)
            s.flush()
            w.asset_ids[t] = int(a.id)
    return w
