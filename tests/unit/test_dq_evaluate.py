"""Pure DQ logic without Spark: the decision, suites as data, the Deequ translation,
the volume statistics and the alert payload."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from spark_jobs.dq.alert import RUNBOOK, build_payload, size_of
from spark_jobs.dq.checks import CHECK_TYPES, ERROR, WARNING, Check, suite_for, violation_sql
from spark_jobs.dq.engine_deequ import deequ_specs
from spark_jobs.dq.engine_spark import freshness_minutes, robust_z, volume_anomalies
from spark_jobs.dq.evaluate import FAIL, PASS, WARN, Metric, evaluate
from spark_jobs.dq.results import result_rows
from spark_jobs.dq.window import hours_predicate, latest_run, run_hours
from wikistream.catalogue import RAW_EVENTS
from wikistream.config import EVENT_TYPES, RISK_LEVELS, DqConfig

E = Check("e", "bronze", "completeness", "bronze.raw_events", ("event_id",), ERROR, max_value=0)
W = Check(
    "w", "bronze", "range", "bronze.raw_events", ("length_new",), WARNING, max_value=0, params={"low": 0}
)
V = Check("v", "bronze", "volume", "bronze.raw_events", ("events",), WARNING, max_value=0, on_no_data="pass")
R = Check("r", "bronze", "row_count", "bronze.raw_events", (), WARNING, min_value=1)


def test_all_within_bounds_passes() -> None:
    result = evaluate((E, W, R), {"e": Metric(0.0, 10), "w": Metric(0.0, 10), "r": Metric(10.0, 10)})
    assert result.passed
    assert [r.status for r in result.results] == [PASS, PASS, PASS]


def test_error_failure_blocks_and_warning_does_not() -> None:
    only_warning = evaluate((E, W), {"e": Metric(0.0, 10), "w": Metric(3.0, 10, ("k1",))})
    assert only_warning.passed
    assert [r.status for r in only_warning.results] == [PASS, WARN]
    assert only_warning.failed_checks[0].sample == ("k1",)

    with_error = evaluate((E, W), {"e": Metric(1.0, 10, ("null",)), "w": Metric(0.0, 10)})
    assert not with_error.passed
    assert [r.status for r in with_error.blocking_checks] == [FAIL]


def test_missing_metric_fails_closed_at_its_level() -> None:
    result = evaluate((E, W), {})
    assert not result.passed
    assert [(r.status, r.note) for r in result.results] == [
        (FAIL, "metric missing (fail-closed)"),
        (WARN, "metric missing (fail-closed)"),
    ]


def test_unmeasurable_metric_fails_unless_declared_passable() -> None:
    result = evaluate(
        (E, V), {"e": Metric(None, 0, note="no rows"), "v": Metric(None, 0, note="insufficient history")}
    )
    assert [(r.status, r.note) for r in result.results] == [(FAIL, "no rows"), (PASS, "insufficient history")]
    assert not result.passed


def test_min_bound_and_nan() -> None:
    assert evaluate((R,), {"r": Metric(0.0, 0)}).results[0].status == WARN
    assert evaluate((E,), {"e": Metric(float("nan"), 5)}).results[0].status == FAIL


def test_evaluate_rejects_empty_or_mixed_suites() -> None:
    with pytest.raises(ValueError):
        evaluate((), {})
    silver = Check("s", "silver", "row_count", "silver.events", (), ERROR, min_value=1)
    with pytest.raises(ValueError):
        evaluate((E, silver), {})


def test_check_declaration_is_validated() -> None:
    with pytest.raises(ValueError):
        Check("x", "bronze", "made_up", "t", (), ERROR, max_value=0)
    with pytest.raises(ValueError):
        Check("x", "bronze", "range", "t", ("c",), "FATAL", max_value=0)
    with pytest.raises(ValueError):
        Check("x", "bronze", "range", "t", ("c",), ERROR)


def test_suites_take_values_from_config_and_catalogue() -> None:
    dq = DqConfig()
    bronze = {c.name: c for c in suite_for("bronze", dq)}
    assert bronze["raw_events.event_type.allowed"].params["values"] == EVENT_TYPES
    assert "external" in bronze["raw_events.event_type.allowed"].params["values"]
    required = {c.name for c in RAW_EVENTS.columns if c.required}
    assert {c.columns[0] for c in bronze.values() if c.type == "completeness"} == required
    assert bronze["raw_events.freshness"].max_value == dq.freshness_max_minutes
    gold = {c.name: c for c in suite_for("gold", dq)}
    assert gold["risk_scores.risk_level.allowed"].params["values"] == RISK_LEVELS
    assert gold["hourly_stats.volume_vs_history"].level == WARNING
    assert {c.type for layer in ("bronze", "silver", "gold") for c in suite_for(layer, dq)} == set(
        CHECK_TYPES
    )


def test_violation_sql_shapes() -> None:
    suite = {c.name: c for c in suite_for("silver", DqConfig())}
    assert violation_sql(suite["events.event_id.complete"]) == (
        "(event_id IS NULL OR event_id = '' OR (substr(event_id, 1, 1) = ' ' AND trim(event_id) = ''))"
    )
    assert (
        violation_sql(suite["events.event_hour.range"])
        == "(event_hour IS NOT NULL AND (event_hour < 0 OR event_hour > 23))"
    )
    assert violation_sql(suite["events.length_delta_consistent"]) == (
        "((length_new IS NOT NULL AND length_old IS NOT NULL) AND NOT "
        "coalesce((length_delta = length_new - length_old), FALSE))"
    )


def test_deequ_translation_maps_every_check_of_every_suite() -> None:
    dq = DqConfig()
    for layer in ("bronze", "silver", "gold"):
        suite = suite_for(layer, dq)
        specs = deequ_specs(suite)
        assert [s.check_name for s in specs] == [c.name for c in suite]
        # Only cross-layer checks are computed alongside, and each says why.
        alongside = {s.check_name: s.why for s in specs if s.analyzer == "alongside"}
        assert {c.name for c in suite if c.type in ("reconciliation", "volume", "upstream")} == set(alongside)
        assert all(alongside.values())
    specs = {s.check_name: s for s in deequ_specs(suite_for("bronze", dq))}
    assert (specs["raw_events.event_id.unique"].constraint, specs["raw_events.event_id.unique"].analyzer) == (
        "hasUniqueness",
        "CountDistinct+Distinctness",
    )
    allowed = specs["raw_events.event_type.allowed"]
    assert (allowed.constraint, allowed.constraint_args[1]) == ("isContainedIn", EVENT_TYPES)
    assert allowed.analyzer_args[1].startswith("`event_type` IS NULL OR `event_type` IN ('edit', ")
    assert specs["raw_events.event_hour.range"].analyzer_args[1] == (
        "`event_hour` IS NULL OR (`event_hour` >= 0 AND `event_hour` <= 23)"
    )
    assert specs["raw_events.length_new.range"].constraint == "isNonNegative"
    assert specs["raw_events.event_id.complete"].analyzer_args[1] == (
        "`event_id` IS NOT NULL AND trim(`event_id`) <> ''"
    )
    assert specs["raw_events.row_count"].analyzer == "Size"
    # Freshness: the Spark engine's quantile, accuracy and least(event_time, arrival).
    fresh = specs["raw_events.freshness"]
    assert (fresh.constraint, fresh.analyzer) == ("hasApproxQuantile", "ApproxQuantile")
    assert fresh.analyzer_args == ("__dq_seen_micros", 0.99, 0.0001)
    assert fresh.derived == (("__dq_seen_micros", "unix_micros(least(`event_time`, `ingest_time`))"),)
    # The event-time fallback share: Compliance of the condition itself, read as a percent.
    share = specs["raw_events.event_time_fallback_share"]
    assert (share.constraint, share.analyzer, share.percent) == ("satisfies", "Compliance", True)
    assert share.analyzer_args[1] == "coalesce((event_time_source = 'timestamp'), FALSE)"
    # Divergent duplicates: a Compliance over the dead letters the window hands over.
    divergent = specs["dead_letters.divergent_duplicates"]
    assert (divergent.table, divergent.analyzer, divergent.percent) == (
        "bronze.dead_letters",
        "Compliance",
        False,
    )
    assert divergent.analyzer_args[1] == "coalesce((failed_rule <> 'duplicate:divergent'), FALSE)"
    silver = {s.check_name: s for s in deequ_specs(suite_for("silver", dq))}
    assert silver["events.freshness"].derived == (
        ("__dq_seen_micros", "unix_micros(least(`event_time`, `bronze_ingest_time`))"),
    )


def test_deequ_ratios_convert_back_to_exact_counts() -> None:
    from datetime import datetime, timezone

    from spark_jobs.dq.engine_deequ import to_metric

    specs = {s.check_name: s for s in deequ_specs(suite_for("bronze", DqConfig()))}
    now = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
    rows = 1_000_003
    # 7 violations in a million rows: 1 - ratio is not exact in binary, the count is.
    compliance = to_metric(specs["raw_events.event_type.allowed"], {"Compliance": 1 - 7 / rows}, rows, now, 9)
    assert (compliance.value, compliance.rows_tested, compliance.snapshot_id) == (7.0, rows, 9)
    unique = specs["raw_events.event_id.unique"]
    # 999,990 distinct keys over 1,000,001 keyed rows (2 rows have a NULL key): 11 extra rows.
    dupes = to_metric(unique, {"CountDistinct": 999_990.0, "Distinctness": 999_990 / 1_000_001}, rows, now, 9)
    assert dupes.value == 11.0
    assert to_metric(unique, {"CountDistinct": 0.0}, 2, now, 9).value == 0.0
    # An empty window: no ratios from Deequ, 0 violations (as the Spark engine), no freshness.
    assert to_metric(specs["raw_events.event_type.allowed"], {}, 0, now, None).value == 0.0
    assert to_metric(specs["raw_events.freshness"], {}, 0, now, None).value is None
    # A failed analyzer on a non-empty window is missing data: fail-closed.
    assert to_metric(specs["raw_events.event_type.allowed"], {}, 5, now, None).value is None
    # Freshness: the quantile comes back as epoch microseconds (Deequ names it after the quantile).
    seen_us = (now.timestamp() - 90.000001) * 1_000_000
    fresh = to_metric(specs["raw_events.freshness"], {"ApproxQuantile-0.99": seen_us}, 3, now, None)
    assert fresh.value == 1.5
    assert to_metric(specs["raw_events.freshness"], {}, 3, now, None).value is None
    # A share: 12,345 matching rows of 1,000,003 is 1.234 %, as the Spark engine rounds it.
    share = specs["raw_events.event_time_fallback_share"]
    assert to_metric(share, {"Compliance": 12_345 / rows}, rows, now, 9).value == 1.234
    assert to_metric(share, {"Compliance": 0.0}, rows, now, 9).value == 0.0
    empty = to_metric(share, {}, 0, now, None)
    assert (empty.value, empty.note) == (None, "no rows in window")


def test_robust_z_and_volume_anomalies() -> None:
    assert robust_z(10, [9, 10, 11, 10, 12]) == 0.0
    assert robust_z(1, [9, 10, 11, 10, 12]) == pytest.approx(0.6745 * -9)
    assert robust_z(5, [10, 10, 10]) is None
    key = (date(2026, 11, 1), 10, "en.wikipedia.org")
    value, sample, _ = volume_anomalies({key: 1.0}, {key: [9, 10, 11, 10, 12]}, 3.5, 0.2, 3)
    assert value == 1.0 and sample[0].startswith("en.wikipedia.org@2026-11-01T10: 1 vs median 10")
    # Flat history: the ratio decides (0.1 < 0.2 -> anomaly; 0.9 -> fine).
    assert volume_anomalies({key: 1.0}, {key: [10, 10, 10]}, 3.5, 0.2, 3)[0] == 1.0
    assert volume_anomalies({key: 9.0}, {key: [10, 10, 10]}, 3.5, 0.2, 3)[0] == 0.0
    assert volume_anomalies({key: 1.0}, {key: [10, 10]}, 3.5, 0.2, 3) == (None, (), "insufficient history")


def test_freshness_minutes() -> None:
    now = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
    assert freshness_minutes(now, datetime(2026, 11, 1, 10, 30, tzinfo=timezone.utc)) == 90.0
    assert freshness_minutes(now, None) is None


def test_window_helpers() -> None:
    t0, t1 = datetime(2026, 1, 1), datetime(2026, 1, 2)
    runs = [
        {"job": "silver_batch", "started_at": t0},
        {"job": "silver_batch", "started_at": t1},
        {"job": "x", "started_at": t1},
    ]
    assert latest_run(runs, "silver_batch") is runs[1]
    assert latest_run(runs, "gold_batch") is None
    assert hours_predicate([]) == "FALSE"
    assert hours_predicate([(date(2026, 11, 1), 7)]) == "(event_date = DATE'2026-11-01' AND event_hour = 7)"
    details = json.dumps({"touched_hours": [["2026-11-01", 7]]})
    assert run_hours({"details": details}) == [(date(2026, 11, 1), 7)]
    assert run_hours({"details": "{}"}) is None


def test_alert_payload_and_results_rows() -> None:
    result = evaluate((E, W), {"e": Metric(2.0, 10, ("a", "b"), snapshot_id=7), "w": Metric(0.0, 10)})
    payload = build_payload(result, "run-1", {"bronze.raw_events": 7}, "local")
    assert payload["failed_checks"] == [
        {
            "check": "e",
            "type": "completeness",
            "level": ERROR,
            "status": FAIL,
            "table": "bronze.raw_events",
            "metric": 2.0,
            "threshold": "<= 0",
            "rows_tested": 10,
            "sample_keys": ["a", "b"],
            "note": "",
            "next_step": RUNBOOK["completeness"],
        }
    ]
    assert (payload["layer"], payload["run_id"], payload["blocking_failures"]) == ("bronze", "run-1", 1)
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    rows = result_rows("run-1", result, at)
    assert [
        (r["check_name"], r["status"], r["metric"], r["failing_sample"], r["snapshot_id"]) for r in rows
    ] == [
        ("e", FAIL, 2.0, '["a", "b"]', 7),
        ("w", PASS, 0.0, None, None),
    ]


def test_alert_payload_fits_sns_limit() -> None:
    many = tuple(
        Check(f"c{i}", "bronze", "range", "t", ("x",), ERROR, max_value=0, params={"low": 0})
        for i in range(300)
    )
    big = "k" * 2000
    result = evaluate(many, {c.name: Metric(1.0, 1, (big,) * 5, note=big) for c in many})
    payload = build_payload(result, "r", {}, max_bytes=256 * 1024)
    assert size_of(payload) <= 256 * 1024
    assert payload["truncated"] is True
    tiny = build_payload(result, "r", {}, max_bytes=4096)
    assert size_of(tiny) <= 4096
    assert tiny["dropped_checks"] + len(tiny["failed_checks"]) == 300
