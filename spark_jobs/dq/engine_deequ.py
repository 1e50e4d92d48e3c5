"""Deequ engine: the same declared checks, measured by Deequ's analyzers through pydeequ.

:func:`deequ_specs` is a pure translation of a suite into Deequ terms: for each check the
VerificationSuite constraint it corresponds to and the analyzer whose metric feeds the
shared :func:`spark_jobs.dq.evaluate.evaluate` (docs/DATA_QUALITY.md has the table).
Predicates are written the way Deequ's own constraints write them (``isContainedIn``:
``col IS NULL OR col IN (...)``), not copied from :func:`~spark_jobs.dq.checks.violation_sql`,
so the cross-engine agreement test compares two independent formulations.

Deequ reports ratios; the metric convention of :mod:`spark_jobs.dq.checks` is counts.
They are converted back exactly: ``violations = round((1 - ratio) * rows)``,
``duplicates = round(distinct / distinctness) - distinct`` and, for a ``share``, the
matching rows ``round(ratio * rows)`` (then the percent as the Spark engine rounds it). A
double holds every integer below 2**53 and the ratio's relative error is ~1e-16, so for
any window below ~1e12 rows the rounding recovers the exact count.

Freshness is Deequ's ``ApproxQuantile`` of ``unix_micros(least(event_time, arrival))``
with relative error ``1 / FRESHNESS_ACCURACY``: Deequ's analyzer is Spark's own
``ApproximatePercentile`` digest with accuracy ``1 / relativeError``, the very summary the
Spark engine's ``percentile_approx(..., FRESHNESS_ACCURACY)`` builds, and Spark feeds a
timestamp into it as its microseconds, which a double holds exactly (below 2**53 us, i.e.
until year 2255). So both engines summarize the same doubles with the same algorithm.

Checks with no Deequ analyzer are measured alongside, by the same functions the Spark
engine uses, and say so in their spec (``analyzer="alongside"``): reconciliation across
layers, volume against gold history, upstream gate records, and the part of bronze
uniqueness that compares the window with rows committed before it. The divergent-duplicates
check is not among them: which dead letters it judges (those committed since the previous
gate) is the window's business, shared by both engines; over that frame it is a plain
``Compliance``.

Launch needs: the Deequ jar ``com.amazon.deequ:deequ:2.0.7-spark-3.5`` (Scala 2.12) on the
driver's classpath (``spark.jars`` at launch); everything it needs besides Spark itself
(breeze, scala-library) ships with Spark. pydeequ reads ``SPARK_VERSION`` at import;
:func:`_import_pydeequ` sets it explicitly to :data:`DEEQU_SPARK_LINE` (pydeequ 1.7's map
would name 2.0.21-spark-3.5 for it, but that name is only used for ``--packages``, which
we do not use). AnalysisRunner passes no Python callbacks, so no Py4J callback server is
started; :meth:`DeequEngine.release` still shuts one down if anything started it, because
a live callback server keeps the job process from exiting.

Python 3.9-compatible.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from spark_jobs.dq import engine_spark
from spark_jobs.dq.checks import FRESHNESS_ACCURACY, FRESHNESS_QUANTILE, ROW_TYPES, Check
from spark_jobs.dq.evaluate import Metric
from spark_jobs.dq.window import Window

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

DEEQU_PROBE_CLASS = "com.amazon.deequ.VerificationSuite"
#: The Deequ build jvm/deequ/pom.xml resolves (newest Spark 3.5 build Maven Central serves us).
DEEQU_COORDINATE = "com.amazon.deequ:deequ:2.0.7-spark-3.5"
#: The Spark line that build is for; pydeequ's version selection is set to it explicitly.
DEEQU_SPARK_LINE = "3.5"
#: Relative error of Deequ's ``ApproxQuantile`` for freshness: the Spark engine's accuracy.
FRESHNESS_RELATIVE_ERROR = 1.0 / FRESHNESS_ACCURACY
#: How far the two engines' freshness may differ, in minutes. Same digest, same accuracy,
#: same doubles (exact microseconds): on a window the digest keeps whole (fewer than
#: ``FRESHNESS_ACCURACY / 2`` rows, i.e. every window of the agreement test) both return
#: the exact same row's time, so 0. On larger windows each engine's answer is a row whose
#: rank is within ``n / FRESHNESS_ACCURACY`` of the 0.99 rank (Spark's guarantee for both);
#: if Spark merged partial digests in another order the two rows may differ, by at most
#: the time spread of 0.02 % of the window's rows around that rank -- not a minute count
#: any fixed tolerance could promise, so none is claimed for large windows.
FRESHNESS_TOLERANCE_MINUTES = 0.0
#: Derived column: ``least(event_time, arrival)`` as epoch microseconds (Deequ's quantile is numeric).
SEEN_MICROS = "__dq_seen_micros"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

ALONGSIDE = "alongside"


class DeequUnavailableError(RuntimeError):
    """The Deequ jar is not on the Spark JVM classpath (or Spark is not the 3.5 line)."""


@dataclass(frozen=True)
class DeequSpec:
    """One check in Deequ terms.

    ``constraint``/``constraint_args``: the VerificationSuite constraint it corresponds to.
    ``analyzer``/``analyzer_args``: the AnalysisRunner analyzer measured for the metric, or
    ``"alongside"`` (no Deequ analyzer; ``why`` says why) for checks measured like the
    Spark engine does. ``derived``: (column, SQL) added to the frame before the analysis.
    ``percent``: the Compliance ratio is a share of matching rows (``share`` checks), not
    the complement of violations.
    """

    check_name: str
    table: str
    constraint: str
    constraint_args: Tuple[Any, ...]
    analyzer: str
    analyzer_args: Tuple[Any, ...]
    why: str = ""
    derived: Tuple[Tuple[str, str], ...] = ()
    percent: bool = False


def _q(column: str) -> str:
    return f"`{column}`"


def _literal(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def contained_in_predicate(column: str, values: Sequence[Any]) -> str:
    """Deequ's ``isContainedIn(column, allowedValues)`` predicate (NULL passes)."""
    return f"{_q(column)} IS NULL OR {_q(column)} IN ({', '.join(_literal(v) for v in values)})"


