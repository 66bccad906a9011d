"""#14.1 under a real scheduler and API server: `airflow standalone` loads the assay plugin's
timetable; a REST trigger for day D is named for D with the interval of D; a backfill through
`POST /api/v2/backfills` (dry run: the days it would create) covers both named days; the asset
DAGs are not scheduled by a clock. The DAGs stay paused: nothing runs, nothing needs data.
"""

from __future__ import annotations

import contextlib
import time

import pytest

from assay.config import Settings
from assay.errors import AssayError
from assay.ops import airflow

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.slow]

DAILY = ("inventory", "profile", "quality")


@pytest.fixture
def standalone(settings, pg_server, tmp_path):
    # A port and a state folder of its own: another standalone test or a developer's `make airflow`.
    s = Settings(home=settings.state_dir, airflow_port=18082)
    info = airflow.standalone_up(s, timeout=300)
    try:
        yield s, airflow.rest_token(s)
    finally:
        airflow.standalone_down(s)
    assert info.pid


def _wait_for_dags(s: Settings, token: str, dag_ids: tuple[str, ...], timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = {d: airflow.rest(s, "GET", f"/api/v2/dags/{d}/details", token) for d in dag_ids
                 if airflow.rest(s, "GET", f"/api/v2/dags?dag_id_pattern={d}", token)["total_entries"]}  # type: ignore[index]
        if len(found) == len(dag_ids):
            return found
        assert time.monotonic() < deadline, f"DAGs never appeared: {set(dag_ids) - set(found)}"
        time.sleep(3)


def test_rest_runs_and_backfills_are_named_for_the_days_they_process(standalone):
    s, token = standalone
    details = _wait_for_dags(s, token, DAILY)
    # The scheduler's view: inventory is scheduled per day; profile and quality only by their assets.
    assert details["inventory"]["timetable_summary"] == "daily partitions"
    for dag_id in ("profile", "quality"):
        assert details[dag_id]["next_dagrun_logical_date"] is None, details[dag_id]
        assert details[dag_id]["asset_expression"], dag_id

    day = "2026-11-19"
    # The test server's metadata database outlives a session: drop the run an earlier session made.
    with contextlib.suppress(AssayError):
        airflow.rest(s, "DELETE", f"/api/v2/dags/inventory/dagRuns/manual__{day}T00:00:00+00:00", token)
    run = airflow.rest(s, "POST", "/api/v2/dags/inventory/dagRuns", token,
                       {"logical_date": f"{day}T00:00:00Z", "conf": {}})
    assert run["dag_run_id"] == f"manual__{day}T00:00:00+00:00"  # type: ignore[index]
    assert run["data_interval_start"].startswith(f"{day}T00:00:00")  # type: ignore[index]
    assert run["data_interval_end"].startswith("2026-11-20T00:00:00")  # type: ignore[index]

    for dag_id in DAILY:
        dry = airflow.rest(s, "POST", "/api/v2/backfills/dry_run", token, {
            "dag_id": dag_id, "from_date": "2026-11-15T00:00:00Z", "to_date": "2026-11-17T00:00:00Z",
            "max_active_runs": 1, "reprocess_behavior": "completed"})
        days = [b["logical_date"][:10] for b in dry["backfills"]]  # type: ignore[index]
        assert days == ["2026-11-15", "2026-11-16", "2026-11-17"], (dag_id, dry)
