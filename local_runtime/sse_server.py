"""An EventStreams-compatible SSE replay server for an NDJSON file (local mode and tests).

Each line of the file is one event, served as::

    event: message
    id: [{"topic":"replay.mediawiki.recentchange","partition":0,"offset":N}]
    data: <line N>

with ``N`` the 0-based line number, so ``Last-Event-ID`` (the same JSON array, or a
bare integer) resumes at line ``N + 1`` exactly like EventStreams resumes from Kafka
offsets. Heartbeat comments (``:`` lines) are sent every ``heartbeat_s`` of wall time,
while stalled, and after the end of the file (where the stream stays open, like the
live one, unless ``close_at_end``). The body uses chunked transfer encoding, as
EventStreams does. Faults for tests: close the connection every ``drop_every`` events,
stall ``S`` seconds before given offsets (once each), replace a deterministic fraction
of events by malformed JSON (the same offsets on every re-send), rate limit.

Binds 127.0.0.1 only; port 0 picks a free port. ``sent_unique`` counts distinct lines
served (each line counted once however often it is re-sent after a reconnect);
``resumed_at`` lists the first offset each connection was served from.

    with ReplayServer(Path("events.ndjson"), ReplayOptions(drop_every=7000)) as server:
        ... server.url ... server.stats()

CLI: ``python -m local_runtime.sse_server --file F --port P`` (GET ``/stats`` for counts).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type

DEFAULT_TOPIC = "replay.mediawiki.recentchange"
STREAM_PATH = "/v2/stream/recentchange"
_WRITE_BATCH_BYTES = 64 * 1024


@dataclass(frozen=True)
class ReplayOptions:
    """How the file is replayed. ``rate_per_s=0`` means as fast as possible."""

    drop_every: int = 0
    stalls: Tuple[Tuple[int, float], ...] = ()
    malformed_rate: float = 0.0
    rate_per_s: float = 0.0
    heartbeat_s: float = 2.0
    seed: int = 7
    topic: str = DEFAULT_TOPIC
    close_at_end: bool = False


def sse_id(topic: str, offset: int) -> str:
    """The EventStreams-style id of line ``offset``."""
    return json.dumps([{"topic": topic, "partition": 0, "offset": offset}], separators=(",", ":"))


def resume_offset(last_event_id: Optional[str]) -> int:
    """First line to serve for a ``Last-Event-ID`` header (0 when absent). Raises ValueError."""
    if last_event_id is None or not last_event_id.strip():
        return 0
    value = json.loads(last_event_id)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        value = value[0].get("offset")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"unusable Last-Event-ID {last_event_id!r}")
    return value + 1


def is_malformed(offset: int, rate: float, seed: int) -> bool:
    """Deterministic choice of the offsets replaced by malformed JSON."""
    if rate <= 0:
        return False
    return zlib.crc32(f"{seed}:{offset}".encode()) / 2**32 < rate


def malformed_payload(line: bytes) -> bytes:
    """A truncated JSON object: invalid JSON, like a payload cut mid-write."""
    return line[: max(1, len(line) // 2)]


def index_lines(path: Path) -> List[int]:
    """Byte offset of each line start (the file is read per connection, not held)."""
    starts: List[int] = []
    position = 0
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                starts.append(position)
            position += len(line)
    return starts


def _frame(offset: int, payload: bytes, topic: str) -> bytes:
    return (
        b"event: message\nid: "
        + sse_id(topic, offset).encode()
        + b"\ndata: "
        + payload.rstrip(b"\r\n")
        + b"\n\n"
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None  # quiet: the tests and the local runner read stats, not access logs

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/stats":
            body = json.dumps(self.server.replay.stats()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        try:
            start = resume_offset(self.headers.get("Last-Event-ID"))
        except ValueError as exc:
            body = str(exc).encode()
            self.send_response(400)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self.server.replay.stream(start, self._write_chunk)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            pass  # the client went away: normal for SSE

    def _write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    replay: ReplayServer


class ReplayServer:
    """Serves ``path`` as an SSE stream on 127.0.0.1 in a background thread."""

    def __init__(self, path: Path, options: Optional[ReplayOptions] = None, port: int = 0) -> None:
        self.path = Path(path)
        self.options = options or ReplayOptions()
        self.port = port
        self.starts = index_lines(self.path)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._stalls_done: set[int] = set()
        self._served = bytearray(len(self.starts))  # 1 = line written at least once
        self._sent_unique = 0
        self._events_written = 0
        self._connections = 0
        self._resumed_at: List[int] = []
        self._httpd: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle -------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{STREAM_PATH}"

    def start(self) -> ReplayServer:
        httpd = _Server(("127.0.0.1", self.port), _Handler)
        httpd.replay = self
        self.port = int(httpd.server_address[1])
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    # -- counts ----------------------------------------------------------------------
    @property
    def total(self) -> int:
        return len(self.starts)

    @property
    def sent_unique(self) -> int:
        with self._lock:
            return self._sent_unique

    def malformed_offsets(self, served_only: bool = False) -> List[int]:
        """Offsets whose payload is replaced by malformed JSON (optionally only served ones)."""
        opts = self.options
        return [
            n
            for n in range(self.total)
            if is_malformed(n, opts.malformed_rate, opts.seed) and (not served_only or self._served[n])
        ]

    def stats(self) -> Dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "sent_unique": self._sent_unique,
                "events_written": self._events_written,
                "connections": self._connections,
                "resumed_at": list(self._resumed_at),
                "malformed_injected": len(self.malformed_offsets(served_only=True)),
            }

    # -- serving ---------------------------------------------------------------------
    def stream(self, start: int, write: Any) -> None:
        """Write events from line ``start`` through ``write(bytes)`` until a stop condition."""
        opts = self.options
        with self._lock:
            self._connections += 1
            self._resumed_at.append(start)
        stalls = dict(opts.stalls)
        pending: List[bytes] = []
        pending_bytes = 0
        on_connection = 0
        began = time.monotonic()
        last_write = began

        def flush() -> None:
            nonlocal pending, pending_bytes, last_write
            if pending:
                write(b"".join(pending))
                pending, pending_bytes = [], 0
                last_write = time.monotonic()

        with self.path.open("rb") as handle:
            if start < self.total:
                handle.seek(self.starts[start])
            offset = start
            while offset < self.total and not self._stopping.is_set():
                line = handle.readline()
                if not line.strip():
                    continue  # blank lines are not events (and were not indexed)
                if offset in stalls and self._claim_stall(offset):
                    flush()
                    self._idle(stalls[offset], write)
                if opts.rate_per_s > 0:
                    due = began + on_connection / opts.rate_per_s
                    wait = due - time.monotonic()
                    if wait > 0:
                        flush()
                        self._stopping.wait(wait)
                payload = (
                    malformed_payload(line) if is_malformed(offset, opts.malformed_rate, opts.seed) else line
                )
                frame = _frame(offset, payload, opts.topic)
                pending.append(frame)
                pending_bytes += len(frame)
                if time.monotonic() - last_write >= opts.heartbeat_s:
                    pending.append(b": heartbeat\n")
                    last_write = time.monotonic()
                if pending_bytes >= _WRITE_BATCH_BYTES or opts.rate_per_s > 0:
                    flush()
                with self._lock:
                    self._events_written += 1
                    if not self._served[offset]:
                        self._served[offset] = 1
                        self._sent_unique += 1
                offset += 1
                on_connection += 1
                if opts.drop_every and on_connection >= opts.drop_every:
                    flush()
                    return
            flush()
        if not opts.close_at_end:
            self._idle(None, write)

    def _claim_stall(self, offset: int) -> bool:
        with self._lock:
            if offset in self._stalls_done:
                return False
            self._stalls_done.add(offset)
            return True

    def _idle(self, seconds: Optional[float], write: Any) -> None:
        """Send only heartbeats for ``seconds`` (forever when ``None``) or until stopped."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self._stopping.is_set():
            remaining = self.options.heartbeat_s if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return
            self._stopping.wait(min(self.options.heartbeat_s, remaining))
            write(b": heartbeat\n")


def _parse_stall(text: str) -> Tuple[int, float]:
    offset, _, seconds = text.partition(":")
    return int(offset), float(seconds)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Serve an NDJSON file as SSE until SIGINT/SIGTERM; print the counts on exit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--drop-every", type=int, default=0)
    parser.add_argument("--stall", action="append", default=[], type=_parse_stall, help="OFFSET:SECONDS")
    parser.add_argument("--malformed-rate", type=float, default=0.0)
    parser.add_argument("--rate", type=float, default=0.0, help="events/s, 0 = as fast as possible")
    parser.add_argument("--heartbeat", type=float, default=2.0)
    parser.add_argument("--close-at-end", action="store_true")
    args = parser.parse_args(argv)
    options = ReplayOptions(
        drop_every=args.drop_every,
        stalls=tuple(args.stall),
        malformed_rate=args.malformed_rate,
        rate_per_s=args.rate,
        heartbeat_s=args.heartbeat,
        close_at_end=args.close_at_end,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with ReplayServer(args.file, options, port=args.port) as server:
        print(json.dumps({"url": server.url, "events": server.total}), flush=True)
        stop.wait()
        print(json.dumps(server.stats()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
