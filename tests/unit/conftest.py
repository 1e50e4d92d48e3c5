"""The unit tier needs no JVM (STYLE.md #12): a test here that asks for Spark fails at once.

Two ways a test could reach a JVM, both closed for the duration of each unit test:
the shared ``spark`` fixture (overridden here), and starting one directly — launching
Spark's Py4J gateway, or getting a session or context that another tier's test left
running. A test that needs Spark belongs in ``tests/component``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

NO_JVM = "tests/unit starts no JVM; a test that needs Spark belongs in tests/component"


def _refuse(*_: Any, **__: Any) -> NoReturn:
    raise AssertionError(NO_JVM)


@pytest.fixture(scope="session")
def spark() -> NoReturn:
    """Overrides the session-wide Spark fixture of tests/conftest.py for this tier."""
    pytest.fail(NO_JVM)


@pytest.fixture(autouse=True)
def no_jvm(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import pyspark.java_gateway
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    monkeypatch.setattr(pyspark.java_gateway, "launch_gateway", _refuse)
    monkeypatch.setattr(SparkContext, "getOrCreate", classmethod(_refuse))
    monkeypatch.setattr(SparkSession.Builder, "getOrCreate", _refuse)
    monkeypatch.setattr(SparkSession, "getActiveSession", classmethod(_refuse))
    yield
