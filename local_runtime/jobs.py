"""Run an EMR Serverless job request locally, in a long-lived Spark session.

The state machine's job states name a script (``.../spark_jobs/<module>.py``) and its
``EntryPointArguments``. Locally we call the same module's ``run(spark, args)`` with the
same arguments, except where they address AWS: ``--target``, ``--table-bucket-arn``,
``--region``, ``--env`` and ``--data-dir`` are replaced with the local ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

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


def run_local_job(spark: Any, request: Any, data_dir: Path, dq_engine: Optional[str] = None) -> None:
    """Dispatch ``request`` (a :class:`local_runtime.sfn_local.JobRequest`) to its job module.

    ``dq_engine`` is the local run's DQ engine: the gates get it as ``--engine``, because
    the local argument ``--env local`` would otherwise choose the local default.
    """
    from spark_jobs.cli import metrics_for, parse_job_args

    argv = localize_arguments(request.arguments, data_dir)
    if request.module == "create_tables":
        from spark_jobs.create_tables import create_missing

        create_missing(spark)
    elif request.module == "dq_gate":
        from spark_jobs import dq_gate

        gate_args = dq_gate.parse_args([*argv, "--engine", dq_engine] if dq_engine else argv)
        dq_gate.run(spark, gate_args, metrics_for(gate_args.job))
    elif request.module in ("silver_batch", "gold_batch"):
        import importlib

        module = importlib.import_module(f"spark_jobs.{request.module}")
        job_args = parse_job_args(request.module, argv)
        module.run(spark, job_args, metrics_for(job_args))
    else:
        raise ValueError(f"no local runner for job module {request.module!r} (EntryPoint {request.name})")