def between_predicate(column: str, low: Optional[float], high: Optional[float]) -> str:
    """Deequ's ``isContainedIn(column, lower, upper)`` / ``isNonNegative`` style predicate."""
    bounds = []
    if low is not None:
        bounds.append(f"{_q(column)} >= {low}")
    if high is not None:
        bounds.append(f"{_q(column)} <= {high}")
    return f"{_q(column)} IS NULL OR ({' AND '.join(bounds)})"


def non_blank_predicate(column: str) -> str:
    """A string present and not blank (Deequ's Completeness counts only NULLs)."""
    return f"{_q(column)} IS NOT NULL AND trim({_q(column)}) <> ''"


def satisfies_predicate(condition: str, when: Optional[str]) -> str:
    """Deequ ``satisfies``: a NULL outcome counts as a violation, as in Compliance."""
    if when:
        return f"NOT ({when}) OR coalesce(({condition}), FALSE)"
    return f"coalesce(({condition}), FALSE)"


def seen_micros_sql(columns: Sequence[str]) -> str:
    """Epoch microseconds of the earlier of the event time and its arrival (NULLs skipped)."""
    return f"unix_micros(least({', '.join(_q(c) for c in columns)}))"


def _spec(c: Check) -> DeequSpec:
    col = c.columns[0] if c.columns else ""
    if c.type == "completeness":
        if c.params.get("string"):
            pred = non_blank_predicate(col)
            return DeequSpec(c.name, c.table, "satisfies", (pred, c.name), "Compliance", (c.name, pred))
        return DeequSpec(c.name, c.table, "isComplete", (col,), "Completeness", (col,))
    if c.type == "allowed_values":
        values = tuple(c.params["values"])
        pred = contained_in_predicate(col, values)
        return DeequSpec(c.name, c.table, "isContainedIn", (col, values), "Compliance", (c.name, pred))
    if c.type == "range":
        low, high = c.params.get("low"), c.params.get("high")
        pred = between_predicate(col, low, high)
        if high is not None and low is not None:
            constraint: Tuple[str, Tuple[Any, ...]] = ("isContainedIn", (col, low, high))
        elif low == 0:
            constraint = ("isNonNegative", (col,))
        else:
            constraint = ("satisfies", (pred, c.name))
        return DeequSpec(c.name, c.table, constraint[0], constraint[1], "Compliance", (c.name, pred))
    if c.type == "consistency":
        pred = satisfies_predicate(c.params["condition"], c.params.get("when"))
        return DeequSpec(c.name, c.table, "satisfies", (pred, c.name), "Compliance", (c.name, pred))
    if c.type == "uniqueness":
        return DeequSpec(
            c.name, c.table, "hasUniqueness", (c.columns, "== 1.0"), "CountDistinct+Distinctness", c.columns
        )
    if c.type == "row_count":
        return DeequSpec(c.name, c.table, "hasSize", (f">= {c.min_value}",), "Size", ())
    if c.type == "share":
        pred = satisfies_predicate(c.params["condition"], None)
        bound = f"<= {c.max_value} / 100"
        return DeequSpec(
            c.name, c.table, "satisfies", (pred, c.name, bound), "Compliance", (c.name, pred), percent=True
        )
    if c.type == "freshness":
        args = (SEEN_MICROS, FRESHNESS_QUANTILE, FRESHNESS_RELATIVE_ERROR)
        return DeequSpec(
            c.name,
            c.table,
            "hasApproxQuantile",
            (SEEN_MICROS, FRESHNESS_QUANTILE, f">= now - {c.max_value} min"),
            "ApproxQuantile",
            args,
            why=f"on least({', '.join(c.columns)}) as epoch microseconds: Deequ's quantile is numeric",
            derived=((SEEN_MICROS, seen_micros_sql(c.columns)),),
        )
    why = {
        "reconciliation": "two tables: Deequ analyzers read one frame; its dataset-match "
        "analyzer scores row matches as a ratio, not ids present in a wider snapshot or sums per hour",
        "volume": "Deequ's anomaly strategies need its own metrics repository and have no "
        "median/MAD strategy; the history is gold's table",
        "upstream": "ledger records of this run, not data",
    }[c.type]
    return DeequSpec(c.name, c.table, "-", (), ALONGSIDE, (), why=why)


