"""SSE wire-format parser and backoff: pure unit tests against the WHATWG rules."""

from __future__ import annotations

from typing import List

import pytest

from producer.sse import SSEEvent, SSEParser, backoff_delay, request_headers

# A stream exercising every rule at once; its expected events are written by hand.
SAMPLE = (
    "\ufeff: hello, this is a comment\r\n"
    "retry: 2500\r\n"
    "event: message\r\n"
    'id: [{"topic":"t","partition":0,"offset":1}]\r\n'
    'data: {"title":"Zürich \u2013 東京 🚀"}\r\n'
    "\r\n"
    "data:first\n"
    "data:  two spaces keeps one\n"
    "data\n"
    "\n"
    ":heartbeat\r"
    "id: 3\r"
    "\r"
    "event: custom\r"
    "data: after lone CR\r"
    "\r"
    "retry: 12x\n"
    "unknown: ignored\n"
    "id: bad\x00id\n"
    "data: tail\n"
    "\n"
    "data: cut off by the disconnect\n"
)

EXPECTED = [
    SSEEvent('{"title":"Zürich \u2013 東京 🚀"}', "message", '[{"topic":"t","partition":0,"offset":1}]'),
    SSEEvent("first\n two spaces keeps one\n", "message", '[{"topic":"t","partition":0,"offset":1}]'),
    SSEEvent("after lone CR", "custom", "3"),
    SSEEvent("tail", "message", "3"),
]


def _feed_all(parser: SSEParser, chunks: List[bytes]) -> List[SSEEvent]:
    events: List[SSEEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events


def test_sample_stream_in_one_chunk() -> None:
    parser = SSEParser()
    assert _feed_all(parser, [SAMPLE.encode("utf-8")]) == EXPECTED
    assert parser.retry_ms == 2500  # "12x" is not all digits: ignored
    assert parser.last_event_id == "3"  # the id with NUL is ignored


@pytest.mark.parametrize("split_at", range(len(SAMPLE.encode("utf-8")) + 1))
def test_split_at_every_byte_position(split_at: int) -> None:
    # Given the sample cut in two at every byte (inside CRLF pairs and inside UTF-8
    # sequences too), the events are the same as in one piece.
    data = SAMPLE.encode("utf-8")
    assert _feed_all(SSEParser(), [data[:split_at], data[split_at:]]) == EXPECTED


def test_one_byte_at_a_time() -> None:
    data = SAMPLE.encode("utf-8")
    assert _feed_all(SSEParser(), [data[i : i + 1] for i in range(len(data))]) == EXPECTED


def test_unicode_split_across_chunks_is_not_replaced() -> None:
    data = "data: 🚀é\n\n".encode()
    rocket = data.index("🚀".encode())
    events = _feed_all(SSEParser(), [data[: rocket + 1], data[rocket + 1 : rocket + 3], data[rocket + 3 :]])
    assert events == [SSEEvent("🚀é", "message", None)]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    # "\r" ends one chunk and "\n" starts the next: one line end, not an empty line.
    events = _feed_all(SSEParser(), [b"data: a\r", b"\ndata: b\r", b"\n\r\n"])
    assert events == [SSEEvent("a\nb", "message", None)]


def test_id_without_data_sets_last_id_but_dispatches_nothing() -> None:
    parser = SSEParser()
    assert parser.feed(b"id: 42\n\n") == []
    assert parser.last_event_id == "42"
    assert parser.feed(b"data: x\n\n") == [SSEEvent("x", "message", "42")]


def test_empty_id_resets_last_event_id() -> None:
    parser = SSEParser()
    parser.feed(b"id: 1\ndata: a\n\n")
    assert parser.feed(b"id\ndata: b\n\n") == [SSEEvent("b", "message", "")]


def test_field_without_colon_and_single_space_stripping() -> None:
    events = SSEParser().feed(b"data\ndata:\ndata: \ndata:  x\n\n")
    assert events == [SSEEvent("\n\n\n x", "message", None)]


def test_event_type_resets_after_dispatch() -> None:
    events = SSEParser().feed(b"event: a\ndata: 1\n\ndata: 2\n\n")
    assert [e.event for e in events] == ["a", "message"]


def test_reset_discards_partial_event_but_keeps_id() -> None:
    parser = SSEParser()
    parser.feed(b"id: 7\ndata: done\n\ndata: half")
    parser.reset()
    assert parser.last_event_id == "7"
    assert parser.feed(b"data: new\n\n") == [SSEEvent("new", "message", "7")]


def test_bom_only_stripped_at_stream_start() -> None:
    events = SSEParser().feed("\ufeffdata: a\n\n\ufeffdata: b\n\n".encode())
    # The second BOM is part of a line whose field name is "\ufeffdata": ignored.
    assert events == [SSEEvent("a", "message", None)]


def test_overlong_line_is_a_protocol_error() -> None:
    from producer.sse import SSEProtocolError

    with pytest.raises(SSEProtocolError):
        SSEParser(max_line_chars=10).feed(b"data: " + b"x" * 20)


def test_backoff_is_full_jitter_capped_exponential() -> None:
    assert backoff_delay(0, 1.0, 60.0, rand=lambda: 0.5) == 0.5
    assert backoff_delay(3, 1.0, 60.0, rand=lambda: 1.0) == 8.0
    assert backoff_delay(10, 1.0, 60.0, rand=lambda: 1.0) == 60.0  # capped
    assert backoff_delay(10_000, 1.0, 60.0, rand=lambda: 0.25) == 15.0  # no overflow
    assert backoff_delay(5, 1.0, 60.0, rand=lambda: 0.0) == 0.0
    samples = [backoff_delay(4, 1.0, 60.0) for _ in range(2000)]
    assert all(0.0 <= s < 16.0 for s in samples)
    assert max(samples) > 12.0 and min(samples) < 4.0  # spread over the whole range
    with pytest.raises(ValueError):
        backoff_delay(-1, 1.0, 60.0)


def test_request_headers_resume_with_last_event_id() -> None:
    headers = request_headers("UA/1.0 (x)", '[{"offset":5}]')
    assert headers["Last-Event-ID"] == '[{"offset":5}]'
    assert headers["Accept"] == "text/event-stream"
    assert headers["User-Agent"] == "UA/1.0 (x)"
    assert "Last-Event-ID" not in request_headers("UA", None)
