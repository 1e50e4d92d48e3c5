"""Job requests from the synthesized state machine are re-pointed at the local lakehouse."""

from __future__ import annotations

from pathlib import Path

from local_runtime.jobs import localize_arguments


def test_aws_addressing_arguments_are_replaced_and_the_rest_kept() -> None:
    args = [
        "--env", "dev", "--run-id", "cycle-7", "--cycle-started-at", "2026-12-05T09:10:00.123Z", "--target", "emr",
        "--table-bucket-arn", "arn:aws:s3tables:eu-west-1:111122223333:bucket/lake",
        "--region=eu-west-1", "--layer", "silver",
    ]  # fmt: skip
    assert localize_arguments(args, Path("/d")) == [
        "--run-id", "cycle-7", "--cycle-started-at", "2026-12-05T09:10:00.123Z", "--layer", "silver", "--env", "local", "--target", "local", "--data-dir", "/d",
    ]  # fmt: skip


def test_make_run_dq_engine_reaches_the_config_of_the_local_run() -> None:
    from local_runtime.options import parse_args

    assert parse_args(["--dq-engine", "deequ"]).dq_engine == "deequ"
    assert parse_args([]).dq_engine is None