def deequ_specs(suite: Sequence[Check]) -> List[DeequSpec]:
    """Translate every check of ``suite`` (pure; order preserved)."""
    return [_spec(c) for c in suite]


def _import_pydeequ() -> Any:
    """Import pydeequ's analyzers with its Spark-line selection set explicitly."""
    os.environ["SPARK_VERSION"] = DEEQU_SPARK_LINE
    from pydeequ import analyzers

    return analyzers


def _analyzers(spec: DeequSpec, a: Any) -> List[Any]:
    if spec.analyzer == "Size":
        return [a.Size()]
    if spec.analyzer == "Completeness":
        return [a.Completeness(spec.analyzer_args[0])]
    if spec.analyzer == "Compliance":
        return [a.Compliance(spec.analyzer_args[0], spec.analyzer_args[1])]
    if spec.analyzer == "CountDistinct+Distinctness":
        cols = list(spec.analyzer_args)
        return [a.CountDistinct(cols), a.Distinctness(cols)]
    if spec.analyzer == "ApproxQuantile":
        column, quantile, relative_error = spec.analyzer_args
        return [a.ApproxQuantile(column, quantile, relative_error)]
    raise ValueError(f"no Deequ analyzer {spec.analyzer}")


def _instance(spec: DeequSpec) -> str:
    """The ``instance`` Deequ reports a spec's metric under."""
    if spec.analyzer == "Size":
        return "*"
    if spec.analyzer == "CountDistinct+Distinctness":
        return ",".join(spec.analyzer_args)
    return str(spec.analyzer_args[0])


