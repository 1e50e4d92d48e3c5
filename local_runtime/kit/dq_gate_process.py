"""Run the real ``dq_gate`` entry point in a process of its own (for the exit tests).

``python -m local_runtime.kit.dq_gate_process DATA_DIR [--no-release] [--callback-server] -- GATE ARGS``

Launches the local session first as the local launcher does for a gate of a ``deequ``
environment (``local_runtime.submit``: the declared properties plus the ``deequ`` bundle),
creates the tables, then calls :func:`spark_jobs.dq_gate.main`,
whose ``session_for`` gets this same session back. ``--callback-server`` starts the Py4J
callback server exactly as pydeequ does for a Check's Python lambda (non-daemon, default
port): the known cause of gate jobs that never exit. ``--no-release`` disables the engine's
release, to show that the exit test can fail. Prints ``main returned <code>`` when
``main`` is done, so a caller can time the exit alone.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from local_runtime.submit import LocalResources, start_session
    from spark_jobs.create_tables import create_missing
    from spark_jobs.dq import engine_deequ
    from spark_jobs.registry import DQ_GATE

    split = argv.index("--")
    own, gate_argv = argv[:split], argv[split + 1 :]
    data_dir = Path(own[0])
    spark = start_session(
        "wikistream-dq-gate-process",
        data_dir / "warehouse",
        jobs=(DQ_GATE,),
        dq_engine="deequ",
        resources=LocalResources(master="local[1]"),
    )
    create_missing(spark)
    if "--callback-server" in own:
        engine_deequ._import_pydeequ()  # pydeequ needs its Spark-line selection first
        from pydeequ.scala_utils import ScalaFunction1

        ScalaFunction1(spark.sparkContext._gateway, lambda x: x)
    if "--no-release" in own:
        engine_deequ.DeequEngine.release = lambda self, spark: None  # type: ignore[method-assign]
    from spark_jobs import dq_gate

    try:
        code = dq_gate.main([*gate_argv, "--data-dir", str(data_dir)])
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    print(f"main returned {code}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
