"""Every name other code must agree on, defined once: asset URIs, model names, aliases.

Plain strings, importable without Airflow; :mod:`assay.assets` turns the URIs into Airflow Assets.
"""

from __future__ import annotations

# ---- Airflow Assets (URI -> name) ------------------------------------------------------------
SHOP_SEEDED_URI = "assay://shop/seeded"
INVENTORY_URI = "assay://catalog/inventory"
PROFILES_URI = "assay://catalog/profiles"
VALIDATED_URI = "assay://catalog/validated"
CANDIDATE_URI = "assay://registry/candidate"

# ---- MLflow registry -------------------------------------------------------------------------
MODEL_NAME = "assay-cross-encoder"
CHAMPION = "champion"
CHALLENGER = "challenger"

# ---- Airflow pools / queues ------------------------------------------------------------------
GPU_QUEUE = "gpu"
#: Airflow pool whose slots bound concurrent training (created by `assay airflow up` and compose).
GPU_POOL = "gpu"

# ---- Catalog -----------------------------------------------------------------------------------
#: partition_key of a run over a whole (unpartitioned) table.
ALL_PARTITIONS = "__all__"

# ---- MLflow: experiment, run tags and metric keys (training writes them, the gate reads them) ---
EXPERIMENT_NAME = "assay-cross-encoder"
#: Run tags that tie an MLflow run to its catalog evidence.
TAG_DATASET_ID = "assay.training_dataset_id"  # training_datasets.id in the catalog
TAG_DATASET_DIGEST = "assay.dataset_digest"  # training_datasets.digest (sha256 hex)
TAG_PARTITIONS = "assay.partitions"  # comma-separated "<table>:<YYYY-MM-DD>"
TAG_QUALITY_RUN_IDS = "assay.quality_run_ids"  # comma-separated catalog quality_runs.id
TAG_GX_RUN_IDS = "assay.gx_run_ids"  # comma-separated GX run ids
TAG_WAIVER_IDS = "assay.waiver_ids"  # comma-separated catalog waivers.id relied on
TAG_RUN_KEY = "assay.run_key"  # dag_id/run_id or cli/<timestamp>
TAG_EVAL_LABELS = "assay.eval_labels"  # which labels the main metrics used: EVAL_JUDGMENTS | EVAL_INTERACTIONS
#: Model-version tags the gate writes.
TAG_GATE_DECISION = "assay.gate.decision"  # pass | fail | error
TAG_GATE_DECISION_ID = "assay.gate.decision_id"  # gate_decisions.id
TAG_GATE_REASON = "assay.gate.reason"

#: Ranking metrics of every candidate, computed on the held-out queries.
METRICS: tuple[str, ...] = ("ndcg_at_10", "mrr", "auc")
#: Labels of the main metric keys: judged grades when the test split has judgments, else clicks.
EVAL_JUDGMENTS = "judgments"
EVAL_INTERACTIONS = "interactions"
#: Prefix of the same metrics on click-derived labels when the main keys use judgments
#: (``clicks.ndcg_at_10``, ``clicks.bm25.ndcg_at_10``).
CLICK_LABELS = "clicks"
#: Baselines scored on the same split.
BASELINES: tuple[str, ...] = ("bm25", "minilm_cosine")


def metric_key(metric: str, slice_name: str | None = None) -> str:
    """MLflow key of a candidate metric: ``ndcg_at_10`` overall, ``ndcg_at_10.head`` per slice.

    Slice names are lower-case slugs such as ``head``, ``tail`` or ``category.furniture``.
    """
    return metric if slice_name is None else f"{metric}.{slice_name}"


def baseline_key(baseline: str, metric: str, slice_name: str | None = None) -> str:
    """MLflow key of a baseline's metric on the same split: ``bm25.ndcg_at_10``."""
    return f"{baseline}.{metric_key(metric, slice_name)}"
