"""Bronze throughput: the full bronze path vs a plain parse + append, same events, same run.

Both read the same landed Kafka-shaped Parquet files (what ``local_runtime.kafka_bridge``
writes). *Bronze* is the real job path: file stream source, ``availableNow`` trigger,
``foreachBatch`` with contract check, de-duplication and the insert-only MERGEs.
*Baseline* is ``from_json`` with the explicit schema + select + Iceberg append. Both are
timed warm, as a long-running stream runs: each first runs itself on 20,000 other events.

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
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

TARGET_RATIO = 0.7
TARGET_EVENTS_PER_S = 25_000
#: Events each side runs on before it is timed (other events: a different seed).
WARMUP_EVENTS = 20_000


def _land(events: int, landing: Path, files: int, seed: int = 17) -> None:
    import pyarrow as pa

    from local_runtime.kafka_bridge import ARROW_SCHEMA, land
    from wikistream.config import load_config
    from wikistream.generator import FaultRates, generate

    topic = load_config("local").kafka.topic
    per_file = max(events // files, 1)
    rows = []
    now = time.time()
    faults = FaultRates.parse("duplicate=0.01,malformed_json=0.002,wrong_type=0.002,late=0.01")
    for i, rec in enumerate(generate(events, seed=seed, faults=faults)):
        rows.append(
            {
                "key": (rec.event_id or "").encode(),
                "value": rec.line.encode("utf-8"),
                "topic": topic,
                "partition": i % 4,
                "offset": i // 4,
                "timestamp": int(now * 1000),
                "timestampType": 0,
            }
        )
        if len(rows) == per_file:
            land(pa.Table.from_pylist(rows, schema=ARROW_SCHEMA), landing)
            rows = []
    if rows:
        land(pa.Table.from_pylist(rows, schema=ARROW_SCHEMA), landing)


def _baseline(spark: Any, landing: Path) -> float:
    from pyspark.sql import functions as F

    from spark_jobs.bronze.schema import kafka_schema, typed_event_schema

    spark.sql("CREATE NAMESPACE IF NOT EXISTS lake.bench")
    spark.sql("DROP TABLE IF EXISTS lake.bench.plain PURGE")
    started = time.monotonic()
    e = F.col("e")
    df = (
        spark.read.schema(kafka_schema())
        .parquet(str(landing))
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


def _contract_pass(spark: Any, landing: Path) -> float:
    """Parse + contract check (:func:`prepare_batch`) over every landed row, written nowhere."""
    from spark_jobs.bronze.schema import kafka_schema
    from spark_jobs.bronze.transforms import prepare_batch
    from wikistream.config import load_config

    config = load_config("local")
    started = time.monotonic()
    rows = spark.read.schema(kafka_schema()).parquet(str(landing))
    prepared = prepare_batch(rows, config.kafka.dlq_topic, config.producer.max_event_bytes)
    prepared.write.format("noop").mode("overwrite").save()
    return time.monotonic() - started


def _bronze(spark: Any, landing: Path, checkpoint: Path) -> Tuple[float, Dict[str, float]]:
    from spark_jobs.bronze.metrics import PHASES
    from spark_jobs.bronze.source import landed_files_stream
    from spark_jobs.bronze.writer import BronzeBatchWriter
    from wikistream.config import load_config

    config = load_config("local")
    writer = BronzeBatchWriter(
        dlq_topic=config.kafka.dlq_topic, max_event_bytes=config.producer.max_event_bytes, env="bench"
    )
    phases = dict.fromkeys(PHASES, 0.0)

    def write_batch(batch_df: Any, batch_id: int) -> None:
        writer(batch_df, batch_id)
        assert writer.last_stats is not None
        for name, seconds in writer.last_stats.phase_s.items():
            phases[name] += seconds

    started = time.monotonic()
    query = (
        landed_files_stream(spark, landing)
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
    from local_runtime.jars import ensure_jars
    from spark_jobs.create_tables import create_missing
    from spark_jobs.session import LocalTarget, build_session
    from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS

    root = Path(work_dir or tempfile.mkdtemp(prefix="wikistream-bronze-bench-"))
    try:
        landing = root / "landing"
        _land(events, landing, files=max(events // 50_000, 2))
        warmup = root / "warmup"
        _land(WARMUP_EVENTS, warmup, files=2, seed=18)
        spark = build_session(
            "wikistream-bronze-bench", LocalTarget(warehouse=root / "warehouse", jars=ensure_jars())
        )
        # Bronze is a long-running job: measure both sides warm (classes loaded, generated
        # code compiled by the JIT), each warmed by running itself on other events first.
        create_missing(spark, (RAW_EVENTS, DEAD_LETTERS))
        _baseline(spark, warmup)
        _bronze(spark, warmup, root / "warmup-checkpoint")
        for table in (RAW_EVENTS, DEAD_LETTERS):
            spark.sql(f"DROP TABLE {table.fqn()} PURGE")
        create_missing(spark, (RAW_EVENTS, DEAD_LETTERS))
        baseline_s = _baseline(spark, landing)
        bronze_s, phases = _bronze(spark, landing, root / "checkpoint")
        contract_s = _contract_pass(spark, landing)
        written = spark.table(RAW_EVENTS.fqn()).count()
        spark.stop()
    finally:
        if work_dir is None:
            shutil.rmtree(root, ignore_errors=True)
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
