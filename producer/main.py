"""Entry point: ``python -m producer.main`` streams EventStreams into Kafka until stopped.

The loop: connect (``Last-Event-ID`` = last id seen) -> a reader thread pulls body bytes
into a bounded queue -> the main thread parses SSE, routes each event (main topic, DLQ,
filtered) and hands it to the Kafka sink -> on any disconnect, reconnect after a capped,
fully-jittered exponential backoff. Every ``STATE_INTERVAL_S`` the *delivered watermark*
(see :mod:`producer.sink`) is persisted; on SIGTERM/SIGINT the sink is flushed within
``FLUSH_TIMEOUT_S`` (below the ECS stop timeout) and the watermark persisted last.

Guarantees: **no gaps** — the persisted id only ever names an event that, with every
event before it, is acknowledged by Kafka (``acks=all``) or was filtered, so a restarted
task re-reads everything after it. **Duplicates can occur** (at-least-once): after a
crash or SIGKILL between Kafka's acknowledgement and the next state save (up to
``STATE_INTERVAL_S`` of events plus those in flight), after a flush that timed out, and
after a delivery failure (the task exits and resumes from the watermark). Within one
process a reconnect resumes from the last id *received*, which adds none. Duplicates
share ``meta.id`` (the Kafka key); bronze drops them by ``event_id``.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from producer import __version__
from producer.metrics import Counters, MetricsReporter, sink_for, write_stats
from producer.settings import Settings, SettingsError, settings_from_env
from producer.sink import KafkaSink, kafka_client_config
from producer.sse import SSEConnection, SSEEvent, SSEParser, backoff_delay
from producer.state import StateStore, StreamState, state_store_for
from producer.validation import ROUTE_DLQ, ROUTE_MAIN, dlq_envelope, route_event

log = logging.getLogger("producer")

_END = object()  # reader-thread sentinel
HEALTH_MAX_AGE_S = 120.0


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _read_into(conn: SSEConnection, chunks: queue.Queue[Any], closed: threading.Event) -> None:
    """Reader thread: body bytes -> queue, then the sentinel (or the exception)."""
    end: Any = _END
    try:
        while not closed.is_set():
            chunk = conn.read()
            if not chunk:
                break
            while not closed.is_set():
                try:
                    chunks.put(chunk, timeout=0.5)
                    break
                except queue.Full:
                    continue
    except Exception as exc:
        end = exc
    while not closed.is_set():
        try:
            chunks.put(end, timeout=0.5)
            return
        except queue.Full:
            continue


class Producer:
    """One producer process: stream, sink, state, metrics. ``run()`` until stopped."""

    def __init__(
        self,
        settings: Settings,
        *,
        kafka_producer: Any = None,
        state_store: Optional[StateStore] = None,
        metrics_sink: Any = None,
        stop: Optional[threading.Event] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.stop = stop or threading.Event()
        self.clock = clock
        if kafka_producer is None:
            from confluent_kafka import Producer as KafkaProducer

            kafka_producer = KafkaProducer(kafka_client_config(settings))
        # The first poll serves the OAUTHBEARER token callback before any connection.
        kafka_producer.poll(0)
        self.sink = KafkaSink(kafka_producer, settings.topic, settings.dlq_topic)
        self.store = state_store or state_store_for(settings.state_uri)
        self.reporter = MetricsReporter(
            metrics_sink or sink_for(settings.metrics, settings.metrics_namespace),
            settings.env,
            settings.metrics_interval_s,
        )
        self.counters = Counters()
        self.parser = SSEParser()
        self.host = socket.gethostname()
        self.saved_id: Optional[str] = None
        self.exit_reason = "running"
        self._next_save = 0.0
        self._next_health = 0.0

    # -- per event -----------------------------------------------------------------
    def handle(self, event: SSEEvent) -> None:
        """Route one SSE event to the sink (or count it filtered)."""
        counters = self.counters
        counters.received += 1
        received = datetime.now(timezone.utc)
        routed = route_event(
            event.data, self.settings.max_event_bytes, received_at=received, bounds=self.settings.time_bounds
        )
        if routed.route == ROUTE_MAIN:
            self.sink.send(ROUTE_MAIN, routed.key, event.data.encode("utf-8"), event.id)
            assert routed.event is not None
            meta = routed.event["meta"]
            counters.last_meta_dt = meta["dt"]  # type: ignore[index]
        elif routed.route == ROUTE_DLQ:
            reason = routed.reason or "unknown"
            by = counters.dead_lettered_by_reason
            by[reason] = by.get(reason, 0) + 1
            envelope = dlq_envelope(
                reason=reason,
                raw=event.data,
                sse_id=event.id,
                received_at=received.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                producer_host=self.host,
                producer_version=__version__,
            )
            self.sink.send(ROUTE_DLQ, routed.key or event.id, envelope, event.id)
        else:
            reason = routed.reason or "unknown"
            counters.filtered += 1
            by = counters.filtered_by_reason
            by[reason] = by.get(reason, 0) + 1
            self.sink.skip(event.id)

    # -- housekeeping --------------------------------------------------------------
    def totals(self) -> Dict[str, int]:
        return {
            "received": self.counters.received,
            "produced": self.sink.produced,
            "filtered": self.counters.filtered,
            "dead_lettered": self.sink.dead_lettered,
            "delivery_failures": self.sink.delivery_failures,
            "reconnects": self.counters.reconnects,
        }

    def persist(self, force: bool = False) -> None:
        """Save the delivered watermark if it moved (and the interval passed, unless forced)."""
        now = self.clock()
        if not force and now < self._next_save:
            return
        self._next_save = now + self.settings.state_interval_s
        watermark = self.sink.watermark
        if watermark is None or watermark == self.saved_id:
            return
        try:
            self.store.save(StreamState(watermark, _utc_now()))
            self.saved_id = watermark
        except Exception:
            log.exception("could not save the stream position; will retry")

    def housekeeping(self) -> None:
        self.sink.poll(0)
        self.persist()
        try:
            self.reporter.maybe_emit(
                self.totals(), self.counters.last_meta_dt, self.counters.filtered_by_reason
            )
        except Exception:
            log.exception("could not emit metrics")
        health = self.settings.health_file
        if health is not None and self.clock() >= self._next_health:
            self._next_health = self.clock() + 5.0
            try:
                health.touch()
            except OSError:
                log.warning("cannot touch health file %s", health)

    def _done_reading(self) -> bool:
        if self.stop.is_set():
            self.exit_reason = "signal"
            return True
        if self.sink.fatal is not None:
            self.exit_reason = f"fatal: {self.sink.fatal}"
            return True
        max_events = self.settings.max_events
        if max_events is not None and self.counters.received >= max_events:
            self.exit_reason = "max_events"
            return True
        return False

    # -- the stream ----------------------------------------------------------------
    def _consume(self, conn: SSEConnection) -> bool:
        """Read one connection until it ends or we must stop; True if events arrived."""
        chunks: queue.Queue[Any] = queue.Queue(maxsize=64)
        closed = threading.Event()
        reader = threading.Thread(target=_read_into, args=(conn, chunks, closed), daemon=True)
        reader.start()
        got_events = False
        try:
            while not self._done_reading():
                try:
                    item = chunks.get(timeout=0.2)
                except queue.Empty:
                    self.housekeeping()
                    continue
                if item is _END or isinstance(item, BaseException):
                    if isinstance(item, BaseException):
                        log.warning("stream read failed: %s", item)
                    break
                for event in self.parser.feed(item):
                    got_events = True
                    self.handle(event)
                    if self._done_reading():
                        break
                self.housekeeping()
        finally:
            closed.set()
            conn.close()
            reader.join(timeout=2.0)
        return got_events

    def run(self) -> Dict[str, Any]:
        """Stream until stopped, MAX_EVENTS, or a fatal delivery error; return the stats."""
        settings = self.settings
        state = self.store.load()
        self.saved_id = state.last_event_id
        self.parser.last_event_id = state.last_event_id
        log.info("starting from Last-Event-ID %s", state.last_event_id)
        attempt = 0
        connected_once = False
        while not self._done_reading():
            try:
                conn = SSEConnection(
                    settings.stream_url,
                    user_agent=settings.user_agent,
                    last_event_id=self.parser.last_event_id,
                    read_timeout_s=settings.read_timeout_s,
                )
            except Exception as exc:
                log.warning("connect failed (attempt %d): %s", attempt + 1, exc)
                progressed = False
            else:
                if connected_once:
                    self.counters.reconnects += 1
                connected_once = True
                progressed = self._consume(conn)
                # An event cut off by the disconnect is discarded; its id was not seen.
                self.parser.reset()
            if self._done_reading():
                break
            attempt = 0 if progressed else attempt + 1
            delay = backoff_delay(attempt, settings.backoff_base_s, settings.backoff_cap_s)
            if self.parser.retry_ms is not None:
                delay = max(delay, self.parser.retry_ms / 1000.0)
            deadline = self.clock() + delay
            while self.clock() < deadline and not self.stop.is_set():
                self.housekeeping()
                self.stop.wait(min(0.2, max(0.0, deadline - self.clock())))
        return self.shutdown()

    def shutdown(self) -> Dict[str, Any]:
        """Flush within the bound, persist the watermark, emit metrics, write stats."""
        undelivered = self.sink.flush(self.settings.flush_timeout_s)
        if undelivered:
            log.error("%d messages undelivered after %.1fs flush", undelivered, self.settings.flush_timeout_s)
        self.persist(force=True)
        try:
            self.reporter.emit(self.totals(), self.counters.last_meta_dt, self.counters.filtered_by_reason)
        except Exception:
            log.exception("could not emit final metrics")
        stats: Dict[str, Any] = dict(self.totals())
        stats.update(
            {
                "last_event_id": self.saved_id,
                "undelivered": undelivered,
                "filtered_by_reason": dict(self.counters.filtered_by_reason),
                "dead_lettered_by_reason": dict(self.counters.dead_lettered_by_reason),
                "exit_reason": self.exit_reason,
                "finished_at": _utc_now(),
            }
        )
        if self.settings.stats_path is not None:
            write_stats(self.settings.stats_path, stats)
        log.info("stopped (%s): %s", self.exit_reason, self.totals())
        return stats


def healthcheck(env: Dict[str, str]) -> int:
    """Docker HEALTHCHECK: healthy while the loop touched HEALTH_FILE recently."""
    path = Path(env.get("HEALTH_FILE", "/tmp/producer.health"))  # noqa: S108
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return 1
    return 0 if age < HEALTH_MAX_AGE_S else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the producer with settings from the environment; exit 0 on a clean stop."""
    args: List[str] = list(sys.argv[1:] if argv is None else argv)
    if args == ["--healthcheck"]:
        return healthcheck(dict(os.environ))
    if args:
        print(f"usage: python -m producer.main [--healthcheck] (got {args})", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        settings = settings_from_env(os.environ)
    except SettingsError as exc:
        log.error("invalid settings: %s", exc)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: flushing and stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    stats = Producer(settings, stop=stop).run()
    failed = stats["exit_reason"].startswith("fatal") or stats["undelivered"] > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
