"""Per-micro-batch bronze metrics: what is measured, and how it becomes metric data.

Names come from :mod:`wikistream.metrics` (one source of truth with the dashboard and
the alarms); dimensions are ``{"Env": env}`` like the producer's. The stats are measured
in one aggregation over the cached batch (:func:`batch_stats_columns`); ``written`` is
read from the MERGE's Iceberg snapshot summary (``added-records``), so it counts rows
actually inserted, not rows offered.

Python 3.9-compatible.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from pyspark.sql import functions as F

from wikistream import metrics as names
from wikistream.metrics import Datum

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column

#: The writer's phases, timed in :attr:`BatchStats.phase_s`: parse + contract + cache +
#: the stats aggregation, each insert-only MERGE (including its Iceberg commit), and the
#: divergent-duplicate lookup (only when some event ids had already landed).
PHASE_CLASSIFY = "classify"
PHASE_MERGE_EVENTS = "merge_events"
PHASE_DIVERGENT = "divergent"
PHASE_MERGE_DEAD_LETTERS = "merge_dead_letters"
PHASES = (PHASE_CLASSIFY, PHASE_MERGE_EVENTS, PHASE_DIVERGENT, PHASE_MERGE_DEAD_LETTERS)


@dataclass
class BatchStats:
    """What one micro-batch did."""

    batch_id: int
    records_in: int = 0
    events_in: int = 0
    dead_lettered: int = 0
    written: int = 0
    dead_letters_written: int = 0
    #: Valid events whose event_id had landed with another payload (dead-lettered).
    divergent_duplicates: int = 0
    lag_p50_s: Optional[float] = None
    lag_p95_s: Optional[float] = None
    partitions: List[Tuple[date, int]] = field(default_factory=list)
    min_kafka_date: Optional[date] = None
    duration_s: float = 0.0
    offset_lag: Optional[float] = None
    #: Seconds per phase of :data:`PHASES` (a MERGE with nothing to insert is absent).
    phase_s: Dict[str, float] = field(default_factory=dict)

    @property
    def duplicates_dropped(self) -> int:
        """Valid events not inserted because an identical copy landed (exact replays)."""
        return max(self.events_in - self.written - self.divergent_duplicates, 0)


def batch_line(stats: BatchStats) -> str:
    """One log line per micro-batch: what came in, where it went, and where the time went."""
    phases = ", ".join(f"{name} {stats.phase_s[name]:.1f} s" for name in PHASES if name in stats.phase_s)
    return (
        f"bronze: batch {stats.batch_id}: {stats.records_in} record(s) in -> {stats.written} event(s) "
        f"written, {stats.duplicates_dropped} exact replay(s) dropped, {stats.divergent_duplicates} "
        f"divergent duplicate(s), {stats.dead_lettered} dead-lettered; {stats.duration_s:.1f} s"
        + (f" ({phases})" if phases else "")
    )


def lag_seconds() -> Column:
    """End-to-end lag of a row: ingest time minus event time, in seconds."""
    return (F.unix_micros(F.col("ingest_time")) - F.unix_micros(F.col("event_time"))) / F.lit(1e6)


def batch_stats_columns(kind_event: str, kind_dead: str) -> List[Column]:
    """One aggregation row: counts, lag percentiles, touched partitions, oldest Kafka date."""
    is_event = F.col("_kind") == kind_event
    is_dead = F.col("_kind") == kind_dead
    return [
        F.count(F.lit(1)).alias("records_in"),
        F.count(F.when(is_event, 1)).alias("events_in"),
        F.count(F.when(is_dead, 1)).alias("dead_lettered"),
        F.percentile_approx(F.when(is_event, lag_seconds()), [0.5, 0.95], 1000).alias("lag"),
        F.collect_set(
            F.when(is_event, F.struct(F.to_date("event_time").alias("d"), F.hour("event_time").alias("h")))
        ).alias("partitions"),
        F.min(F.when(is_dead, F.to_date("timestamp"))).alias("min_kafka_date"),
    ]


def to_data(stats: BatchStats, env: str, now: Optional[float] = None) -> List[Datum]:
    """The CloudWatch/NDJSON data points of one micro-batch."""
    ts = time.time() if now is None else now
    dims = {"Env": env}
    data = [
        Datum(names.BRONZE_RECORDS_IN, float(stats.records_in), "Count", dims, ts),
        Datum(names.BRONZE_RECORDS_PROCESSED, float(stats.written), "Count", dims, ts),
        Datum(names.BRONZE_DEAD_LETTERED, float(stats.dead_lettered), "Count", dims, ts),
        Datum(names.BRONZE_DUPLICATES_DROPPED, float(stats.duplicates_dropped), "Count", dims, ts),
        Datum(names.BRONZE_BATCH_DURATION, float(stats.duration_s), "Seconds", dims, ts),
    ]
    if stats.lag_p50_s is not None:
        data.append(Datum(names.BRONZE_LAG_P50, float(stats.lag_p50_s), "Seconds", dims, ts))
    if stats.lag_p95_s is not None:
        data.append(Datum(names.BRONZE_LAG_P95, float(stats.lag_p95_s), "Seconds", dims, ts))
    if stats.offset_lag is not None:
        data.append(Datum(names.BRONZE_OFFSET_LAG, float(stats.offset_lag), "Count", dims, ts))
    return data


def idle_trigger_data(
    progress: Optional[Mapping[str, Any]], last_key: Optional[str], env: str, now: Optional[float] = None
) -> Tuple[List[Datum], Optional[str]]:
    """Zero-valued records-in/processed data for a completed trigger that read nothing.

    ``foreachBatch`` does not run when a trigger finds no input, so without this an idle
    but healthy stream would send no data and the "bronze stalled" alarm (missing data
    is breaching) would fire. ``progress`` is ``StreamingQuery.lastProgress``; a trigger is
    identified by its ``batchId`` and start ``timestamp`` (idle progress reports repeat
    the batchId of the next batch, one report per trigger), and reported once: pass back
    the returned key. Triggers that read rows are left to the writer's own metrics.
    """
    if not progress or progress.get("numInputRows") != 0 or progress.get("batchId") is None:
        return [], last_key
    key = f"{progress['batchId']}@{progress.get('timestamp', '')}"
    if key == last_key:
        return [], last_key
    ts = time.time() if now is None else now
    dims = {"Env": env}
    return [
        Datum(names.BRONZE_RECORDS_IN, 0.0, "Count", dims, ts),
        Datum(names.BRONZE_RECORDS_PROCESSED, 0.0, "Count", dims, ts),
    ], key
