"""The Kafka sink: confluent-kafka producer settings, back-pressure and a delivery watermark.

Ordering that guarantees no gap: every received SSE event takes a slot in a FIFO, in
stream order. A slot is done when Kafka acknowledged its message (``acks=all``, so it
is on every in-sync replica) or, for a filtered event, at once. The *watermark* is the
SSE id of the last slot of the longest done prefix of the FIFO. Only the watermark is
ever persisted, so after any crash the stream is resumed after an event that — with
every event before it — is already in Kafka: nothing is skipped.

Delivery failures: librdkafka retries each message internally until
``message.timeout.ms`` (idempotence keeps those retries ordered and free of
duplicates). A message that still fails is counted and makes the sink *fatal*: the
producer stops reading, flushes what it can, persists the watermark (which stops
before the failed message) and exits non-zero; ECS restarts the task and it resumes
from the watermark. So failures cost duplicates, never losses.
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Deque, Dict, Optional, Tuple

from producer.settings import Settings
from producer.validation import ROUTE_MAIN


def msk_iam_oauth_cb(region: str) -> Callable[[Any], Tuple[str, float]]:
    """librdkafka ``oauth_cb`` returning a fresh MSK IAM token and its expiry (epoch s).

    The token is a SigV4-presigned ``kafka-cluster:Connect`` URL signed locally with the
    task role's credentials (no network call); librdkafka refreshes it before expiry.
    """

    def oauth_cb(_config: Any) -> Tuple[str, float]:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
        return token, expiry_ms / 1000.0

    return oauth_cb


def kafka_client_config(settings: Settings) -> Dict[str, Any]:
    """The exact confluent-kafka configuration of the producer. Pure (no network)."""
    config: Dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "client.id": f"wikistream-producer-{settings.env}",
        # Exactly-once per partition within one producer session, ordered retries.
        "enable.idempotence": True,
        "acks": "all",
        "max.in.flight.requests.per.connection": 5,
        # zstd: best ratio for JSON text; MSK (Kafka >= 2.1) and librdkafka support it.
        "compression.type": "zstd",
        # 50 ms of batching is invisible next to a 60 s bronze trigger and lets a
        # replay/backfill fill large batches.
        "linger.ms": 50,
        "batch.size": 1_000_000,
        "batch.num.messages": 10_000,
        # Bounded local queue (the task has 512 MiB): a full queue raises BufferError,
        # which the sink answers by polling and retrying — back-pressure, never a drop.
        "queue.buffering.max.messages": 50_000,
        "queue.buffering.max.kbytes": 32 * 1024,
        # Retries continue until this; then the delivery fails and the task restarts.
        "message.timeout.ms": 120_000,
        # DLQ envelopes of oversized payloads are capped (validation.DLQ_RAW_MAX_CHARS);
        # valid events are <= max_event_bytes; leave room for the record overhead.
        "message.max.bytes": max(1_000_000, settings.max_event_bytes + 64 * 1024),
    }
    if settings.kafka_auth == "iam":
        if not settings.aws_region:
            raise ValueError("MSK IAM auth needs a region")
        config.update(
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanisms": "OAUTHBEARER",
                "oauth_cb": msk_iam_oauth_cb(settings.aws_region),
            }
        )
    else:
        config["security.protocol"] = "PLAINTEXT"
    return config


class _Slot:
    """One received event's place in the FIFO; also the delivery callback of its message."""

    __slots__ = ("done", "route", "sink", "sse_id")

    def __init__(self, sink: KafkaSink, sse_id: Optional[str], route: Optional[str]) -> None:
        self.sink = sink
        self.sse_id = sse_id
        self.route = route
        self.done = route is None

    def __call__(self, err: Any, _msg: Any) -> None:
        sink = self.sink
        if err is None:
            self.done = True
            if self.route == ROUTE_MAIN:
                sink.produced += 1
            else:
                sink.dead_lettered += 1
        else:
            sink.delivery_failures += 1
            if sink.fatal is None:
                sink.fatal = f"delivery to {self.route} failed: {err}"


class KafkaSink:
    """Produces to the main and DLQ topics and tracks the delivered watermark.

    ``producer`` is a confluent-kafka ``Producer`` (or anything with its
    ``produce/poll/flush/__len__`` interface). Not thread-safe: one thread drives it.
    """

    def __init__(self, producer: Any, topic: str, dlq_topic: str, poll_every: int = 500) -> None:
        self.producer = producer
        self.topic = topic
        self.dlq_topic = dlq_topic
        self.poll_every = poll_every
        self.produced = 0
        self.dead_lettered = 0
        self.delivery_failures = 0
        self.backpressure_waits = 0
        self.fatal: Optional[str] = None
        self.watermark: Optional[str] = None
        self._fifo: Deque[_Slot] = collections.deque()
        self._since_poll = 0

    def send(self, route: str, key: Optional[str], value: bytes, sse_id: Optional[str]) -> None:
        """Queue one message for ``route`` (main or dlq); blocks (polling) while the queue is full."""
        slot = _Slot(self, sse_id, route)
        self._fifo.append(slot)
        topic = self.topic if route == ROUTE_MAIN else self.dlq_topic
        while True:
            try:
                self.producer.produce(topic, value=value, key=key, on_delivery=slot)
                break
            except BufferError:
                # Local queue full: serve delivery reports to make room, then retry.
                self.backpressure_waits += 1
                self.producer.poll(0.05)
        self._since_poll += 1
        if self._since_poll >= self.poll_every:
            self.poll(0)

    def skip(self, sse_id: Optional[str]) -> None:
        """Record a filtered event: it occupies its place in the order, already done."""
        self._fifo.append(_Slot(self, sse_id, None))

    def poll(self, timeout_s: float = 0.0) -> Optional[str]:
        """Serve delivery reports, advance and return the watermark."""
        self._since_poll = 0
        self.producer.poll(timeout_s)
        return self._advance()

    def _advance(self) -> Optional[str]:
        fifo = self._fifo
        while fifo and fifo[0].done:
            slot = fifo.popleft()
            if slot.sse_id is not None:
                self.watermark = slot.sse_id
        return self.watermark

    @property
    def in_flight(self) -> int:
        return len(self._fifo)

    def flush(self, timeout_s: float) -> int:
        """Flush within ``timeout_s``; return the number of messages still undelivered."""
        remaining = int(self.producer.flush(timeout_s))
        self._advance()
        return remaining
