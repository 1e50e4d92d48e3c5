"""Shared fixtures. One Spark session per test run (house style #9): local[2], few
shuffle partitions, bound to 127.0.0.1, Iceberg Hadoop catalog in a temp warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def spark_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("warehouse")


@pytest.fixture(scope="session")
def spark(spark_warehouse: Path) -> Iterator[object]:
    from local_runtime.submit import ALL_JOBS, LocalResources, start_session

    # Launched as the local job server is, plus the Kafka source for the bronze tests and
    # the Deequ jar, so the `deequ` DQ engine runs for real (a fresh machine gets it from
    # `make setup`; a missing jar fails here, loudly, instead of skipping).
    session = start_session(
        "wikistream-tests",
        spark_warehouse,
        jobs=ALL_JOBS,
        dq_engine="deequ",
        resources=LocalResources(shuffle_partitions=2, driver_memory="2g"),
    )
    yield session
    session.stop()


@pytest.fixture
def empty_lake(spark: object) -> object:
    """Every catalogue table, freshly created and empty (dropped + purged first)."""
    from spark_jobs.create_tables import create_missing
    from wikistream.catalogue import TABLES

    for table in TABLES:
        spark.sql(f"DROP TABLE IF EXISTS {table.fqn()} PURGE")  # type: ignore[attr-defined]
    create_missing(spark)  # type: ignore[arg-type]
    return spark
