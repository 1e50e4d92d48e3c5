"""Producer throughput to the local Kafka broker, on one core of the Python loop.

Two measurements on real-sized generated events (``local_runtime.generator``, ~1 KB):

* ``sink``: validation (the contract + allow-list) + Kafka sink, no HTTP — the path
  every event takes after the SSE parser, timed until the last delivery report;
* ``http``: the whole producer (replay server -> HTTP -> SSE parser -> validation ->
  Kafka) over loopback; the replay server runs in the same process, so this figure is
  a lower bound for the producer alone.

Both are compared with the live stream's peak of ~50 events/s.

    PYTHONPATH=. .venv/bin/python bench/producer_bench.py [events]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List

LIVE_PEAK_EVENTS_PER_S = 50.0
#: Share of the generated lines the producer must send to the topic (the rest are faults).
MIN_PRODUCED_SHARE = 0.95


def _settings(bootstrap: str, url: str, tmp: Path, topic: str, dlq: str, max_events: int) -> Any:
    from producer.settings import settings_from_env

    return settings_from_env(
        {
            "WIKISTREAM_ENV": "local",
            "KAFKA_BOOTSTRAP": bootstrap,
            "STREAM_URL": url,
            "TOPIC": topic,
            "DLQ_TOPIC": dlq,
            "STATE_URI": (tmp / f"{topic}.state.json").as_uri(),
            "METRICS": f"local:{tmp / 'metrics.ndjson'}",
            "STATS_PATH": str(tmp / f"{topic}.stats.json"),
            "HEALTH_FILE": str(tmp / "health"),
            "MAX_EVENTS": str(max_events),
        }
    )


def _sink_path(settings: Any, lines: List[str]) -> Dict[str, float]:
    """Validation + Kafka sink only: SSE events handed straight to the producer loop."""
    from producer.main import Producer
    from producer.sse import SSEEvent

    producer = Producer(settings)
    events = [SSEEvent(line, "message", str(i)) for i, line in enumerate(lines)]
    began, cpu0, proc0 = time.perf_counter(), time.thread_time(), time.process_time()
    for i, event in enumerate(events):
        producer.handle(event)
        if i % 5000 == 0:
            producer.housekeeping()
    stats = producer.shutdown()
    elapsed = time.perf_counter() - began
    loop_cpu, process_cpu = time.thread_time() - cpu0, time.process_time() - proc0
    assert stats["undelivered"] == 0 and stats["delivery_failures"] == 0
    assert stats["produced"] + stats["dead_lettered"] + stats["filtered"] == len(lines)
    # 2.5 % of the lines are faults; far fewer produced means the bench timed another path.
    assert stats["produced"] >= MIN_PRODUCED_SHARE * len(lines), (stats, len(lines))
    return {
        "seconds": elapsed,
        "events_per_s": len(lines) / elapsed,
        # Per CPU-second of the Python loop thread: the one-core figure, independent of
        # other load on a shared machine; process CPU adds librdkafka's threads.
        "events_per_loop_cpu_s": len(lines) / loop_cpu,
        "events_per_process_cpu_s": len(lines) / process_cpu,
        "produced": stats["produced"],
    }


def _http_path(bootstrap: str, path: Path, tmp: Path, topic: str, dlq: str, n: int) -> Dict[str, float]:
    from local_runtime.sse_server import ReplayServer
    from producer.main import Producer

    with ReplayServer(path) as server:
        producer = Producer(_settings(bootstrap, server.url, tmp, topic, dlq, n))
        began = time.perf_counter()
        stats = producer.run()
        elapsed = time.perf_counter() - began
    assert stats["received"] == n and stats["undelivered"] == 0
    return {"seconds": elapsed, "events_per_s": n / elapsed, "produced": stats["produced"]}


def run(events: int = 200_000) -> Dict[str, Any]:
    """Measure both paths on ``events`` generated events; return the numbers."""
    from local_runtime.broker import LocalBroker
    from local_runtime.generator import FaultRates, start_ending_at, write_ndjson

    with tempfile.TemporaryDirectory(prefix="producer-bench-") as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "events.ndjson"
        # Event times end a minute ago (with the fixed default start, the producer's late
        # bound dead-lettered every event).
        start = start_ending_at(datetime.now(timezone.utc) - timedelta(minutes=1), events)
        manifest = write_ndjson(
            path,
            events,
            seed=1,
            start=start,
            faults=FaultRates.parse("unknown_domain=0.02,malformed_json=0.005"),
        )
        lines = path.read_text(encoding="utf-8").splitlines()
        mean_bytes = manifest.bytes / max(1, manifest.total)
        with LocalBroker() as broker:
            broker.create_topics({"bench.sink": 4, "bench.sink.dlq": 1, "bench.http": 4, "bench.http.dlq": 1})
            sink = _sink_path(
                _settings(
                    broker.bootstrap, "http://127.0.0.1:1/", tmp, "bench.sink", "bench.sink.dlq", events
                ),
                lines,
            )
            http = _http_path(broker.bootstrap, path, tmp, "bench.http", "bench.http.dlq", events)
    return {
        "events": events,
        "mean_event_bytes": round(mean_bytes),
        "sink_events_per_s": round(sink["events_per_s"]),
        "sink_seconds": round(sink["seconds"], 2),
        "sink_events_per_loop_cpu_s": round(sink["events_per_loop_cpu_s"]),
        "sink_events_per_process_cpu_s": round(sink["events_per_process_cpu_s"]),
        "sink_loop_cpu_x_live_peak": round(sink["events_per_loop_cpu_s"] / LIVE_PEAK_EVENTS_PER_S),
        "sink_x_live_peak": round(sink["events_per_s"] / LIVE_PEAK_EVENTS_PER_S),
        "http_events_per_s": round(http["events_per_s"]),
        "http_seconds": round(http["seconds"], 2),
        "http_x_live_peak": round(http["events_per_s"] / LIVE_PEAK_EVENTS_PER_S),
        "live_peak_events_per_s": LIVE_PEAK_EVENTS_PER_S,
    }


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000), indent=2))
