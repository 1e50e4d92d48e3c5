"""Benchmark: the bronze DQ gate vs a plain ``count()`` of the same window.

Writes ``rows`` synthetic bronze events (realistic ~860 B payloads) into a throw-away
local lakehouse, then times, in the same Spark session and on the same window:

* ``count_s``: ``window_df.count()`` (Iceberg may answer it from manifest statistics);
* ``scan_count_s``: the same count with Iceberg aggregate push-down disabled (a real scan);
* ``scan_floor_s``: one scan reading every column the suite reads (plus the exact
  distinct count of event_id): the floor of any single-pass gate;
* ``metrics_s``: the Spark engine computing every bronze metric (one aggregation pass);
* ``gate_s``: the whole gate (window, metrics, evaluate, ops.dq_results + ledger writes).

Target: ``gate_s / count_s <= 3``. Each timing is the median of ``repeats`` runs after
one warm-up. ``python bench/dq_bench.py [ROWS]`` prints the result as JSON.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List

START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _timed(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up: JIT, metadata caches
    times: List[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 3)


def _write_bronze(spark: Any, rows: int) -> None:
    from wikistream.catalogue import RAW_EVENTS

    # One event every 20 ms from START; types and domains cycle like a real stream mix.
    spark.range(rows).selectExpr(
        "id",
        "concat('ev-', id) AS event_id",
        "id AS rc_id",
        "element_at(array('edit','new','log','categorize','external'), cast(id % 5 + 1 AS int)) AS event_type",
        "cast(id % 15 AS int) AS namespace",
        "concat('Title ', id % 5000) AS title",
        "element_at(array('en.wikipedia.org','de.wikipedia.org','www.wikidata.org'), cast(id % 3 + 1 AS int)) AS domain",
        "'enwiki' AS wiki",
        "concat('user', id % 997) AS user_name",
        "id % 7 = 0 AS is_bot",
        "id % 3 = 0 AS is_minor",
        "CAST(NULL AS BOOLEAN) AS is_patrolled",
        "id % 9000 AS length_old",
        "id % 9100 AS length_new",
        "id AS revision_old",
        "id + 1 AS revision_new",
        "'edit summary' AS comment",
        "CAST(NULL AS STRING) AS log_type",
        "CAST(NULL AS STRING) AS log_action",
        "'https://en.wikipedia.org' AS server_name",
        f"timestamp_micros({int(START.timestamp() * 1e6)} + id * 20000) AS event_time",
    ).selectExpr(
        "*",
        "to_date(event_time) AS event_date",
        "hour(event_time) AS event_hour",
        "event_time + INTERVAL 2 SECONDS AS ingest_time",
        "'wikistream.recentchange' AS kafka_topic",
        "cast(id % 6 AS int) AS kafka_partition",
        "id AS kafka_offset",
        "event_time AS kafka_timestamp",
        "repeat('x', 800) AS raw_payload",
    ).select(*RAW_EVENTS.column_names).writeTo(RAW_EVENTS.fqn()).append()


def run(rows: int = 1_000_000, repeats: int = 3) -> Dict[str, Any]:
    """Time the bronze gate against a count of the same window; return the numbers."""
    from pyspark.sql import functions as F

    from local_runtime.submit import start_session
    from spark_jobs.cli import parse_job_args
    from spark_jobs.create_tables import create_missing
    from spark_jobs.dq import engine_spark
    from spark_jobs.dq.checks import suite_for
    from spark_jobs.dq.window import bronze_window
    from spark_jobs.dq_gate import GateArgs
    from spark_jobs.dq_gate import run as run_gate
    from wikistream.catalogue import RAW_EVENTS
    from wikistream.config import DqConfig
    from wikistream.metrics import LocalMetricsSink

    tmp = Path(tempfile.mkdtemp(prefix="dq-bench-"))
    spark = start_session("wikistream-dq-bench", tmp / "warehouse")
    try:
        create_missing(spark)
        t0 = time.perf_counter()
        _write_bronze(spark, rows)
        write_s = time.perf_counter() - t0
        now = START + timedelta(seconds=rows * 0.02 + 600)
        window = bronze_window(spark, "bench", "local", now)
        df = window.frames[RAW_EVENTS.identifier]
        count_s = _timed(df.count, repeats)
        key = "spark.sql.iceberg.aggregate-push-down.enabled"
        spark.conf.set(key, "false")
        scan_count_s = _timed(df.count, repeats)
        spark.conf.unset(key)
        suite = suite_for("bronze", DqConfig())
        # The floor of any one-pass gate: a single scan touching every column the suite reads.
        read_cols = sorted({c for check in suite for c in check.columns})
        floor = [F.count(F.col(c)) for c in read_cols] + [F.countDistinct("event_id")]
        scan_floor_s = _timed(lambda: df.agg(*floor).collect(), repeats)
        metrics_s = _timed(lambda: engine_spark.compute_metrics(spark, suite, window, 5), repeats)
        job = parse_job_args("dq_gate", ["--env", "local", "--run-id", "bench", "--data-dir", str(tmp)])
        sink = LocalMetricsSink(tmp / "metrics.ndjson")
        gate_s = _timed(lambda: run_gate(spark, GateArgs(job, "bronze", now=now), sink), repeats)
        return {
            "rows": rows,
            "write_s": round(write_s, 3),
            "count_s": count_s,
            "scan_count_s": scan_count_s,
            "scan_floor_s": scan_floor_s,
            "metrics_s": metrics_s,
            "gate_s": gate_s,
            "ratio_gate_vs_count": round(gate_s / count_s, 2),
            "ratio_gate_vs_scan_count": round(gate_s / scan_count_s, 2),
            "ratio_metrics_vs_count": round(metrics_s / count_s, 2),
            "ratio_metrics_vs_scan_floor": round(metrics_s / scan_floor_s, 2),
            "checks": len(suite),
            "target_ratio": 3.0,
        }
    finally:
        spark.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    result = run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
    print(json.dumps(result, indent=2))
    print(f"bronze gate / count() = {result['ratio_gate_vs_count']}x (target <= {result['target_ratio']}x)")
