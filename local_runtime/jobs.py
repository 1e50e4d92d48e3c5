"""Run an EMR Serverless job request locally, in a long-lived Spark session.

The state machine's job states name a script (``.../spark_jobs/<module>.py``) and its
``EntryPointArguments``. Locally we call the same module's ``run(spark, args)`` with the
same arguments, except where they address AWS: ``--target``, ``--table-bucket-arn``,
``--region``, ``--env`` and ``--data-dir`` are replaced with the local ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Callable, Optional

from spark_jobs.registry import CREATE_TABLES, DQ_GATE, GOLD_BATCH, JOBS, SILVER_BATCH, Job

#: Arguments that address AWS resources; their values are replaced locally.
_AWS_ARGS = ("--target", "--table-bucket-arn", "--region", "--env", "--data-dir")


def localize_arguments(arguments: Sequence[str], data_dir: Path) -> list[str]:
    """Drop AWS-addressing options (and their values) and add the local ones."""
    out: list[str] = []
    skip = False
    for arg in arguments:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in _AWS_ARGS:
            skip = "=" not in arg
            continue
        out.append(arg)
    return [*out, "--env", "local", "--target", "local", "--data-dir", str(data_dir)]


def _create_tables(spark: Any, argv: list[str], dq_engine: Optional[str]) -> None:
    from spark_jobs.create_tables import create_missing

    create_missing(spark)


def _dq_gate(spark: Any, argv: list[str], dq_engine: Optional[str]) -> None:
    from spark_jobs import dq_gate
    from spark_jobs.cli import metrics_for

    gate_args = dq_gate.parse_args([*argv, "--engine", dq_engine] if dq_engine else argv)
    dq_gate.run(spark, gate_args, metrics_for(gate_args.job))


def _batch(job: Job) -> LocalRunner:
    """A batch job whose module has ``run(spark, JobArgs, metrics)``."""

    def run(spark: Any, argv: list[str], dq_engine: Optional[str]) -> None:
        from spark_jobs.cli import metrics_for, parse_job_args

        module = importlib.import_module(job.module)
        job_args = parse_job_args(job.name, argv)
        module.run(spark, job_args, metrics_for(job_args))

    return run


LocalRunner = Callable[[Any, list[str], Optional[str]], None]

#: How the job server runs each job the state machine starts (the cycle's jobs, see
#: ``spark_jobs.registry.cycle_jobs``; a unit test keeps the two in step).
LOCAL_RUNNERS: Mapping[Job, LocalRunner] = {
    CREATE_TABLES: _create_tables,
    DQ_GATE: _dq_gate,
    SILVER_BATCH: _batch(SILVER_BATCH),
    GOLD_BATCH: _batch(GOLD_BATCH),
}


def run_local_job(spark: Any, request: Any, data_dir: Path, dq_engine: Optional[str] = None) -> None:
    """Run ``request`` (a :class:`local_runtime.sfn_local.JobRequest`) in ``spark``: the job
    its entry point names (:mod:`spark_jobs.registry`), with localized arguments.

    ``dq_engine`` is the local run's DQ engine: the gates get it as ``--engine``, because
    the local argument ``--env local`` would otherwise choose the local default.
    """
    job = JOBS.get(request.module)
    runner = LOCAL_RUNNERS.get(job) if job is not None else None
    if runner is None:
        raise ValueError(f"no local runner for job module {request.module!r} (EntryPoint {request.name})")
    runner(spark, localize_arguments(request.arguments, data_dir), dq_engine)
