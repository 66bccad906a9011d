"""The demo tells `promote` which version `train` registered (`dags test` has no asset event)."""

from __future__ import annotations

import json

import pytest

from assay.catalog.db import session
from assay.catalog.models import ModelCandidate
from assay.cli.render import model_summary
from assay.gate.latest import latest_decision, latest_run
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
    # no training run, no decision yet: nothing to print
    assert model_summary(latest_run(catalog_url), latest_decision(catalog_url)) == []


def test_history_backfill_runs_the_stage_s_function_from_the_table(settings, monkeypatch):
    """A failed day is one the stage's function flags or one that raises; the note names them."""
    import datetime as dt

    from assay.cli.render import note_line, progress_line
    from assay.errors import AssayError
    from assay.ops import backfill

    def day_run(_settings, day: dt.date, key: str) -> bool:
        assert key == f"demo-history/{day.isoformat()}"
        if day.day == 18:
            raise AssayError("broken\nsecond line")
        return day.day == 17

    monkeypatch.setitem(backfill.HISTORY, "toy", backfill.HistoryStage(day_run, "toy failures"))
    result = backfill.backfill_history(settings, "toy", dt.date(2026, 11, 20), 4)
    assert result.failed_days == ("2026-11-17", "2026-11-18")
    assert note_line(result) == "toy history: 4 days before 2026-11-20; toy failures on 2026-11-17, 2026-11-18"
    assert progress_line(result) == f"==> {note_line(result)}"
    clean = backfill.backfill_history(settings, "toy", dt.date(2026, 11, 16), 2)
    assert note_line(clean) == "toy history: 2 days before 2026-11-16; all clean"
