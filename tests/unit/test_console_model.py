"""The console's pure parts: dashboard widgets from a template body, bucketed series,
an execution read from its history, the state graph's layout and table snapshots."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from local_runtime.console import model

BODY_PARTS = [
    '{"widgets":[{"type":"metric","width":8,"height":6,"x":0,"y":0,"properties":{"view":"timeSeries",'
    '"title":"Producer throughput","region":"',
    {"Ref": "AWS::Region"},
    '","metrics":[["WikiStream","ProducerEventsProduced","Env","staging",{"stat":"Sum"}],'
    '[".","ProducerEventsFiltered",".",".",{"stat":"Sum"}]]}},'
    '{"type":"text","properties":{"markdown":"# hi"}},'
    '{"type":"metric","properties":{"title":"DQ gate","metrics":[["WikiStream","DqGatePassed","Env","staging",'
    '"Layer","silver",{"label":"silver","stat":"Minimum"}]]}},'
    '{"type":"metric","properties":{"title":"Executions","metrics":[["AWS/States","ExecutionsStarted",'
    '"StateMachineArn","',
    {"Ref": "StateMachine"},
    '",{"stat":"Sum"}]]}}]}',
]
TEMPLATE = {
    "Resources": {
        "Dash": {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {"DashboardBody": {"Fn::Join": ["", BODY_PARTS]}},
        },
        "Other": {"Type": "AWS::SNS::Topic", "Properties": {}},
    }
}


def test_widgets_come_from_the_template_in_order_with_dot_shorthand() -> None:
    widgets = model.dashboard_widgets(TEMPLATE)
    assert [w.title for w in widgets] == ["Producer throughput", "DQ gate", "Executions"]
    filtered = widgets[0].metrics[1]
    assert (filtered.namespace, filtered.name, filtered.dimensions, filtered.stat) == (
        "WikiStream",
        "ProducerEventsFiltered",
        (("Env", "staging"),),
        "Sum",
    )
    assert widgets[1].metrics[0].label == "silver" and widgets[1].metrics[0].stat == "Minimum"


def test_series_bucket_by_stat_ignore_env_and_tokens_but_honour_layer() -> None:
    produced, gate, started = (w.metrics[0] for w in model.dashboard_widgets(TEMPLATE))
    rows = [
        {"ts": 100.0, "name": "ProducerEventsProduced", "value": 3, "dims": {"Env": "local"}},
        {"ts": 104.0, "name": "ProducerEventsProduced", "value": 4, "dims": {"Env": "local"}},
        {"ts": 106.0, "name": "ProducerEventsProduced", "value": 5, "dims": {"Env": "local"}},
        {"ts": 101.0, "name": "DqGatePassed", "value": 1, "dims": {"Layer": "silver"}},
        {"ts": 102.0, "name": "DqGatePassed", "value": 0, "dims": {"Layer": "silver"}},
        {"ts": 102.0, "name": "DqGatePassed", "value": 0, "dims": {"Layer": "gold"}},
    ]
    assert model.series(produced, rows, t0=100.0, bucket_s=5.0) == [[0.0, 7.0], [5.0, 5.0]]
    assert model.series(gate, rows, t0=100.0, bucket_s=5.0) == [[0.0, 0.0]]
    executions = [
        {"start": 101.0, "stop": 103.0, "status": "SUCCEEDED", "entered": {"RecordSuccess": 102.0}},
        {"start": 103.0, "stop": None, "status": "RUNNING", "entered": {}},
    ]
    derived = model.execution_metric_rows(executions)
    assert model.series(started, derived, 100.0, 5.0) == [[0.0, 2.0]]
    assert [(r["name"], r["ts"]) for r in derived if r["name"].startswith("Pipeline")] == [
        ("PipelineCycleSucceeded", 102.0)
    ]


def _event(kind: str, **details: object) -> dict[str, object]:
    return {"type": kind, **details}


def test_execution_view_names_the_failed_states_with_error_and_cause() -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    stop = datetime(2026, 1, 1, 0, 0, 30, tzinfo=timezone.utc)
    summary = {"name": "run0001-cycle-3", "status": "FAILED", "startDate": start, "stopDate": stop}
    events = [
        _event("ExecutionStarted"),
        _event("TaskStateEntered", stateEnteredEventDetails={"name": "BronzeGate"}),
        _event("TaskFailed", taskFailedEventDetails={"error": "States.TaskFailed", "cause": '{"x": 1}'}),
        _event("TaskStateExited", stateExitedEventDetails={"name": "BronzeGate"}),
        _event("PassStateEntered", stateEnteredEventDetails={"name": "BronzeGateFailed"}),
        _event("FailStateEntered", stateEnteredEventDetails={"name": "CycleFailed"}, timestamp=stop),
        _event(
            "ExecutionFailed", executionFailedEventDetails={"error": "PipelineCycleFailed", "cause": "see"}
        ),
    ]
    view = model.execution_view(summary, events, now=0.0)
    assert view == {
        "name": "run0001-cycle-3",
        "status": "FAILED",
        "start": start.timestamp(),
        "stop": stop.timestamp(),
        "duration_s": 30.0,
        "states": ["BronzeGate", "BronzeGateFailed", "CycleFailed"],
        "entered": {
            "BronzeGate": start.timestamp(),
            "BronzeGateFailed": start.timestamp(),
            "CycleFailed": stop.timestamp(),
        },
        "current": None,
        "failed": [
            {"state": "BronzeGate", "error": "States.TaskFailed", "cause": '{"x": 1}'},
            {"state": "CycleFailed", "error": "PipelineCycleFailed", "cause": "see"},
        ],
    }


def test_a_running_execution_is_in_its_last_entered_state() -> None:
    summary = {"name": "c", "status": "RUNNING", "startDate": 10.0}
    events = [_event("TaskStateEntered", stateEnteredEventDetails={"name": "Silver"})]
    view = model.execution_view(summary, events, now=25.0)
    assert (view["current"], view["duration_s"], view["failed"]) == ("Silver", 15.0, [])


def test_state_graph_puts_the_happy_path_in_column_zero_and_orders_rows() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Task", "Next": "C", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "AFailed"}]},
            "C": {"Type": "Choice", "Choices": [{"Next": "Done"}], "Default": "B"},
            "B": {
                "Type": "Task",
                "Next": "Done",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "BFailed"}],
            },
            "AFailed": {"Type": "Pass", "Next": "Alert"},
            "BFailed": {"Type": "Pass", "Next": "Alert"},
            "Alert": {"Type": "Fail"},
            "Done": {"Type": "Succeed"},
        },
    }
    graph = model.state_graph(definition)
    at = {n["name"]: (n["row"], n["col"]) for n in graph["nodes"]}
    assert at == {
        "A": (0, 0),
        "C": (1, 0),
        "AFailed": (1, 1),
        "B": (2, 0),
        "Done": (3, 0),
        "BFailed": (3, 1),
        "Alert": (4, 1),
    }
    kinds = {(e["from"], e["to"]): e["kind"] for e in graph["edges"]}
    assert kinds[("A", "AFailed")] == "catch" and kinds[("C", "B")] == "default"
    assert kinds[("C", "Done")] == "choice" and len(kinds) == 8


def test_snapshot_view_counts_live_rows_of_the_current_snapshot() -> None:
    metadata = json.loads(
        json.dumps(
            {
                "current-snapshot-id": 2,
                "snapshots": [
                    {"snapshot-id": 1, "timestamp-ms": 1000, "summary": {"operation": "append"}},
                    {
                        "snapshot-id": 2,
                        "timestamp-ms": 5000,
                        "summary": {
                            "operation": "overwrite",
                            "total-records": "10",
                            "total-position-deletes": "3",
                            "added-records": "4",
                        },
                    },
                ],
            }
        )
    )
    view = model.snapshot_view("silver.events", "silver", metadata)
    assert view["rows"] == 7
    assert view["snapshot"] == {
        "id": 2,
        "committed_at": 5.0,
        "operation": "overwrite",
        "added_records": 4,
        "deleted_records": 0,
        "count": 2,
    }
    assert model.snapshot_view("gold.x", "gold", None)["rows"] is None
    assert model.layer_totals([view, {"layer": "silver", "rows": None}]) == {"silver": 7}
