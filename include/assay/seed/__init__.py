"""The deterministic demo shop every later stage runs on.

``seed_shop(shop_url, landing_dir, SeedConfig(...))`` fills a PostgreSQL database with products,
customers, search sessions, impressions and click/cart/purchase interactions, writes daily supplier
feeds (CSV, TSV, Parquet, JSONL) to the landing folder, and injects scheduled data defects, each on
its own day. The hidden relevance truth and the defect schedule go to ``<landing>/_truth/`` for
evaluation and tests, never to the shop tables. See docs/seed.md.

Example::

    from assay.seed import DefectSchedule, SeedConfig, seed_shop

    config = SeedConfig(start_date=date(2026, 11, 1), days=21,
                        defects=DefectSchedule.demo(date(2026, 11, 1), 21))
    stats = seed_shop(settings.shop_database_url(), settings.landing, config)
"""

from assay.seed.config import DEFECTS, DefectSchedule, SeedConfig
from assay.seed.relevance import true_relevance
from assay.seed.shop import SeedStats, read_defects, relevance_path, seed_shop

__all__ = [
    "DEFECTS",
    "DefectSchedule",
    "SeedConfig",
    "SeedStats",
    "read_defects",
    "relevance_path",
    "seed_shop",
    "true_relevance",
]
