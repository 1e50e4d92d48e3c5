"""The loop's poll reads a finished execution's history once, a running one's every time."""

from __future__ import annotations

from typing import Any

from local_runtime.machine import LocalStateMachine


class RecordingHistories:
    """Answers ``get_execution_history`` from a dict and counts the reads per ARN."""

    def __init__(self, states: dict[str, list[str]]) -> None:
        self.states = states
        self.reads: dict[str, int] = {}

    def get_execution_history(self, **request: Any) -> dict[str, Any]:
        arn = request["executionArn"]  # boto3's keyword arguments
        self.reads[arn] = self.reads.get(arn, 0) + 1
        return {
            "events": [
                {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}}
                for name in self.states[arn]
            ]
        }


def test_finished_histories_are_read_once_running_ones_every_poll() -> None:
    histories = RecordingHistories({"done": ["BronzeGate", "Silver", "Wait"], "live": ["BronzeGate"]})
    machine = LocalStateMachine(sfn=histories, sqs=None, arn="sm", alerts_queue="q")
    listed = [
        {"executionArn": "done", "status": "ABORTED"},
        {"executionArn": "live", "status": "RUNNING"},
    ]
    for _ in range(3):
        assert machine.visited(listed) == {"done": ["BronzeGate", "Silver", "Wait"], "live": ["BronzeGate"]}
    assert histories.reads == {"done": 1, "live": 3}
    # The running one moves on and finishes: read once more, then never again.
    histories.states["live"] = ["BronzeGate", "Silver"]
    listed[1]["status"] = "FAILED"
    for _ in range(2):
        assert machine.visited(listed)["live"] == ["BronzeGate", "Silver"]
    assert histories.reads == {"done": 1, "live": 4}
    # The console reads the same histories through history(): no read of its own.
    assert [e["type"] for e in machine.history(listed[1])] == ["TaskStateEntered"] * 2
    assert histories.reads == {"done": 1, "live": 4}
