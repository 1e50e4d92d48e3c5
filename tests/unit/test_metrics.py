"""Metric sinks: local NDJSON round-trips; CloudWatch batches; Env is always attached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spark_jobs.cli import metrics_for, parse_job_args
from wikistream.metrics import (
    CloudWatchMetricsSink,
    Datum,
    LocalMetricsSink,
    WithDimensions,
    read_local_metrics,
)


class _FakeCloudWatch:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def put_metric_data(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


def test_local_sink_round_trips(tmp_path: Path) -> None:
    sink = LocalMetricsSink(tmp_path / "m.ndjson")
    sink.emit(Datum("A", 2.0, "Count", {"Env": "local"}, 10.0))
    sink.emit(Datum("B", 3.5, "Seconds", {}, 11.0))
    assert read_local_metrics(tmp_path / "m.ndjson", "A") == [
        {"ts": 10.0, "name": "A", "value": 2.0, "unit": "Count", "dims": {"Env": "local"}}
    ]
    assert len(read_local_metrics(tmp_path / "m.ndjson")) == 2


def test_cloudwatch_sink_batches_and_flushes() -> None:
    client = _FakeCloudWatch()
    sink = CloudWatchMetricsSink("WikiStream", client=client, batch=2)
    sink.emit(Datum("A", 1, dimensions={"Env": "dev"}))
    assert client.calls == []
    sink.emit(Datum("B", 2))
    sink.emit(Datum("C", 3))
    sink.flush()
    assert [len(c["MetricData"]) for c in client.calls] == [2, 1]
    assert client.calls[0]["Namespace"] == "WikiStream"
    assert client.calls[0]["MetricData"][0]["Dimensions"] == [{"Name": "Env", "Value": "dev"}]


def test_job_sinks_always_carry_env_and_keep_their_own_dimensions(tmp_path: Path) -> None:
    sink = metrics_for(parse_job_args("silver_batch", ["--env", "local", "--data-dir", str(tmp_path)]))
    sink.emit(Datum("JobDurationSeconds", 1.0, "Seconds", {"Job": "silver_batch"}))
    (row,) = read_local_metrics(tmp_path / "metrics" / "metrics.ndjson")
    assert row["dims"] == {"Env": "local", "Job": "silver_batch"}
    wrapped = WithDimensions(LocalMetricsSink(tmp_path / "x.ndjson"), {"Env": "dev"})
    wrapped.emit(Datum("X", 1, dimensions={"Env": "override"}))
    assert read_local_metrics(tmp_path / "x.ndjson")[0]["dims"] == {"Env": "override"}
