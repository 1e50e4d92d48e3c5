"""Benchmark: the bronze DQ gate's suite with the Spark engine and with the Deequ engine.

Writes ``rows`` synthetic bronze events (realistic ~860 B payloads) into a throw-away
local lakehouse, then times, in ONE Spark session (with the Deequ jar) and on the SAME
window, each the median of ``repeats`` runs after one warm-up:

* ``spark_metrics_s`` / ``deequ_metrics_s``: every bronze metric, by each engine;
* ``spark_gate_s`` / ``deequ_gate_s``: the whole gate with each engine (window, metrics,
  evaluate, ``ops.dq_results`` + ledger commits, metrics);
* where the time goes: ``scan_floor_s`` (one scan of every column the suite reads plus the
  exact distinct count of event_id: the floor of any single-pass engine),
  ``distinct_only_s`` (that distinct count alone), and Deequ's two passes measured apart,
  ``deequ_scan_pass_s`` (Size, Completeness, Compliance, ApproxQuantile: one scan) and
  ``deequ_grouping_pass_s`` (CountDistinct + Distinctness: a group-by on event_id);
* ``count_s``: a plain ``count()`` of the window, for scale only (Iceberg answers it
  from metadata; the old "gate <= 3x count()" target is retired).

Target: the Spark engine no slower than Deequ (``ratio_deequ_vs_spark >= 1``); the result
is reported whichever engine wins. ``python bench/dq_bench.py [ROWS]`` prints JSON.
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


def _timed_interleaved(fns: Dict[str, Callable[[], Any]], repeats: int) -> Dict[str, float]:
    """Median time of each of ``fns``, run in turn within every repeat (after one warm-up each).

    On a shared machine, load that comes and goes then hits every contender alike.
    """
    for fn in fns.values():
        fn()
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: round(statistics.median(t), 3) for name, t in times.items()}


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
    """Time both DQ engines on the same bronze window in one session; return the numbers."""
    from pyspark.sql import functions as F

    from local_runtime.submit import start_session
    from spark_jobs.cli import parse_job_args
    from spark_jobs.create_tables import create_missing
    from spark_jobs.dq import engine_deequ, engine_spark
    from spark_jobs.dq.checks import suite_for
    from spark_jobs.dq.engine import engine_for
    from spark_jobs.dq.window import bronze_window
    from spark_jobs.dq_gate import GateArgs
    from spark_jobs.dq_gate import run as run_gate
    from wikistream.catalogue import RAW_EVENTS
    from wikistream.config import DqConfig
    from wikistream.metrics import LocalMetricsSink

    tmp = Path(tempfile.mkdtemp(prefix="dq-bench-"))
    spark = start_session("wikistream-dq-bench", tmp / "warehouse", dq_engine="deequ")
    try:
        create_missing(spark)
        t0 = time.perf_counter()
        _write_bronze(spark, rows)
        write_s = time.perf_counter() - t0
        now = START + timedelta(seconds=rows * 0.02 + 600)
        window = bronze_window(spark, "bench", "local", now)
        df = window.frames[RAW_EVENTS.identifier]
        suite = suite_for("bronze", DqConfig())
        engines = {name: engine_for(name) for name in ("spark", "deequ")}
        out: Dict[str, Any] = {"rows": rows, "checks": len(suite), "write_s": round(write_s, 3)}
        # Same window, same session, the engines taking turns within every repeat.
        for engine in engines.values():
            engine.ensure_available(spark)
        out.update(
            _timed_interleaved(
                {
                    f"{name}_metrics_s": (lambda e=engine: e.compute_metrics(spark, suite, window, 5))
                    for name, engine in engines.items()
                },
                repeats,
            )
        )
        job = parse_job_args("dq_gate", ["--env", "local", "--run-id", "bench", "--data-dir", str(tmp)])
        sink = LocalMetricsSink(tmp / "metrics.ndjson")
        gate = GateArgs(job, "bronze", now=now)
        out.update(
            _timed_interleaved(
                {
                    f"{name}_gate_s": (lambda e=engine: run_gate(spark, gate, sink, e))
                    for name, engine in engines.items()
                },
                repeats,
            )
        )
        # Where the time goes.
        read_cols = sorted({c for check in suite for c in check.columns})
        floor = [F.count(F.col(c)) for c in read_cols] + [F.countDistinct("event_id")]
        out["scan_floor_s"] = _timed(lambda: df.agg(*floor).collect(), repeats)
        out["distinct_only_s"] = _timed(lambda: df.agg(F.countDistinct("event_id")).collect(), repeats)
        scan_pass = [c for c in suite if c.type != "uniqueness"]
        grouping_pass = [c for c in suite if c.type == "uniqueness"]
        out["deequ_scan_pass_s"] = _timed(
            lambda: engine_deequ.compute_metrics(spark, scan_pass, window), repeats
        )
        out["deequ_grouping_pass_s"] = _timed(
            lambda: engine_deequ.compute_metrics(spark, grouping_pass, window), repeats
        )
        out["spark_proved_checks"] = sum(
            1
            for m in engine_spark.compute_metrics(spark, suite, window, 5).values()
            if m.note.startswith("proved from Iceberg column statistics")
        )
        out["count_s"] = _timed(df.count, repeats)
        out["ratio_deequ_vs_spark"] = round(out["deequ_metrics_s"] / out["spark_metrics_s"], 2)
        out["ratio_gate_deequ_vs_spark"] = round(out["deequ_gate_s"] / out["spark_gate_s"], 2)
        return out
    finally:
        spark.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def headline(result: Dict[str, Any]) -> str:
    """The one line ``make bench`` prints for this benchmark."""
    return (
        f"dq engine spark vs deequ: spark {result['spark_metrics_s']:.2f} s, deequ {result['deequ_metrics_s']:.2f} s "
        f"(deequ/spark {result['ratio_deequ_vs_spark']}x; whole gate {result['spark_gate_s']:.2f} s vs "
        f"{result['deequ_gate_s']:.2f} s) on {result['rows']:,} rows, {result['checks']} checks"
    )


if __name__ == "__main__":
    result = run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
    print(json.dumps(result, indent=2))
    print(headline(result))
