"""normal_type: one spelling of SQL types for the catalog (PostgreSQL's format_type)."""

from __future__ import annotations

import pytest

from assay.sources.sql import normal_type


@pytest.mark.parametrize(
    ("spelling", "normal"),
    [
        ("NUMERIC(12, 2)", "numeric(12,2)"),
        ("VARCHAR(20)", "character varying(20)"),
        ("VARCHAR", "character varying"),
        ("CHAR(3)", "character(3)"),
        ("TIMESTAMP WITH TIME ZONE", "timestamp with time zone"),
        ("TIMESTAMP", "timestamp without time zone"),
        ("TIMESTAMP(3) WITH TIME ZONE", "timestamp(3) with time zone"),
        ("timestamp(3)", "timestamp(3) without time zone"),
        ("timestamptz", "timestamp with time zone"),
        ("TIME", "time without time zone"),
        ("INTEGER[]", "integer[]"),
        ("int4", "integer"),
        ("int8", "bigint"),
        ("FLOAT", "double precision"),
        ("DOUBLE PRECISION", "double precision"),
        ("BOOLEAN", "boolean"),
        ("JSONB", "jsonb"),
    ],
)
def test_other_spellings_become_postgresql_spelling(spelling, normal):
    assert normal_type(spelling) == normal


@pytest.mark.parametrize(
    "spelling",
    ["integer", "numeric(12,2)", "numeric", "character varying(20)", "character(3)", "text", "real",
     "double precision", "timestamp with time zone", "timestamp without time zone",
     "timestamp(3) with time zone", "time without time zone", "integer[]", "uuid", "jsonb", "date",
     "time(3) with time zone", "interval", "bit varying(5)", '"MyEnum"', 'public."Mood"[]', "mood"],
)
def test_postgresql_spelling_is_kept(spelling):
    assert normal_type(spelling) == spelling
