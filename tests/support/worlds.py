"""Seeded-shop worlds: a shop seeded by ``assay.seed``, an empty migrated catalog, and Settings.

Scope follows what the tests do with a world: module-scoped fixtures of the modules that write to
it (every test module running quality, inventory or training writes the catalog), function-scoped
for a test that needs its own. A world is never shared between modules that write to it; the
read-only worlds shared across modules are session-scoped (``support.gate_world.gate_shops``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from assay.config import Settings
    from assay.seed import SeedConfig, SeedStats

ScratchDb = Callable[[str], AbstractContextManager[str]]


@dataclass(frozen=True)
class SeededShop:
    """A shop database seeded with one config, and the folder its files landed in."""

    url: str
    landing: Path
    stats: SeedStats


@dataclass(frozen=True)
class ShopWorld:
    """A seeded shop, an empty catalog migrated to head, and the Settings pointing at both."""

    settings: Settings
    shop_url: str
    catalog_url: str
    landing: Path
    stats: SeedStats


@contextmanager
def seeded_shop(scratch_db: ScratchDb, prefix: str, landing: Path, config: SeedConfig) -> Iterator[SeededShop]:
    """A scratch database seeded with ``config`` (files under ``landing``) for the ``with`` block."""
    from assay.seed import seed_shop

    with scratch_db(prefix) as url:
        yield SeededShop(url, landing, seed_shop(url, landing, config))


@contextmanager
def shop_world(
    scratch_db: ScratchDb, folder: Path, prefix: str, config: SeedConfig, *, seed_into: Path | None = None
) -> Iterator[ShopWorld]:
    """A world in ``folder`` (``landing/``, ``state/``) on scratch databases ``<prefix>shop`` and ``<prefix>cat``.

    Args:
        seed_into: where the seed writes its files instead of ``landing`` (left empty then), for
            tests that land each day's files themselves, as production would.
    """
    from assay.catalog import migrate
    from assay.config import Settings
    from assay.seed import seed_shop

    with scratch_db(f"{prefix}shop") as shop_url, scratch_db(f"{prefix}cat") as catalog_url:
        migrate.upgrade(catalog_url, "head")
        landing = folder / "landing"
        landing.mkdir(parents=True, exist_ok=True)
        stats = seed_shop(shop_url, seed_into or landing, config)
        settings = Settings(home=folder / "state", database_url=catalog_url, shop_url=shop_url, landing_dir=landing)
        yield ShopWorld(settings, shop_url, catalog_url, landing, stats)


@pytest.fixture
def seeded_world(scratch_db: ScratchDb, tmp_path: Path) -> Iterator[Callable[[str, SeedConfig], ShopWorld]]:
    """Factory for a test of its own: ``seeded_world("qdag", config)``, a world in ``tmp_path``."""
    with ExitStack() as stack:
        yield lambda prefix, config: stack.enter_context(shop_world(scratch_db, tmp_path, prefix, config))
