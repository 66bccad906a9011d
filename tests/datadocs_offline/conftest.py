"""One real quality run shared by the Data Docs offline tests (they only read its pages)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from support.worlds import ShopWorld, shop_world

START = date(2026, 11, 1)
DEFECT = date(2026, 11, 2)


@pytest.fixture(scope="package")
def docs_world(scratch_db, tmp_path_factory) -> Iterator[ShopWorld]:
    """A shop validated on a defect day (failing pages with masked examples), file feeds included."""
    from assay.quality import run_quality
    from assay.seed import DefectSchedule, SeedConfig

    config = SeedConfig(start_date=START, days=2, write_truth=False,
                        defects=DefectSchedule.parse("2026-11-02:null_burst"))
    with shop_world(scratch_db, tmp_path_factory.mktemp("ddoff"), "ddoff", config) as world:
        run_quality(world.settings, DEFECT, "test/datadocs", raise_on_failure=False)
        yield world
