"""The interface every DQ engine implements, and the choice of one by name.

An engine measures; it never decides. Whatever engine ran, its metrics go through the
same pure :func:`spark_jobs.dq.evaluate.evaluate`, so the gate result, the
``ops.dq_results`` rows and the alert body have one shape.

Python 3.9-compatible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Protocol, Sequence

from spark_jobs.dq.checks import Check
from spark_jobs.dq.evaluate import Metric
from spark_jobs.dq.window import Window
from wikistream.config import DQ_ENGINES as ENGINES

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

__all__ = ["ENGINES", "DqEngine", "engine_for"]


class DqEngine(Protocol):
    """Computes the metrics of a suite over a gate's window."""

    name: str

    def ensure_available(self, spark: SparkSession) -> None:
        """Fail fast, before any data is read, when the engine cannot run in ``spark``."""

    def compute_metrics(
        self, spark: SparkSession, suite: Sequence[Check], window: Window, sample_n: int
    ) -> Dict[str, Metric]:
        """Every metric of ``suite`` over ``window``, keyed by check name (missing = fail-closed)."""

    def release(self, spark: SparkSession) -> None:
        """Free what the engine holds in the driver at job end (so the process can exit)."""


def engine_for(name: str) -> DqEngine:
    """The engine called ``name`` (one of :data:`ENGINES`)."""
    if name == "deequ":
        from spark_jobs.dq.engine_deequ import DeequEngine

        return DeequEngine()
    if name == "spark":
        from spark_jobs.dq.engine_spark import SparkEngine

        return SparkEngine()
    raise ValueError(f"unknown DQ engine {name!r}; choose one of {ENGINES}")
