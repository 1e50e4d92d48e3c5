"""Data-quality suites declared as data: one tuple of :class:`Check` per layer.

A check names what is measured (type, table, columns, params) and how the measurement
is judged (``min_value``/``max_value`` bounds on one number, ``level``). Engines
(:mod:`spark_jobs.dq.engine_spark`, :mod:`spark_jobs.dq.engine_deequ`) turn checks into
metrics; :func:`spark_jobs.dq.evaluate.evaluate` turns metrics into a decision.

Every allowed-values list, column list and threshold comes from
:mod:`wikistream.config` and :mod:`wikistream.catalogue`; nothing is re-typed here.

Metric conventions (so one pure evaluator serves every check type):

* row-level types (``completeness``, ``allowed_values``, ``range``, ``consistency``):
  the metric is the **number of violating rows** in the window; bound ``max_value=0``.
* ``uniqueness``: rows minus distinct keys (exact); ``max_value=0``.
* ``row_count``: rows in the window; ``min_value``.
* ``freshness``: minutes between ``now`` and the window's newest event time, where
  "newest" is the :data:`FRESHNESS_QUANTILE` quantile of ``least(event_time,
  ingest_time)``: no event can look newer than its arrival, and no single row (a stray
  future-dated event within the skew allowance) can make a stale window look fresh.
* ``share``: percent of the window's rows matching ``params["condition"]``; ``max_value``
  (an empty window has no share: passes, noted).
* ``reconciliation``: absolute difference between two layers' counts; ``max_value=0``.
* ``volume``: number of (domain, hour) keys whose robust z-score is out of bounds.
* ``upstream``: number of upstream gates of the same run that did not pass.

Python 3.9-compatible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

from spark_jobs.registry import gate_ledger_name
from wikistream.catalogue import (
    DAILY_SUMMARY,
    DEAD_LETTERS,
    HOURLY_STATS,
    RAW_EVENTS,
    RISK_SCORES,
    SILVER_EVENTS,
    TableSpec,
)
from wikistream.config import EDITOR_CLASSES, EVENT_TYPES, REGIONS, RISK_LEVELS, DqConfig
from wikistream.events import EVENT_TIME_FROM_TIMESTAMP, RULE_DIVERGENT_DUPLICATE

ERROR = "ERROR"
WARNING = "WARNING"
LEVELS = (ERROR, WARNING)
LAYERS = ("bronze", "silver", "gold")
#: The divergent-duplicates check; its stored snapshot_id is where the next gate resumes.
DIVERGENT_DUPLICATES_CHECK = "dead_letters.divergent_duplicates"
#: Freshness reads this quantile of event time, not the maximum (see ``freshness`` above).
FRESHNESS_QUANTILE = 0.99
#: Accuracy of that quantile (Spark's ``percentile_approx`` accuracy; relative rank error
#: 1/accuracy). Both engines use it, so they run the same quantile summary.
FRESHNESS_ACCURACY = 10_000

#: Types whose metric is a count of violating rows in one table (one aggregation pass).
ROW_TYPES = ("completeness", "allowed_values", "range", "consistency")
CHECK_TYPES = (
    *ROW_TYPES,
    "uniqueness",
    "row_count",
    "freshness",
    "share",
    "reconciliation",
    "volume",
    "upstream",
)

#: Columns that identify a row in failing-key samples, per table.
SAMPLE_KEYS: Mapping[str, Tuple[str, ...]] = {
    RAW_EVENTS.identifier: ("event_id",),
    DEAD_LETTERS.identifier: ("event_id", "dead_letter_id"),
    SILVER_EVENTS.identifier: ("event_id",),
    HOURLY_STATS.identifier: ("event_date", "event_hour", "domain"),
    RISK_SCORES.identifier: ("event_date", "user_name"),
    DAILY_SUMMARY.identifier: ("event_date",),
}


@dataclass(frozen=True)
class Check:
    """One declared check. ``params`` carries type-specific settings (values, bounds, SQL)."""

    name: str
    layer: str
    type: str
    table: str
    columns: Tuple[str, ...] = ()
    level: str = ERROR
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    params: Mapping[str, Any] = field(default_factory=dict)
    #: What an unmeasurable metric (value ``None``) means: ``fail`` (default, fail-closed)
    #: or ``pass`` (only for checks that need history, e.g. volume).
    on_no_data: str = "fail"

    def __post_init__(self) -> None:
        if self.type not in CHECK_TYPES:
            raise ValueError(f"check {self.name}: unknown type {self.type!r}")
        if self.level not in LEVELS:
            raise ValueError(f"check {self.name}: level must be one of {LEVELS}")
        if self.layer not in LAYERS:
            raise ValueError(f"check {self.name}: unknown layer {self.layer!r}")
        if self.min_value is None and self.max_value is None:
            raise ValueError(f"check {self.name}: needs min_value and/or max_value")
        if self.on_no_data not in ("fail", "pass"):
            raise ValueError(f"check {self.name}: on_no_data must be 'fail' or 'pass'")

    @property
    def threshold(self) -> str:
        """Human-readable bound, e.g. ``<= 0`` or ``>= 1`` (stored in ops.dq_results)."""
        parts = []
        if self.min_value is not None:
            parts.append(f">= {_num(self.min_value)}")
        if self.max_value is not None:
            parts.append(f"<= {_num(self.max_value)}")
        return " and ".join(parts)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def violation_sql(check: Check) -> str:
    """SQL predicate true for a row that violates a row-level check (pure; both engines use it)."""
    if check.type == "completeness":
        col = check.columns[0]
        # Blank strings are as missing as NULLs for identifiers and enums.
        if check.params.get("string"):
            # trim() only when the value starts with a space: short-circuit keeps large
            # columns (raw_payload) from being copied row by row.
            return f"({col} IS NULL OR {col} = '' OR (substr({col}, 1, 1) = ' ' AND trim({col}) = ''))"
        return f"({col} IS NULL)"
    if check.type == "allowed_values":
        col = check.columns[0]
        values = ", ".join("'" + str(v).replace("'", "''") + "'" for v in check.params["values"])
        return f"({col} IS NOT NULL AND {col} NOT IN ({values}))"
    if check.type == "range":
        col = check.columns[0]
        conds = []
        if "low" in check.params:
            conds.append(f"{col} < {check.params['low']}")
        if "high" in check.params:
            conds.append(f"{col} > {check.params['high']}")
        return f"({col} IS NOT NULL AND ({' OR '.join(conds)}))"
    if check.type == "consistency":
        when = check.params.get("when", "TRUE")
        return f"(({when}) AND NOT coalesce(({check.params['condition']}), FALSE))"
    raise ValueError(f"check {check.name}: {check.type} is not a row-level check")


def _completeness(layer: str, table: TableSpec) -> Tuple[Check, ...]:
    """One ERROR completeness check per column the catalogue declares required."""
    return tuple(
        Check(
            f"{table.name}.{c.name}.complete",
            layer,
            "completeness",
            table.identifier,
            (c.name,),
            ERROR,
            max_value=0,
            params={"string": c.type == "string"},
        )
        for c in table.columns
        if c.required
    )


def _allowed(layer: str, table: TableSpec, column: str, values: Tuple[str, ...]) -> Check:
    return Check(
        f"{table.name}.{column}.allowed",
        layer,
        "allowed_values",
        table.identifier,
        (column,),
        ERROR,
        max_value=0,
        params={"values": tuple(values)},
    )


def _range(
    layer: str,
    table: TableSpec,
    column: str,
    low: Optional[float] = None,
    high: Optional[float] = None,
    level: str = ERROR,
) -> Check:
    params: Dict[str, Any] = {}
    if low is not None:
        params["low"] = low
    if high is not None:
        params["high"] = high
    return Check(
        f"{table.name}.{column}.range",
        layer,
        "range",
        table.identifier,
        (column,),
        level,
        max_value=0,
        params=params,
    )


def _unique(layer: str, table: TableSpec, columns: Tuple[str, ...]) -> Check:
    return Check(
        f"{table.name}.{'+'.join(columns)}.unique",
        layer,
        "uniqueness",
        table.identifier,
        columns,
        ERROR,
        max_value=0,
    )


def _row_count(layer: str, table: TableSpec) -> Check:
    # An empty window is legitimate (a quiet cycle) but worth an alert: WARNING.
    return Check(f"{table.name}.row_count", layer, "row_count", table.identifier, (), WARNING, min_value=1)


def _freshness(layer: str, table: TableSpec, dq: DqConfig) -> Check:
    arrival = "ingest_time" if "ingest_time" in table.column_names else "bronze_ingest_time"
    return Check(
        f"{table.name}.freshness",
        layer,
        "freshness",
        table.identifier,
        ("event_time", arrival),
        dq.freshness_level,
        max_value=dq.freshness_max_minutes,
    )


def _time_and_identity(dq: DqConfig) -> Tuple[Check, ...]:
    """Bronze WARNINGs about event time and identity (issue 20)."""
    return (
        # meta.dt unreadable -> event time from ``timestamp``: fine once, a problem in bulk.
        Check(
            "raw_events.event_time_fallback_share",
            "bronze",
            "share",
            RAW_EVENTS.identifier,
            ("event_time_source",),
            WARNING,
            max_value=dq.event_time_fallback_max_percent,
            params={"condition": f"event_time_source = '{EVENT_TIME_FROM_TIMESTAMP}'"},
            on_no_data="pass",
        ),
        # Same event id, other payload: the later copy was dead-lettered; someone should look.
        Check(
            DIVERGENT_DUPLICATES_CHECK,
            "bronze",
            "consistency",
            DEAD_LETTERS.identifier,
            ("failed_rule",),
            WARNING,
            max_value=0,
            params={"condition": f"failed_rule <> '{RULE_DIVERGENT_DUPLICATE}'"},
            # No dead letter yet (an empty table): nothing to judge, not a failure.
            on_no_data="pass",
        ),
    )


def bronze_suite(dq: DqConfig) -> Tuple[Check, ...]:
    """Checks on the bronze rows the cycle is about to promote to silver (and the dead
    letters bronze committed over the same span)."""
    t = RAW_EVENTS
    return (
        _row_count("bronze", t),
        *_completeness("bronze", t),
        _unique("bronze", t, ("event_id",)),
        _allowed("bronze", t, "event_type", EVENT_TYPES),
        _range("bronze", t, "event_hour", 0, 23),
        _range("bronze", t, "length_new", low=0, level=WARNING),
        _range("bronze", t, "length_old", low=0, level=WARNING),
        Check(
            "raw_events.partition_matches_event_time",
            "bronze",
            "consistency",
            t.identifier,
            ("event_date", "event_hour", "event_time"),
            ERROR,
            max_value=0,
            params={"condition": "event_date = to_date(event_time) AND event_hour = hour(event_time)"},
        ),
        _freshness("bronze", t, dq),
        *_time_and_identity(dq),
    )


def silver_suite(dq: DqConfig) -> Tuple[Check, ...]:
    """Checks on the silver rows this run's silver_batch wrote, reconciled with bronze."""
    t = SILVER_EVENTS
    return (
        _row_count("silver", t),
        *_completeness("silver", t),
        _unique("silver", t, ("event_id",)),
        _allowed("silver", t, "event_type", EVENT_TYPES),
        _allowed("silver", t, "editor_class", EDITOR_CLASSES),
        _allowed("silver", t, "region", REGIONS),
        _range("silver", t, "event_hour", 0, 23),
        # Negative lengths are flagged is_valid=false by silver and kept out of gold:
        # worth an alert, not a blocked cycle. A wrong length_delta is a transform bug.
        _range("silver", t, "length_new", low=0, level=WARNING),
        _range("silver", t, "length_old", low=0, level=WARNING),
        Check(
            "events.length_delta_consistent",
            "silver",
            "consistency",
            t.identifier,
            ("length_delta", "length_new", "length_old"),
            ERROR,
            max_value=0,
            params={
                "when": "length_new IS NOT NULL AND length_old IS NOT NULL",
                "condition": "length_delta = length_new - length_old",
            },
        ),
        _freshness("silver", t, dq),
        Check(
            "events.reconciles_with_bronze",
            "silver",
            "reconciliation",
            t.identifier,
            ("event_id",),
            ERROR,
            max_value=0,
            params={"against": RAW_EVENTS.identifier},
        ),
    )


