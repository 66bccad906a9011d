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
