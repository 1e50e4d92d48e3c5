"""Pure DataFrame functions of the bronze job: Kafka rows -> events and dead letters.

Everything here is ``DataFrame -> DataFrame`` (house style): no reads, no writes. The
input has the columns of Spark's Kafka source (:func:`.schema.kafka_schema`), whether
the rows come from MSK on EMR or from the local bridge's landed files.

Python 3.9-compatible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Window
from pyspark.sql import functions as F

from spark_jobs.bronze.contract import (
    EVENT_COLUMN,
    FAST_COLUMN,
    RULE_COLUMN,
    with_contract,
    with_parsed_event,
)
from spark_jobs.bronze.schema import dlq_envelope_schema
from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS
from wikistream.events import (
    DEFAULT_TIME_BOUNDS,
    DT_PATTERN,
    EVENT_TIME_FROM_DT,
    EVENT_TIME_FROM_TIMESTAMP,
    MAX_UNIX_SECONDS,
    RULE_DIVERGENT_DUPLICATE,
    RULE_FUTURE_EVENT,
    RULE_NO_EVENT_TIME,
    RULE_TOO_LATE,
    TimeBounds,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame

KIND_EVENT = "event"
KIND_DEAD_LETTER = "dead_letter"
SOURCE_PRODUCER_DLQ = "producer_dlq"
SOURCE_CONTRACT = "bronze_contract"
#: Dead letters bronze's de-duplication found: same event_id as a landed event, other payload.
SOURCE_DEDUP = "bronze_dedup"
#: The producer's envelope had no readable reason (should not happen; kept, not dropped).
RULE_BAD_ENVELOPE = "unreadable_dlq_envelope"


def with_kafka_text(df: DataFrame) -> DataFrame:
    """Add ``value_str`` (UTF-8 text), ``value_size`` (bytes) and ``key_str``."""
    return (
        df.withColumn("value_str", F.col("value").cast("string"))
        .withColumn("value_size", F.octet_length("value"))
        .withColumn("key_str", F.col("key").cast("string"))
    )


def dead_letter_id(prefix: str = "") -> Column:
    """``topic/partition/offset/timestamp-ms``: unique per Kafka record, stable across replays.

    Built from the Kafka source's columns, or from bronze's copies of them when ``prefix``
    is ``"kafka_"`` (``kafka_topic``, ...). A replay reads the same record, timestamp
    included. The timestamp is there because offsets restart at 0 when a topic is
    recreated (on MSK after a delete, locally when the broker's data directory is
    removed); on offsets alone the insert-only MERGE took the new topic's dead letters for
    replays of the old ones and dropped them.
    """
    return F.concat_ws(
        "/",
        F.col(f"{prefix}topic"),
        F.col(f"{prefix}partition").cast("string"),
        F.col(f"{prefix}offset").cast("string"),
        F.unix_millis(F.col(f"{prefix}timestamp")).cast("string"),
    )


def _time_from_dt(event: Column) -> Column:
    dt = event.getField("meta").getField("dt")
    return F.when(dt.rlike(DT_PATTERN), dt.cast("timestamp"))


def _time_from_seconds(event: Column) -> Column:
    seconds = event.getField("timestamp")
    return F.when(seconds.between(0, MAX_UNIX_SECONDS), F.timestamp_seconds(seconds))


def event_time(event: Column) -> Column:
    """``meta.dt`` (RFC 3339, :data:`wikistream.events.DT_PATTERN`), else ``timestamp``
    (unix seconds), else null: :func:`wikistream.events.event_time_of` as a Column."""
    return F.coalesce(_time_from_dt(event), _time_from_seconds(event))


def event_time_source(event: Column) -> Column:
    """Which field :func:`event_time` came from (``meta.dt`` / ``timestamp``), or null."""
    return F.when(_time_from_dt(event).isNotNull(), F.lit(EVENT_TIME_FROM_DT)).when(
        _time_from_seconds(event).isNotNull(), F.lit(EVENT_TIME_FROM_TIMESTAMP)
    )


def time_rule(bounds: TimeBounds, when: Column, reference: Column) -> Column:
    """:func:`wikistream.events.time_violation` as a Column (null when the time is fine).

    ``reference`` is the Kafka record's timestamp: the producer set it when it received
    the event, so bronze judges against (almost) the same instant the producer did, and a
    micro-batch re-run after a crash classifies every record exactly as the first run.
    """
    skew = F.make_dt_interval(F.lit(0), F.lit(0), F.lit(0), F.lit(bounds.max_clock_skew_seconds))
    late = F.make_dt_interval(F.lit(0), F.lit(bounds.late_event_bound_hours))
    return (
        F.when(when.isNull(), F.lit(RULE_NO_EVENT_TIME))
        .when(when > reference + skew, F.lit(RULE_FUTURE_EVENT))
        .when(when < reference - late, F.lit(RULE_TOO_LATE))
    )


#: The columns of a prepared batch that the rest of bronze reads (raw bytes dropped:
#: ``value_str``/``key_str`` carry them, and the cache holds each payload once).
_PREPARED_COLUMNS = ("topic", "partition", "offset", "timestamp", "key_str", "value_str", "value_size")


def prepare_batch(
    df: DataFrame, dlq_topic: str, max_bytes: int, bounds: TimeBounds = DEFAULT_TIME_BOUNDS
) -> DataFrame:
    """The part of classification that touches every row, for the writer to persist.

    Text, one typed parse, ``event_time`` (+ source), ``ingest_time`` and ``_fast``: true
    only for a main-topic row that passes :func:`.contract.fast_path_valid` and whose
    event time passes :func:`time_rule`, i.e. a row that is certainly a valid event.
    Everything else is a suspect for :func:`classify_suspects`.
    """
    from_dlq = F.col("topic") == F.lit(dlq_topic)
    parsed = with_parsed_event(with_kafka_text(df).select(*_PREPARED_COLUMNS), max_bytes)
    on_time = time_rule(bounds, F.col("event_time"), F.col("timestamp")).isNull()
    return (
        parsed.withColumn("event_time", F.when(~from_dlq, event_time(F.col(EVENT_COLUMN))))
        .withColumn("event_time_source", F.when(~from_dlq, event_time_source(F.col(EVENT_COLUMN))))
        .withColumn(FAST_COLUMN, F.col(FAST_COLUMN) & ~from_dlq & F.coalesce(on_time, F.lit(False)))
        .withColumn("ingest_time", F.current_timestamp())
    )


def fast_events(prepared: DataFrame) -> DataFrame:
    """The certainly-valid rows of a :func:`prepare_batch` frame, shaped as
    :func:`classify_suspects` shapes the rest (``_kind``, ``failed_rule``, ``_source``, ...)."""
    return (
        prepared.where(F.col(FAST_COLUMN))
        .drop(FAST_COLUMN)
        .withColumn(RULE_COLUMN, F.lit(None).cast("string"))
        .withColumn("_envelope", F.lit(None).cast(dlq_envelope_schema()))
        .withColumn("_kind", F.lit(KIND_EVENT))
        .withColumn("_source", F.lit(SOURCE_CONTRACT))
    )


def classify_suspects(
    prepared: DataFrame, dlq_topic: str, max_bytes: int, bounds: TimeBounds = DEFAULT_TIME_BOUNDS
) -> DataFrame:
    """The other rows of a :func:`prepare_batch` frame, classified by the full rules.

    Same columns as :func:`fast_events`; the union of both is the whole batch, each row
    classified. Only these (a few percent) pay for the ~40 ordered rule expressions.
    """
    suspects = prepared.where(~F.col(FAST_COLUMN)).drop(
        FAST_COLUMN, EVENT_COLUMN, "event_time", "event_time_source"
    )
    return with_kind(with_contract(suspects, max_bytes), dlq_topic, bounds)


def with_kind(checked: DataFrame, dlq_topic: str, bounds: TimeBounds = DEFAULT_TIME_BOUNDS) -> DataFrame:
    """Add ``_envelope``, ``event_time`` (+ source) and the final ``failed_rule``/``_kind``/``_source``.

    DLQ-topic rows take the producer's reason from the envelope; other rows keep the
    contract's rule, else the event-time rule (:func:`time_rule`: unreadable, future, late).
    """
    from_dlq = F.col("topic") == F.lit(dlq_topic)
    envelope = F.when(from_dlq, F.from_json("value_str", dlq_envelope_schema()))
    out = (
        checked.withColumn("_envelope", envelope)
        .withColumn("event_time", F.when(~from_dlq, event_time(F.col(EVENT_COLUMN))))
        .withColumn("event_time_source", F.when(~from_dlq, event_time_source(F.col(EVENT_COLUMN))))
    )
    contract_rule = F.coalesce(F.col(RULE_COLUMN), time_rule(bounds, F.col("event_time"), F.col("timestamp")))
    rule = F.when(
        from_dlq, F.coalesce(F.col("_envelope").getField("reason"), F.lit(RULE_BAD_ENVELOPE))
    ).otherwise(contract_rule)
    return (
        out.withColumn(RULE_COLUMN, rule)
        .withColumn("_kind", F.when(F.col(RULE_COLUMN).isNull(), KIND_EVENT).otherwise(KIND_DEAD_LETTER))
        .withColumn("_source", F.when(from_dlq, SOURCE_PRODUCER_DLQ).otherwise(SOURCE_CONTRACT))
    )


def _kafka_columns() -> list:
    return [
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
    ]


def valid_events(classified: DataFrame) -> DataFrame:
    """Contract-valid rows in the column order of ``bronze.raw_events``."""
    e = F.col(EVENT_COLUMN)
    meta = e.getField("meta")
    out = classified.where(F.col("_kind") == KIND_EVENT).select(
        meta.getField("id").alias("event_id"),
        e.getField("id").alias("rc_id"),
        e.getField("type").alias("event_type"),
        e.getField("namespace").cast("int").alias("namespace"),
        e.getField("title").alias("title"),
        meta.getField("domain").alias("domain"),
        e.getField("wiki").alias("wiki"),
        e.getField("user").alias("user_name"),
        e.getField("bot").alias("is_bot"),
        e.getField("minor").alias("is_minor"),
        e.getField("patrolled").alias("is_patrolled"),
        e.getField("length").getField("old").alias("length_old"),
        e.getField("length").getField("new").alias("length_new"),
        e.getField("revision").getField("old").alias("revision_old"),
        e.getField("revision").getField("new").alias("revision_new"),
        e.getField("comment").alias("comment"),
        e.getField("log_type").alias("log_type"),
        e.getField("log_action").alias("log_action"),
        e.getField("server_name").alias("server_name"),
        F.col("event_time"),
        F.col("event_time_source"),
        F.to_date("event_time").alias("event_date"),
        F.hour("event_time").alias("event_hour"),
        F.col("ingest_time"),
        *_kafka_columns(),
        F.col("value_str").alias("raw_payload"),
    )
    assert tuple(out.columns) == RAW_EVENTS.column_names
    return out


def dead_letter_rows(classified: DataFrame) -> DataFrame:
    """Failed rows in the column order of ``bronze.dead_letters``.

    Producer DLQ records keep the original payload from the envelope (``raw``) and the
    envelope's other facts as ``error_detail`` JSON; contract failures keep the record.
    """
    env = F.col("_envelope")
    from_dlq = F.col("_source") == SOURCE_PRODUCER_DLQ
    detail = F.when(
        from_dlq,
        F.to_json(
            F.struct(
                env.getField("raw_truncated").alias("raw_truncated"),
                env.getField("raw_bytes").alias("raw_bytes"),
                env.getField("raw_sha256").alias("raw_sha256"),
                env.getField("sse_id").alias("sse_id"),
                env.getField("received_at").alias("received_at"),
            )
        ),
    ).otherwise(F.concat(F.lit("bytes="), F.col("value_size").cast("string")))
    event_id = F.when(from_dlq, F.col("key_str")).otherwise(
        F.when(
            ~F.col(RULE_COLUMN).isin("type:meta.id", "required:meta.id"),
            F.col(EVENT_COLUMN).getField("meta").getField("id"),
        )
    )
    out = classified.where(F.col("_kind") == KIND_DEAD_LETTER).select(
        dead_letter_id().alias("dead_letter_id"),
        F.col(RULE_COLUMN).alias("failed_rule"),
        detail.alias("error_detail"),
        F.col("_source").alias("source"),
        F.when(from_dlq, F.coalesce(env.getField("raw"), F.col("value_str")))
        .otherwise(F.col("value_str"))
        .alias("raw_payload"),
        event_id.alias("event_id"),
        F.col("ingest_time"),
        F.to_date("ingest_time").alias("ingest_date"),
        *_kafka_columns(),
    )
    assert tuple(out.columns) == DEAD_LETTERS.column_names
    return out


def first_per_key(df: DataFrame, key: str) -> DataFrame:
    """One row per ``key``: the one with the lowest (topic, partition, offset)."""
    order = Window.partitionBy(key).orderBy("kafka_topic", "kafka_partition", "kafka_offset")
    return df.withColumn("_rn", F.row_number().over(order)).where(F.col("_rn") == 1).drop("_rn")


def divergent_duplicates(batch_events: DataFrame, landed: DataFrame) -> DataFrame:
    """Dead-letter rows (``bronze.dead_letters`` columns) for divergent duplicates.

    ``batch_events``: every valid event row of a micro-batch (:func:`valid_events`, before
    :func:`first_per_key`); ``landed``: the ``bronze.raw_events`` rows of the same event ids
    *after* the batch's insert-only MERGE, so it holds each id's winner (the copy that
    landed first; within a batch the lowest Kafka offset). A batch row whose payload
    differs from its winner's is a divergent duplicate: kept with its own raw payload,
    rule :data:`wikistream.events.RULE_DIVERGENT_DUPLICATE`, and the winner named in
    ``error_detail``. A row with the winner's payload is the winner itself or an exact
    replay: nothing. A re-run of the batch finds the same rows (same winners, same ids).
    """
    winner = landed.select(
        F.col("event_id").alias("_w_id"),
        F.col("raw_payload").alias("_w_payload"),
        dead_letter_id("kafka_").alias("_w_record"),
    )
    joined = batch_events.join(winner, F.col("event_id") == F.col("_w_id")).where(
        F.col("raw_payload") != F.col("_w_payload")
    )
    detail = F.to_json(
        F.struct(
            F.col("_w_record").alias("winner"),
            F.sha2(F.col("_w_payload"), 256).alias("winner_sha256"),
            F.sha2(F.col("raw_payload"), 256).alias("raw_sha256"),
        )
    )
    out = joined.select(
        dead_letter_id("kafka_").alias("dead_letter_id"),
        F.lit(RULE_DIVERGENT_DUPLICATE).alias("failed_rule"),
        detail.alias("error_detail"),
        F.lit(SOURCE_DEDUP).alias("source"),
        F.col("raw_payload"),
        F.col("event_id"),
        F.col("ingest_time"),
        F.to_date("ingest_time").alias("ingest_date"),
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
    )
    assert tuple(out.columns) == DEAD_LETTERS.column_names
    return out
