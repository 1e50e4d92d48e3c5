"""The DQ fault matrix as importable data and one cycle builder (shared by
``tests/component/test_dq_gates.py`` and ``bench/reliability.py``).

:func:`run_cycle` builds one cycle by direct table edits: a previous cycle's bronze rows
(already promoted, with a deliberately bad row the incremental window must NOT see),
this cycle's bronze rows, silver rows derived in plain Python, gold rows aggregated in
plain Python, gold history for the volume check, and the ledger rows the silver/gold
jobs would write, with one fault of :data:`MATRIX` injected. Then the three gates run
in order, like the state machine: the first gate that raises blocks the rest.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from spark_jobs import ledger
from spark_jobs.cli import parse_job_args
from spark_jobs.dq.checks import Check
from spark_jobs.dq.engine import DqEngine
from spark_jobs.dq.evaluate import FAIL, WARN, GateResult, Metric, evaluate
from spark_jobs.dq_gate import GateArgs, GateFailed, run
from wikistream import catalogue as cat
from wikistream.config import EVENT_TYPES, language_of, region_of
from wikistream.events import (
    EVENT_TIME_FROM_DT,
    EVENT_TIME_FROM_TIMESTAMP,
    RULE_DIVERGENT_DUPLICATE,
    RULE_MALFORMED_JSON,
)
from wikistream.metrics import LocalMetricsSink

NOW = datetime(2026, 11, 1, 12, 10, tzinfo=timezone.utc)
DAY = NOW.date()
DOMAINS = ("en.wikipedia.org", "de.wikipedia.org")
HOURS = (10, 11)  # 10 is complete (volume-judged), 11 is the partial current hour
PER_KEY = 10
HISTORY = (9, 10, 11, 10, 12)  # same hour, previous days: median 10, MAD 1
T_SILVER = NOW - timedelta(minutes=5)
T_GOLD = NOW - timedelta(minutes=3)
RUN = "r1"

# fault -> gate -> check -> level (status FAIL blocks, WARN alerts only)
MATRIX = [
    ("null_event_id", "bronze", "raw_events.event_id.complete", FAIL),
    ("duplicate_event_id", "bronze", "raw_events.event_id.unique", FAIL),
    ("unknown_event_type", "bronze", "raw_events.event_type.allowed", FAIL),
    ("hour_out_of_range", "bronze", "raw_events.event_hour.range", FAIL),
    ("blank_raw_payload", "bronze", "raw_events.raw_payload.complete", FAIL),
    ("stale_data", "bronze", "raw_events.freshness", WARN),
    # One row at the clock (least(event_time, ingest_time) = now) among 120 stale ones: the
    # 0.99 quantile still sees the staleness, where the newest event time would not.
    ("stale_behind_one_current_row", "bronze", "raw_events.freshness", WARN),
    ("event_time_fallback_share", "bronze", "raw_events.event_time_fallback_share", WARN),
    ("divergent_duplicate", "bronze", "dead_letters.divergent_duplicates", WARN),
    ("negative_length_wrong_delta", "silver", "events.length_delta_consistent", FAIL),
    ("silver_bronze_mismatch", "silver", "events.reconciles_with_bronze", FAIL),
    ("unknown_editor_class", "silver", "events.editor_class.allowed", FAIL),
    ("volume_drop_90", "gold", "hourly_stats.volume_vs_history", WARN),
    ("risk_out_of_range", "gold", "risk_scores.risk_score.range", FAIL),
    ("gold_silver_mismatch", "gold", "hourly_stats.reconciles_with_silver", FAIL),
    ("distinct_users_gt_events", "gold", "hourly_stats.distinct_users_le_events", FAIL),
    ("missing_upstream_gate", "gold", "upstream_gates_passed", FAIL),
]


def _insert(spark: Any, spec: cat.TableSpec, rows: list[dict[str, Any]]) -> None:
    schema = ", ".join(f"{c.name} {c.spark_type}" for c in spec.columns)
    data = [tuple(r.get(c) for c in spec.column_names) for r in rows]
    spark.createDataFrame(data, schema).writeTo(spec.fqn()).append()


def _bronze_row(i: int, domain: str, ts: datetime, **over: Any) -> dict[str, Any]:
    etype = EVENT_TYPES[i % len(EVENT_TYPES)]
    old, new = (100 + i, 150 + 2 * i) if etype in ("edit", "new") else (None, None)
    row = {
        "event_id": f"{domain[:2]}-{ts:%H%M%S}-{i}",
        "rc_id": i,
        "event_type": etype,
        "namespace": 0,
        "title": f"Page {i}",
        "domain": domain,
        "wiki": domain.split(".")[0] + "wiki",
        "user_name": f"user{i % 4}",
        "is_bot": i % 4 == 0,
        "is_minor": False,
        "is_patrolled": None,  # the null row of house style #9
        "length_old": old,
        "length_new": new,
        "event_time": ts,
        "event_time_source": EVENT_TIME_FROM_DT,
        "event_date": ts.date(),
        "event_hour": ts.hour,
        "ingest_time": ts + timedelta(seconds=2),
        "kafka_topic": "wikistream.recentchange",
        "kafka_partition": 0,
        "kafka_offset": i,
        "raw_payload": "{}",
    }
    row.update(over)
    return row


def _dead_letter(i: int, rule: str, at: datetime) -> dict[str, Any]:
    return {
        "dead_letter_id": f"wikistream.recentchange/0/{1000 + i}/{int(at.timestamp() * 1000)}",
        "failed_rule": rule,
        "error_detail": "winner wikistream.recentchange/0/3" if rule == RULE_DIVERGENT_DUPLICATE else None,
        "source": "bronze_dedup" if rule == RULE_DIVERGENT_DUPLICATE else "bronze_contract",
        "raw_payload": "{}",
        "event_id": f"dl-{i}",
        "ingest_time": at,
        "ingest_date": at.date(),
        "kafka_topic": "wikistream.recentchange",
        "kafka_partition": 0,
        "kafka_offset": 1000 + i,
        "kafka_timestamp": at,
    }


def _cycle_bronze(per_key: int, shift: timedelta = timedelta(0)) -> list[dict[str, Any]]:
    rows = []
    for domain in DOMAINS:
        for hour in HOURS:
            for i in range(per_key):
                ts = datetime(2026, 11, 1, hour, 5 + 5 * i % 50, i, tzinfo=timezone.utc) - shift
                rows.append(_bronze_row(i, domain, ts))
    return rows


def _silver(bronze: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for b in bronze:
        both = b["length_old"] is not None and b["length_new"] is not None
        out.append(
            {
                **{k: b[k] for k in ("event_id", "rc_id", "event_type", "namespace", "title", "domain")},
                **{k: b[k] for k in ("user_name", "is_minor", "length_old", "length_new")},
                **{k: b[k] for k in ("event_time", "event_date", "event_hour")},
                "region": region_of(b["domain"]),
                "language": language_of(b["domain"]),
                "editor_class": "bot" if b["is_bot"] else "registered",
                "is_bot": b["is_bot"],
                "is_anonymous": False,
                "length_delta": b["length_new"] - b["length_old"] if both else None,
                "is_large_deletion": False,
                "is_large_addition": False,
                "is_valid": True,
                "bronze_ingest_time": b["ingest_time"],
                "processed_at": T_SILVER,
            }
        )
    return out


def _hourly(
    silver: list[dict[str, Any]], day: Optional[date] = None, events: Optional[int] = None
) -> list[dict]:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for s in silver:
        groups[(s["event_date"], s["event_hour"], s["domain"])].append(s)
    rows = []
    for (d, h, dom), g in sorted(groups.items()):
        n = len(g)
        by_type = {t: sum(1 for s in g if s["event_type"] == t) for t in EVENT_TYPES}
        deltas = [s["length_delta"] for s in g if s["length_delta"] is not None]
        rows.append(
            {
                "event_date": d,
                "event_hour": h,
                "domain": dom,
                "region": region_of(dom),
                "events": n,
                "edits": by_type["edit"],
                "new_pages": by_type["new"],
                "log_events": by_type["log"],
                "categorize_events": by_type["categorize"],
                "external_events": by_type["external"],
                "distinct_users": len({s["user_name"] for s in g}),
                "bot_share": 100.0 * sum(s["is_bot"] for s in g) / n,
                "anonymous_share": 0.0,
                "bytes_added": sum(x for x in deltas if x > 0),
                "bytes_removed": -sum(x for x in deltas if x < 0),
                "large_deletions": 0,
                "updated_at": T_GOLD,
            }
        )
    return rows


def _history() -> list[dict[str, Any]]:
    rows = []
    for back, n in enumerate(HISTORY, start=1):
        for dom in DOMAINS:
            rows.append(
                {
                    "event_date": DAY - timedelta(days=back),
                    "event_hour": 10,
                    "domain": dom,
                    "region": region_of(dom),
                    "events": n,
                    "edits": n,
                    "new_pages": 0,
                    "log_events": 0,
                    "categorize_events": 0,
                    "external_events": 0,
                    "distinct_users": 1,
                    "bot_share": 0.0,
                    "anonymous_share": 0.0,
                    "bytes_added": 0,
                    "bytes_removed": 0,
                    "large_deletions": 0,
                    "updated_at": T_GOLD,
                }
            )
    return rows


def _risk(silver: list[dict[str, Any]]) -> list[dict[str, Any]]:
    users: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in silver:
        users[s["user_name"]].append(s)
    rows = []
    for user, g in sorted(users.items()):
        score = min(100.0, 5.0 * len(g))
        rows.append(
            {
                "event_date": DAY,
                "user_name": user,
                "editor_class": g[0]["editor_class"],
                "events": len(g),
                "active_hours": len({s["event_hour"] for s in g}),
                "edits_per_hour": len(g) / len({s["event_hour"] for s in g}),
                "large_deletions": 0,
                "domains": len({s["domain"] for s in g}),
                "is_anonymous": False,
                "risk_score": score,
                "risk_level": "HIGH" if score >= 70 else "MEDIUM" if score >= 40 else "LOW",
                "updated_at": T_GOLD,
            }
        )
    return rows


def _daily(hourly: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "event_date": DAY,
            "events": sum(h["events"] for h in hourly),
            "distinct_users": 4,
            "active_domains": len({h["domain"] for h in hourly}),
            "bot_share": 25.0,
            "anonymous_share": 0.0,
            "bytes_added": sum(h["bytes_added"] for h in hourly),
            "bytes_removed": sum(h["bytes_removed"] for h in hourly),
            "large_deletions": 0,
            "high_risk_users": 0,
            "health_score": 90.0,
            "updated_at": T_GOLD,
        }
    ]


def _ledger(spark: Any, job: str, run_id: str, started: datetime, **fields: Any) -> None:
    rec = ledger.RunRecord(run_id, job, "local", status=ledger.SUCCEEDED, started_at=started, **fields)
    rec.finished_at = started + timedelta(seconds=2)
    ledger.record_run(spark, rec)


def _gate(spark: Any, layer: str, data_dir: Path, engine: Optional[DqEngine]) -> GateResult:
    job = parse_job_args("dq_gate", ["--env", "local", "--run-id", RUN, "--data-dir", str(data_dir)])
    sink = LocalMetricsSink(data_dir / "metrics.ndjson")
    return run(spark, GateArgs(job, layer, now=NOW), sink, engine)


class BothEngines:
    """A :class:`~spark_jobs.dq.engine.DqEngine` that measures every window with both engines.

    The gate goes on with ``primary``'s metrics; ``measured`` keeps, per gate, the suite and
    both engines' metrics of the very same window, for :func:`disagreements`.
    """

    name = "both"

    def __init__(self, primary: DqEngine, other: DqEngine) -> None:
        self.primary, self.other = primary, other
        self.measured: list[tuple[Sequence[Check], dict[str, Metric], dict[str, Metric]]] = []

    def ensure_available(self, spark: Any) -> None:
        self.primary.ensure_available(spark)
        self.other.ensure_available(spark)

    def compute_metrics(
        self, spark: Any, suite: Sequence[Check], window: Any, sample_n: int
    ) -> dict[str, Metric]:
        mine = self.primary.compute_metrics(spark, suite, window, sample_n)
        theirs = self.other.compute_metrics(spark, suite, window, sample_n)
        self.measured.append((suite, mine, theirs))
        return mine

    def release(self, spark: Any) -> None:
        self.primary.release(spark)
        self.other.release(spark)


def disagreements(suite: Sequence[Check], a: Mapping[str, Metric], b: Mapping[str, Metric]) -> list[str]:
    """Checks on which two engines' metrics of one window disagree (empty = agreement).

    Decisions must be equal for every check (status via the shared ``evaluate``), and
    metrics equal: exactly for counts, within
    :data:`~spark_jobs.dq.engine_deequ.FRESHNESS_TOLERANCE_MINUTES` for freshness.
    """
    from spark_jobs.dq.engine_deequ import FRESHNESS_TOLERANCE_MINUTES

    out = []
    decided_a = {r.check.name: r for r in evaluate(suite, a).results}
    decided_b = {r.check.name: r for r in evaluate(suite, b).results}
    for check in suite:
        ra, rb = decided_a[check.name], decided_b[check.name]
        tolerance = FRESHNESS_TOLERANCE_MINUTES if check.type == "freshness" else 0.0
        if ra.status != rb.status:
            out.append(f"{check.name}: status {ra.status} vs {rb.status} (metric {ra.metric} vs {rb.metric})")
        elif (ra.metric is None) != (rb.metric is None) or (
            ra.metric is not None and rb.metric is not None and abs(ra.metric - rb.metric) > tolerance
        ):
            out.append(f"{check.name}: metric {ra.metric} vs {rb.metric} (tolerance {tolerance})")
        elif ra.rows_tested != rb.rows_tested:
            out.append(f"{check.name}: rows_tested {ra.rows_tested} vs {rb.rows_tested}")
    return out


def run_cycle(
    spark: Any, fault: Optional[str], data_dir: Path, engine: Optional[DqEngine] = None
) -> dict[str, Any]:
    """Build and gate one cycle with ``fault`` injected; return results and the blocker.

    ``engine`` (default: the local environment's ``dq.engine``) measures every gate.
    """
    bronze_fqn = cat.RAW_EVENTS.fqn()
    # Previous cycle: promoted already; its bad row must stay outside this window.
    _insert(
        spark,
        cat.RAW_EVENTS,
        [_bronze_row(99, "en.wikipedia.org", NOW - timedelta(hours=3), event_type="bad")],
    )
    s0 = ledger.current_snapshot_id(spark, bronze_fqn)
    _ledger(spark, "silver_batch", "r0", NOW - timedelta(hours=2), input_snapshot_to=s0)

    per_key = {"volume_drop_90": 1, "stale_behind_one_current_row": 30}.get(fault or "", PER_KEY)
    stale = fault in ("stale_data", "stale_behind_one_current_row")
    bronze = _cycle_bronze(per_key, timedelta(hours=5) if stale else timedelta(0))
    if fault == "stale_behind_one_current_row":
        bronze[0] = _bronze_row(0, DOMAINS[0], NOW - timedelta(seconds=1), ingest_time=NOW)
    if fault == "event_time_fallback_share":
        for row in bronze[:2]:  # 2 of 40 rows (5 %) timed by the `timestamp` fallback
            row["event_time_source"] = EVENT_TIME_FROM_TIMESTAMP
    # Dead letters bronze committed over this cycle: one contract failure always, so the
    # divergent-duplicates check judges a non-empty frame on the clean cycle too.
    dead = [_dead_letter(0, RULE_MALFORMED_JSON, NOW - timedelta(minutes=20))]
    if fault == "divergent_duplicate":
        dead.append(_dead_letter(1, RULE_DIVERGENT_DUPLICATE, NOW - timedelta(minutes=10)))
    _insert(spark, cat.DEAD_LETTERS, dead)
    extra: list[dict[str, Any]] = []
    if fault == "null_event_id":
        spark.sql(f"ALTER TABLE {bronze_fqn} ALTER COLUMN event_id DROP NOT NULL")
        extra.append(_bronze_row(50, "en.wikipedia.org", NOW - timedelta(minutes=30), event_id=None))
    if fault == "duplicate_event_id":
        extra.append(dict(bronze[3]))
    if fault == "unknown_event_type":
        extra.append(_bronze_row(51, "en.wikipedia.org", NOW - timedelta(minutes=30), event_type="vandalism"))
    if fault == "hour_out_of_range":
        extra.append(_bronze_row(52, "en.wikipedia.org", NOW - timedelta(minutes=30), event_hour=25))
    if fault == "blank_raw_payload":
        # Not NULL, so the column's null count is 0: only the scan can see it is blank.
        extra.append(_bronze_row(53, "en.wikipedia.org", NOW - timedelta(minutes=30), raw_payload="   "))
    _insert(spark, cat.RAW_EVENTS, bronze + extra)
    s1 = ledger.current_snapshot_id(spark, bronze_fqn)

    out: dict[str, Any] = {"results": {}, "blocked_by": None, "bronze_rows": len(bronze) + len(extra)}

    def gate(layer: str) -> bool:
        try:
            out["results"][layer] = _gate(spark, layer, data_dir, engine)
            return True
        except GateFailed as failed:
            out["results"][layer] = failed
            out["blocked_by"] = layer
            return False

    if not gate("bronze"):
        return out

    silver = _silver(bronze)
    if fault == "negative_length_wrong_delta":
        victim = next(s for s in silver if s["length_delta"] is not None)
        victim.update(length_new=-5, length_delta=42)
    if fault == "unknown_editor_class":
        silver[0]["editor_class"] = "robot"
    written = silver[:-1] if fault == "silver_bronze_mismatch" else silver
    _insert(spark, cat.SILVER_EVENTS, written)
    _ledger(
        spark,
        "silver_batch",
        RUN,
        T_SILVER - timedelta(seconds=1),
        input_table=cat.RAW_EVENTS.identifier,
        input_snapshot_from=s0,
        input_snapshot_to=s1,
        output_table=cat.SILVER_EVENTS.identifier,
        output_snapshot_id=ledger.current_snapshot_id(spark, cat.SILVER_EVENTS.fqn()),
        rows_out=len(written),
    )
    if not gate("silver"):
        return out

    hourly = _hourly(written)
    risk = _risk(written)
    if fault == "risk_out_of_range":
        risk[0].update(risk_score=130.0, risk_level="HIGH")
    if fault == "gold_silver_mismatch":
        hourly[0].update(events=hourly[0]["events"] + 3, edits=hourly[0]["edits"] + 3)
    if fault == "distinct_users_gt_events":
        hourly[1]["distinct_users"] = hourly[1]["events"] + 1
    _insert(spark, cat.HOURLY_STATS, _history() + hourly)
    _insert(spark, cat.RISK_SCORES, risk)
    _insert(spark, cat.DAILY_SUMMARY, _daily(hourly))
    _ledger(spark, "gold_batch", RUN, T_GOLD - timedelta(seconds=1))
    if fault == "missing_upstream_gate":
        spark.sql(f"DELETE FROM {cat.PIPELINE_RUNS.fqn()} WHERE job = 'dq_gate_silver'")
    gate("gold")
    return out
