"""Exactly-once writes of one micro-batch into Iceberg (the ``foreachBatch`` function).

Why this is exactly-once: Structured Streaming records a batch's source offsets before
running it and its commit after; after a crash it re-runs the *same* batch (same
rows, same ``batch_id``). Both writes are insert-only ``MERGE``s keyed on the record's
identity (``event_id`` for events, ``topic/partition/offset/timestamp`` for dead letters), so a
re-run inserts nothing that the first run committed, whichever point it crashed at
(before the events MERGE, between the two MERGEs, or after both but before the
checkpoint commit). Duplicates that arrive as *different* Kafka records (producer
retries after a lost acknowledgement, a producer resending after its own crash) are removed the
same way when their payload is identical (exact replays: silent, counted as
``duplicates_dropped``). A duplicate with a *different* payload loses to the copy that
landed first (within a batch: the lowest offset) and becomes a dead letter
``duplicate:divergent`` with its own payload and the winner's Kafka coordinates; it is
found after the events MERGE by joining the batch with the winners (pruned like the
MERGE, and only when the batch inserted fewer events than it offered), so a re-run
finds the same losers and the dead-letter MERGE inserts each once.

Partition pruning: ``event_date``/``event_hour`` are a function of the event itself
(``meta.dt``), so an earlier copy of an event can only live in the partition the batch
computes for it. The MERGE's ``ON`` clause therefore carries literal partition
predicates for exactly the batch's (date, hour) pairs, and Iceberg scans only those
partitions. An event up to ``pipeline.late_event_bound_hours`` late lands in its own
(old) partition and the MERGE scans only that one; a later one, or one from beyond the
clock-skew allowance, is a dead letter (``late:event_time`` / ``future:event_time``,
judged against the record's Kafka timestamp, so a re-run judges the same). Dead letters are partitioned by ``ingest_date``, which is not a
function of the record; but a record is always ingested after Kafka stored it, so an
earlier copy has ``ingest_date >= date(kafka timestamp) - 1 day`` (one day of clock-skew
margin) and the MERGE prunes to that range.

An insert-only MERGE (``WHEN NOT MATCHED THEN INSERT *``) commits an Iceberg ``append``
snapshot, which silver's incremental read relies on. Commit conflicts with table
maintenance (``CommitFailedException``/``ValidationException``) are retried with
backoff: re-running an insert-only MERGE is always safe.

Python 3.9-compatible.
"""

from __future__ import annotations

import os
import time
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, TypeVar

from spark_jobs.bronze.metrics import (
    PHASE_CLASSIFY,
    PHASE_DIVERGENT,
    PHASE_MERGE_DEAD_LETTERS,
    PHASE_MERGE_EVENTS,
    BatchStats,
    batch_line,
    batch_stats_columns,
    to_data,
)
from spark_jobs.bronze.transforms import (
    KIND_DEAD_LETTER,
    KIND_EVENT,
    classify_suspects,
    dead_letter_rows,
    divergent_duplicates,
    fast_events,
    first_per_key,
    prepare_batch,
    valid_events,
)
from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS
from wikistream.config import load_config
from wikistream.events import TimeBounds

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from wikistream.metrics import MetricsSink

T = TypeVar("T")

EVENTS_VIEW = "bronze_batch_events"
ALL_EVENTS_VIEW = "bronze_batch_all_events"
DEAD_LETTERS_VIEW = "bronze_batch_dead_letters"
RETRYABLE = ("CommitFailedException", "ValidationException", "CommitStateUnknownException")
#: Session settings for the per-batch cache. Its columns (1 KB payloads, the parsed event)
#: are unique per row and read twice before being dropped: compressing them only costs CPU
#: (the dictionary encoder hashes every payload to find it does not pay), 14% of the
#: classify phase on a 1M-event batch.
CACHE_CONF = {"spark.sql.inMemoryColumnarStorage.compressed": "false"}
#: Test hook (crash tests only): ``"<batch_id>:<point>"`` makes the process die with
#: ``os._exit`` right after the named commit of that batch, before the checkpoint commit.
CRASH_POINTS = ("after_events", "after_dead_letters")


def partition_predicate(pairs: Iterable[Tuple[date, int]], alias: str = "t") -> str:
    """Literal predicate selecting exactly the (event_date, event_hour) pairs given."""
    by_date: Dict[date, List[int]] = {}
    for day, hour in pairs:
        by_date.setdefault(day, []).append(int(hour))
    if not by_date:
        return "FALSE"
    parts = [
        f"({alias}.event_date = DATE'{day.isoformat()}' AND {alias}.event_hour IN "
        f"({', '.join(str(h) for h in sorted(set(hours)))}))"
        for day, hours in sorted(by_date.items())
    ]
    return "(" + " OR ".join(parts) + ")"


