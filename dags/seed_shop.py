"""
### seed_shop

Writes the deterministic demo shop — products, customers (fake PII), search sessions,
impressions, clicks/carts/purchases with position bias, and daily supplier feeds (CSV, TSV,
Parquet, JSONL) — into the `shop` database and the landing folder, for the `days` days ending at
the logical date. The defect schedule injects one data defect per chosen day (null burst,
duplicated events, price outlier, renamed category, added column, missing partition, BOM,
wrong delimiter, bad encoding) so the later stages have something to catch.

Params: `days`, `scale` (1 ≈ a few thousand rows a day), `defects` (`none`, `demo`, or a spec like
`2026-11-05:null_burst,price_outlier;2026-11-07:missing_partition`), `seed`.
Re-running replaces the same days: same params, same bytes.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, dag, task

from assay.assets import SHOP_SEEDED
from assay.orchestration import params as P
from assay.orchestration.tasks import default_args


@dag(
    dag_id="seed_shop",
    schedule=None,
    start_date=P.EARLIEST_DAY,
    catchup=False,
    doc_md=__doc__,
    tags=["assay", "demo"],
    default_args=default_args("data-platform", retries=1, timeout=dt.timedelta(hours=1)),
    params={
        "days": Param(21, type="integer", minimum=1, maximum=730, description="days ending at the logical date"),
        "scale": Param(1, type="integer", minimum=1, description="volume multiplier"),
        "defects": Param(
            "demo", type="string", minLength=1, pattern=r"^[A-Za-z0-9_:;,. -]+$",
            description="none | demo | day:defect,...;day:...",
        ),
        "seed": Param(7, type="integer", minimum=0),
    },
)
def seed_shop():
    @task(outlets=[SHOP_SEEDED], multiple_outputs=False)
    def seed(params: dict, **context) -> dict:
        from assay.config import get_settings
        from assay.orchestration import partition_date
        from assay.seed.runner import seed_window

        end = partition_date(context)
        stats = seed_window(get_settings(), end, params["days"], params["scale"], params["defects"], params["seed"])
        context["outlet_events"][SHOP_SEEDED].extra = {"logical_date": end.isoformat()}
        return stats

    seed()


seed_shop()
