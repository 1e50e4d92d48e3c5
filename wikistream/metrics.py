"""Metric names and the two sinks that publish them.

One source of truth: the producer, the Spark jobs, the DQ gates and the CDK dashboard
and alarms all refer to these constants. On AWS metrics go to CloudWatch under
:data:`wikistream.config.METRICS_NAMESPACE`; locally they are appended as NDJSON to
``<data_dir>/metrics/metrics.ndjson`` where the local dashboard reads them.

Python 3.9-compatible.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Protocol

# Producer
PRODUCER_RECEIVED = "ProducerEventsReceived"
PRODUCER_PRODUCED = "ProducerEventsProduced"
PRODUCER_FILTERED = "ProducerEventsFiltered"
#: Filtered events per reason (dimension :data:`DIM_REASON`, values :data:`FILTER_REASONS`).
PRODUCER_FILTERED_BY_REASON = "ProducerEventsFilteredByReason"
PRODUCER_DEAD_LETTERED = "ProducerEventsDeadLettered"
PRODUCER_DELIVERY_FAILURES = "ProducerDeliveryFailures"
PRODUCER_RECONNECTS = "ProducerReconnects"
PRODUCER_LAG_SECONDS = "ProducerEventLagSeconds"
# Bronze streaming job (the auto-restart alarm watches BRONZE_RECORDS_PROCESSED)
BRONZE_RECORDS_IN = "BronzeRecordsIn"
BRONZE_RECORDS_PROCESSED = "BronzeRecordsProcessed"
BRONZE_DEAD_LETTERED = "BronzeDeadLettered"
BRONZE_DUPLICATES_DROPPED = "BronzeDuplicatesDropped"
BRONZE_BATCH_DURATION = "BronzeBatchDurationSeconds"
BRONZE_LAG_P50 = "BronzeEndToEndLagP50Seconds"
BRONZE_LAG_P95 = "BronzeEndToEndLagP95Seconds"
BRONZE_OFFSET_LAG = "BronzeKafkaOffsetLag"
# Batch jobs and gates
JOB_DURATION = "JobDurationSeconds"
JOB_ROWS_OUT = "JobRowsOut"
DQ_CHECKS_FAILED = "DqChecksFailed"
DQ_GATE_PASSED = "DqGatePassed"
DATA_FRESHNESS_MINUTES = "DataFreshnessMinutes"
PIPELINE_CYCLE_FAILED = "PipelineCycleFailed"
PIPELINE_CYCLE_SUCCEEDED = "PipelineCycleSucceeded"
BRONZE_RESTARTS = "BronzeRestarts"
# Table maintenance (spark_jobs/maintenance.py), dimension ``Table`` (namespace.table)
MAINTENANCE_FILES_BEFORE = "MaintenanceDataFilesBefore"
MAINTENANCE_FILES_AFTER = "MaintenanceDataFilesAfter"
MAINTENANCE_SNAPSHOTS_EXPIRED = "MaintenanceSnapshotsExpired"
MAINTENANCE_COMMIT_RETRIES = "MaintenanceCommitRetries"

# Dimension names. CloudWatch alarms match exact dimension sets, so every datum carries
# ``Env`` (dev/staging/prod) and, where it applies, exactly one of ``Layer`` (DQ gates:
# bronze/silver/gold) or ``Job`` (batch job module name). The CDK alarms use these.
DIM_ENV = "Env"
DIM_LAYER = "Layer"
DIM_REASON = "Reason"
#: Why the producer filters a valid event (the only one: its wiki is not allow-listed).
FILTER_DOMAIN_NOT_ALLOWED = "domain_not_allowed"
FILTER_REASONS = (FILTER_DOMAIN_NOT_ALLOWED,)
DIM_JOB = "Job"
#: Maintenance metrics only: which table (``namespace.table``).
DIM_TABLE = "Table"


@dataclass(frozen=True)
class Datum:
    name: str
    value: float
    unit: str = "Count"
    dimensions: Mapping[str, str] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)


class MetricsSink(Protocol):
    def emit(self, datum: Datum) -> None: ...

    def flush(self) -> None: ...


class LocalMetricsSink:
    """Appends metrics as NDJSON lines (thread-safe; flushed on every call)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def emit(self, datum: Datum) -> None:
        line = json.dumps(
            {
                "ts": datum.timestamp,
                "name": datum.name,
                "value": datum.value,
                "unit": datum.unit,
                "dims": dict(datum.dimensions),
            }
        )
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def flush(self) -> None:
        return None


class CloudWatchMetricsSink:
    """Batches metrics into PutMetricData calls (up to 1000 data per call)."""

    def __init__(self, namespace: str, client: Any = None, batch: int = 500) -> None:
        if client is None:
            import boto3

            client = boto3.client("cloudwatch")
        self.namespace = namespace
        self.client = client
        self.batch = batch
        self._pending: List[Dict[str, Any]] = []
        self._lock = threading.Lock()

    def emit(self, datum: Datum) -> None:
        entry: Dict[str, Any] = {
            "MetricName": datum.name,
            "Value": float(datum.value),
            "Unit": datum.unit,
            "Timestamp": datum.timestamp,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(datum.dimensions.items())],
        }
        with self._lock:
            self._pending.append(entry)
            full = len(self._pending) >= self.batch
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for start in range(0, len(pending), 1000):
            self.client.put_metric_data(Namespace=self.namespace, MetricData=pending[start : start + 1000])


def read_local_metrics(path: Path, name: Optional[str] = None) -> List[Dict[str, Any]]:
    """Read back what :class:`LocalMetricsSink` wrote (for the dashboard and tests)."""
    if not Path(path).exists():
        return []
    rows = []
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                if name is None or row["name"] == name:
                    rows.append(row)
    return rows


class WithDimensions:
    """A sink that adds default dimensions (e.g. ``Env``) to every datum it forwards.

    The CloudWatch alarms and dashboard match exact dimension sets, so every emitter goes
    through one of these (see ``spark_jobs.cli.metrics_for``) instead of remembering ``Env``.
    Dimensions a datum sets itself win.
    """

    def __init__(self, sink: MetricsSink, defaults: Mapping[str, str]) -> None:
        self.sink = sink
        self.defaults = dict(defaults)

    def emit(self, datum: Datum) -> None:
        merged = {**self.defaults, **datum.dimensions}
        self.sink.emit(Datum(datum.name, datum.value, datum.unit, merged, datum.timestamp))

    def flush(self) -> None:
        self.sink.flush()
