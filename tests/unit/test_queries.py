"""Named queries render for Spark and Athena and only reference catalogue tables."""

from __future__ import annotations

import pytest

from wikistream.queries import NAMED_QUERIES, NamedQuery, render


@pytest.mark.parametrize("name", sorted(NAMED_QUERIES))
def test_every_placeholder_resolves_for_both_targets(name: str) -> None:
    query = NAMED_QUERIES[name]
    spark_sql = render(query, "lake")
    athena_sql = render(query, '"s3tablescatalog/wikistream-lake"')
    assert "{" not in spark_sql and "{" not in athena_sql
    assert "lake." in spark_sql
    assert '"s3tablescatalog/wikistream-lake"."' in athena_sql


def test_unknown_table_reference_is_an_error() -> None:
    with pytest.raises(KeyError, match=r"unknown table gold\.nope"):
        render(NamedQuery("x", "x", "SELECT * FROM {gold.nope}"), "lake")


def test_rendering_is_exact() -> None:
    q = NamedQuery("x", "x", "SELECT 1 FROM {gold.hourly_stats} JOIN {ops.dq_results}")
    assert render(q, "lake") == "SELECT 1 FROM lake.gold.hourly_stats JOIN lake.ops.dq_results"
    assert render(q, '"c/b"') == 'SELECT 1 FROM "c/b"."gold"."hourly_stats" JOIN "c/b"."ops"."dq_results"'
