"""The Spark session a job runs in: the one its launcher started, checked, never configured.

Launch configuration (jars, extensions, the Iceberg catalog, resources) is declared in
:mod:`spark_jobs.launch` and handed to the JVM by the launcher — EMR's
``sparkSubmitParameters`` or the local launcher's ``PYSPARK_SUBMIT_ARGS`` — before any job
code runs. Job code only attaches to that session and fails fast if it was started
without the launch properties (:func:`spark_jobs.launch.verify_launched`).

Python 3.9-compatible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spark_jobs.launch import verify_launched

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession


def get_session(app_name: str) -> SparkSession:
    """Attach to (or start, with the launcher's arguments) the job's SparkSession."""
    from pyspark.sql import SparkSession

    session = SparkSession.builder.appName(app_name).getOrCreate()
    verify_launched(session)
    session.sparkContext.setLogLevel("WARN")
    return session
