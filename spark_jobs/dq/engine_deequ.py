"""Deequ engine: the same declared checks, measured by pydeequ's AnalysisRunner.

:func:`deequ_specs` is a pure translation of a suite into Deequ terms (the
VerificationSuite constraint each check corresponds to, and the analyzer whose metric
feeds the shared :func:`spark_jobs.dq.evaluate.evaluate`). It is unit-tested without a JVM.

What is NOT verified here: the Deequ jar (``com.amazon.deequ:deequ``) cannot be
obtained on the build machines (no Maven), so :func:`compute_metrics` has never run
against a real Deequ in CI; selecting this engine without the jar on the JVM classpath
fails fast with :class:`DeequUnavailableError`. CI exercises only the Spark engine.

Checks Deequ cannot express (freshness on timestamps, cross-layer reconciliation,
volume vs history, upstream gates) are measured by the Spark engine's functions.

Python 3.9-compatible.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from spark_jobs.dq import engine_spark
from spark_jobs.dq.checks import ROW_TYPES, Check, violation_sql
from spark_jobs.dq.evaluate import Metric
from spark_jobs.dq.window import Window

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

DEEQU_PROBE_CLASS = "com.amazon.deequ.VerificationSuite"


class DeequUnavailableError(RuntimeError):
    """The Deequ jar is not on the Spark JVM classpath."""


@dataclass(frozen=True)
class DeequSpec:
    """One check in Deequ terms: the constraint (VerificationSuite) and the analyzer (metric)."""

    check_name: str
    table: str
    constraint: str
    constraint_args: Tuple[Any, ...]
    analyzer: str
    analyzer_args: Tuple[Any, ...]


def deequ_specs(suite: Sequence[Check]) -> List[DeequSpec]:
    """Translate the Deequ-expressible checks of ``suite`` (pure; order preserved)."""
    specs: List[DeequSpec] = []
    for c in suite:
        holds = f"NOT {violation_sql(c)}" if c.type in ROW_TYPES else ""
        if c.type == "completeness" and not c.params.get("string"):
            specs.append(
                DeequSpec(c.name, c.table, "isComplete", (c.columns[0],), "Completeness", (c.columns[0],))
            )
        elif c.type == "allowed_values":
            specs.append(
                DeequSpec(
                    c.name,
                    c.table,
                    "isContainedIn",
                    (c.columns[0], tuple(c.params["values"])),
                    "Compliance",
                    (c.name, holds),
                )
            )
        elif c.type in ROW_TYPES:
            # Blank-string completeness, ranges and consistency: an exact SQL predicate.
            specs.append(
                DeequSpec(
                    c.name, c.table, "satisfies", (holds, c.name, "== 1.0"), "Compliance", (c.name, holds)
                )
            )
        elif c.type == "uniqueness":
            specs.append(
                DeequSpec(
                    c.name,
                    c.table,
                    "hasUniqueness",
                    (tuple(c.columns), "== 1.0"),
                    "CountDistinct",
                    tuple(c.columns),
                )
            )
        elif c.type == "row_count":
            specs.append(DeequSpec(c.name, c.table, "hasSize", (f">= {c.min_value}",), "Size", ()))
    return specs


def ensure_deequ_available(spark: SparkSession) -> None:
    """Fail fast, with a clear message, when the Deequ classes are not on the classpath."""
    try:
        spark._jvm.java.lang.Class.forName(DEEQU_PROBE_CLASS)  # type: ignore[attr-defined]
    except Exception as exc:  # py4j wraps ClassNotFoundException
        raise DeequUnavailableError(
            f"dq.engine=deequ but {DEEQU_PROBE_CLASS} is not on the Spark classpath: add the Deequ jar "
            "matching Spark 3.5 (com.amazon.deequ:deequ:2.0.x-spark-3.5) to spark.jars, or use "
            "dq.engine=spark. (The jar is not obtainable on the build machines: no Maven.)"
        ) from exc


def _analyzer(spec: DeequSpec) -> Any:
    from pydeequ import analyzers as A

    if spec.analyzer == "Size":
        return A.Size()
    if spec.analyzer == "Completeness":
        return A.Completeness(spec.analyzer_args[0])
    if spec.analyzer == "Compliance":
        return A.Compliance(spec.analyzer_args[0], spec.analyzer_args[1])
    if spec.analyzer == "CountDistinct":
        return A.CountDistinct(list(spec.analyzer_args))
    raise ValueError(f"no Deequ analyzer {spec.analyzer}")


def _to_metric(spec: DeequSpec, value: Optional[float], rows: int, nonnull_keys: int) -> Metric:
    """Deequ metric -> the violation-count convention of :mod:`spark_jobs.dq.checks`."""
    if value is None:
        return Metric(None, rows, note="Deequ produced no metric")
    if spec.analyzer in ("Completeness", "Compliance"):
        return Metric(float(round((1.0 - value) * rows)), rows)
    if spec.analyzer == "CountDistinct":
        return Metric(float(nonnull_keys - int(value)), rows)
    return Metric(float(value), rows)


def compute_metrics(
    spark: SparkSession, suite: Sequence[Check], window: Window, sample_n: int = 5
) -> Dict[str, Metric]:
    """Same contract as :func:`spark_jobs.dq.engine_spark.compute_metrics` (needs the Deequ jar)."""
    ensure_deequ_available(spark)
    # pydeequ reads SPARK_VERSION at import time; derive it from the running Spark.
    os.environ.setdefault("SPARK_VERSION", ".".join(spark.version.split(".")[:2]))
    from pydeequ.analyzers import AnalysisRunner, AnalyzerContext

    specs = deequ_specs(suite)
    translated = {s.check_name for s in specs}
    metrics: Dict[str, Metric] = {}
    by_table: Dict[str, List[DeequSpec]] = {}
    for s in specs:
        by_table.setdefault(s.table, []).append(s)
    for table, table_specs in by_table.items():
        df = window.frames.get(table)
        if df is None:
            continue
        builder = AnalysisRunner(spark).onData(df)
        for s in table_specs:
            builder = builder.addAnalyzer(_analyzer(s))
        result = AnalyzerContext.successMetricsAsJson(spark, builder.run())
        rows = next((int(m["value"]) for m in result if m["name"] == "Size"), int(df.count()))
        for s in table_specs:
            name = s.analyzer if s.analyzer != "Compliance" else "Compliance"
            instance = s.analyzer_args[0] if s.analyzer_args else "*"
            if s.analyzer == "CountDistinct":
                instance = ",".join(s.analyzer_args)
            value = next(
                (m["value"] for m in result if m["name"] == name and str(m["instance"]) == str(instance)),
                None,
            )
            nonnull = 0
            if s.analyzer == "CountDistinct":
                nonnull = df.dropna(subset=list(s.analyzer_args)).count()
            metrics[s.check_name] = _to_metric(s, value, rows, nonnull)
    rest = [c for c in suite if c.name not in translated]
    metrics.update(engine_spark.compute_metrics(spark, rest, window, sample_n))
    return metrics
