"""The local session keeps compiled code for reuse across a whole cycle's queries."""

from __future__ import annotations

from typing import Any

import pytest

from local_runtime.submit import CODEGEN_CACHE_ENTRIES

pytestmark = pytest.mark.spark


def _compiles(spark: Any) -> int:
    return int(spark._jvm.org.apache.spark.metrics.source.CodegenMetrics.METRIC_SOURCE_CODE_SIZE().getCount())


def test_a_query_seen_before_a_cycle_worth_of_other_queries_is_not_compiled_again(spark: Any) -> None:
    assert spark.conf.get("spark.sql.codegen.cache.maxEntries") == str(CODEGEN_CACHE_ENTRIES)

    def query(i: int) -> None:
        # A distinct integer literal is inlined into the generated code: a new class each.
        spark.range(3).selectExpr(f"id * 7 + {1_000_003 + i} AS x").collect()

    query(0)
    before = _compiles(spark)
    # Given: more distinct queries than Spark's default cache (100 classes) holds...
    for i in range(1, 151):
        query(i)
    assert _compiles(spark) - before >= 150, "each query should have compiled its own class"
    # ...when: the first query runs again; then: its class is reused, nothing is compiled.
    after = _compiles(spark)
    query(0)
    assert _compiles(spark) == after