def merge_events_sql(view: str, pairs: Iterable[Tuple[date, int]], table: str = RAW_EVENTS.fqn()) -> str:
    """Insert-only MERGE of a batch's events, pruned to the batch's partitions."""
    return (
        f"MERGE INTO {table} t USING {view} s "
        f"ON t.event_id = s.event_id AND {partition_predicate(pairs)} "
        "WHEN NOT MATCHED THEN INSERT *"
    )


def merge_dead_letters_sql(view: str, min_kafka_date: Optional[date], table: str = DEAD_LETTERS.fqn()) -> str:
    """Insert-only MERGE of a batch's dead letters on ``dead_letter_id``.

    Without a Kafka timestamp (never seen in practice) the whole table is matched.
    """
    prune = ""
    if min_kafka_date is not None:
        since = min_kafka_date - timedelta(days=1)
        prune = f" AND t.ingest_date >= DATE'{since.isoformat()}'"
    return (
        f"MERGE INTO {table} t USING {view} s "
        f"ON t.dead_letter_id = s.dead_letter_id{prune} "
        "WHEN NOT MATCHED THEN INSERT *"
    )


def is_retryable(exc: BaseException) -> bool:
    """A commit conflict that re-running the (idempotent) MERGE resolves."""
    text = f"{type(exc).__name__}: {exc}"
    return any(name in text for name in RETRYABLE)


