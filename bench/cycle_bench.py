"""Benchmark: does one silver + gold cycle cost follow the new data, not the table size?

``run(history, new)`` builds a fresh lakehouse holding ``history`` already-processed
events (bronze + silver + gold, with the ledger saying so), appends ``new`` events to
bronze in 5 micro-batches, and times one incremental silver run plus one gold run: the
real job code (``silver_batch.run`` / ``gold_batch.run``) in one warm SparkSession.

History is synthetic and built with Spark ``range`` expressions straight into bronze and
(through the real silver transforms) silver, so 10M rows take a minute, not the Python
generator's hours. It ends at midnight and the new events start there, at the same
rate: the touched day then holds only new data whatever the history size (gold's daily
KPIs re-read the touched days in full; see docs/ANALYTICS.md for that cost model).

Targets: ratio(10M history / 1M history) <= 1.3 and <= 30 s per cycle for 100k new
events on 2 cores.

Usage: ``python -m bench.cycle_bench [--history 1000000 10000000] [--new 100000]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

RATE_PER_S = 40.0
HISTORY_END = datetime(2026, 11, 10, tzinfo=timezone.utc)
MICRO_BATCHES = 5


def _session(warehouse: Path) -> Any:
    from local_runtime.submit import LocalResources, start_session

    resources = LocalResources(shuffle_partitions=4, driver_memory="6g")
    return start_session("wikistream-cycle-bench", warehouse, resources=resources)


def synthetic_bronze(spark: Any, first_id: int, count: int, start: datetime) -> Any:
    """``count`` bronze rows, ids from ``first_id``, one every 1/RATE_PER_S s from ``start``."""
    from pyspark.sql import functions as F

    from wikistream.catalogue import RAW_EVENTS
    from wikistream.config import DOMAINS
    from wikistream.events import EVENT_TIME_FROM_DT

    domains = F.array(*[F.lit(d) for d in sorted(DOMAINS)])
    types = F.array(
        *[F.lit(t) for t in ("categorize", "categorize", "edit", "edit", "edit", "new", "log", "external")]
    )
    i = F.col("id")
    t = F.timestamp_seconds(F.lit(start.timestamp()) + (i - first_id) / F.lit(RATE_PER_S))
    user = (
        F.when(
            i % 10 == 0,
            F.concat_ws(".", F.lit("10"), (i % 256).cast("string"), (i % 97).cast("string"), F.lit("1")),
        )
        .when(i % 13 == 0, F.concat(F.lit("~2026-"), (i % 99999).cast("string"), F.lit("-1")))
        .otherwise(F.concat(F.lit("User"), ((i * 7919) % 5000).cast("string")))
    )
    old = 1000 + (i % 5000)
    new = F.when(i % 997 == 0, F.lit(10)).otherwise(old + (i * 31) % 2001 - 1000)
    etype = F.element_at(types, (i % 8 + 1).cast("int"))
    cols = {
        "event_id": F.concat(F.lit("syn-"), i.cast("string")),
        "rc_id": i,
        "event_type": etype,
        "namespace": (i % 15).cast("int"),
        "title": F.concat(F.lit("Page "), (i % 100000).cast("string")),
        "domain": F.element_at(domains, (i % len(DOMAINS) + 1).cast("int")),
        "wiki": F.lit("syntheticwiki"),
        "user_name": user,
        "is_bot": i % 9 == 0,
        "is_minor": i % 4 == 0,
        "is_patrolled": F.lit(None).cast("boolean"),
        "length_old": F.when(etype.isin("categorize", "log", "new"), F.lit(None)).otherwise(old).cast("long"),
        "length_new": F.when(etype.isin("categorize", "log"), F.lit(None)).otherwise(new).cast("long"),
        "revision_old": i,
        "revision_new": i + 1,
        "comment": F.lit("synthetic edit"),
        "log_type": F.lit(None).cast("string"),
        "log_action": F.lit(None).cast("string"),
        "server_name": F.lit("synthetic"),
        "event_time": t,
        "event_time_source": F.lit(EVENT_TIME_FROM_DT),
        "event_date": F.to_date(t),
        "event_hour": F.hour(t),
        "ingest_time": t + F.expr("INTERVAL 1 SECOND"),
        "kafka_topic": F.lit("wikistream.recentchange"),
        "kafka_partition": (i % 4).cast("int"),
        "kafka_offset": i,
        "kafka_timestamp": t,
        "raw_payload": F.lit("x" * 800),  # about the size of a real event
    }
    df = spark.range(first_id, first_id + count)
    return df.select(*[cols[c.name].cast(c.spark_type.lower()).alias(c.name) for c in RAW_EVENTS.columns])


def _args(data_dir: Path, run_id: str) -> Any:
    from spark_jobs.cli import JobArgs

    return JobArgs("bench", "local", run_id, "local", data_dir, None, None, [])


def build_history(spark: Any, history: int, data_dir: Path) -> Dict[str, float]:
    """Fresh tables holding ``history`` processed events, ledger included; returns timings."""
    from spark_jobs import gold_batch
    from spark_jobs.create_tables import create_missing
    from spark_jobs.ledger import RunRecord, current_snapshot_id, record_run
    from spark_jobs.silver.lineage import MODE_BACKFILL, SILVER_JOB, encode_details
    from spark_jobs.silver.transforms import to_silver
    from wikistream.catalogue import RAW_EVENTS, SILVER_EVENTS, TABLES

    for table in TABLES:
        spark.sql(f"DROP TABLE IF EXISTS {table.fqn()} PURGE")
    create_missing(spark)
    t0 = time.perf_counter()
    start = HISTORY_END - timedelta(seconds=history / RATE_PER_S)
    synthetic_bronze(spark, 0, history, start).writeTo(RAW_EVENTS.fqn()).append()
    bronze_snapshot = current_snapshot_id(spark, RAW_EVENTS.fqn())
    # Silver through the real transforms, appended directly (a MERGE into an empty table
    # would only cost setup time); the ledger then says silver processed that snapshot.
    record = RunRecord("history", SILVER_JOB, "local", input_table=RAW_EVENTS.fqn())
    bronze_rows = spark.read.option("snapshot-id", bronze_snapshot).table(RAW_EVENTS.fqn())
    to_silver(bronze_rows, record.started_at).writeTo(SILVER_EVENTS.fqn()).append()
    record.input_snapshot_to = bronze_snapshot
    record.output_snapshot_id = current_snapshot_id(spark, SILVER_EVENTS.fqn())
    record.rows_in = record.rows_out = history
    record.details = encode_details(MODE_BACKFILL, [], record.started_at, synthetic=True)
    record_run(spark, record.finish("SUCCEEDED"))
    t1 = time.perf_counter()
    gold_batch.run(spark, _args(data_dir, "history"))  # first gold run: full bootstrap
    return {
        "history_bronze_silver_s": round(t1 - t0, 1),
        "history_gold_s": round(time.perf_counter() - t1, 1),
    }


def run(history: int, new: int, spark: Any = None, workdir: Optional[Path] = None) -> Dict[str, Any]:
    """Time one silver + gold cycle on ``new`` events over ``history`` processed ones."""
    from spark_jobs import gold_batch, silver_batch
    from wikistream.catalogue import RAW_EVENTS

    own_dir = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="wikistream-bench-"))
    spark = spark or _session(workdir / "warehouse")
    try:
        result: Dict[str, Any] = {"history": history, "new": new}
        result.update(build_history(spark, history, workdir))
        per_batch = max(1, new // MICRO_BATCHES)
        for b, first in enumerate(range(0, new, per_batch)):
            count = min(per_batch, new - first)
            start = HISTORY_END + timedelta(seconds=first / RATE_PER_S)
            synthetic_bronze(spark, history + first, count, start).writeTo(RAW_EVENTS.fqn()).append()
            result["micro_batches"] = b + 1
        t0 = time.perf_counter()
        silver = silver_batch.run(spark, _args(workdir, "bench"))
        t1 = time.perf_counter()
        gold = gold_batch.run(spark, _args(workdir, "bench"))
        t2 = time.perf_counter()
        result.update(
            silver_s=round(t1 - t0, 2),
            gold_s=round(t2 - t1, 2),
            cycle_s=round(t2 - t0, 2),
            silver_rows_in=silver.rows_in,
            silver_rows_out=silver.rows_out,
            gold_rows_out=gold.rows_out,
            gold_seconds_per_table=gold.details.get("seconds", {}),
        )
        return result
    finally:
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)


def run_sizes(histories: Sequence[int], new: int, warmup: bool = True) -> Dict[str, Any]:
    """One session and warehouse for every size (as ``main``); ``{"results": [...]}``."""
    workdir = Path(tempfile.mkdtemp(prefix="wikistream-bench-"))
    spark = _session(workdir / "warehouse")
    try:
        if warmup:
            run(10_000, 10_000, spark, workdir)
        return {"results": [run(h, new, spark, workdir) for h in histories]}
    finally:
        spark.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the sizes, print one JSON line per size and the ratio of the last to the first."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--history", type=int, nargs="+", default=[1_000_000, 10_000_000])
    p.add_argument("--new", type=int, default=100_000)
    p.add_argument("--no-warmup", action="store_true", help="skip the small JIT warm-up cycle")
    ns = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="wikistream-bench-"))
    spark = _session(workdir / "warehouse")
    try:
        if not ns.no_warmup:
            run(10_000, 10_000, spark, workdir)
        results: List[Dict[str, Any]] = [run(h, ns.new, spark, workdir) for h in ns.history]
        for r in results:
            print(json.dumps(r))
        if len(results) > 1:
            ratio = results[-1]["cycle_s"] / results[0]["cycle_s"]
            print(
                f"cycle ratio {results[-1]['history']:,} vs {results[0]['history']:,} history: {ratio:.2f} "
                f"(target <= 1.3); cycle time for {ns.new:,} new: "
                + ", ".join(f"{r['cycle_s']} s" for r in results)
                + " (target <= 30 s)"
            )
    finally:
        spark.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
