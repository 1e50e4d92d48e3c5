"""The local launcher: what ``spark-submit`` on EMR Serverless is, for local runs.

A job's JVM gets its launch configuration before any job code runs, from the same
declaration EMR's ``sparkSubmitParameters`` come from (:mod:`spark_jobs.launch`):
the common properties, the catalog (here the Hadoop-catalog adapter on the local
warehouse) and the job's jar bundles resolved from ``jvm/pom.xml``. Only the resource
settings of one 2-core machine (``local[2]``, driver memory, no UI, loopback) are local.

Two ways in:

* :func:`start_session` — the in-process job server, tests and benchmarks: sets
  ``PYSPARK_SUBMIT_ARGS`` and starts the JVM (once per process, as on EMR).
* ``python -m local_runtime.submit <module> [job args...]`` — a job in its own process
  (the bronze stream), like ``spark-submit <entryPoint> <entryPointArguments>``.
"""

from __future__ import annotations

import os
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

from local_runtime.jars import bundle_jars
from spark_jobs.launch import HadoopCatalog, launch_properties, submit_parameters
from spark_jobs.registry import BRONZE_STREAM, JOBS, Job, cycle_jobs, job_bundles
from wikistream.config import SPARK_CATALOG

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

SUBMIT_ENV = "PYSPARK_SUBMIT_ARGS"
#: Compiled classes Spark keeps for reuse (``spark.sql.codegen.cache.maxEntries``, default
#: 100, a static conf). The local job server runs every cycle in one driver, and one cycle
#: compiles about 430 classes (gold alone about 260): with the default, each cycle evicted
#: the previous one's classes and compiled them all again, although over 80% were
#: byte-identical. Measured: compiles per warm cycle 430 -> 20-40, gold 6.1-6.8 s ->
#: 5.4-5.5 s. (On EMR each job run is its own driver, so there is nothing to reuse across
#: jobs.) The cost: metaspace for up to 1,000 small generated classes.
CODEGEN_CACHE_ENTRIES = 1000
_WAREHOUSE_KEY = f"spark.sql.catalog.{SPARK_CATALOG}.warehouse"
#: The job server hosts every job of the cycle; its JVM gets the union of their bundles.
JOB_SERVER_JOBS: tuple[Job, ...] = cycle_jobs()
#: Every job the tests and benches run in one session (the cycle's and bronze).
ALL_JOBS: tuple[Job, ...] = (*JOB_SERVER_JOBS, BRONZE_STREAM)


@dataclass(frozen=True)
class LocalResources:
    """What one 2-core machine gives a job's JVM (the only local-only launch settings)."""

    master: str = "local[2]"
    driver_memory: str = "4g"
    shuffle_partitions: int = 4


def local_properties(warehouse: Path, resources: LocalResources = LocalResources()) -> Dict[str, str]:
    """The declared launch properties for the local catalog, plus local resources (pure)."""
    return {
        **launch_properties(HadoopCatalog(Path(warehouse).resolve().as_uri())),
        "spark.master": resources.master,
        "spark.driver.memory": resources.driver_memory,
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(resources.shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.streaming.stopGracefullyOnShutdown": "true",
        "spark.sql.codegen.cache.maxEntries": str(CODEGEN_CACHE_ENTRIES),
    }


def local_jars(jobs: Sequence[Job], dq_engine: str) -> List[str]:
    """Jar paths for the union of ``jobs``' bundles, resolved from the manifest."""
    bundles: List[str] = []
    for job in jobs:
        for bundle in job_bundles(job, dq_engine=dq_engine, on_emr=False):
            if bundle not in bundles:
                bundles.append(bundle)
    return [str(jar) for bundle in bundles for jar in bundle_jars(bundle)]


def submit_args(
    jobs: Sequence[Job],
    warehouse: Path,
    *,
    dq_engine: str = "spark",
    resources: LocalResources = LocalResources(),
) -> str:
    """``PYSPARK_SUBMIT_ARGS`` for a JVM hosting ``jobs`` (ends with ``pyspark-shell``)."""
    params = submit_parameters(local_properties(warehouse, resources), local_jars(jobs, dq_engine))
    return f"{params} pyspark-shell"


def start_session(
    app_name: str,
    warehouse: Path,
    *,
    jobs: Sequence[Job] = JOB_SERVER_JOBS,
    dq_engine: str = "spark",
    resources: LocalResources = LocalResources(),
) -> SparkSession:
    """Launch this process's Spark JVM with the declared configuration and return the session.

    A JVM is launched once per process (as on EMR, one driver per job run). A later call
    with another warehouse gets a new session of that JVM whose catalog points there: a
    catalog is per session and loaded on first use, so the runtime setting takes effect.
    """
    from spark_jobs.session import get_session

    os.environ[SUBMIT_ENV] = submit_args(jobs, warehouse, dq_engine=dq_engine, resources=resources)
    session = get_session(app_name)
    key, uri = _WAREHOUSE_KEY, Path(warehouse).resolve().as_uri()
    if session.conf.get(key, None) != uri:
        session = session.newSession()
        session.conf.set(key, uri)
    return session


def job_env(
    job: Job,
    warehouse: Path,
    *,
    dq_engine: str = "spark",
    resources: LocalResources = LocalResources(),
    base: Optional[Dict[str, str]] = None,
) -> Dict[str, str]:
    """Environment for a job in its own process (``python -m local_runtime.submit ...``)."""
    env = dict(os.environ if base is None else base)
    env[SUBMIT_ENV] = submit_args([job], warehouse, dq_engine=dq_engine, resources=resources)
    return env


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m local_runtime.submit <job module> [args]``: run a job like spark-submit.

    The launch arguments come from ``PYSPARK_SUBMIT_ARGS`` when the caller set them
    (:func:`job_env`), otherwise from the declaration with the job's ``--data-dir``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(
            "usage: python -m local_runtime.submit <module, e.g. spark_jobs.bronze_stream> [args]",
            file=sys.stderr,
        )
        return 2
    module, job_argv = args[0], args[1:]
    if SUBMIT_ENV not in os.environ:
        data_dir = Path(".wikistream")
        if "--data-dir" in job_argv:
            data_dir = Path(job_argv[job_argv.index("--data-dir") + 1])
        job = JOBS[module.rsplit(".", 1)[-1]]
        os.environ[SUBMIT_ENV] = submit_args([job], data_dir / "warehouse")
    sys.argv = [module, *job_argv]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
