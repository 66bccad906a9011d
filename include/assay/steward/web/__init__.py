"""The steward pages inside Airflow: a FastAPI app (:mod:`.app`) served by ``plugins/assay_plugin.py``."""
