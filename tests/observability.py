"""Observability contract: the metrics dashboards and alarms reference vs what code emits.

A metric is identified by namespace, name and its dimension set (names and values):
CloudWatch matches all three exactly, so an alarm on a dimension set nobody emits
never sees data (and with missing data as breaching, fires forever; without, never).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Sequence, Set, Tuple

from tests.permissions import AwsCall, ResolvedTemplate


@dataclass(frozen=True)
class MetricId:
    namespace: str
    name: str
    dimensions: FrozenSet[Tuple[str, str]]

    def __str__(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in sorted(self.dimensions))
        return f"{self.namespace}/{self.name} {{{dims}}}"

    @property
    def dimension_names(self) -> FrozenSet[str]:
        return frozenset(k for k, _ in self.dimensions)


def from_put_metric_data(calls: Iterable[AwsCall]) -> Set[MetricId]:
    """Metrics in recorded ``cloudwatch.PutMetricData`` calls."""
    out: Set[MetricId] = set()
    for call in calls:
        if call.name != "cloudwatch.PutMetricData":
            continue
        for datum in call.params["MetricData"]:
            dims = frozenset((d["Name"], d["Value"]) for d in datum.get("Dimensions", []))
            out.add(MetricId(call.params["Namespace"], datum["MetricName"], dims))
    return out


def from_emf(lines: Iterable[str]) -> Set[MetricId]:
    """Metrics in CloudWatch embedded-metric-format log lines (Powertools ``Metrics``)."""
    out: Set[MetricId] = set()
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if not isinstance(doc, dict) or "_aws" not in doc:
            continue
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for dim_set in directive["Dimensions"]:
                dims = frozenset((k, str(doc[k])) for k in dim_set)
                for metric in directive["Metrics"]:
                    out.add(MetricId(directive["Namespace"], metric["Name"], dims))
    return out


def from_state_machine(definition: Mapping[str, Any]) -> Set[MetricId]:
    """Metrics the state machine publishes with ``aws-sdk:cloudwatch:putMetricData`` tasks."""
    out: Set[MetricId] = set()
    for state in definition["States"].values():
        if str(state.get("Resource", "")).endswith("aws-sdk:cloudwatch:putMetricData"):
            call = AwsCall("cloudwatch", "PutMetricData", state["Parameters"])
            out |= from_put_metric_data([call])
    return out


def _dashboard_rows(rows: Sequence[Sequence[Any]]) -> List[MetricId]:
    """Rows of a dashboard widget's ``metrics``: ``[ns, name, k, v, ..., {options}]``,
    ``"."`` repeating the previous row's element; math-expression rows are skipped."""
    out: List[MetricId] = []
    previous: List[Any] = []
    for row in rows:
        plain = [x for x in row if not isinstance(x, dict)]
        if not plain:
            continue  # [{"expression": ...}]
        plain = [previous[i] if x == "." and i < len(previous) else x for i, x in enumerate(plain)]
        previous = plain
        ns, name, rest = plain[0], plain[1], plain[2:]
        out.append(MetricId(ns, name, frozenset(zip(rest[0::2], rest[1::2]))))
    return out


def referenced(tpl: ResolvedTemplate) -> Dict[MetricId, List[str]]:
    """Metric -> where it is referenced (dashboard widget titles, alarm logical ids)."""
    refs: Dict[MetricId, List[str]] = {}
    for logical, res in tpl.resources.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::CloudWatch::Dashboard":
            body = json.loads(str(tpl.resolve(props["DashboardBody"])))
            for widget in body["widgets"]:
                wprops = widget.get("properties", {})
                for metric in _dashboard_rows(wprops.get("metrics", [])):
                    refs.setdefault(metric, []).append(f"dashboard widget {wprops.get('title')!r}")
        elif res["Type"] == "AWS::CloudWatch::Alarm":
            resolved = tpl.resolve(props)
            stats = (
                [resolved]
                if "MetricName" in resolved
                else [m["MetricStat"]["Metric"] for m in resolved.get("Metrics", []) if "MetricStat" in m]
            )
            for s in stats:
                dims = frozenset((d["Name"], d["Value"]) for d in s.get("Dimensions", []))
                refs.setdefault(MetricId(s["Namespace"], s["MetricName"], dims), []).append(
                    f"alarm {logical}"
                )
    return refs


def check(
    refs: Mapping[MetricId, List[str]],
    emitted: Set[MetricId],
    *,
    namespace: str,
    not_on_dashboard: Mapping[str, str],
) -> List[str]:
    """Problems, each naming the metric and where it is used; empty = contract holds."""
    problems: List[str] = []
    for metric, where in sorted(refs.items(), key=lambda kv: str(kv[0])):
        if metric.namespace != namespace or metric in emitted:
            continue
        same_name = sorted(
            str(e) for e in emitted if (e.namespace, e.name) == (metric.namespace, metric.name)
        )
        hint = f"; code emits {same_name}" if same_name else "; no code emits this name"
        problems.append(f"{metric} referenced by {', '.join(sorted(set(where)))} is never emitted{hint}")
    on_board = {(m.namespace, m.name) for m in refs}
    for metric in sorted(emitted, key=str):
        if (metric.namespace, metric.name) not in on_board and metric.name not in not_on_dashboard:
            problems.append(
                f"{metric} is emitted but neither on the dashboard/alarms nor listed as deliberately not"
            )
    for name in sorted(not_on_dashboard):
        if not any(m.name == name for m in emitted):
            problems.append(f"{name} is listed as deliberately not on the dashboard but nothing emits it")
        if any(n == name for _, n in on_board):
            problems.append(f"{name} is listed as deliberately not on the dashboard but it is on it")
    return problems
