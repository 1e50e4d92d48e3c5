"""Data faults `make run FAULTS=...` injects so that a DQ gate must stop the loop.

Each fault simulates a defect *upstream of a gate* — a buggy writer appending bad rows
to bronze between two cycles — so the next cycle's bronze gate sees it in its window,
fails, and the state machine's Catch path alerts and halts before silver or gold change.
(Faults in the generated stream itself, like malformed JSON or duplicates, never reach a
gate: the producer and bronze contract dead-letter or de-duplicate them.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wikistream.catalogue import DAILY_SUMMARY, HOURLY_STATS, RAW_EVENTS, RISK_SCORES, SILVER_EVENTS
from wikistream.config import PlatformConfig

#: How many bad rows each fault appends.
BAD_ROWS = 3


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    gate: str
    check: str
    _edit: Callable[[Any], Any]

    def inject(self, spark: Any, config: PlatformConfig) -> int:
        """Append ``BAD_ROWS`` edited copies of recent bronze rows; return how many."""
        from pyspark.sql import functions as F

        recent = spark.table(RAW_EVENTS.fqn()).orderBy(F.col("ingest_time").desc()).limit(BAD_ROWS)
        bad = self._edit(recent).select(*RAW_EVENTS.column_names)
        rows = bad.count()
        bad.writeTo(RAW_EVENTS.fqn()).append()
        return int(rows)


def _duplicate(df: Any) -> Any:
    return df  # the same event_id appended again: what a writer without the MERGE would do


def _unknown_type(df: Any) -> Any:
    from pyspark.sql import functions as F

    return df.withColumn("event_id", F.concat(F.col("event_id"), F.lit("-x"))).withColumn(
        "event_type", F.lit("rename")
    )


def _hour_out_of_range(df: Any) -> Any:
    from pyspark.sql import functions as F

    return df.withColumn("event_id", F.concat(F.col("event_id"), F.lit("-h"))).withColumn(
        "event_hour", F.lit(25)
    )


FAULTS: Mapping[str, Fault] = {
    f.name: f
    for f in (
        Fault(
            "duplicate_event_id",
            "append bronze rows whose event_id already exists",
            "bronze",
            "uniqueness",
            _duplicate,
        ),
        Fault(
            "unknown_event_type",
            "append bronze rows with event_type 'rename'",
            "bronze",
            "allowed_values",
            _unknown_type,
        ),
        Fault(
            "hour_out_of_range",
            "append bronze rows with event_hour 25",
            "bronze",
            "range",
            _hour_out_of_range,
        ),
    )
}


def gold_snapshots(spark: Any) -> dict[str, Any]:
    """Current snapshot id of silver and every gold table (to prove a failed cycle left them alone)."""
    from spark_jobs.ledger import current_snapshot_id

    return {
        t.identifier: current_snapshot_id(spark, t.fqn())
        for t in (SILVER_EVENTS, HOURLY_STATS, RISK_SCORES, DAILY_SUMMARY)
    }
