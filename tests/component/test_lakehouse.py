"""The local lakehouse: every catalogue table is created; Iceberg writes, MERGE and
time travel work; the ledger's incremental reads return exactly the new rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from spark_jobs import ledger
from spark_jobs.create_tables import create_missing
from wikistream.catalogue import DQ_RESULTS, PIPELINE_RUNS, TABLES

pytestmark = pytest.mark.spark


def test_every_catalogue_table_exists_with_its_declared_schema(empty_lake: Any) -> None:
    spark = empty_lake
    for table in TABLES:
        schema = spark.table(table.fqn()).schema
        assert [f.name for f in schema.fields] == list(table.column_names), table.identifier
        required = {c.name for c in table.columns if c.required}
        assert {f.name for f in schema.fields if not f.nullable} == required, table.identifier
        props = dict(spark.sql(f"SHOW TBLPROPERTIES {table.fqn()}").collect())
        for key, value in table.properties:
            assert props.get(key) == value, f"{table.identifier}: {key}"
    assert create_missing(spark) == [], "create_missing must be idempotent"


def test_insert_merge_and_time_travel(empty_lake: Any) -> None:
    spark = empty_lake
    t = PIPELINE_RUNS.fqn()
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    ledger.record_run(
        spark, ledger.RunRecord("r1", "silver_batch", "local", started_at=now).finish("RUNNING")
    )
    ledger.record_run(
        spark, ledger.RunRecord("r2", "silver_batch", "local", started_at=now).finish("RUNNING")
    )
    before = ledger.current_snapshot_id(spark, t)

    spark.sql(
        f"MERGE INTO {t} t USING (SELECT 'r1' AS run_id, 'SUCCEEDED' AS status) s "
        "ON t.run_id = s.run_id WHEN MATCHED THEN UPDATE SET t.status = s.status"
    )
    statuses = {r.run_id: r.status for r in spark.table(t).collect()}
    assert statuses == {"r1": "SUCCEEDED", "r2": "RUNNING"}

    old = {r.run_id: r.status for r in spark.sql(f"SELECT * FROM {t} VERSION AS OF {before}").collect()}
    assert old == {"r1": "RUNNING", "r2": "RUNNING"}
    assert ledger.last_successful(spark, "silver_batch", "local")["run_id"] == "r1"  # type: ignore[index]


def test_the_last_successful_run_is_read_from_the_newest_window_holding_one(empty_lake: Any) -> None:
    spark = empty_lake
    now = datetime(2026, 12, 5, 12, tzinfo=timezone.utc)

    def run(run_id: str, days_ago: float, status: str = ledger.SUCCEEDED) -> None:
        started = now - timedelta(days=days_ago)
        record = ledger.RunRecord(run_id, "silver_batch", "local", started_at=started).finish(status)
        record.finished_at = started + timedelta(minutes=5)
        ledger.record_run(spark, record)

    def last() -> str:
        found = ledger.last_successful(spark, "silver_batch", "local", now=now)
        assert found is not None
        return str(found["run_id"])

    # Older than every window: found by the whole-table read.
    run("idle-since", 40)
    assert last() == "idle-since"
    # Ten days back: the 31-day window.
    run("ten-days", 10)
    assert last() == "ten-days"
    # A success in the 2-day window that a rollback voided does not stop the search.
    run("voided", 1)
    run("voided", 0.5, ledger.ROLLED_BACK)
    assert last() == "ten-days"
    run("today", 0.1)
    assert last() == "today"


def test_a_cycles_ledger_rows_are_read_from_the_days_since_its_execution_started(empty_lake: Any) -> None:
    spark = empty_lake
    start = datetime(2026, 12, 5, 12, tzinfo=timezone.utc)

    def run(job: str, at: datetime) -> None:
        ledger.record_run(
            spark, ledger.RunRecord("cycle-window", job, "local", started_at=at).finish(ledger.SUCCEEDED)
        )

    # A row ten days before the execution started cannot be the cycle's (an older
    # execution of the same name); one stamped by a job clock 30 minutes behind can.
    run("dq_gate_bronze", start - timedelta(days=10))
    run("dq_gate_bronze", start - timedelta(minutes=30))
    run("silver_batch", start + timedelta(minutes=1))
    # A redrive three days later keeps the execution's start time: its rows are found.
    run("dq_gate_silver", start + timedelta(days=3))
    jobs = [r["job"] for r in ledger.runs_for(spark, "cycle-window", start)]
    assert jobs == ["dq_gate_bronze", "silver_batch", "dq_gate_silver"]
    assert ledger.succeeded_run(spark, "cycle-window", "silver_batch", start) is not None
    # A job run by hand, without the start time, reads the whole ledger.
    assert len(ledger.runs_for(spark, "cycle-window")) == 4


def test_gold_finds_the_silver_run_of_every_new_silver_snapshot(empty_lake: Any, capsys: Any) -> None:
    from spark_jobs.gold.scope import silver_runs_for
    from spark_jobs.silver.lineage import SILVER_JOB

    spark = empty_lake
    committed = datetime(2026, 12, 5, 12, tzinfo=timezone.utc)

    def silver(snapshot: int, started: datetime) -> None:
        record = ledger.RunRecord(f"silver-{snapshot}", SILVER_JOB, "local", started_at=started)
        record.output_snapshot_id = snapshot
        ledger.record_run(spark, record.finish(ledger.SUCCEEDED))

    def snapshot(snapshot_id: int, operation: str, minutes: int) -> dict:
        return {
            "snapshot_id": snapshot_id,
            "operation": operation,
            "made_current_at": committed + timedelta(minutes=minutes),
        }

    silver(901, committed - timedelta(days=5))  # outside the first (2-day) window
    silver(902, committed + timedelta(minutes=3))
    # 903 is a compaction: no silver run made it, and none is looked for.
    snapshots = [snapshot(901, "append", 0), snapshot(903, "replace", 2), snapshot(902, "overwrite", 5)]
    found = silver_runs_for(spark, "local", snapshots)
    assert sorted(r["output_snapshot_id"] for r in found) == [901, 902]
    assert capsys.readouterr().out == ""
    # A snapshot that changed data without a silver run is named, not skipped in silence.
    found = silver_runs_for(spark, "local", [*snapshots, snapshot(904, "append", 9)])
    assert sorted(r["output_snapshot_id"] for r in found) == [901, 902]
    assert "silver snapshot(s) [904] have no SUCCEEDED" in capsys.readouterr().out


def _append_results(spark: Any, run_ids: list[str]) -> int:
    values = {
        "layer": "bronze",
        "check_name": "c",
        "check_type": "completeness",
        "level": "ERROR",
        "status": "PASS",
        "rows_tested": 1,
        "evaluated_at": datetime.now(timezone.utc),
    }
    rows = [tuple({**values, "run_id": r}.get(c) for c in DQ_RESULTS.column_names) for r in run_ids]
    spark.createDataFrame(rows, spark.table(DQ_RESULTS.fqn()).schema).writeTo(DQ_RESULTS.fqn()).append()
    return ledger.current_snapshot_id(spark, DQ_RESULTS.fqn())  # type: ignore[return-value]


def test_incremental_read_returns_only_rows_committed_in_range(empty_lake: Any) -> None:
    spark = empty_lake
    t = DQ_RESULTS.fqn()
    s1 = _append_results(spark, ["a", "b"])
    s2 = _append_results(spark, ["c"])
    s3 = _append_results(spark, ["d", "e"])

    def ids(df: Any) -> list[str]:
        return sorted(r.run_id for r in df.collect())

    assert ids(ledger.read_appended(spark, t, None, s1)) == ["a", "b"]
    assert ids(ledger.read_appended(spark, t, s1, s3)) == ["c", "d", "e"]
    assert ids(ledger.read_appended(spark, t, s2, s3)) == ["d", "e"]
    assert ids(ledger.read_appended(spark, t, s3, s3)) == []


def test_incremental_read_refuses_to_skip_an_overwrite(empty_lake: Any) -> None:
    spark = empty_lake
    t = DQ_RESULTS.fqn()
    s1 = _append_results(spark, ["a"])
    spark.sql(f"UPDATE {t} SET status = 'FAIL' WHERE run_id = 'a'")
    s2 = ledger.current_snapshot_id(spark, t)
    with pytest.raises(ledger.NonAppendSnapshotError, match="overwrite"):
        ledger.read_appended(spark, t, s1, s2)  # type: ignore[arg-type]
