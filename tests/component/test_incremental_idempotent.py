"""Incremental silver/gold runs are idempotent, backfills repair, failures are recorded.

* Re-running a cycle with no new bronze data changes nothing: same rows, no new
  snapshot on any silver/gold table, ledger rows with ``rows_out = 0``.
* A backfill over unchanged data writes nothing; a backfill over a damaged silver hour
  restores it and gold returns to the same values.
* A failing run is written to the ledger as FAILED and re-raises.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from local_runtime.generator import FaultRates, generate
from local_runtime.kit.bronze_rows import append_bronze, valid_lines
from spark_jobs import gold_batch, silver_batch
from spark_jobs.ledger import current_snapshot_id, runs_for
from tests.component.test_silver_gold_oracle import job_args
from wikistream.catalogue import DAILY_SUMMARY, HOURLY_STATS, RISK_SCORES, SILVER_EVENTS

pytestmark = pytest.mark.spark

START = datetime(2026, 11, 3, 0, 0, tzinfo=timezone.utc)
TABLES = (SILVER_EVENTS, HOURLY_STATS, RISK_SCORES, DAILY_SUMMARY)


def state(spark):
    """Per table: (current snapshot, rows without the write stamps)."""
    out = {}
    for spec in TABLES:
        drop = [c for c in ("processed_at", "updated_at") if c in spec.column_names]
        rows = sorted(tuple(r) for r in spark.table(spec.fqn()).drop(*drop).collect())
        out[spec.identifier] = (current_snapshot_id(spark, spec.fqn()), rows)
    return out


def cycle(spark, tmp_path, run_id, extra=()):
    return (
        silver_batch.run(spark, job_args(tmp_path, run_id, extra)),
        gold_batch.run(spark, job_args(tmp_path, run_id, extra)),
    )


def test_rerun_without_new_data_changes_nothing(empty_lake, tmp_path):
    spark = empty_lake
    lines = valid_lines(generate(900, seed=5, start=START, rate_per_s=0.2, faults=FaultRates(late=0.05)))
    append_bronze(spark, lines[:450], START + timedelta(hours=1))
    append_bronze(spark, lines[450:], START + timedelta(hours=2), 450)
    first = cycle(spark, tmp_path, "c1")
    assert [r.rows_out > 0 for r in first] == [True, True]
    before = state(spark)

    # When the same cycle runs again (twice) with nothing new in bronze
    again = cycle(spark, tmp_path, "c2") + cycle(spark, tmp_path, "c3")

    # Then nothing was written: same rows, same snapshots, 0 rows out, all SUCCEEDED
    assert state(spark) == before
    assert [(r.status, r.rows_out) for r in again] == [("SUCCEEDED", 0)] * 4
    assert [r.input_snapshot_from == r.input_snapshot_to for r in again] == [True] * 4
    assert [row["rows_out"] for row in runs_for(spark, "c2")] == [0, 0]

    # When a backfill covers everything but bronze and silver agree: nothing is written
    window = ("--backfill-from", "2026-10-01T00:00:00Z", "--backfill-to", "2026-12-01T00:00:00Z")
    silver, gold = cycle(spark, tmp_path, "b1", window)
    assert (silver.rows_in, silver.rows_out) == (len(lines), 0)
    assert gold.rows_out == 0
    assert state(spark) == before

    # When one silver hour is damaged behind the pipeline's back...
    victim = spark.table(SILVER_EVENTS.fqn()).where("user_name IS NOT NULL AND is_valid").first()
    spark.sql(
        f"UPDATE {SILVER_EVENTS.fqn()} SET user_name = 'Vandal', is_bot = NOT is_bot WHERE event_id = '{victim.event_id}'"
    )
    # ... a silver backfill over that hour restores it, and gold's next incremental run
    # (which sees the backfill's silver snapshot) returns to the same gold values
    hour_start = datetime.combine(victim.event_date, datetime.min.time(), timezone.utc) + timedelta(
        hours=victim.event_hour
    )
    fix = (
        "--backfill-from",
        hour_start.isoformat(),
        "--backfill-to",
        (hour_start + timedelta(hours=1)).isoformat(),
    )
    repaired = silver_batch.run(spark, job_args(tmp_path, "b2", fix))
    assert repaired.rows_out == 1
    assert repaired.input_snapshot_to == first[0].input_snapshot_to  # watermark unchanged
    gold_batch.run(spark, job_args(tmp_path, "c4"))
    after = state(spark)
    for spec in TABLES:
        assert after[spec.identifier][1] == before[spec.identifier][1], spec.identifier

    # And new data after a backfill is still picked up incrementally (watermark intact)
    extra = valid_lines(generate(50, seed=99, start=START + timedelta(hours=6), rate_per_s=0.2))
    append_bronze(spark, extra, START + timedelta(hours=8), 10_000)
    silver, _ = cycle(spark, tmp_path, "c5")
    assert (silver.rows_in, silver.rows_out) == (50, 50)


def test_failed_run_is_recorded_and_reraised(empty_lake, tmp_path):
    spark = empty_lake
    bad = ("--backfill-from", "2026-11-02T00:00:00Z", "--backfill-to", "2026-11-01T00:00:00Z")
    with pytest.raises(ValueError, match="before"):
        silver_batch.run(spark, job_args(tmp_path, "bad", bad))
    [row] = runs_for(spark, "bad")
    assert (row["job"], row["status"]) == ("silver_batch", "FAILED")
    assert "ValueError" in row["details"]


def test_silver_promotes_only_what_the_bronze_gate_judged(empty_lake, tmp_path):
    # Given two bronze appends, and a passed bronze gate of cycle "g1" that judged only the first
    from spark_jobs.ledger import RunRecord, record_run
    from wikistream.catalogue import RAW_EVENTS

    spark = empty_lake
    lines = valid_lines(generate(400, seed=9, start=START, rate_per_s=0.2))
    append_bronze(spark, lines[:150], START + timedelta(hours=1))
    judged = current_snapshot_id(spark, RAW_EVENTS.fqn())
    append_bronze(spark, lines[150:], START + timedelta(hours=2), 150)  # committed after the gate ran
    gate = RunRecord("g1", "dq_gate_bronze", "local", input_snapshot_to=judged)
    record_run(spark, gate.finish("SUCCEEDED"))

    # When silver runs for that cycle, then for a later cycle without a gate (a manual run)
    first = silver_batch.run(spark, job_args(tmp_path, "g1"))
    second = silver_batch.run(spark, job_args(tmp_path, "manual"))

    # Then the gated cycle promoted exactly the judged rows; the manual run took the rest
    assert (first.rows_in, first.input_snapshot_to) == (150, judged)
    assert first.details["bronze_gate"] == "passed"
    assert second.rows_in == 250 and second.details["bronze_gate"].startswith("absent")
    assert spark.table(SILVER_EVENTS.fqn()).count() == 400
