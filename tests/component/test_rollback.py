"""Rollback of a bad cycle restores silver/gold to their pre-cycle snapshots.

The cycles are simulated the way silver_batch/gold_batch leave them (writes inside a
ledger run's ``[started_at, finished_at]``, one ledger row per job): a good cycle ``c1``,
a bad cycle ``c2`` that promotes wrong rows (update + append + delete, a table written for
the first time) and a later cycle ``c3`` built on top of it. Rolling back ``c2`` must
restore every table to exactly its rows before ``c2`` (compared with ``VERSION AS OF``
the snapshot captured then, or empty), void ``c2`` and ``c3`` in the ledger so the next
silver/gold runs start from ``c1``'s watermarks, and be a no-op the second time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from spark_jobs import rollback as rb
from spark_jobs.cli import parse_job_args
from spark_jobs.ledger import SUCCEEDED, RunRecord, current_snapshot_id, last_successful, record_run
from wikistream.catalogue import DAILY_SUMMARY, HOURLY_STATS, RISK_SCORES, SILVER_EVENTS, TableSpec

SILVER, HOURLY, RISK, DAILY = (t.fqn() for t in (SILVER_EVENTS, HOURLY_STATS, RISK_SCORES, DAILY_SUMMARY))
T0 = datetime(2026, 11, 1, 3, 0, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- unit


def test_plan_restores_parent_of_first_cycle_snapshot_and_voids_later_runs() -> None:
    runs = [
        rb.LedgerRun("c1", "silver_batch", SUCCEEDED, 100_000_000, 200_000_000, (SILVER,)),
        rb.LedgerRun("c2", "silver_batch", SUCCEEDED, 300_000_000, 400_000_000, (SILVER,)),
        rb.LedgerRun(
            "c2", "gold_batch", "FAILED", 410_000_000, 500_000_000, ()
        ),  # crashed: tables from the job
        rb.LedgerRun("c3", "silver_batch", SUCCEEDED, 600_000_000, 700_000_000, (SILVER,)),
    ]
    lineages = {
        SILVER: [
            rb.Snapshot(1, None, 150_000_000),
            rb.Snapshot(2, 1, 320_000_000),
            rb.Snapshot(3, 2, 390_000_000),
            rb.Snapshot(4, 3, 650_000_000),
        ],
        HOURLY: [rb.Snapshot(10, None, 150_000_000), rb.Snapshot(11, 10, 450_000_000)],
        RISK: [rb.Snapshot(20, None, 150_000_000)],
        DAILY: [rb.Snapshot(30, None, 420_000_000)],
    }
    plan = rb.plan_rollback("c2", runs, lineages)
    assert {(a.table, a.restore_to, a.discarded) for a in plan.actions} == {
        (SILVER, 1, (2, 3, 4)),
        (HOURLY, 10, (11,)),
        (DAILY, None, (30,)),
    }
    assert plan.runs_to_mark == [("c2", "gold_batch"), ("c2", "silver_batch"), ("c3", "silver_batch")]
    assert any(RISK in n for n in plan.notes)
    with pytest.raises(ValueError):
        rb.plan_rollback("nope", runs, lineages)


def test_to_snapshot_arguments_are_validated() -> None:
    assert rb.parse_to_snapshot(["silver.events=12", "lake.gold.daily_summary=-3"]) == {SILVER: 12, DAILY: -3}
    for bad in ("silver.events", "nope.table=1", "silver.events=abc"):
        with pytest.raises(ValueError):
            rb.parse_to_snapshot([bad])


# --------------------------------------------------------------------------- component


def _value(col, i: int, tag: str):
    if col.name == "event_date":
        return date(2026, 11, 1) + timedelta(days=i % 2)
    if col.name == "event_hour":
        return i % 3
    return {
        "string": f"{col.name}-{tag}-{i}",
        "int": i,
        "long": 1000 + i,
        "boolean": i % 2 == 0,
        "double": i / 4,
        "date": date(2026, 11, 1),
        "timestamptz": T0 + timedelta(minutes=i),
    }[col.type]


def append(spark, spec: TableSpec, tag: str, n: int = 4, first: int = 0) -> None:
    rows = [tuple(_value(c, i, tag) for c in spec.columns) for i in range(first, first + n)]
    spark.createDataFrame(rows, spark.table(spec.fqn()).schema).writeTo(spec.fqn()).append()


def job(spark, run_id: str, name: str, tables, write, bronze_to: int) -> None:
    """One simulated job run: ledger record around the writes, like execute_recorded."""
    record = RunRecord(run_id, name, "local", input_snapshot_to=bronze_to, output_table=",".join(tables))
    write()
    record.output_snapshot_id = current_snapshot_id(spark, tables[0])
    record_run(spark, record.finish(SUCCEEDED))


def rows_at(spark, table: str, snapshot):
    if snapshot is None:
        return []
    return sorted(tuple(r) for r in spark.sql(f"SELECT * FROM {table} VERSION AS OF {snapshot}").collect())


@pytest.mark.spark
def test_rollback_of_bad_cycle_restores_pre_cycle_snapshots_and_voids_its_runs(
    empty_lake, tmp_path: Path
) -> None:
    spark = empty_lake
    gold_tables = (HOURLY, RISK, DAILY)
    # Given a good cycle c1
    job(spark, "c1", "silver_batch", (SILVER,), lambda: append(spark, SILVER_EVENTS, "good"), 101)
    job(
        spark,
        "c1",
        "gold_batch",
        gold_tables,
        lambda: (append(spark, HOURLY_STATS, "good"), append(spark, RISK_SCORES, "good")),
        101,
    )
    before = {t: current_snapshot_id(spark, t) for t in (SILVER, *gold_tables)}
    assert before[DAILY] is None  # c1 never wrote daily_summary
    expected = {t: rows_at(spark, t, s) for t, s in before.items()}

    # and a bad cycle c2 promoting wrong data (update, append, delete, a first write),
    def bad_silver() -> None:
        spark.sql(f"UPDATE {SILVER} SET title = 'WRONG' WHERE event_hour = 1")
        append(spark, SILVER_EVENTS, "bad", first=10)

    def bad_gold() -> None:
        spark.sql(f"DELETE FROM {HOURLY} WHERE event_hour = 0")
        append(spark, HOURLY_STATS, "bad", first=10)
        append(spark, DAILY_SUMMARY, "bad")

    job(spark, "c2", "silver_batch", (SILVER,), bad_silver, 202)
    job(spark, "c2", "gold_batch", gold_tables, bad_gold, 202)
    # then a cycle c3 on top of it
    job(spark, "c3", "silver_batch", (SILVER,), lambda: append(spark, SILVER_EVENTS, "later", first=20), 303)
    assert rows_at(spark, SILVER, current_snapshot_id(spark, SILVER)) != expected[SILVER]
    assert last_successful(spark, "silver_batch", "local")["run_id"] == "c3"

    def rollback(*extra: str):
        args = parse_job_args(
            rb.ROLLBACK_JOB, ["--env", "local", "--run-id", "c2", "--data-dir", str(tmp_path), *extra]
        )
        return rb.run(spark, args)

    # When the plan is printed (dry run): it names the pre-cycle snapshots, changes nothing
    dry = rollback("--dry-run")
    planned = {a["table"]: a["restore_to"] for a in dry["plan"]["actions"]}
    assert planned == {SILVER: before[SILVER], HOURLY: before[HOURLY], DAILY: None}
    assert last_successful(spark, "silver_batch", "local")["run_id"] == "c3"

    # and then applied
    done = rollback()

    # Then every table holds exactly its pre-c2 rows
    for table in (SILVER, *gold_tables):
        now = sorted(tuple(r) for r in spark.table(table).collect())
        assert now == expected[table], table
    assert (
        current_snapshot_id(spark, SILVER) == before[SILVER]
        and current_snapshot_id(spark, RISK) == before[RISK]
    )
    assert any("rollback_to_snapshot" in s for s in done["sql"]) and f"DELETE FROM {DAILY}" in done["sql"]
    # and the ledger no longer counts c2 (nor c3, built on it): the next runs start from c1
    for name in ("silver_batch", "gold_batch"):
        last = last_successful(spark, name, "local")
        assert (last["run_id"], last["input_snapshot_to"]) == ("c1", 101)
    # and rolling back again changes nothing
    again = rollback()
    assert again["sql"] == [] and {a["table"] for a in again["plan"]["actions"]} <= {DAILY}
    assert sorted(tuple(r) for r in spark.table(SILVER).collect()) == expected[SILVER]
    marks = spark.sql("SELECT run_id, job FROM lake.ops.pipeline_runs WHERE status = 'ROLLED_BACK'").collect()
    assert sorted(tuple(r) for r in marks) == [
        ("c2", "gold_batch"),
        ("c2", "silver_batch"),
        ("c3", "silver_batch"),
    ]


@pytest.mark.spark
def test_manual_to_snapshot_sets_table_state(empty_lake, tmp_path: Path) -> None:
    spark = empty_lake
    append(spark, SILVER_EVENTS, "one")
    first = current_snapshot_id(spark, SILVER)
    expected = rows_at(spark, SILVER, first)
    append(spark, SILVER_EVENTS, "two", first=5)
    args = parse_job_args(
        rb.ROLLBACK_JOB,
        [
            "--env",
            "local",
            "--run-id",
            "m",
            "--data-dir",
            str(tmp_path),
            "--to-snapshot",
            f"silver.events={first}",
        ],
    )
    rb.run(spark, args)
    assert sorted(tuple(r) for r in spark.table(SILVER).collect()) == expected