def with_retries(
    action: Callable[[], T],
    attempts: int = 5,
    base_delay_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``action``; on a retryable commit conflict wait 1, 2, 4, ... s and retry."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if attempt == attempts or not is_retryable(exc):
                raise
            sleep(base_delay_s * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


def commits_since(spark: SparkSession, table: str, since_ms: int) -> List[Dict[str, Any]]:
    """Snapshots this Spark application committed to ``table`` at or after ``since_ms``."""
    app_id = spark.sparkContext.applicationId
    rows = spark.sql(
        f"SELECT snapshot_id, operation, summary FROM {table}.snapshots "
        f"WHERE committed_at >= timestamp_millis({int(since_ms)}) AND summary['spark.app.id'] = '{app_id}'"
    ).collect()
    return [
        {"snapshot_id": r.snapshot_id, "operation": r.operation, "summary": dict(r.summary)} for r in rows
    ]


def added_records(commits: Sequence[Dict[str, Any]]) -> int:
    return sum(int(c["summary"].get("added-records", 0)) for c in commits)


def parse_crash_hook(value: Optional[str]) -> Optional[Tuple[int, str]]:
    """``"3:after_events"`` -> ``(3, "after_events")``; ``None``/empty -> ``None``."""
    if not value:
        return None
    batch, _, point = value.partition(":")
    if point not in CRASH_POINTS:
        raise ValueError(f"crash hook point must be one of {CRASH_POINTS}, got {point!r}")
    return int(batch), point


class BronzeBatchWriter:
    """The ``foreachBatch`` function: classify once, MERGE events and dead letters, measure."""

    def __init__(
        self,
        *,
        dlq_topic: str,
        max_event_bytes: int,
        env: str,
        sink: Optional[MetricsSink] = None,
        crash_hook: Optional[Tuple[int, str]] = None,
        events_table: str = RAW_EVENTS.fqn(),
        dead_letters_table: str = DEAD_LETTERS.fqn(),
        time_bounds: Optional[TimeBounds] = None,
        log_batches: bool = True,
    ) -> None:
        self.dlq_topic = dlq_topic
        #: Print :func:`.metrics.batch_line` after each batch (the job's driver log).
        self.log_batches = log_batches
        # Default: the environment's configured bounds (the same the producer applies).
        self.time_bounds = time_bounds or TimeBounds.of(load_config(env).pipeline)
        self.max_event_bytes = max_event_bytes
        self.env = env
        self.sink = sink
        self.crash_hook = crash_hook
        self.events_table = events_table
        self.dead_letters_table = dead_letters_table
        self.batches_done = 0
        self.last_stats: Optional[BatchStats] = None
        self.last_commits: Dict[str, List[Dict[str, Any]]] = {}
        self.offset_lag: Optional[float] = None

    def _maybe_crash(self, batch_id: int, point: str) -> None:
        if self.crash_hook == (batch_id, point):
            # Simulates a process death between an Iceberg commit and the checkpoint commit.
            os._exit(137)

    def __call__(self, batch_df: DataFrame, batch_id: int) -> None:
        from pyspark import StorageLevel

        started = time.monotonic()
        # The streaming engine runs this batch in a cloned session: views and SQL go there.
        spark = batch_df.sparkSession
        for key, value in CACHE_CONF.items():
            spark.conf.set(key, value)
        # Parse once, into the cache: the measurement and both MERGEs read it. Only
        # the few suspects (rows off the contract's fast path) get the full rules, also
        # cached, so the MERGE plans below start from two cached leaves, not the rule code.
        prepared = prepare_batch(batch_df, self.dlq_topic, self.max_event_bytes, self.time_bounds).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        suspects = classify_suspects(
            prepared, self.dlq_topic, self.max_event_bytes, self.time_bounds
        ).persist(StorageLevel.MEMORY_AND_DISK)
        classified = fast_events(prepared).unionByName(suspects)
        divergent: Optional[DataFrame] = None
        try:
            stats = self._measure(classified, batch_id)
            stats.phase_s[PHASE_CLASSIFY] = round(time.monotonic() - started, 3)
            self.last_commits = {}
            if stats.events_in:
                stats.written = self._insert_new(
                    first_per_key(valid_events(classified), "event_id"),
                    EVENTS_VIEW,
                    merge_events_sql(EVENTS_VIEW, stats.partitions, self.events_table),
                    self.events_table,
                    stats.phase_s,
                    PHASE_MERGE_EVENTS,
                )
            self._maybe_crash(batch_id, "after_events")
            dead = dead_letter_rows(classified)
            if stats.events_in > stats.written:
                # Some event ids were already there: tell exact replays from divergent ones.
                looked_up = time.monotonic()
                divergent = self._divergent(classified, stats).persist(StorageLevel.MEMORY_AND_DISK)
                stats.divergent_duplicates = divergent.count()
                stats.phase_s[PHASE_DIVERGENT] = round(time.monotonic() - looked_up, 3)
                if stats.divergent_duplicates:
                    dead = dead.unionByName(divergent)
            if stats.dead_lettered or stats.divergent_duplicates:
                stats.dead_letters_written = self._insert_new(
                    first_per_key(dead, "dead_letter_id"),
                    DEAD_LETTERS_VIEW,
                    merge_dead_letters_sql(DEAD_LETTERS_VIEW, stats.min_kafka_date, self.dead_letters_table),
                    self.dead_letters_table,
                    stats.phase_s,
                    PHASE_MERGE_DEAD_LETTERS,
                )
            self._maybe_crash(batch_id, "after_dead_letters")
        finally:
            if divergent is not None:
                divergent.unpersist()
            suspects.unpersist()
            prepared.unpersist()
        stats.duration_s = round(time.monotonic() - started, 3)
        stats.offset_lag = self.offset_lag
        self.last_stats = stats
        self.batches_done += 1
        if self.log_batches:
            print(batch_line(stats), flush=True)
        if self.sink is not None:
            for datum in to_data(stats, self.env):
                self.sink.emit(datum)
            self.sink.flush()

    def _divergent(self, classified: DataFrame, stats: BatchStats) -> DataFrame:
        """The batch's divergent duplicates (:func:`.transforms.divergent_duplicates`).

        Reads ``raw_events`` pruned to the batch's partitions, like the MERGE did: an
        earlier copy of an event can only live in the partition of its own event time.
        (Comparing a batch with itself when the MERGE inserted every id was tried and
        dropped: the replay's duplicates re-send events of earlier batches, so the
        shortcut almost never applied and its extra count cost more than it saved.)
        """
        spark = classified.sparkSession
        valid_events(classified).createOrReplaceTempView(ALL_EVENTS_VIEW)
        landed = spark.sql(
            f"SELECT t.* FROM {self.events_table} t LEFT SEMI JOIN {ALL_EVENTS_VIEW} s "
            f"ON t.event_id = s.event_id WHERE {partition_predicate(stats.partitions)}"
        )
        return divergent_duplicates(spark.table(ALL_EVENTS_VIEW), landed)

    def _measure(self, classified: DataFrame, batch_id: int) -> BatchStats:
        row = classified.agg(*batch_stats_columns(KIND_EVENT, KIND_DEAD_LETTER)).collect()[0]
        lag = row["lag"] or [None, None]
        return BatchStats(
            batch_id=batch_id,
            records_in=int(row["records_in"]),
            events_in=int(row["events_in"]),
            dead_lettered=int(row["dead_lettered"]),
            lag_p50_s=lag[0],
            lag_p95_s=lag[1],
            partitions=sorted((p["d"], int(p["h"])) for p in row["partitions"]),
            min_kafka_date=row["min_kafka_date"],
        )

    def _insert_new(
        self, rows: DataFrame, view: str, sql: str, table: str, phase_s: Dict[str, float], phase: str
    ) -> int:
        """Run the insert-only MERGE ``sql`` of ``rows`` (registered as ``view``) into
        ``table``, with retries; record its commits and its seconds as ``phase``. Returns
        the rows it added."""
        started = time.monotonic()
        rows.createOrReplaceTempView(view)
        since_ms = int(time.time() * 1000)
        with_retries(lambda: rows.sparkSession.sql(sql))
        commits = commits_since(rows.sparkSession, table, since_ms)
        self.last_commits[table] = commits
        phase_s[phase] = round(time.monotonic() - started, 3)
        return added_records(commits)
