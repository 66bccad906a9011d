"""Airflow Assets the DAGs produce and consume, built from :mod:`assay.names`.

Importing this module imports ``airflow.sdk`` (cheap) and nothing else heavy; DAG files use it.
"""

from __future__ import annotations

from airflow.sdk import Asset

from assay import names

SHOP_SEEDED = Asset(name="shop_seeded", uri=names.SHOP_SEEDED_URI, group="assay")
INVENTORY = Asset(name="inventory", uri=names.INVENTORY_URI, group="assay")
PROFILES = Asset(name="profiles", uri=names.PROFILES_URI, group="assay")
VALIDATED = Asset(name="validated", uri=names.VALIDATED_URI, group="assay")
CANDIDATE = Asset(name="candidate", uri=names.CANDIDATE_URI, group="assay")
