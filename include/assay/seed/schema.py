"""The shop's tables (PostgreSQL ``public`` schema), declared once with SQLAlchemy Core.

Event tables carry a ``day`` column with an index, the unit every re-seed replaces and every later
stage (profiling, quality) partitions by. Declarative partitioning is deliberately not used: one
plain table per concern keeps the inventory simple, and the ``day`` index makes a day's delete and
scan cheap. ``interactions`` has no primary key on purpose: duplicated event ids are a defect the
quality stage must catch, not one the database should refuse.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    Index,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP

metadata = MetaData(schema="public")

products = Table(
    "products",
    metadata,
    Column("product_id", Text, primary_key=True),
    Column("title", Text, nullable=False),
    Column("brand", Text, nullable=False),
    Column("category_path", Text, nullable=False),
    Column("product_type", Text, nullable=False),
    Column("colour", Text, nullable=False),
    Column("size", Text, nullable=False),
    Column("material", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("price", Numeric(12, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("attributes", JSONB, nullable=False),
    Column("updated_at", TIMESTAMP(timezone=True), nullable=False),
    comment="Product catalog of the demo shop (assay.seed).",
)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", Text, primary_key=True),
    Column("email", Text, nullable=False),
    Column("phone", Text, nullable=False),
    Column("full_name", Text, nullable=False),
    Column("street_address", Text, nullable=False),
    Column("postal_code", Text, nullable=False),
    Column("country", String(2), nullable=False),
    Column("ip_address", Text, nullable=False),
    Column("created_at", TIMESTAMP(timezone=True), nullable=False),
    comment="Registered customers (fake PII) of the demo shop (assay.seed).",
)

search_sessions = Table(
    "search_sessions",
    metadata,
    Column("session_id", Text, primary_key=True),
    Column("customer_id", Text, nullable=True, comment="NULL for guests (about 10 %)"),
    Column("started_at", TIMESTAMP(timezone=True), nullable=False),
    Column("day", Date, nullable=False),
    Column("query", Text, nullable=True),
    Column("device", Text, nullable=False),
    Index("ix_search_sessions_day", "day"),
    comment="One search per session (assay.seed).",
)

impressions = Table(
    "impressions",
    metadata,
    Column("session_id", Text, nullable=False),
    Column("product_id", Text, nullable=False),
    Column("position", SmallInteger, nullable=False),
    Column("shown_at", TIMESTAMP(timezone=True), nullable=False),
    Column("day", Date, nullable=False),
    Index("ix_impressions_day", "day"),
    comment="The 10 products shown per search, by position (assay.seed).",
)

interactions = Table(
    "interactions",
    metadata,
    Column("event_id", Text, nullable=False),
    Column("session_id", Text, nullable=False),
    Column("product_id", Text, nullable=True),
    Column("event_type", Text, nullable=False, comment="click | add_to_cart | purchase"),
    Column("event_at", TIMESTAMP(timezone=True), nullable=False),
    Column("day", Date, nullable=False),
    Index("ix_interactions_day", "day"),
    comment="Click -> add_to_cart -> purchase funnel events (assay.seed).",
)

#: Tables reloaded whole on every seed.
DIMENSION_TABLES: tuple[Table, ...] = (products, customers)
#: Tables with one slice per day, replaced day by day.
EVENT_TABLES: tuple[Table, ...] = (search_sessions, impressions, interactions)