def to_metric(
    spec: DeequSpec, values: Dict[str, float], rows: int, now: datetime, snap: Optional[int]
) -> Metric:
    """Deequ's metric(s) of one spec -> the count convention of :mod:`spark_jobs.dq.checks` (pure).

    ``values`` maps Deequ metric names (``Completeness``, ``CountDistinct`` ...) to the
    values reported for this spec's instance. An empty window has no ratios (Deequ fails
    them as empty state): like the Spark engine, it has 0 violations.
    """
    if spec.analyzer == "Size":
        return Metric(values.get("Size"), rows, snapshot_id=snap)
    if spec.analyzer == "ApproxQuantile":
        # Deequ names the metric after the quantile (``ApproxQuantile-0.99``).
        seen = next((v for k, v in values.items() if k.startswith("ApproxQuantile")), None)
        if seen is None or rows == 0:  # no row, or no event time in any row: as Spark's NULL
            return Metric(None, rows, note="no rows in window", snapshot_id=snap)
        when = _EPOCH + timedelta(microseconds=int(seen))  # exact: micros < 2**53
        return Metric(engine_spark.freshness_minutes(now, when), rows, snapshot_id=snap)
    if spec.percent:
        if rows == 0:
            return Metric(None, 0, note="no rows in window", snapshot_id=snap)
        ratio = values.get("Compliance")
        if ratio is None:
            return Metric(None, rows, note="Deequ produced no Compliance metric", snapshot_id=snap)
        matching = round(ratio * rows)
        return Metric(round(100.0 * matching / rows, 3), rows, snapshot_id=snap)
    if rows == 0:
        return Metric(0.0, 0, snapshot_id=snap)
    if spec.analyzer in ("Completeness", "Compliance"):
        ratio = values.get(spec.analyzer)
        if ratio is None:
            return Metric(None, rows, note=f"Deequ produced no {spec.analyzer} metric", snapshot_id=snap)
        return Metric(float(round((1.0 - ratio) * rows)), rows, snapshot_id=snap)
    if spec.analyzer == "CountDistinct+Distinctness":
        distinct, distinctness = values.get("CountDistinct"), values.get("Distinctness")
        if distinct is None:
            return Metric(None, rows, note="Deequ produced no CountDistinct metric", snapshot_id=snap)
        if distinct == 0:  # every key NULL: completeness's failure, not a duplicate
            return Metric(0.0, rows, snapshot_id=snap)
        if not distinctness:
            return Metric(None, rows, note="Deequ produced no Distinctness metric", snapshot_id=snap)
        keyed_rows = round(distinct / distinctness)
        return Metric(float(keyed_rows - round(distinct)), rows, snapshot_id=snap)
    raise ValueError(f"no conversion for Deequ analyzer {spec.analyzer}")


def _with_derived(df: DataFrame, specs: Sequence[DeequSpec]) -> DataFrame:
    from pyspark.sql import functions as F

    for s in specs:
        for column, sql in s.derived:
            df = df.withColumn(column, F.expr(sql))
    return df


def _table_metrics(
    spark: SparkSession,
    df: DataFrame,
    table: str,
    specs: Sequence[DeequSpec],
    checks: Dict[str, Check],
    window: Window,
    sample_n: int,
) -> Dict[str, Metric]:
    """One AnalysisRunner over one table's frame; samples of failing checks afterwards."""
    a = _import_pydeequ()
    builder = a.AnalysisRunner(spark).onData(_with_derived(df, specs)).addAnalyzer(a.Size())
    added = {("Size", ())}  # Deequ refuses a run that lists one analyzer twice
    for s in specs:
        if (s.analyzer, s.analyzer_args) not in added:
            added.add((s.analyzer, s.analyzer_args))
            for analyzer in _analyzers(s, a):
                builder = builder.addAnalyzer(analyzer)
    reported = a.AnalyzerContext.successMetricsAsJson(spark, builder.run())
    by_instance: Dict[Tuple[str, str], float] = {
        (str(m["instance"]), str(m["name"])): float(m["value"]) for m in reported
    }
    rows = int(by_instance.get(("*", "Size"), 0))
    snap = window.snapshots.get(table)
    out: Dict[str, Metric] = {}
    for s in specs:
        instance = _instance(s)
        values = {name: v for (inst, name), v in by_instance.items() if inst == instance}
        metric = to_metric(s, values, rows, window.now, snap)
        check = checks[s.check_name]
        sample: Tuple[str, ...] = ()
        value = metric.value
        if check.type == "uniqueness":
            if value:
                sample = engine_spark.sample_duplicates(df, check, sample_n)
            clashes, clash_sample = engine_spark.history_clashes(df, table, check, window, sample_n)
            if clashes and value is not None:
                value += clashes
            sample += clash_sample
        elif value and check.type in ROW_TYPES:
            sample = engine_spark.sample_violations(df, table, check, sample_n)
        out[s.check_name] = Metric(value, metric.rows_tested, sample, metric.note, metric.snapshot_id)
    return out


