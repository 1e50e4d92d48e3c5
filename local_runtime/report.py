"""The report of one `make run`: every event accounted for, the cycles, DQ results per
gate, freshness, gold's top rows, the injected fault's outcome; written as the run record
(``runs/run-NNNN.json``), the alerts file and the local dashboard. Decides the verdict."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from local_runtime.accounting import dq_summary, freshness
from local_runtime.reconcile import BronzeFacts, InputFacts, manifest_rows, reconciliation

if TYPE_CHECKING:  # pragma: no cover
    from local_runtime.platform import LocalPlatform


@dataclass(frozen=True)
class RunResult:
    """What the run produced, gathered before the report reads the lake for the rest."""

    run_number: int
    events_file: Path
    manifest: Optional[dict[str, Any]]
    #: From :func:`local_runtime.cycles.drive_cycles`.
    cycles: dict[str, Any]
    prewarm_cycle: Optional[dict[str, Any]]
    producer_stats: dict[str, Any]
    facts: InputFacts
    bronze_landed: BronzeFacts
    bronze: dict[str, Any]
    sent: int


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from local_runtime.inspect import format_table

    print(format_table(headers, rows), flush=True)


def report(platform: LocalPlatform, result: RunResult, console: Any = None) -> bool:
    """Print the report, write the run record, alerts and dashboard; True when all is well."""
    from local_runtime.dashboard import render_dashboard
    from wikistream import metrics as m
    from wikistream.queries import NAMED_QUERIES, render

    options = platform.options
    data_dir = platform.data_dir
    run_number, manifest, stats = result.run_number, result.manifest, result.producer_stats
    report = result.cycles
    bronze_landed, bronze = result.bronze_landed, result.bronze
    ok = True
    print("\n\n== Every event accounted for", flush=True)
    rows = reconciliation(result.sent, stats, bronze_landed, result.facts)
    if manifest is not None:
        rows += manifest_rows(manifest, stats, bronze_landed)
    print_table(
        ("what", "count", "expectation", "ok"), [(w, c, e, "yes" if h else "NO") for w, c, e, h in rows]
    )
    ok = ok and all(h for *_, h in rows)
    print(f"dead letters by rule: {json.dumps(bronze['dead_letters_by_rule'], sort_keys=True)}")

    print("\n== Cycles (the synthesized state machine, executed locally)", flush=True)
    print_table(
        ("execution", "status", "seconds", "states visited"),
        [(e["name"], e["status"], e["duration_s"], " > ".join(e["states"])) for e in report["executions"]],
    )
    completed = [e for e in report["executions"] if e["completed"]]
    if report.get("unexpected_failure"):
        ok = False
        print(f"cycle {report['unexpected_failure']} FAILED without an injected fault:", flush=True)
        for alert in report["alerts"]:
            print(f"SNS alert — subject: {alert['subject']}\n{alert['message']}", flush=True)
    if len(completed) < options.cycles:
        ok = False
        print(f"only {len(completed)} of {options.cycles} cycles completed", flush=True)
    dq = dq_summary(platform.spark, [e["name"] for e in report["executions"]])
    print("\n== Data-quality results per gate", flush=True)
    per_gate: dict[tuple[str, str], list[int]] = {}
    for r in dq:
        counts = per_gate.setdefault((r["run_id"], r["layer"]), [0, 0, 0])
        counts[0 if r["status"] == "PASS" else (1 if r["level"] == "WARNING" else 2)] += 1
    print_table(
        ("cycle", "gate", "passed", "warnings", "errors"),
        [(k[0], k[1], *v) for k, v in sorted(per_gate.items())],
    )

    fresh = freshness(platform.spark, datetime.fromtimestamp(platform.run_started_wall, timezone.utc))
    steady = (
        f"; p95 {fresh['p95_after_first_cycle']} s over the {fresh['events_after_first_cycle']} "
        "sent after the first cycle's commit"
        if fresh["events_after_first_cycle"]
        else ""  # the replay ended before the first commit: no steady-state subset
    )
    print(
        f"\n== Freshness (producer send -> gold.hourly_stats commit): p50 {fresh['p50']} s, p95 {fresh['p95']} s, "
        f"max {fresh['max']} s over {fresh['events']} events{steady}",
        flush=True,
    )

    for name in ("top_domains", "risk_leaderboard"):
        print(f"\n== gold: {NAMED_QUERIES[name].description}", flush=True)
        df = platform.spark.sql(render(NAMED_QUERIES[name], "lake"))
        print_table(df.columns, [tuple(r) for r in df.limit(8).collect()])

    if report["fault"]:
        print(f"\n== Fault injected: {', '.join(report['fault'])}", flush=True)
        failed = [e for e in report["executions"] if e["status"] == "FAILED"]
        caught = bool(failed) and not report.get("fault_missed")
        untouched = report.get("gold_before") == report.get("gold_after")
        print(
            f"caught by a gate: {'yes' if caught else 'NO'}; loop halted: {'yes' if caught else 'NO'}; "
            f"gold untouched (same snapshot ids): {'yes' if untouched else 'NO'}"
        )
        for alert in report["alerts"]:
            print(f"\nSNS alert — subject: {alert['subject']}\n{alert['message']}")
        ok = ok and caught and untouched
    alerts_file = platform.alerts_path
    alerts_file.parent.mkdir(parents=True, exist_ok=True)
    with alerts_file.open("a", encoding="utf-8") as handle:
        for alert in report["alerts"]:
            handle.write(json.dumps({"run": run_number, **alert}) + "\n")

    summary = {
        "run": run_number,
        "events_file": str(result.events_file),
        "accounting": {w: c for w, c, _, _ in rows},
        "ok": ok,
        "cycle_times_s": [e["duration_s"] for e in completed],
        "freshness_s": fresh,
    }
    record = {
        "summary": summary,
        "cycles": completed,
        "prewarm": result.prewarm_cycle,
        "dq_results": dq,
        "executions": report["executions"],
        "alerts": report["alerts"],
        "fault": report["fault"],
        "fault_missed": bool(report.get("fault_missed")),
        "gold_before": report.get("gold_before"),
        "gold_after": report.get("gold_after"),
        "bronze": bronze,
        "producer": stats,
        "manifest": manifest,
    }
    runs_dir = data_dir / "runs"
    (runs_dir / f"run-{run_number:04d}.json").write_text(json.dumps(record, indent=2, default=str))
    (runs_dir / "latest.json").write_text(json.dumps(record, indent=2, default=str))
    page = render_dashboard(
        data_dir / "dashboard",
        [r for r in m.read_local_metrics(platform.metrics_path) if r["ts"] >= platform.run_started_wall],
        completed,
        dq,
        summary,
    )
    print(f"\nlocal dashboard: {page}")
    if console is not None:
        console.set_done(ok)
        print(f"console snapshot (opens offline): {console.write_snapshot(data_dir / 'console')}")
    print(f"alerts: {alerts_file}")
    return ok
