"""The one exclusive advisory-lock helper (``assay.catalog.db.advisory_lock``) on a real PostgreSQL.

Inventory (one run per source at a time) and the gate (one decision per model at a time) both
take their turn through it, so its three promises are tested here once: held for the block,
released after it, and released when the block raises (the connection is discarded, never
returned to the pool still holding the lock).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text

from assay.catalog.db import advisory_key, advisory_lock
from assay.gate.registry import LOCK_PREFIX, model_lock
from assay.inventory.lifecycle import lock_key, lock_name

pytestmark = pytest.mark.integration


def _free(url: str, name: str) -> bool:
    """Whether another session can take the lock ``name`` right now (and gives it back at once)."""
    other = create_engine(url)
    try:
        with other.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": advisory_key(name)}).scalar_one()
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": advisory_key(name)})
            return bool(got)
    finally:
        other.dispose()


def test_held_for_the_block_and_released_after(fresh_db: Callable[[str], str]) -> None:
    url = fresh_db("lock")
    eng = create_engine(url)
    with advisory_lock(eng, "assay.test:a") as conn:
        assert not _free(url, "assay.test:a")
        assert _free(url, "assay.test:b")  # another name is another lock
        conn.execute(text("SELECT 1"))
        conn.commit()  # a commit inside the block keeps the session-level lock
        assert not _free(url, "assay.test:a")
    assert _free(url, "assay.test:a")
    eng.dispose()


def test_released_when_the_block_raises(fresh_db: Callable[[str], str]) -> None:
    url = fresh_db("lock")
    eng = create_engine(url, pool_size=1, max_overflow=0)
    with pytest.raises(RuntimeError, match="boom"), advisory_lock(eng, "assay.test:c"):
        raise RuntimeError("boom")
    assert _free(url, "assay.test:c")
    # The pool's one connection is usable again (the failed one was discarded, not leaked).
    with advisory_lock(eng, "assay.test:c"):
        assert not _free(url, "assay.test:c")
    eng.dispose()


def test_inventory_and_gate_lock_through_it(fresh_db: Callable[[str], str]) -> None:
    url = fresh_db("lock")
    assert lock_key("shop") == advisory_key(lock_name("shop"))
    with model_lock(url, "ranker"):
        assert not _free(url, LOCK_PREFIX + "ranker")
        assert _free(url, LOCK_PREFIX + "other")
    assert _free(url, LOCK_PREFIX + "ranker")