def ensure_deequ_available(spark: SparkSession) -> None:
    """Fail fast, with a clear message, when Deequ cannot run in ``spark``."""
    if not spark.version.startswith(DEEQU_SPARK_LINE + "."):
        raise DeequUnavailableError(
            f"dq.engine=deequ needs Spark {DEEQU_SPARK_LINE}.x for {DEEQU_COORDINATE}; this is Spark {spark.version}"
        )
    try:
        # Py4J's own lookup (the thread's context class loader, which holds spark.jars), not
        # Class.forName: that asks the application class loader, which never sees spark.jars.
        spark._jvm.py4j.reflection.ReflectionUtil.classForName(DEEQU_PROBE_CLASS)  # type: ignore[attr-defined]
    except Exception as exc:  # py4j wraps ClassNotFoundException
        raise DeequUnavailableError(
            f"dq.engine=deequ but {DEEQU_PROBE_CLASS} is not on the Spark classpath: the job must be "
            f"launched with the Deequ jar ({DEEQU_COORDINATE}) in spark.jars. Locally `make setup` "
            "resolves it into .cache/jars/deequ/; or choose dq.engine=spark."
        ) from exc


def compute_metrics(
    spark: SparkSession, suite: Sequence[Check], window: Window, sample_n: int = 5
) -> Dict[str, Metric]:
    """Same contract as :func:`spark_jobs.dq.engine_spark.compute_metrics` (needs the Deequ jar)."""
    ensure_deequ_available(spark)
    checks = {c.name: c for c in suite}
    by_table: Dict[str, List[DeequSpec]] = {}
    metrics: Dict[str, Metric] = {}
    for s in deequ_specs(suite):
        if s.analyzer != ALONGSIDE:
            by_table.setdefault(s.table, []).append(s)
    for table, specs in by_table.items():
        df = window.frames.get(table)
        if df is not None:  # no frame -> no metrics -> the checks fail closed
            metrics.update(_table_metrics(spark, df, table, specs, checks, window, sample_n))
    for s in deequ_specs(suite):
        if s.analyzer == ALONGSIDE:
            metrics[s.check_name] = engine_spark.measure_cross_layer(
                spark, checks[s.check_name], window, sample_n
            )
    return metrics


def shutdown_callback_server(spark: SparkSession) -> None:
    """Stop the Py4J callback server if one runs (pydeequ's Check lambdas start one).

    Its non-daemon threads would keep the Python process alive after ``main`` returns.
    """
    gateway = spark.sparkContext._gateway  # type: ignore[attr-defined]
    if gateway is not None and gateway.get_callback_server() is not None:
        gateway.shutdown_callback_server()


class DeequEngine:
    """:class:`spark_jobs.dq.engine.DqEngine` over Deequ's AnalysisRunner."""

    name = "deequ"

    def ensure_available(self, spark: SparkSession) -> None:
        ensure_deequ_available(spark)

    def compute_metrics(
        self, spark: SparkSession, suite: Sequence[Check], window: Window, sample_n: int
    ) -> Dict[str, Metric]:
        return compute_metrics(spark, suite, window, sample_n)

    def release(self, spark: SparkSession) -> None:
        shutdown_callback_server(spark)
