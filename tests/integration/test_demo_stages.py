"""The demo tells `promote` which version `train` registered (`dags test` has no asset event)."""

from __future__ import annotations

import json

import pytest

from assay.catalog.db import session
from assay.catalog.models import ModelCandidate
from assay.ops import demo

pytestmark = pytest.mark.integration


def test_promote_is_skipped_without_a_candidate_and_told_the_newest_one(settings, catalog_url):
    s = settings.model_copy(update={"database_url": catalog_url})
    assert demo.stage_conf(s, "promote") is None
    assert demo.stage_conf(s, "seed_shop") == ["--conf", json.dumps({"days": demo.DEMO_DAYS})]
    assert demo.stage_conf(s, "quality") == []
    with session(catalog_url) as db:
        for version in ("1", "2"):
            db.add(ModelCandidate(model_name="assay-cross-encoder", version=version,
                                  model_uri=f"models:/assay-cross-encoder/{version}"))
    conf = demo.stage_conf(s, "promote")
    assert conf is not None and conf[0] == "--conf"
    assert json.loads(conf[1]) == {"model_name": "assay-cross-encoder", "version": "2"}
    assert demo.model_summary(s) == []  # no training run, no decision yet: nothing to print
