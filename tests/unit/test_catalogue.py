"""The table catalogue declares each table once, consistently."""

from __future__ import annotations

import pytest

from wikistream.catalogue import BY_IDENTIFIER, NAMESPACES, TABLES, Column, TableSpec
from wikistream.config import SPARK_CATALOG


def test_identifiers_are_unique_and_in_known_namespaces() -> None:
    assert len(BY_IDENTIFIER) == len(TABLES)
    assert {t.namespace for t in TABLES} <= set(NAMESPACES)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.identifier)
def test_every_table_is_format_v2_with_partition_columns_declared(table: TableSpec) -> None:
    props = dict(table.properties)
    assert props["format-version"] == "2"
    assert len(set(table.column_names)) == len(table.column_names)
    for spec in table.partitioned_by:
        source = spec[spec.find("(") + 1 : spec.find(")")] if "(" in spec else spec
        assert source in table.column_names, f"{table.identifier}: partition source {source} undeclared"


def test_ddl_renders_types_nullability_and_properties() -> None:
    table = TableSpec(
        "ops",
        "t",
        (Column("a", "string", True), Column("b", "timestamptz"), Column("c", "long")),
        partitioned_by=("days(b)",),
        properties=(("format-version", "2"),),
    )
    assert table.create_ddl() == (
        f"CREATE TABLE IF NOT EXISTS {SPARK_CATALOG}.ops.t (\n"
        "  a STRING NOT NULL,\n  b TIMESTAMP,\n  c BIGINT\n) USING iceberg\n"
        "PARTITIONED BY (days(b))\nTBLPROPERTIES ('format-version'='2')"
    )


def test_unknown_column_type_is_rejected() -> None:
    with pytest.raises(ValueError, match="unsupported type 'uuid'"):
        Column("x", "uuid")


def test_an_existing_table_gains_a_new_optional_column_in_place() -> None:
    from spark_jobs.create_tables import add_columns_ddl
    from wikistream.catalogue import RAW_EVENTS

    # Given: raw_events as created before event_time_source existed.
    before = [c for c in RAW_EVENTS.column_names if c != "event_time_source"]
    # Then: one ALTER adds it right after event_time; an up-to-date table needs none.
    assert add_columns_ddl(RAW_EVENTS, before) == [
        f"ALTER TABLE {RAW_EVENTS.fqn()} ADD COLUMN event_time_source STRING AFTER event_time"
    ]
    assert add_columns_ddl(RAW_EVENTS, list(RAW_EVENTS.column_names)) == []


def test_a_column_doc_with_a_quote_renders_an_escaped_comment() -> None:
    # A doc such as "the writer's hash" once ended the COMMENT literal early: Spark
    # refused every CREATE TABLE of the catalogue with a ParseException.
    table = TableSpec("ops", "t", (Column("a", "string", doc="the writer's \\ hash"),))
    assert "a STRING COMMENT 'the writer\\'s \\\\ hash'" in table.create_ddl()
