"""Server-Sent Events: an incremental wire-format parser, the HTTP stream, and backoff.

The parser follows the WHATWG HTML "event stream interpretation" rules exactly:
UTF-8 decoding (a leading BOM dropped once), lines ended by CRLF, LF or a lone CR,
``:`` comment lines (EventStreams' heartbeats) ignored, ``field: value`` with one
leading space stripped, a field without a colon taken as the field name with an empty
value, multi-line ``data:`` joined with ``\\n``, ``id:`` kept across events (and
ignored if it contains NUL), ``retry:`` honoured only when all digits, and an event
dispatched on a blank line only when at least one ``data`` line was seen. An event
cut off by a disconnect is discarded (its id was never seen, so the resume re-sends it).

The parser is pure (bytes in, events out) and accepts chunks split anywhere: inside a
CRLF pair and inside a multi-byte UTF-8 character.

Why ``http.client`` and not ``requests``: the SSE stream is one long response read in
pieces as they arrive. ``HTTPResponse.read1`` returns whatever bytes are available
(de-chunked) without waiting to fill a buffer, so a 50 ev/s stream is not delayed and a
100k ev/s replay is read in large pieces; the socket timeout is the heartbeat watchdog.
``requests``' ``iter_content`` either blocks to fill ``chunk_size`` or, with ``None``,
reads non-chunked bodies to EOF, and adds nothing we need (no redirects, no cookies,
no proxies on the producer's egress).
"""

from __future__ import annotations

import codecs
import contextlib
import http.client
import random
import socket
import ssl
from typing import Callable, List, Mapping, NamedTuple, Optional
from urllib.parse import urlsplit


class SSEEvent(NamedTuple):
    """One dispatched event: ``data`` joined with ``\\n``, its type and last event id."""

    data: str
    event: str
    id: Optional[str]


class SSEProtocolError(RuntimeError):
    """The stream broke the protocol in a way the client cannot recover from in-stream."""


class SSEParser:
    """Incremental SSE parser: ``feed(bytes) -> [SSEEvent]``; holds partial state.

    ``last_event_id`` is the id to send as ``Last-Event-ID`` when reconnecting;
    ``retry_ms`` the last ``retry:`` the server asked for (``None`` if never).
    """

    def __init__(self, max_line_chars: int = 16 * 1024 * 1024) -> None:
        self.max_line_chars = max_line_chars
        self.last_event_id: Optional[str] = None
        self.retry_ms: Optional[int] = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""
        self._cr_pending = False
        self._bom_checked = False
        self._data: List[str] = []
        self._event_type = ""

    def reset(self) -> None:
        """Forget the partial event and line after a disconnect; keep id and retry."""
        self._decoder.reset()
        self._partial = ""
        self._cr_pending = False
        self._bom_checked = False
        self._data = []
        self._event_type = ""

    def feed(self, chunk: bytes) -> List[SSEEvent]:
        """Consume ``chunk`` and return the events it completed, in order."""
        text = self._decoder.decode(chunk)
        if not text:
            return []
        if not self._bom_checked:
            self._bom_checked = True
            if text[0] == "\ufeff":
                text = text[1:]
                if not text:
                    return []
        if self._cr_pending:
            # The previous piece ended with CR: a LF now belongs to that same line end.
            self._cr_pending = False
            if text[0] == "\n":
                text = text[1:]
                if not text:
                    return []
        if "\r" in text:
            self._cr_pending = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        if len(self._partial) > self.max_line_chars:
            raise SSEProtocolError(f"line longer than {self.max_line_chars} characters")
        events: List[SSEEvent] = []
        for line in lines:
            self._line(line, events)
        return events

    def _line(self, line: str, out: List[SSEEvent]) -> None:
        if not line:
            self._dispatch(out)
            return
        if line[0] == ":":
            return  # comment / heartbeat
        colon = line.find(":")
        if colon < 0:
            name, value = line, ""
        else:
            name, value = line[:colon], line[colon + 1 :]
            if value[:1] == " ":
                value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "id":
            if "\x00" not in value:
                self.last_event_id = value
        elif name == "event":
            self._event_type = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
        # any other field name is ignored, as the standard says

    def _dispatch(self, out: List[SSEEvent]) -> None:
        if self._data:
            out.append(SSEEvent("\n".join(self._data), self._event_type or "message", self.last_event_id))
        self._data = []
        self._event_type = ""


def backoff_delay(
    attempt: int, base_s: float, cap_s: float, rand: Callable[[], float] = random.random
) -> float:
    """Capped exponential backoff with full jitter: uniform in ``[0, min(cap, base*2^attempt))``.

    Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter") spreads
    reconnecting clients apart instead of letting them retry in lock-step.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    ceiling = min(cap_s, base_s * (2.0 ** min(attempt, 62)))
    return rand() * ceiling


class StreamHTTPError(RuntimeError):
    """The server answered with something other than a 200 event stream."""

    def __init__(self, status: int, reason: str, retry_after_s: Optional[float] = None) -> None:
        super().__init__(f"HTTP {status} {reason}")
        self.status = status
        self.retry_after_s = retry_after_s


def request_headers(user_agent: str, last_event_id: Optional[str]) -> Mapping[str, str]:
    """Headers of a (re)connect request. Pure, so the resume contract is testable."""
    headers = {
        "Accept": "text/event-stream",
        "Cache-Control": "no-cache",
        "Accept-Encoding": "identity",
        "User-Agent": user_agent,
    }
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    return headers


class SSEConnection:
    """One HTTP(S) connection to an SSE endpoint; ``read()`` returns raw body bytes.

    The socket timeout (``read_timeout_s``) is the liveness watchdog: EventStreams sends
    events or heartbeat comments far more often than that, so a silent socket is dead.
    """

    def __init__(
        self,
        url: str,
        *,
        user_agent: str,
        last_event_id: Optional[str],
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 60.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=connect_timeout_s, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=connect_timeout_s)
        self._conn = conn
        self._sock: Optional[socket.socket] = None
        try:
            conn.request("GET", path, headers=dict(request_headers(user_agent, last_event_id)))
            # Keep the socket: with "Connection: close" http.client drops conn.sock once
            # the response is read, but we need it for the read timeout and to unblock
            # a reader on close(). The response reads through this same socket.
            self._sock = conn.sock
            if self._sock is not None:
                self._sock.settimeout(read_timeout_s)
            response = conn.getresponse()
            if response.status != 200:
                retry_after = response.getheader("Retry-After")
                response.read(64 * 1024)
                raise StreamHTTPError(
                    response.status,
                    response.reason,
                    float(retry_after) if retry_after and retry_after.isdigit() else None,
                )
            content_type = (response.getheader("Content-Type") or "").split(";")[0].strip()
            if content_type != "text/event-stream":
                raise StreamHTTPError(response.status, f"unexpected Content-Type {content_type!r}")
        except BaseException:
            conn.close()
            raise
        self._response = response

    def read(self, size: int = 256 * 1024) -> bytes:
        """Bytes available now (blocking until some arrive); ``b""`` at end of stream."""
        return self._response.read1(size)

    def close(self) -> None:
        """Close the socket; a blocked ``read`` in another thread then fails."""
        if self._sock is not None:
            with contextlib.suppress(OSError):  # already closed by the peer
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
        self._response.close()
        self._conn.close()
