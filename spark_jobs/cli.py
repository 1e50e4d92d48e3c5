"""Argument parsing and session/metrics wiring shared by every job entry point.

Every job takes the same typed arguments, whether EMR Serverless starts it
(``entryPointArguments`` from the state machine) or the local runner does:
``--env``, ``--run-id``, ``--target local|emr``, and for ``emr`` the S3 Tables bucket ARN
and region (passed by CDK from the deployed resources, never hard-coded). The jobs of a
cycle also get ``--cycle-started-at`` (the execution's start time), which bounds their
ledger reads to the cycle's own day partitions; a job run by hand may leave it out and
then reads the whole ledger.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Sequence

from wikistream.config import ENVIRONMENTS, METRICS_NAMESPACE, PlatformConfig, load_config
from wikistream.events import parse_dt
from wikistream.metrics import DIM_ENV, CloudWatchMetricsSink, LocalMetricsSink, MetricsSink, WithDimensions

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class JobArgs:
    job: str
    env: str
    run_id: str
    target: str
    data_dir: Path
    table_bucket_arn: Optional[str]
    region: Optional[str]
    extra: List[str]
    #: When the cycle's execution started (``$$.Execution.StartTime``); ``None`` for a run by hand.
    cycle_started_at: Optional[datetime] = None

    @property
    def config(self) -> PlatformConfig:
        return load_config(self.env, {"data_dir": str(self.data_dir)})


def parse_job_args(
    job: str, argv: Optional[Sequence[str]] = None, parser: Optional[argparse.ArgumentParser] = None
) -> JobArgs:
    """Parse the common job arguments; job-specific ones stay in ``extra``."""
    p = parser or argparse.ArgumentParser(prog=job)
    p.add_argument("--env", choices=ENVIRONMENTS, default="local")
    p.add_argument("--run-id", default="manual")
    p.add_argument(
        "--cycle-started-at",
        type=instant,
        default=None,
        help="ISO 8601 start of the cycle's execution (the state machine passes it)",
    )
    p.add_argument(
        "--target", choices=("local", "emr"), default=None, help="default: local for env=local, else emr"
    )
    p.add_argument("--data-dir", type=Path, default=Path(".wikistream"))
    p.add_argument("--table-bucket-arn", default=None)
    p.add_argument("--region", default=None)
    ns, extra = p.parse_known_args(argv)
    target = ns.target or ("local" if ns.env == "local" else "emr")
    if target == "emr" and not (ns.table_bucket_arn and ns.region):
        p.error("--target emr needs --table-bucket-arn and --region")
    return JobArgs(
        job,
        ns.env,
        ns.run_id,
        target,
        ns.data_dir,
        ns.table_bucket_arn,
        ns.region,
        list(extra),
        ns.cycle_started_at,
    )


def instant(text: str) -> datetime:
    """An ISO 8601 instant with a zone (Step Functions writes ``2026-12-05T09:10:00.123Z``)."""
    parsed = parse_dt(text)
    if parsed is None:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 instant with a zone: {text!r}")
    return parsed


def session_for(args: JobArgs, app_name: str) -> SparkSession:
    """The session the launcher started for this job (see :mod:`spark_jobs.launch`)."""
    from spark_jobs.session import get_session

    return get_session(app_name)


def metrics_for(args: JobArgs) -> MetricsSink:
    """CloudWatch on EMR, local NDJSON otherwise; every datum carries ``Env``."""
    sink: MetricsSink
    if args.target == "emr":
        sink = CloudWatchMetricsSink(METRICS_NAMESPACE)
    else:
        sink = LocalMetricsSink(args.data_dir / "metrics" / "metrics.ndjson")
    return WithDimensions(sink, {DIM_ENV: args.env})
