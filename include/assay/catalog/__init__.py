"""The catalog: the PostgreSQL schema every assay feature reads and writes.

* :mod:`assay.catalog.models`   SQLAlchemy 2 typed ORM classes and the closed vocabularies.
* :mod:`assay.catalog.migrate`  Alembic driven from code: upgrade, downgrade, current, check_reachable.
* :mod:`assay.catalog.db`       cached engines per URL, transactional sessions, URL masking.
* :mod:`assay.catalog.upsert`   ``INSERT ... ON CONFLICT (natural key) DO UPDATE`` for any model.

Importing this package imports nothing heavy; import the submodules where they are used.
"""
