"""What the console shows, computed from what a run produces (pure functions, no I/O).

* the dashboard's widgets, read from the synthesized CloudWatch dashboard body in the
  CDK template (the same widget list ``cdk deploy`` creates, never a second copy), and
  their series bucketed from the local metrics NDJSON rows;
* one execution as the Step Functions console shows it, from its history events: status,
  duration, the state it is in, and each failed state with its error and cause;
* the state graph of an ASL definition, laid out in rows and columns for the page;
* the latest snapshot of each Iceberg table, from its metadata file.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

#: CloudWatch's own statistics that a local series can be aggregated by.
_STATS = ("Sum", "Average", "Maximum", "Minimum", "SampleCount")
#: The AWS/States metrics the dashboard plots, as the execution statuses they count.
STATES_METRICS = {
    "ExecutionsStarted": None,
    "ExecutionsSucceeded": "SUCCEEDED",
    "ExecutionsFailed": "FAILED",
    "ExecutionsAborted": "ABORTED",
    "ExecutionsTimedOut": "TIMED_OUT",
}


#: What an unresolved CloudFormation token (a Ref, a GetAtt) reads as in a parsed body.
TOKEN = "local"  # noqa: S105 - a placeholder, not a secret


@dataclass(frozen=True)
class MetricRef:
    """One line of a widget: a metric, its dimensions, statistic and label."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    label: str

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "dimensions": dict(self.dimensions),
            "stat": self.stat,
            "label": self.label,
        }


@dataclass(frozen=True)
class DashboardWidget:
    title: str
    metrics: tuple[MetricRef, ...]


# --------------------------------------------------------------------------- dashboard
def _resolve(node: Any) -> str:
    """The text of a CloudFormation string expression, tokens replaced by placeholders."""
    if isinstance(node, str):
        return node
    if isinstance(node, Mapping) and "Fn::Join" in node:
        separator, parts = node["Fn::Join"]
        return str(separator).join(_resolve(p) for p in parts)
    # Ref / Fn::GetAtt (region, application id, state machine ARN): not needed to plot.
    return TOKEN


