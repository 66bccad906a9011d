"""Alembic scripts of the catalog (``env.py`` and ``versions/``), loaded by path by Alembic."""
