"""Bronze throughput: the full bronze path vs a plain parse + append, same events, same run.

Both read the same records from the local Apache Kafka broker through Spark's Kafka
source (the ``kafka-source`` bundle of ``jvm/pom.xml``, as on EMR). *Bronze* is the real
job path: Kafka stream source, ``availableNow`` trigger, ``foreachBatch`` with contract
check, de-duplication and the insert-only MERGEs. *Baseline* is a batch read of the same
topic + ``from_json`` with the explicit schema + select + Iceberg append. Both are timed
warm, as a long-running stream runs: each first runs itself on 20,000 other events (in
topics of their own).

Targets: ratio bronze/baseline >= 0.7 and >= 25,000 events/s on 2 cores (500x the live
stream's ~50 ev/s peak).

Where bronze's time goes is printed next to the ratio: the writer's own phases (classify =
parse + contract + cache + stats; then each MERGE) and, measured after bronze so that it
warms nothing for it, the *contract pass* alone: the parse and contract check bronze must
run on every row, written nowhere (Spark's ``noop`` sink).

    python -m bench.bronze_bench --events 100000
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

from wikistream.events import TimeBounds

TARGET_RATIO = 0.7
TARGET_EVENTS_PER_S = 25_000
#: The generated faults (duplicates, malformed, wrong types, late: about 2.4 %) do not land;
#: fewer landed events than this share means the bench measured something else.
MIN_LANDED_SHARE = 0.95
#: Events each side runs on before it is timed (other events: a different seed).
WARMUP_EVENTS = 20_000


def _kafka(prefix: str) -> Any:
    """The local Kafka config with topics named for one bench phase (warm-up or measured)."""
    import dataclasses

    from wikistream.config import load_config

    kafka = load_config("local").kafka
    return dataclasses.replace(kafka, topic=f"{prefix}.events", dlq_topic=f"{prefix}.dlq")


def _produce(events: int, broker: Any, kafka: Any, seed: int = 17) -> None:
    from confluent_kafka import Producer

    from local_runtime.generator import FaultRates, generate, start_ending_at

    broker.create_topics({kafka.topic: 4, kafka.dlq_topic: 1})
    producer = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "linger.ms": 50,
            "batch.num.messages": 10000,
            "compression.type": "lz4",
        }
    )
    faults = FaultRates.parse("duplicate=0.01,malformed_json=0.002,wrong_type=0.002,late=0.01")
    # Event times end a minute ago, at the generator's live rate (with the fixed default
    # start, bronze's late bound dead-lettered every event).
    start = start_ending_at(datetime.now(timezone.utc) - timedelta(minutes=1), events)
    for i, rec in enumerate(generate(events, seed=seed, start=start, faults=faults)):
        while True:
            try:
                producer.produce(
                    kafka.topic,
                    value=rec.line.encode("utf-8"),
                    key=(rec.event_id or "").encode(),
                    partition=i % 4,
                )
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("bench records still unacknowledged after 120 s")


def _batch_read(spark: Any, options: Dict[str, str]) -> Any:
    batch = {k: v for k, v in options.items() if k not in ("maxOffsetsPerTrigger",)}
    return spark.read.format("kafka").options(**batch).load()


def _baseline(spark: Any, options: Dict[str, str]) -> float:
    from pyspark.sql import functions as F

    from spark_jobs.bronze.schema import typed_event_schema

    spark.sql("CREATE NAMESPACE IF NOT EXISTS lake.bench")
    spark.sql("DROP TABLE IF EXISTS lake.bench.plain PURGE")
    started = time.monotonic()
    e = F.col("e")
    df = (
        _batch_read(spark, options)
        .select(F.from_json(F.col("value").cast("string"), typed_event_schema()).alias("e"), "*")
        .select(
            e.meta.id.alias("event_id"),
            e.type.alias("event_type"),
            e.meta.domain.alias("domain"),
            e.title.alias("title"),
            e.user.alias("user_name"),
            e.meta.dt.cast("timestamp").alias("event_time"),
            F.col("value").cast("string").alias("raw_payload"),
        )
    )
    df.writeTo("lake.bench.plain").using("iceberg").create()
    return time.monotonic() - started


def _contract_pass(spark: Any, options: Dict[str, str]) -> float:
    """Parse + contract check (:func:`prepare_batch`) over every record, written nowhere."""
    from spark_jobs.bronze.transforms import prepare_batch
    from wikistream.config import load_config

    config = load_config("local")
    started = time.monotonic()
    rows = _batch_read(spark, options)
    prepared = prepare_batch(rows, config.kafka.dlq_topic, config.producer.max_event_bytes)
    prepared.write.format("noop").mode("overwrite").save()
    return time.monotonic() - started


def _bronze(spark: Any, options: Dict[str, str], checkpoint: Path) -> Tuple[float, Dict[str, float]]:
    from spark_jobs.bronze.metrics import PHASES
    from spark_jobs.bronze.source import kafka_stream
    from spark_jobs.bronze.writer import BronzeBatchWriter
    from wikistream.config import load_config

    config = load_config("local")
    writer = BronzeBatchWriter(
        dlq_topic=config.kafka.dlq_topic,
        max_event_bytes=config.producer.max_event_bytes,
        env="bench",
        time_bounds=TimeBounds.of(config.pipeline),
    )
    phases = dict.fromkeys(PHASES, 0.0)

    def write_batch(batch_df: Any, batch_id: int) -> None:
        writer(batch_df, batch_id)
        assert writer.last_stats is not None
        for name, seconds in writer.last_stats.phase_s.items():
            phases[name] += seconds

    started = time.monotonic()
    query = (
        kafka_stream(spark, options)
        .writeStream.foreachBatch(write_batch)
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    if query.exception() is not None:
        raise RuntimeError(str(query.exception()))
    elapsed = time.monotonic() - started
    # Where the time went: Spark's own split of each trigger, and the writer's batches.
    for progress in query.recentProgress:
        print(
            f"bronze batch {progress['batchId']}: {progress['numInputRows']} rows, {progress['durationMs']}"
        )
    return elapsed, {name: round(seconds, 2) for name, seconds in phases.items()}


def run(events: int = 1_000_000, work_dir: Optional[Path] = None) -> Dict[str, Any]:
    """Measure bronze and the baseline on ``events`` generated events; return the numbers."""
    from local_runtime.broker import LocalBroker
    from local_runtime.submit import ALL_JOBS, start_session
    from spark_jobs.bronze.source import kafka_options
    from spark_jobs.create_tables import create_missing
    from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS

    root = Path(work_dir or tempfile.mkdtemp(prefix="wikistream-bronze-bench-"))
    broker = LocalBroker(log_path=root / "broker.log", data_dir=root / "kafka").start()
    try:
        per_trigger = max(events // 10, 10_000)
        measured_kafka, warmup_kafka = _kafka("bench"), _kafka("warmup")
        _produce(events, broker, measured_kafka)
        _produce(WARMUP_EVENTS, broker, warmup_kafka, seed=18)
        measured = kafka_options(measured_kafka, broker.bootstrap, per_trigger)
        warmup = kafka_options(warmup_kafka, broker.bootstrap, per_trigger)
        spark = start_session("wikistream-bronze-bench", root / "warehouse", jobs=ALL_JOBS)
        # Bronze is a long-running job: measure both sides warm (classes loaded, generated
        # code compiled by the JIT), each warmed by running itself on other events first.
        create_missing(spark, (RAW_EVENTS, DEAD_LETTERS))
        _baseline(spark, warmup)
        _bronze(spark, warmup, root / "warmup-checkpoint")
        for table in (RAW_EVENTS, DEAD_LETTERS):
            spark.sql(f"DROP TABLE {table.fqn()} PURGE")
        create_missing(spark, (RAW_EVENTS, DEAD_LETTERS))
        baseline_s = _baseline(spark, measured)
        bronze_s, phases = _bronze(spark, measured, root / "checkpoint")
        contract_s = _contract_pass(spark, measured)
        written = spark.table(RAW_EVENTS.fqn()).count()
        spark.stop()
    finally:
        broker.stop()
        if work_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    if written < MIN_LANDED_SHARE * events:
        # A throughput of dead-lettering is not bronze's throughput: refuse the figure.
        raise RuntimeError(
            f"bronze landed {written} of {events} events (< {MIN_LANDED_SHARE:.0%}): "
            "the bench measured the dead-letter path, not the landing path"
        )
    result = {
        "events": events,
        "bronze_seconds": round(bronze_s, 2),
        "bronze_events_per_s": round(events / bronze_s),
        "baseline_seconds": round(baseline_s, 2),
        "baseline_events_per_s": round(events / baseline_s),
        "ratio": round(baseline_s / bronze_s, 3),
        "bronze_phase_seconds": phases,
        "contract_pass_seconds": round(contract_s, 2),
        "bronze_rows_written": written,
        "target_ratio": TARGET_RATIO,
        "target_events_per_s": TARGET_EVENTS_PER_S,
    }
    result["meets_targets"] = (
        result["ratio"] >= TARGET_RATIO and result["bronze_events_per_s"] >= TARGET_EVENTS_PER_S
    )
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="bronze_bench", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    result = run(args.events)
    print(
        f"bronze   {result['bronze_events_per_s']:>9,} ev/s ({result['bronze_seconds']} s)\n"
        f"baseline {result['baseline_events_per_s']:>9,} ev/s ({result['baseline_seconds']} s)\n"
        f"ratio    {result['ratio']} (target >= {TARGET_RATIO}; >= {TARGET_EVENTS_PER_S:,} ev/s)\n"
        f"bronze phases (s): {result['bronze_phase_seconds']}\n"
        f"contract pass alone (parse + contract on every row, no write): {result['contract_pass_seconds']} s"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def run_history(histories: Sequence[int] = (1_000_000, 10_000_000), batch: int = 20_000) -> Dict[str, Any]:
    """Per-micro-batch cost of bronze over ``histories`` rows already in ``raw_events``.

    The new events fall in the same (date, hour) partitions as the newest history (the
    history is generated at a fixed rate, so every hour partition holds as many rows at
    either size): a MERGE that scanned the table rather than the batch's partitions would
    cost ~10x more at 10M. Each size reads its own topics through Spark's Kafka source in
    4 micro-batches after a warm-up run; the figure is the median micro-batch.
    """
    import statistics
    from datetime import datetime, timedelta, timezone

    from bench.cycle_bench import RATE_PER_S, synthetic_bronze
    from local_runtime.broker import LocalBroker
    from local_runtime.submit import ALL_JOBS, start_session
    from spark_jobs.bronze.source import kafka_options
    from spark_jobs.bronze.writer import BronzeBatchWriter
    from spark_jobs.create_tables import create_missing
    from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS
    from wikistream.config import load_config

    config = load_config("local")
    root = Path(tempfile.mkdtemp(prefix="wikistream-bronze-history-"))
    broker = LocalBroker(log_path=root / "broker.log", data_dir=root / "kafka").start()
    results = []
    try:
        spark = start_session("wikistream-bronze-history", root / "warehouse", jobs=ALL_JOBS)
        # History ends now: bronze dead-letters events older than the late bound
        # (pipeline.late_event_bound_hours) by their Kafka timestamp, which is now.
        history_end = datetime.now(timezone.utc)
        new_start = history_end - timedelta(minutes=30)
        for i, history in enumerate((min(histories), *histories)):  # the first pass warms up
            for table in (RAW_EVENTS, DEAD_LETTERS):
                spark.sql(f"DROP TABLE IF EXISTS {table.fqn()} PURGE")
            create_missing(spark, (RAW_EVENTS, DEAD_LETTERS))
            started = history_end - timedelta(seconds=history / RATE_PER_S)
            synthetic_bronze(spark, 0, history, started).writeTo(RAW_EVENTS.fqn()).append()
            kafka = _kafka(f"history{i}")
            _produce_at(batch, broker, kafka, new_start, seed=40 + i)
            writer = BronzeBatchWriter(
                dlq_topic=config.kafka.dlq_topic,
                max_event_bytes=config.producer.max_event_bytes,
                env="bench",
                time_bounds=TimeBounds.of(config.pipeline),
            )
            durations: list = []

            def write_batch(batch_df: Any, batch_id: int, w: Any = writer, d: list = durations) -> None:
                w(batch_df, batch_id)
                d.append(w.last_stats.duration_s)

            query = (
                kafka_stream_for(spark, kafka_options(kafka, broker.bootstrap, batch // 4))
                .writeStream.foreachBatch(write_batch)
                .option("checkpointLocation", str(root / f"ckpt{i}"))
                .trigger(availableNow=True)
                .start()
            )
            query.awaitTermination()
            if query.exception() is not None:
                raise RuntimeError(str(query.exception()))
            if i > 0:
                results.append(
                    {
                        "history": history,
                        "batch_events": batch,
                        "micro_batches": len(durations),
                        "median_batch_s": round(statistics.median(durations), 3),
                        "batch_s": [round(d, 3) for d in durations],
                    }
                )
        spark.stop()
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)
    ratio = results[-1]["median_batch_s"] / results[0]["median_batch_s"]
    return {"results": results, "ratio": round(ratio, 3)}


def kafka_stream_for(spark: Any, options: Dict[str, str]) -> Any:
    from spark_jobs.bronze.source import kafka_stream

    return kafka_stream(spark, options)


def _produce_at(events: int, broker: Any, kafka: Any, start: Any, seed: int) -> None:
    """``events`` generated events from ``start`` (no faults) into ``kafka.topic``."""
    from confluent_kafka import Producer

    from local_runtime.generator import generate

    broker.create_topics({kafka.topic: 4, kafka.dlq_topic: 1})
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 50})
    for i, rec in enumerate(generate(events, seed=seed, start=start, rate_per_s=events / 600)):
        producer.produce(
            kafka.topic, value=rec.line.encode("utf-8"), key=(rec.event_id or "").encode(), partition=i % 4
        )
        producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("bench records still unacknowledged after 120 s")