def dashboard_bodies(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The parsed ``DashboardBody`` of every ``AWS::CloudWatch::Dashboard`` in ``template``."""
    return [
        json.loads(_resolve(resource["Properties"]["DashboardBody"]))
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == "AWS::CloudWatch::Dashboard"
    ]


def _metric_ref(entry: Sequence[Any], previous: Optional[Sequence[str]], default_stat: str) -> MetricRef:
    """One ``metrics`` array entry: ``[namespace, name, dim, value, ..., {options}]``.

    CloudWatch lets an entry write ``"."`` for "same as the entry above"; honour it.
    """
    options = entry[-1] if entry and isinstance(entry[-1], Mapping) else {}
    fields = [str(v) for v in entry if not isinstance(v, Mapping)]
    if previous is not None:
        fields = [previous[i] if v == "." and i < len(previous) else v for i, v in enumerate(fields)]
    namespace, name, rest = fields[0], fields[1], fields[2:]
    dims = tuple((rest[i], rest[i + 1]) for i in range(0, len(rest) - 1, 2))
    stat = str(options.get("stat", default_stat))
    label = str(options.get("label") or name + "".join(f" {v}" for k, v in dims if _filters(k, v)))
    return MetricRef(namespace, name, dims, stat if stat in _STATS else "Average", label)


def dashboard_widgets(template: Mapping[str, Any]) -> list[DashboardWidget]:
    """Every metric widget of the template's dashboard(s), in the dashboard's order."""
    widgets = []
    for body in dashboard_bodies(template):
        for widget in body.get("widgets", []):
            props = widget.get("properties", {})
            if widget.get("type") != "metric" or "metrics" not in props:
                continue
            refs: list[MetricRef] = []
            previous: Optional[list[str]] = None
            for entry in props["metrics"]:
                ref = _metric_ref(entry, previous, str(props.get("stat", "Average")))
                previous = [ref.namespace, ref.name, *(x for pair in ref.dimensions for x in pair)]
                refs.append(ref)
            widgets.append(DashboardWidget(str(props.get("title", "")), tuple(refs)))
    return widgets


def _filters(key: str, value: str) -> bool:
    """Whether a widget's dimension selects local data: not ``Env`` (locally ``local``, in
    the template the synthesized environment) and not a token (one resource's ARN/id)."""
    return key != "Env" and value != TOKEN


def _matches(ref: MetricRef, row: Mapping[str, Any]) -> bool:
    """A local datum feeds a widget line when the name and every filtering dimension agree."""
    if row["name"] != ref.name:
        return False
    dims = row.get("dims") or {}
    return all(dims.get(k) == v for k, v in ref.dimensions if _filters(k, v))


def aggregate(values: Sequence[float], stat: str) -> float:
    if stat == "Sum":
        return float(sum(values))
    if stat == "Maximum":
        return float(max(values))
    if stat == "Minimum":
        return float(min(values))
    if stat == "SampleCount":
        return float(len(values))
    return float(sum(values)) / len(values)


def series(
    ref: MetricRef, rows: Iterable[Mapping[str, Any]], t0: float, bucket_s: float
) -> list[list[float]]:
    """``[[seconds since t0, value], ...]``: ``ref``'s statistic per time bucket."""
    buckets: dict[float, list[float]] = defaultdict(list)
    for row in rows:
        if _matches(ref, row):
            buckets[((float(row["ts"]) - t0) // bucket_s) * bucket_s].append(float(row["value"]))
    return [[start, round(aggregate(buckets[start], ref.stat), 3)] for start in sorted(buckets)]


#: The definition's own putMetricData states (they reach moto's CloudWatch, not the NDJSON).
RECORDING_STATES = {"RecordSuccess": "PipelineCycleSucceeded", "RecordFailure": "PipelineCycleFailed"}


def execution_metric_rows(executions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Metrics the executions stand for, as local rows: the AWS/States ones (the service
    emits them; locally nobody does), one ``ExecutionsStarted`` per start and one per
    terminal status, and the cycle counts the definition's Record* states publish."""
    rows: list[dict[str, Any]] = []
    for e in executions:
        rows.append({"ts": e["start"], "name": "ExecutionsStarted", "value": 1.0, "dims": {}})
        for state, metric in RECORDING_STATES.items():
            if state in e.get("entered", {}):
                rows.append({"ts": e["entered"][state], "name": metric, "value": 1.0, "dims": {}})
        for metric, status in STATES_METRICS.items():
            if status is not None and e["status"] == status and e.get("stop") is not None:
                rows.append({"ts": e["stop"], "name": metric, "value": 1.0, "dims": {}})
    return rows


def dashboard_view(
    widgets: Sequence[DashboardWidget],
    rows: Sequence[Mapping[str, Any]],
    t0: float,
    bucket_s: float,
) -> list[dict[str, Any]]:
    return [
        {
            "title": w.title,
            "lines": [{**ref.to_json(), "points": series(ref, rows, t0, bucket_s)} for ref in w.metrics],
        }
        for w in widgets
    ]


# --------------------------------------------------------------------------- executions
def _seconds(value: Any) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def execution_view(
    summary: Mapping[str, Any], events: Sequence[Mapping[str, Any]], now: float
) -> dict[str, Any]:
    """One execution as the Step Functions console shows it.

    ``summary`` is a ``ListExecutions`` entry, ``events`` its ``GetExecutionHistory``.
    ``failed`` lists each state that failed with its error and cause: a task whose job
    failed (caught or not) and the Fail state that ended the execution.
    """
    start = _seconds(summary["startDate"])
    assert start is not None
    stop = _seconds(summary.get("stopDate"))
    visited: list[str] = []
    entered: dict[str, float] = {}
    exited: set[str] = set()
    failed: list[dict[str, str]] = []
    for event in events:
        kind = str(event["type"])
        if kind.endswith("StateEntered"):
            visited.append(str(event["stateEnteredEventDetails"]["name"]))
            stamp = _seconds(event.get("timestamp"))
            entered.setdefault(visited[-1], stamp if stamp is not None else start)
        elif kind.endswith("StateExited"):
            exited.add(str(event["stateExitedEventDetails"]["name"]))
        elif kind.endswith("Failed") and visited:
            details = next((v for k, v in event.items() if k.endswith("FailedEventDetails")), {}) or {}
            if details.get("error") or details.get("cause"):
                failed.append(
                    {
                        "state": visited[-1],
                        "error": str(details.get("error", "")),
                        "cause": str(details.get("cause", "")),
                    }
                )
    # The Fail state reports the execution's failure once; the task retried may report
    # the same failure several times: keep one per (state, error, cause).
    unique = list({(f["state"], f["error"], f["cause"]): f for f in failed}.values())
    status = str(summary["status"])
    current = visited[-1] if visited and status == "RUNNING" else None
    return {
        "name": str(summary["name"]),
        "status": status,
        "start": start,
        "stop": stop,
        "duration_s": round((stop if stop is not None else now) - start, 1),
        "states": visited,
        "entered": entered,
        "current": current,
        "failed": unique,
    }


# --------------------------------------------------------------------------- graph
def _edges(name: str, state: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    if "Next" in state:
        out.append((name, str(state["Next"]), "next"))
    for choice in state.get("Choices", []):
        out.append((name, str(choice["Next"]), "choice"))
    if "Default" in state:
        out.append((name, str(state["Default"]), "default"))
    for catch in state.get("Catch", []):
        out.append((name, str(catch["Next"]), "catch"))
    return out


def state_graph(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Nodes (name, type, row, col) and edges of an ASL definition.

    The definition here is a DAG (the loop continues as a new execution), so each state's
    row is its longest distance from ``StartAt``. The happy path (``Next``/``Default``
    from the start) is column 0; the other states of a row fill columns 1, 2, ...
    """
    states: Mapping[str, Mapping[str, Any]] = definition["States"]
    edges = [e for name, state in states.items() for e in _edges(name, state)]
    row = dict.fromkeys(states, 0)
    for _ in range(len(states)):  # Bellman-Ford style relaxation: fine for tens of states
        changed = False
        for src, dst, _kind in edges:
            if dst in row and row[dst] < row[src] + 1 and dst != definition["StartAt"]:
                row[dst] = row[src] + 1
                changed = True
        if not changed:
            break
    happy = [str(definition["StartAt"])]
    while True:
        state = states[happy[-1]]
        follow = state.get("Default") if state["Type"] == "Choice" else state.get("Next")
        if follow is None or follow in happy:
            break
        happy.append(str(follow))
    columns: dict[int, int] = defaultdict(lambda: 1)
    nodes = []
    for name in sorted(states, key=lambda n: (row[n], n not in happy, list(states).index(n))):
        if name in happy:
            col = 0
        else:
            col = columns[row[name]]
            columns[row[name]] += 1
        nodes.append({"name": name, "type": states[name]["Type"], "row": row[name], "col": col})
    return {
        "nodes": nodes,
        "edges": [{"from": s, "to": d, "kind": k} for s, d, k in edges],
    }


# --------------------------------------------------------------------------- tables
def snapshot_view(identifier: str, layer: str, metadata: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """An Iceberg table's latest snapshot from its metadata JSON (``None``: not created yet)."""
    view: dict[str, Any] = {"table": identifier, "layer": layer, "rows": None, "snapshot": None}
    if metadata is None:
        return view
    current = metadata.get("current-snapshot-id")
    snapshot = next((s for s in metadata.get("snapshots", []) if s.get("snapshot-id") == current), None)
    if snapshot is None:
        view["rows"] = 0
        return view
    summary = snapshot.get("summary", {})
    # Merge-on-read tables delete by position: live rows are records minus those deletes.
    view["rows"] = int(summary.get("total-records", 0)) - int(summary.get("total-position-deletes", 0))
    view["snapshot"] = {
        "id": snapshot["snapshot-id"],
        "committed_at": snapshot.get("timestamp-ms", 0) / 1000.0,
        "operation": summary.get("operation", ""),
        "added_records": int(summary.get("added-records", 0)),
        "deleted_records": int(summary.get("deleted-records", 0)),
        "count": len(metadata.get("snapshots", [])),
    }
    return view


def layer_totals(tables: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for t in tables:
        totals[t["layer"]] = totals.get(t["layer"], 0) + int(t["rows"] or 0)
    return totals
