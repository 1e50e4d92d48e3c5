"""Silver batch job: new bronze rows -> cleaned, enriched, de-duplicated ``silver.events``.

Incremental by default: reads exactly the bronze rows appended since the last
SUCCEEDED silver run (snapshot ids in ``ops.pipeline_runs``), late events included
(they are new appends whatever their event time), transforms them with the pure
functions of :mod:`spark_jobs.silver.transforms` and MERGEs only the rows that change
into the touched ``(event_date, event_hour)`` partitions. Nothing new -> nothing
written (no snapshot). ``--backfill-from/--backfill-to`` re-derives a time range from
the whole of bronze instead, without moving the incremental watermark.

Usage: ``silver_batch.py --env ENV --run-id ID [--backfill-from ISO --backfill-to ISO]``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Optional, Sequence

from spark_jobs.ledger import (
    RunRecord,
    current_snapshot_id,
    execute_recorded,
    last_successful,
    read_appended,
    succeeded_run,
)
from spark_jobs.registry import gate_ledger_name
from spark_jobs.silver.lineage import (
    MODE_BACKFILL,
    MODE_INCREMENTAL,
    SILVER_JOB,
    encode_details,
    parse_backfill,
)
from wikistream.catalogue import RAW_EVENTS, SILVER_EVENTS

#: The ledger job name of the bronze gate (spark_jobs/dq_gate.py records ``dq_gate_<layer>``).
BRONZE_GATE_JOB = gate_ledger_name("bronze")

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from spark_jobs.cli import JobArgs
    from wikistream.metrics import MetricsSink


def _bronze_input(spark: SparkSession, args: JobArgs, record: RunRecord) -> Optional[DataFrame]:
    """The bronze rows this run must process (``None`` when there are none), filling
    the record's input lineage."""
    from pyspark.sql import functions as F

    bronze = RAW_EVENTS.fqn()
    previous = last_successful(spark, SILVER_JOB, args.env)
    watermark = previous["input_snapshot_to"] if previous else None
    upto = current_snapshot_id(spark, bronze)
    window = parse_backfill(args.extra)
    record.input_snapshot_from = watermark
    if window is not None:
        # A backfill re-reads history; the incremental watermark stays where it was.
        record.input_snapshot_to = watermark
        record.details["bronze_snapshot"] = upto
        if upto is None:
            return None
        start, end = window
        return (
            spark.read.option("snapshot-id", upto)
            .table(bronze)
            .where((F.col("event_time") >= F.lit(start)) & (F.col("event_time") < F.lit(end)))
        )
    # Promote exactly what this cycle's bronze gate judged, not rows the stream committed
    # after it: the gate recorded that snapshot as its input_snapshot_to.
    gate = succeeded_run(spark, args.run_id, BRONZE_GATE_JOB, args.cycle_started_at)
    if gate is not None:
        upto = gate["input_snapshot_to"]
        record.details["bronze_gate"] = "passed"
    else:
        record.details["bronze_gate"] = "absent (manual run): promoting up to the current snapshot"
    record.input_snapshot_to = upto if upto is not None else watermark
    if upto is None or upto == watermark:
        return None
    return read_appended(spark, bronze, watermark, upto)


def process(spark: SparkSession, args: JobArgs, record: RunRecord) -> None:
    """Read, transform and MERGE; fill ``record`` (rows, output snapshot, details)."""
    from spark_jobs.silver.merge import merge_changes
    from spark_jobs.silver.transforms import to_silver

    window = parse_backfill(args.extra)
    mode = MODE_BACKFILL if window else MODE_INCREMENTAL
    record.details.update(encode_details(mode, [], record.started_at))
    if window:
        record.details["backfill"] = [window[0].isoformat(), window[1].isoformat()]
    bronze_rows = _bronze_input(spark, args, record)
    if bronze_rows is None:
        record.rows_in = record.rows_out = 0
        return
    bronze_rows = bronze_rows.cache()
    try:
        record.rows_in = bronze_rows.count()
        silver_rows = to_silver(bronze_rows, record.started_at)
        written, hours = merge_changes(spark, silver_rows)
    finally:
        bronze_rows.unpersist()
    record.rows_out = written
    if written:
        record.output_snapshot_id = current_snapshot_id(spark, SILVER_EVENTS.fqn())
    record.details.update(encode_details(mode, hours, record.started_at))


def run(spark: SparkSession, args: JobArgs, sink: Optional[MetricsSink] = None) -> RunRecord:
    """One silver run in an existing session; recorded in the ledger (FAILED re-raises)."""
    record = RunRecord(
        args.run_id, SILVER_JOB, args.env, input_table=RAW_EVENTS.fqn(), output_table=SILVER_EVENTS.fqn()
    )
    return execute_recorded(spark, record, lambda: process(spark, args, record), sink)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point (EMR Serverless and local): parse args, build the session, run once."""
    from spark_jobs.cli import metrics_for, parse_job_args, session_for

    args = parse_job_args(SILVER_JOB, argv)
    parse_backfill(args.extra)  # fail fast on a bad window, before starting Spark
    spark = session_for(args, "wikistream-silver")
    record = run(spark, args, metrics_for(args))
    print(
        f"silver: {record.status} rows_in={record.rows_in} rows_out={record.rows_out} in {record.duration_s}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
