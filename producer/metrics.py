"""In-process counters of the producer, their periodic emission, and the exit stats file.

Counters are plain integers bumped in the hot loop; every ``METRICS_INTERVAL_S`` the
*deltas* since the last emission go to the metrics sink (CloudWatch sums them per
period), with the event-time lag (now - ``meta.dt`` of the newest valid event) as a
gauge. Metric names come from :mod:`wikistream.metrics`; the only dimension is
``Env`` (the dashboard and alarms use the same one).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Optional

from producer.state import write_atomically
from wikistream import metrics as names
from wikistream.metrics import CloudWatchMetricsSink, Datum, LocalMetricsSink, MetricsSink


def sink_for(spec: str, namespace: str, client: Any = None) -> MetricsSink:
    """``cloudwatch`` -> batched PutMetricData; ``local:<path>`` -> NDJSON file."""
    if spec == "cloudwatch":
        return CloudWatchMetricsSink(namespace, client=client)
    if spec.startswith("local:"):
        return LocalMetricsSink(Path(spec[len("local:") :]))
    raise ValueError(f"unknown metrics sink {spec!r}")


def lag_seconds(meta_dt: object, now: float) -> Optional[float]:
    """``now - meta.dt`` in seconds, or ``None`` if ``meta.dt`` is not an ISO-8601 time."""
    if not isinstance(meta_dt, str):
        return None
    try:
        parsed = datetime.fromisoformat(meta_dt.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return now - parsed.timestamp()


@dataclass
class Counters:
    """What the producer has done so far in this process."""

    received: int = 0
    filtered: int = 0
    reconnects: int = 0
    filtered_by_reason: Dict[str, int] = field(default_factory=dict)
    dead_lettered_by_reason: Dict[str, int] = field(default_factory=dict)
    last_meta_dt: Optional[str] = None


class MetricsReporter:
    """Emits counter deltas and the lag gauge to a sink, at most every ``interval_s``."""

    _COUNTERS = (
        (names.PRODUCER_RECEIVED, "received"),
        (names.PRODUCER_PRODUCED, "produced"),
        (names.PRODUCER_FILTERED, "filtered"),
        (names.PRODUCER_DEAD_LETTERED, "dead_lettered"),
        (names.PRODUCER_DELIVERY_FAILURES, "delivery_failures"),
        (names.PRODUCER_RECONNECTS, "reconnects"),
    )

    def __init__(self, sink: MetricsSink, env: str, interval_s: float) -> None:
        self.sink = sink
        self.dimensions = {"Env": env}
        self.interval_s = interval_s
        self._last: Dict[str, int] = {}
        self._next = time.monotonic() + interval_s

    def maybe_emit(
        self,
        totals: Dict[str, int],
        last_meta_dt: Optional[str],
        filtered_by_reason: Optional[Dict[str, int]] = None,
    ) -> None:
        if time.monotonic() >= self._next:
            self.emit(totals, last_meta_dt, filtered_by_reason)

    def emit(
        self,
        totals: Dict[str, int],
        last_meta_dt: Optional[str],
        filtered_by_reason: Optional[Dict[str, int]] = None,
    ) -> None:
        """Emit deltas since the last call; sink errors are logged by the caller's sink.

        Filtered events are also emitted per reason (every known reason, zeros included,
        so the dashboard line is continuous).
        """
        now = time.time()
        for metric, key in self._COUNTERS:
            value = totals.get(key, 0)
            delta = value - self._last.get(key, 0)
            self._last[key] = value
            self.sink.emit(Datum(metric, float(delta), "Count", self.dimensions, now))
        by_reason = filtered_by_reason or {}
        for reason in sorted(set(names.FILTER_REASONS) | set(by_reason)):
            key = f"filtered:{reason}"
            value = by_reason.get(reason, 0)
            delta = value - self._last.get(key, 0)
            self._last[key] = value
            dims = {**self.dimensions, names.DIM_REASON: reason}
            self.sink.emit(Datum(names.PRODUCER_FILTERED_BY_REASON, float(delta), "Count", dims, now))
        lag = lag_seconds(last_meta_dt, now)
        if lag is not None:
            self.sink.emit(Datum(names.PRODUCER_LAG_SECONDS, lag, "Seconds", self.dimensions, now))
        self.sink.flush()
        self._next = time.monotonic() + self.interval_s


def write_stats(path: Path, stats: Dict[str, Any]) -> None:
    """Write the exit stats JSON atomically (the local runner reconciles with it)."""
    write_atomically(path, json.dumps(stats, indent=2, sort_keys=True))
