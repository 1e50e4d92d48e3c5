"""The alert payload a failed gate prints and the state machine publishes to SNS.

Compact structured JSON: what failed (metric vs threshold, level, sample keys), which
table snapshots were judged, and what to do next (one runbook hint per check type).
Guaranteed to fit SNS's 256 KB message limit: samples, then notes, then the tail of the
failed-check list are dropped (and counted) until it does.

Python 3.9-compatible.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional

from spark_jobs.dq.evaluate import GateResult

#: SNS maximum message size (bytes).
SNS_MAX_BYTES = 256 * 1024

RUNBOOK: Mapping[str, str] = {
    "completeness": "Required field missing: check the producer contract and bronze parsing for the sampled ids.",
    "uniqueness": "Duplicate keys: check the MERGE key of the writing job and replays of the sampled keys.",
    "allowed_values": "Unknown value: if legitimate upstream, extend wikistream.config; else fix the writer.",
    "range": "Value out of range: inspect the sampled rows and the transformation producing the column.",
    "consistency": "Derived column disagrees with its inputs: inspect the transformation for the sampled rows.",
    "row_count": "No rows in the window: check the producer and bronze stream are running (BronzeRecordsProcessed).",
    "freshness": "Data is stale: check the producer, MSK and the bronze stream job; restart bronze if stalled.",
    "reconciliation": "Layers disagree: re-run the downstream job for this run_id; compare the ledger snapshot ranges.",
    "volume": "Volume anomaly vs history: check upstream outages or filters for the sampled domains/hours.",
    "upstream": "An upstream gate failed or never ran for this run_id: resolve it first, then re-run the cycle.",
}


def build_payload(
    result: GateResult,
    run_id: str,
    snapshots: Mapping[str, Optional[int]],
    env: str = "",
    max_bytes: int = SNS_MAX_BYTES,
) -> Dict[str, Any]:
    """The alert for ``result`` (failed checks only), within ``max_bytes`` as JSON."""
    failed: List[Dict[str, Any]] = [
        {
            "check": r.check.name,
            "type": r.check.type,
            "level": r.check.level,
            "status": r.status,
            "table": r.check.table,
            "metric": r.metric,
            "threshold": r.check.threshold,
            "rows_tested": r.rows_tested,
            "sample_keys": list(r.sample),
            "note": r.note,
            "next_step": RUNBOOK.get(r.check.type, ""),
        }
        for r in result.failed_checks
    ]
    payload: Dict[str, Any] = {
        "alert": "wikistream-dq-gate",
        "env": env,
        "layer": result.layer,
        "run_id": run_id,
        "passed": result.passed,
        "blocking_failures": len(result.blocking_checks),
        "warnings": len(result.failed_checks) - len(result.blocking_checks),
        "snapshots": dict(snapshots),
        "failed_checks": failed,
    }
    return fit(payload, max_bytes)


def size_of(payload: Mapping[str, Any]) -> int:
    return len(json.dumps(payload, default=str).encode("utf-8"))


def fit(payload: Dict[str, Any], max_bytes: int = SNS_MAX_BYTES) -> Dict[str, Any]:
    """Shrink ``payload`` until its JSON fits ``max_bytes`` (blocking failures kept first)."""
    if size_of(payload) <= max_bytes:
        return payload
    for key in ("sample_keys", "note"):
        for item in payload["failed_checks"]:
            item[key] = [] if key == "sample_keys" else ""
        payload["truncated"] = True
        if size_of(payload) <= max_bytes:
            return payload
    checks = sorted(payload["failed_checks"], key=lambda c: c["status"] != "FAIL")
    dropped = 0
    while checks and size_of({**payload, "failed_checks": checks}) > max_bytes:
        checks.pop()
        dropped += 1
    payload["failed_checks"] = checks
    payload["dropped_checks"] = dropped
    return payload


def to_json(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, default=str, sort_keys=True)
