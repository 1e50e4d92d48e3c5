"""The benches' synthetic bronze history keeps up with the bronze table's schema.

``bench/cycle_bench.py`` and the ``bronze_history`` bench build millions of history rows
with Spark expressions, one per bronze column; a column added to the catalogue and not
to the generator used to surface only as a bench that failed to run.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bench.cycle_bench import synthetic_bronze
from wikistream.catalogue import RAW_EVENTS


def test_synthetic_history_has_every_bronze_column_with_its_type(spark: Any) -> None:
    rows = synthetic_bronze(spark, 100, 20, datetime(2026, 11, 9, 23, tzinfo=timezone.utc))
    expected = [(c.name, c.spark_type.lower()) for c in RAW_EVENTS.columns]
    assert [(f.name, f.dataType.simpleString()) for f in rows.schema.fields] == [
        (name, "timestamp" if kind == "timestamptz" else kind) for name, kind in expected
    ]
    collected = rows.collect()
    assert len(collected) == 20
    assert {r["event_id"] for r in collected} == {f"syn-{i}" for i in range(100, 120)}
