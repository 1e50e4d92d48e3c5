"""Table maintenance: compaction while bronze keeps appending, without changing results.

* Unit: the conflict-retry helper, the step selection per target and the SQL plan.
* Component: a fragmented ``bronze.raw_events`` (20 appends x 10 hourly partitions = 200
  small files) is compacted, its manifests rewritten and snapshots expired while a second
  thread keeps appending (as the bronze stream would): the pre-existing rows end up in
  <= 5 % of the files, every query result over them is unchanged and every concurrent
  append is present. ``run()`` records itself in the ledger, emits metrics and removes an
  old orphan file.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from local_runtime.kit.maintenance_scenario import BRONZE, append_batch, maintain_during_appends, pre_state
from spark_jobs import maintenance as m
from wikistream.catalogue import SILVER_EVENTS
from wikistream.config import load_config

# --------------------------------------------------------------------------- unit


class FakeJavaError(Exception):
    """Stands in for a Py4J error whose text names the Java exception class."""


def test_retry_helper_retries_conflicts_with_backoff_then_succeeds() -> None:
    calls, slept = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise FakeJavaError(
                "An error occurred while calling o1.sql: org.apache.iceberg.exceptions."
                "CommitFailedException: Cannot commit: stale metadata"
            )
        return "done"

    assert m.with_retries(flaky, attempts=5, base_s=1.0, sleep=slept.append) == ("done", 2)
    assert slept == [1.0, 2.0]


def test_retry_helper_gives_up_after_attempts_and_never_retries_other_errors() -> None:
    slept: list = []

    def conflict() -> None:
        raise FakeJavaError("org.apache.iceberg.exceptions.ValidationException: found new delete")

    with pytest.raises(FakeJavaError):
        m.with_retries(conflict, attempts=3, base_s=1.0, sleep=slept.append)
    assert slept == [1.0, 2.0]

    def broken() -> None:
        raise FakeJavaError("AnalysisException: table not found")

    slept.clear()
    with pytest.raises(FakeJavaError):
        m.with_retries(broken, attempts=3, sleep=slept.append)
    assert slept == []
    assert m.backoff_delays(6, 2.0, 10.0) == [2.0, 4.0, 8.0, 10.0, 10.0]
    partial = FakeJavaError(
        "partial-progress.enabled is true but 1 rewrite commits failed. This is more than ..."
    )
    assert m.is_commit_conflict(partial) and not m.is_commit_conflict(FakeJavaError("ParseException"))


def test_emr_skips_managed_and_unsupported_steps_with_reasons() -> None:
    run, skipped = m.select_steps("emr", None)
    assert run == [m.POSITION_DELETES, m.MANIFESTS]
    assert set(skipped) == {m.COMPACT, m.EXPIRE, m.ORPHANS}
    assert "managed on AWS" in skipped[m.COMPACT] and "unsupported" in skipped[m.ORPHANS]
    forced, skipped = m.select_steps("emr", [m.COMPACT, m.ORPHANS])
    assert forced == [m.COMPACT] and "unsupported" in skipped[m.ORPHANS]
    assert m.select_steps("local", None) == (list(m.ALL_STEPS), {})
    with pytest.raises(ValueError):
        m.select_steps("local", ["vacuum"])


def test_plan_uses_table_target_size_config_retention_and_mor_only_delete_rewrite() -> None:
    policy = load_config("local").lakehouse
    now = datetime(2026, 11, 10, 12, 0, tzinfo=timezone.utc)
    cow = m.plan_table(
        BRONZE, {"write.target-file-size-bytes": "1048576"}, policy, "local", now, where="event_hour = 1"
    )
    sql = {s.name: s.sql for s in cow}
    assert (
        "'target-file-size-bytes', '1048576'" in sql[m.COMPACT]
        and "where => 'event_hour = 1'" in sql[m.COMPACT]
    )
    assert (
        "'min-input-files', '2'" in sql[m.COMPACT] and "'partial-progress.enabled', 'true'" in sql[m.COMPACT]
    )
    assert sql[m.POSITION_DELETES] is None  # copy-on-write: nothing to rewrite
    expected_expiry = (now - timedelta(hours=policy.snapshot_retention_hours)).strftime("%Y-%m-%d %H:%M:%S")
    assert (
        expected_expiry in sql[m.EXPIRE] and f"retain_last => {policy.min_snapshots_to_keep}" in sql[m.EXPIRE]
    )
    assert (now - timedelta(days=policy.unreferenced_file_days)).strftime("%Y-%m-%d") in sql[m.ORPHANS]
    assert sql[m.COMPACT].startswith("CALL lake.system.rewrite_data_files(table => 'bronze.raw_events'")
    mor = {
        s.name: s.sql
        for s in m.plan_table(SILVER_EVENTS.fqn(), dict(SILVER_EVENTS.properties), policy, "local", now)
    }
    assert mor[m.POSITION_DELETES] is not None and "'delete-file-threshold', '1'" in mor[m.COMPACT]
    # No table property -> the configured compaction target.
    bare = {s.name: s.sql for s in m.plan_table(BRONZE, {}, policy, "local", now)}
    assert f"'{policy.compaction_target_file_mb * 1024 * 1024}'" in bare[m.COMPACT]


# --------------------------------------------------------------------------- component


@pytest.mark.spark
def test_compaction_during_concurrent_appends_keeps_results_and_loses_nothing(empty_lake) -> None:
    spark = empty_lake
    # Given a bronze table fragmented by 20 micro-batches x 10 hours = 200 small files
    pre_ids = []
    for batch in range(20):
        pre_ids += append_batch(spark, "pre", batch)
    before_result, before_files = pre_state(spark)
    assert before_files == 200 and sum(r[2] for r in before_result) == len(pre_ids)
    old_snapshots = {r[0] for r in spark.sql(f"SELECT snapshot_id FROM {BRONZE}.snapshots").collect()}

    # When maintenance (compaction, manifests, expiry with 0 h retention) runs while a
    # second thread keeps appending to the same partitions
    run = maintain_during_appends(spark)
    report, written = run.report, run.written

    # Then: the pre-existing rows sit in <= 5 % of the files, with identical results
    assert not run.errors and not run.writer_alive
    assert [report.steps[s]["status"] for s in (m.COMPACT, m.MANIFESTS, m.EXPIRE)] == ["ok"] * 3, report.steps
    after_result, after_files = pre_state(spark)
    assert after_files <= before_files * 0.05, (before_files, after_files, report.steps)
    assert after_result == before_result
    # every concurrent append is there, exactly once
    got = [r[0] for r in spark.sql(f"SELECT event_id FROM {BRONZE} WHERE event_id LIKE 'conc-%'").collect()]
    assert len(written) >= 6 and sorted(got) == sorted(written)
    # and the report reflects it: fewer data files, old snapshots expired
    assert report.before["data_files"] >= 200 and report.after["data_files"] < report.before["data_files"]
    assert report.steps[m.COMPACT]["rewritten_data_files_count"] > 0
    kept = {r[0] for r in spark.sql(f"SELECT snapshot_id FROM {BRONZE}.snapshots").collect()} & old_snapshots
    assert len(old_snapshots) == 20 and len(kept) <= run.policy.min_snapshots_to_keep


@pytest.mark.spark
def test_run_records_ledger_emits_metrics_removes_old_orphans_and_dry_run_changes_nothing(
    empty_lake, spark_warehouse: Path, tmp_path: Path
) -> None:
    from spark_jobs.cli import parse_job_args
    from spark_jobs.ledger import runs_for
    from wikistream.metrics import MAINTENANCE_FILES_AFTER, MAINTENANCE_FILES_BEFORE, read_local_metrics

    spark = empty_lake
    for batch in range(3):
        append_batch(spark, "pre", batch, hours=2)
    data_dir = spark_warehouse / "bronze" / "raw_events" / "data"
    orphan, fresh = data_dir / "orphan-old.parquet", data_dir / "orphan-new.parquet"
    for path in (orphan, fresh):
        path.write_bytes(b"not referenced by any snapshot")
    week_ago = time.time() - 7 * 86400
    os.utime(orphan, (week_ago, week_ago))
    base = ["--env", "local", "--run-id", "m1", "--data-dir", str(tmp_path), "--tables", "bronze.raw_events"]

    # Dry run: the plan, no change
    plan = m.run(spark, parse_job_args(m.MAINTENANCE_JOB, [*base, "--dry-run"]))
    assert plan[0]["steps"][m.COMPACT].startswith("CALL lake.system.rewrite_data_files")
    assert spark.sql(f"SELECT count(*) FROM {BRONZE}.files").collect()[0][0] == 6 and orphan.exists()
    assert runs_for(spark, "m1") == []

    from spark_jobs.cli import metrics_for

    args = parse_job_args(m.MAINTENANCE_JOB, base)
    reports = m.run(spark, args, metrics_for(args), base_s=0.2)
    assert [r["table"] for r in reports] == [BRONZE]
    assert (reports[0]["before"]["data_files"], reports[0]["after"]["data_files"]) == (6, 2)
    assert reports[0]["steps"][m.ORPHANS]["orphan_files_removed"] == 1
    assert not orphan.exists() and fresh.exists()  # younger than unreferenced_file_days: kept
    fresh.unlink()
    ledger = runs_for(spark, "m1")
    assert [(r["job"], r["status"], r["rows_in"], r["rows_out"]) for r in ledger] == [
        ("maintenance", "SUCCEEDED", 6, 2)
    ]
    metrics = tmp_path / "metrics" / "metrics.ndjson"
    assert [(d["value"], d["dims"]) for d in read_local_metrics(metrics, MAINTENANCE_FILES_BEFORE)] == [
        (6.0, {"Env": "local", "Table": "bronze.raw_events"})
    ]
    assert [d["value"] for d in read_local_metrics(metrics, MAINTENANCE_FILES_AFTER)] == [2.0]
