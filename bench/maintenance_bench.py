"""Benchmark: maintenance of a fragmented bronze table.

In a throw-away local lakehouse, ``batches`` single-statement appends (each one append
snapshot with 2 rows in each of 5 hourly partitions: one small file per partition per
append, as the bronze stream commits them) fragment ``bronze.raw_events``; then the
maintenance job (``spark_jobs.maintenance.run``: compaction, manifest rewrite, expiry,
orphan removal) runs once. Reported: data files / manifests / snapshots before and after,
seconds of the appends and of maintenance, and whether a per-partition query
(count, sum of row hashes) is identical before and after.

``python bench/maintenance_bench.py [BATCHES]`` prints the result as JSON.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict

QUERY = (
    "SELECT event_date, event_hour, count(*), sum(hash(*)) FROM lake.bronze.raw_events "
    "GROUP BY event_date, event_hour ORDER BY event_date, event_hour"
)


def _counts(spark: Any) -> Dict[str, int]:
    one = lambda sql: int(spark.sql(sql).collect()[0][0])  # noqa: E731
    return {
        "data_files": one("SELECT count(*) FROM lake.bronze.raw_events.files WHERE content = 0"),
        "manifests": one("SELECT count(*) FROM lake.bronze.raw_events.manifests"),
        "snapshots": one("SELECT count(*) FROM lake.bronze.raw_events.snapshots"),
    }


def run(batches: int = 200) -> Dict[str, Any]:
    """Fragment, maintain, measure; the throw-away lakehouse is deleted afterwards."""
    from local_runtime.kit.maintenance_scenario import append_batch
    from local_runtime.submit import LocalResources, start_session
    from spark_jobs import maintenance
    from spark_jobs.cli import parse_job_args
    from spark_jobs.create_tables import create_missing

    root = Path(tempfile.mkdtemp(prefix="maintenance-bench-"))
    spark = start_session(
        "maintenance-bench",
        root / "warehouse",
        resources=LocalResources(shuffle_partitions=2, driver_memory="2g"),
    )
    try:
        create_missing(spark)
        t0 = time.perf_counter()
        for batch in range(batches):
            append_batch(spark, "pre", batch, hours=5)
        append_s = time.perf_counter() - t0
        before, query_before = _counts(spark), spark.sql(QUERY).collect()
        args = parse_job_args(
            maintenance.MAINTENANCE_JOB,
            ["--env", "local", "--run-id", "bench", "--data-dir", str(root), "--tables", "bronze.raw_events"],
        )
        t0 = time.perf_counter()
        report = maintenance.run(spark, args)[0]
        maintain_s = time.perf_counter() - t0
        after, query_after = _counts(spark), spark.sql(QUERY).collect()
        return {
            "batches": batches,
            "append_s": round(append_s, 2),
            "maintenance_s": round(maintain_s, 2),
            "before": before,
            "after": after,
            "data_files_ratio": round(after["data_files"] / max(1, before["data_files"]), 4),
            "query_equal": [tuple(r) for r in query_before] == [tuple(r) for r in query_after],
            "step_seconds": {k: v.get("seconds") for k, v in report["steps"].items()},
        }
    finally:
        spark.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 200), indent=2))
