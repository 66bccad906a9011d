"""Shared test support: fixtures and helpers written once, registered in tests/conftest.py.

* ``support.db``: the embedded test server, scratch databases and small SQL helpers.
* ``support.worlds``: seeded shops with an empty catalog and the Settings pointing at both.
* ``support.gate_world``: the promotion gate's hand-made shop, MLflow store and catalog evidence.
* ``support.airflow``: one DAG file's DagBag and ``airflow dags test`` with ``Settings.airflow_env()``.
* ``support.models``: the tiny BERT model tests train (session-scoped, read only).
"""