def gold_suite(dq: DqConfig) -> Tuple[Check, ...]:
    """Checks on the gold rows for the keys this cycle touched, plus upstream gates."""
    h, r, d = HOURLY_STATS, RISK_SCORES, DAILY_SUMMARY
    return (
        Check(
            "upstream_gates_passed",
            "gold",
            "upstream",
            h.identifier,
            (),
            ERROR,
            max_value=0,
            params={"gates": (gate_ledger_name("bronze"), gate_ledger_name("silver"))},
        ),
        _row_count("gold", h),
        *_completeness("gold", h),
        _unique("gold", h, ("event_date", "event_hour", "domain")),
        _allowed("gold", h, "region", REGIONS),
        _range("gold", h, "event_hour", 0, 23),
        _range("gold", h, "bot_share", 0, 100),
        _range("gold", h, "anonymous_share", 0, 100),
        Check(
            "hourly_stats.distinct_users_le_events",
            "gold",
            "consistency",
            h.identifier,
            ("distinct_users", "events"),
            ERROR,
            max_value=0,
            params={"condition": "distinct_users <= events"},
        ),
        Check(
            "hourly_stats.type_counts_sum_to_events",
            "gold",
            "consistency",
            h.identifier,
            ("events", "edits", "new_pages", "log_events", "categorize_events", "external_events"),
            ERROR,
            max_value=0,
            params={
                "condition": "events = edits + new_pages + log_events + categorize_events + external_events"
            },
        ),
        Check(
            "hourly_stats.reconciles_with_silver",
            "gold",
            "reconciliation",
            h.identifier,
            ("events",),
            ERROR,
            max_value=0,
            # Assumption (documented in docs/DATA_QUALITY.md): gold aggregates valid rows only.
            params={"against": SILVER_EVENTS.identifier, "against_where": "is_valid"},
        ),
        Check(
            "hourly_stats.volume_vs_history",
            "gold",
            "volume",
            h.identifier,
            ("events",),
            WARNING,
            max_value=0,
            params={
                "zscore_max": dq.volume_zscore_max,
                "min_ratio": dq.volume_min_ratio,
                "history_days": dq.volume_history_days,
                "min_history": dq.volume_min_history,
            },
            on_no_data="pass",
        ),
        *_completeness("gold", r),
        _unique("gold", r, ("event_date", "user_name")),
        _range("gold", r, "risk_score", 0, 100),
        _allowed("gold", r, "risk_level", RISK_LEVELS),
        _allowed("gold", r, "editor_class", EDITOR_CLASSES),
        _range("gold", d, "bot_share", 0, 100),
        _range("gold", d, "anonymous_share", 0, 100),
        _range("gold", d, "health_score", 0, 100),
    )


def suite_for(layer: str, dq: DqConfig) -> Tuple[Check, ...]:
    """The declared suite of ``layer`` (``bronze``, ``silver`` or ``gold``)."""
    builders = {"bronze": bronze_suite, "silver": silver_suite, "gold": gold_suite}
    if layer not in builders:
        raise ValueError(f"unknown layer {layer!r}; choose one of {LAYERS}")
    suite = builders[layer](dq)
    names = [c.name for c in suite]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"{layer} suite declares checks twice: {sorted(duplicates)}")
    return suite
