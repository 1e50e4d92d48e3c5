"""Every job of a cycle learns when its execution started (``--cycle-started-at``), as
Step Functions writes it, so its ledger reads stay in the cycle's day partitions."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from local_runtime.sfn_local import aws_timestamp
from spark_jobs.cli import parse_job_args
from spark_jobs.registry import RUN_ID_OF_EXECUTION, START_OF_EXECUTION, emr_arguments
from stacks.constructs.pipeline import entry_point_arguments


def test_the_execution_start_is_parsed_as_an_aware_utc_instant() -> None:
    args = parse_job_args(
        "silver_batch", ["--run-id", "c1", "--cycle-started-at", "2026-12-05T09:10:00.123Z"]
    )
    assert args.cycle_started_at == datetime(2026, 12, 5, 9, 10, 0, 123000, tzinfo=timezone.utc)
    assert parse_job_args("silver_batch", ["--run-id", "c1"]).cycle_started_at is None


@pytest.mark.parametrize("bad", ["yesterday", "2026-12-05T09:10:00", "2026-13-05T09:10:00Z"])
def test_a_start_time_without_a_zone_or_not_a_time_is_refused(bad: str) -> None:
    with pytest.raises(SystemExit):
        parse_job_args("silver_batch", ["--cycle-started-at", bad])


def test_the_cycle_jobs_get_the_execution_start_from_the_context_object() -> None:
    common = emr_arguments(
        env="dev",
        run_id=RUN_ID_OF_EXECUTION,
        cycle_started_at=START_OF_EXECUTION,
        table_bucket_arn="a",
        region="r",
    )
    rendered = entry_point_arguments(common, ["--layer", "silver"])
    assert "'--run-id', $$.Execution.Name" in rendered
    assert "'--cycle-started-at', $$.Execution.StartTime" in rendered
    # Jobs outside the cycle (the bronze stream, maintenance) get no start time.
    assert "--cycle-started-at" not in emr_arguments(
        env="dev", run_id="bronze", table_bucket_arn="a", region="r"
    )


def test_the_local_interpreter_writes_the_start_time_as_aws_does() -> None:
    stamp = aws_timestamp(datetime(2026, 12, 5, 10, 10, 0, 123456, tzinfo=timezone.utc))
    assert stamp == "2026-12-05T10:10:00.123Z"
    assert parse_job_args("gold_batch", ["--cycle-started-at", stamp]).cycle_started_at == datetime(
        2026, 12, 5, 10, 10, 0, 123000, tzinfo=timezone.utc
    )
