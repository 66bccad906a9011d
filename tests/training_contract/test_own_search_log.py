"""Training, evaluation, drift and candidates on a source unlike the demo, mapped by config only.

A hardware store's search log in schema ``logs`` of its own database: tables ``"QueryLog"`` (mixed
case), ``shown_items``, ``user_actions`` (a 0/1 ``clicked`` column: a binary label) and
``catalog_items`` (``sku``, ``name``, ``dept``, ``cost``), declared in a sources file of the test and
mapped by a search-log file of the test. No judgments: evaluation runs on the click labels and
says so.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator

import pytest
import yaml
from support.db import connection

from assay.errors import ConfigError

pytestmark = pytest.mark.integration

START = dt.date(2025, 3, 10)
DAYS = 3
END = START + dt.timedelta(days=DAYS - 1)
KINDS = ["drill", "hammer", "saw", "wrench", "screwdriver", "ladder", "sander", "clamp"]
MAKES = ["Makita", "Stanley", "Bahco", "Festool", "Wera"]
DEPTS = {"drill": "Power tools > Drills", "sander": "Power tools > Sanders", "saw": "Hand tools > Saws"}

DDL = """
CREATE SCHEMA logs;
CREATE TABLE logs."QueryLog" (visit_id text PRIMARY KEY, search_text text, visit_day date NOT NULL);
CREATE TABLE logs.shown_items (visit_id text NOT NULL, sku text NOT NULL, slot integer, visit_day date NOT NULL);
CREATE TABLE logs.user_actions (visit_id text NOT NULL, sku text NOT NULL, clicked smallint, visit_day date NOT NULL);
CREATE TABLE logs.catalog_items (sku text PRIMARY KEY, name text NOT NULL, dept text, cost numeric(10, 2));
"""

MAPPING = {
    "source": "hardware",
    "schema": "logs",
    "labels": {"scale": "binary"},
    "tables": {
        "sessions": {"table": "QueryLog",
                     "columns": {"session_id": "visit_id", "query": "search_text", "day": "visit_day"}},
        "impressions": {"table": "shown_items",
                        "columns": {"session_id": "visit_id", "product_id": "sku", "day": "visit_day", "position": "slot"}},
        "interactions": {"table": "user_actions",
                         "columns": {"session_id": "visit_id", "product_id": "sku", "day": "visit_day", "grade": "clicked"}},
        "products": {"table": "catalog_items",
                     "columns": {"product_id": "sku", "title": "name", "category": "dept", "price": "cost"}},
    },
}


def fill(url: str) -> None:
    from sqlalchemy import text

    rng = random.Random(11)
    products = []
    for i in range(48):
        kind, make = KINDS[i % len(KINDS)], MAKES[i % len(MAKES)]
        products.append({"sku": f"HW-{i:03d}", "name": f"{make} {kind} model {i}",
                         "dept": DEPTS.get(kind, "Hand tools > Other"), "cost": round(5 + 3.7 * i, 2), "kind": kind})
    with connection(url, commit=True) as conn:
        for stmt in DDL.strip().split(";"):
            if stmt.strip():
                conn.execute(text(stmt))
        conn.execute(text("INSERT INTO logs.catalog_items VALUES (:sku, :name, :dept, :cost)"),
                     [{k: p[k] for k in ("sku", "name", "dept", "cost")} for p in products])
        n = 0
        for d in range(DAYS):
            day = START + dt.timedelta(days=d)
            for _ in range(60):
                want = rng.choice(products)
                query = f"{want['kind']} {rng.choice(MAKES).lower()}" if rng.random() < 0.5 else want["kind"]
                visit = f"v{n}"
                n += 1
                conn.execute(text('INSERT INTO logs."QueryLog" VALUES (:v, :q, :d)'), {"v": visit, "q": query, "d": day})
                shown = [want, *rng.sample([p for p in products if p is not want], 5)]
                rng.shuffle(shown)
                conn.execute(text("INSERT INTO logs.shown_items VALUES (:v, :s, :slot, :d)"),
                             [{"v": visit, "s": p["sku"], "slot": k, "d": day} for k, p in enumerate(shown)])
                for p in shown:
                    hit = p["kind"] == want["kind"] and rng.random() < 0.8 or rng.random() < 0.05
                    if hit:
                        conn.execute(text("INSERT INTO logs.user_actions VALUES (:v, :s, 1, :d)"),
                                     {"v": visit, "s": p["sku"], "d": day})
        # One over-long query: trains (cut to max_query_length), never a tokenizer error.
        conn.execute(text('INSERT INTO logs."QueryLog" VALUES (\'long\', :q, :d)'),
                     {"q": " ".join(["cordless"] * 300) + " drill", "d": END})
        conn.execute(text("INSERT INTO logs.shown_items VALUES ('long', 'HW-000', 0, :d), ('long', 'HW-001', 1, :d)"),
                     {"d": END})
        conn.execute(text("INSERT INTO logs.user_actions VALUES ('long', 'HW-000', 1, :d)"), {"d": END})


@pytest.fixture
def world(isolated_settings, fresh_db, tmp_path) -> Iterator[object]:
    url = fresh_db("hardware")
    fill(url)
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [{"name": "hardware", "kind": "sql", "url": url, "schemas": ["logs"]}]}))
    mapping = tmp_path / "search_log.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING))
    yield isolated_settings.model_copy(update={
        "home": tmp_path / "state", "sources_file": sources, "search_log_file": mapping,
        "judgments_dir": tmp_path / "no-judgments"})


def test_a_binary_search_log_with_other_names_builds_trains_and_evaluates_on_clicks(world, tiny):
    from mlflow import MlflowClient

    from assay import names
    from assay.training.config import TrainConfig
    from assay.training.dataset import build_training_set
    from assay.training.request import TrainRequest
    from assay.training.run import train_candidate

    ts = build_training_set(world, END, DAYS, allow_unvalidated=True, run_key="test/hardware-set")
    assert ts.label_max == 1 and ts.stats["label_scale"] == {"scale": "binary", "max": 1}
    assert set(ts.stats["train"]["labels"]) == {"0", "1"}
    assert ts.train_frame()["label"].max() == 1
    # Quality evidence is looked up on the mapped tables of the mapped source (none validated here).
    assert any(p.startswith("QueryLog:") for p in ts.stats["unvalidated_partitions"])
    assert any(p.startswith("catalog_items:") for p in ts.stats["unvalidated_partitions"])
    assert ts.stats["judgments"]["source"] is None and ts.stats["contract"]["source"] == "hardware"
    assert "category: Power tools > Drills" in " ".join(ts.corpus_texts().values())

    config = TrainConfig(base_model=tiny, epochs=1, max_steps=4, batch_size=8, lr=1e-3, progress=False,
                         checkpoint_every=0, teacher_weight=0.0, max_length=48, max_query_length=12)
    request = TrainRequest(window_end=END, days=DAYS, run_key="test/hardware", allow_unvalidated=True, config=config)
    outcome = train_candidate(world, request)
    run = MlflowClient(world.mlflow_uri()).get_run(outcome.run_id)
    assert run.data.tags[names.TAG_EVAL_LABELS] == names.EVAL_INTERACTIONS  # no judgments: clicks, and it says so
    assert run.data.params["label_max"] == "1"
    for key in (names.metric_key("ndcg_at_10"), names.baseline_key("bm25", "ndcg_at_10")):
        assert 0 <= run.data.metrics[key] <= 1


def test_drift_reads_the_mapped_tables(world):
    from assay.gate import drift

    got = drift.measure_declared(world, [("query_length", 5), ("category_mix", 5), ("price", 5)],
                                 (START, START + dt.timedelta(days=1)), (END, END))
    for name, result in got.items():
        assert result.error is None, (name, result.error)
        assert result.n_train > 0 and result.n_serving > 0 and result.psi is not None


def test_a_mapping_that_does_not_fit_the_tables_names_the_key(world, tmp_path):
    from assay.gate import drift
    from assay.training.dataset import build_training_set

    bad = json.loads(json.dumps(MAPPING))
    bad["tables"]["impressions"]["columns"]["product_id"] = "item"
    bad["tables"]["products"]["columns"].pop("price")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    settings = world.model_copy(update={"search_log_file": path})
    with pytest.raises(ConfigError, match=r"tables\.impressions\.columns\.product_id: \"logs\"\.\"shown_items\" has no column 'item'"):
        build_training_set(settings, END, DAYS, allow_unvalidated=True)
    price = drift.measure_declared(settings, [("price", 5)], (START, START), (END, END))["price"]
    assert price.psi is None and "maps no products.price column" in (price.error or "")


def test_candidates_command_lists_bm25_top_k_from_the_mapped_catalogue(world, tmp_path, monkeypatch):
    import pandas as pd
    from typer.testing import CliRunner

    from assay.cli.app import app
    from assay.config import get_settings

    (tmp_path / "offers.txt").write_text("makita drill model 8\nbahco saw\n")
    monkeypatch.setenv("ASSAY_SOURCES_FILE", str(world.sources_file))
    monkeypatch.setenv("ASSAY_SEARCH_LOG_FILE", str(world.search_log_file))
    get_settings.cache_clear()
    try:
        out = tmp_path / "cands.parquet"
        result = CliRunner().invoke(app, ["candidates", str(tmp_path / "offers.txt"), "--out", str(out), "--k", "5"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1]) == {"queries": 2, "with_candidates": 2, "rows": 10,
                                                                  "out": str(out)}
    frame = pd.read_parquet(out)
    first = frame[frame["query"] == "makita drill model 8"].sort_values("rank")
    assert first["product_id"].iloc[0] == "HW-008"  # "Makita drill model 8"
