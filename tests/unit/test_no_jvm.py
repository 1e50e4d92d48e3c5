"""The unit tier's guard (tests/unit/conftest.py) stops every way to a JVM."""

from __future__ import annotations

from pathlib import Path

import pytest

#: The guard's message (tests/unit/conftest.py).
NO_JVM = "tests/unit starts no JVM"


def test_starting_a_session_the_way_jobs_and_the_launcher_do_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from local_runtime.submit import SUBMIT_ENV, start_session

    monkeypatch.delenv(SUBMIT_ENV, raising=False)  # start_session sets it; restored after

    with pytest.raises(AssertionError, match=NO_JVM):
        start_session("unit-test", tmp_path / "warehouse")


def test_launching_the_gateway_or_reusing_a_running_context_is_refused() -> None:
    from pyspark import SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    for attempt in (launch_gateway, SparkContext.getOrCreate, SparkSession.getActiveSession):
        with pytest.raises(AssertionError, match=NO_JVM):
            attempt()


def test_no_jvm_was_started_by_the_unit_tier() -> None:
    from pyspark import SparkContext

    # A JVM started by another tier in this process would show here; in a unit-only run
    # (make unit) there is none.
    if SparkContext._gateway is not None:
        pytest.skip("another tier of this pytest run started the JVM")
    assert SparkContext._active_spark_context is None
