"""The producer end to end against the real local Kafka broker and the SSE replay server.

Expectations are computed independently of the producer: per line, from the generator's
own ``Record.expected`` labels (re-generated with the same seed) and the replay server's
deterministic malformed-injection offsets; results are read back from Kafka.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from local_runtime.broker import LocalBroker
from local_runtime.kit.processes import producer_env_in, spawn_producer
from local_runtime.sse_server import ReplayOptions, ReplayServer, is_malformed
from producer.main import Producer
from producer.settings import settings_from_env
from wikistream.config import load_config
from wikistream.events import (
    RULE_FUTURE_EVENT,
    RULE_MALFORMED_JSON,
    RULE_NOT_AN_OBJECT,
    RULE_OVERSIZED,
    RULE_TOO_LATE,
)

pytestmark = pytest.mark.kafka

KAFKA = load_config("local").kafka
TOPIC, DLQ = KAFKA.topic, KAFKA.dlq_topic
MAIN_PARTITIONS, DLQ_PARTITIONS = 4, 2


@pytest.fixture(scope="module")
def broker() -> Iterator[LocalBroker]:
    with LocalBroker() as running:
        yield running


@pytest.fixture
def topics(broker: LocalBroker, request: pytest.FixtureRequest) -> Tuple[str, str]:
    """Fresh main/DLQ topics per test (the module shares one broker)."""
    suffix = request.node.name.replace("[", "-").replace("]", "").replace("_", "-")[-40:]
    main, dlq = f"{TOPIC}.{suffix}", f"{DLQ}.{suffix}"
    broker.create_topics({main: MAIN_PARTITIONS, dlq: DLQ_PARTITIONS})
    return main, dlq


def _env(broker: LocalBroker, url: str, tmp: Path, main: str, dlq: str, **extra: str) -> Dict[str, str]:
    return producer_env_in(
        tmp,
        bootstrap=broker.bootstrap,
        stream_url=url,
        TOPIC=main,
        DLQ_TOPIC=dlq,
        BACKOFF_BASE_S="0.05",
        BACKOFF_CAP_S="1",
        **extra,
    )


def consume_all(bootstrap: str, topic: str, partitions: int) -> List[Any]:
    """Every message of ``topic`` up to its current high watermarks (no group join)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"check-{topic}", "enable.auto.commit": False}
    )
    try:
        highs = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        seen = dict.fromkeys(range(partitions), 0)
        out: List[Any] = []
        deadline = time.monotonic() + 120
        while any(seen[p] < highs[p] for p in seen) and time.monotonic() < deadline:
            for message in consumer.consume(5000, timeout=1.0):
                assert message.error() is None, message.error()
                out.append(message)
                seen[message.partition()] = message.offset() + 1
        assert all(seen[p] >= highs[p] for p in seen), f"consumed {seen} of {highs}"
        return out
    finally:
        consumer.close()


def expected_by_line(
    path: Path, opts: ReplayOptions, labels: List[Tuple[str, Optional[str]]]
) -> List[Tuple[str, Optional[str]]]:
    """Per line: (expected outcome, event id), after the server's malformed injection."""
    out = []
    for offset, (expected, event_id) in enumerate(labels):
        if is_malformed(offset, opts.malformed_rate, opts.seed):
            out.append((f"dead_letter:{RULE_MALFORMED_JSON}", None))
        else:
            out.append((expected, event_id))
    return out


def generated(tmp: Path, n: int, faults: str, seed: int = 11) -> Tuple[Path, List[Tuple[str, Optional[str]]]]:
    from local_runtime.generator import DEFAULT_RATE_PER_S, FaultRates, generate, write_ndjson

    path = tmp / "events.ndjson"
    # Event times ending now, as a live stream's (the producer dead-letters events older than
    # pipeline.late_event_bound_hours against its receive time).
    rates = FaultRates.parse(faults)
    start = datetime.now(timezone.utc) - timedelta(seconds=n / DEFAULT_RATE_PER_S)
    write_ndjson(path, n, seed=seed, start=start, faults=rates)
    labels = [(r.expected, r.event_id) for r in generate(n, seed=seed, start=start, faults=rates)]
    return path, labels


def test_replay_100k_with_disconnects_accounts_for_every_event(
    broker: LocalBroker, topics: Tuple[str, str], tmp_path: Path
) -> None:
    # Given 100k generated events with faults (incl. generator duplicates) served with a
    # forced disconnect every 7k events and 0.2% payloads corrupted in flight,
    n = 100_000
    path, labels = generated(
        tmp_path,
        n,
        "duplicate=0.01,malformed_json=0.005,missing_required=0.005,wrong_type=0.005,unknown_domain=0.02",
    )
    opts = ReplayOptions(drop_every=7_000, malformed_rate=0.002, heartbeat_s=0.5)
    expected = expected_by_line(path, opts, labels)
    main, dlq = topics
    with ReplayServer(path, opts) as server:
        settings = settings_from_env(_env(broker, server.url, tmp_path, main, dlq, MAX_EVENTS=str(n)))
        # When the producer streams it all,
        began = time.monotonic()
        stats = Producer(settings).run()
        elapsed = time.monotonic() - began
        served = server.stats()

    # Then every served event is accounted for, exactly once.
    assert served["sent_unique"] == n
    assert served["connections"] >= n // 7_000 + 1
    assert stats["reconnects"] == served["connections"] - 1
    assert stats["produced"] + stats["dead_lettered"] + stats["filtered"] == served["sent_unique"]
    assert stats["undelivered"] == 0 and stats["delivery_failures"] == 0

    # The main topic holds exactly the expected keys: generator duplicates and nothing else.
    main_msgs = consume_all(broker.bootstrap, main, MAIN_PARTITIONS)
    got_keys = Counter(m.key().decode() for m in main_msgs)
    want_keys = Counter(eid for outcome, eid in expected if outcome in ("valid", "duplicate"))
    # (Counter equality: no key is missing and no key appears more often than the
    # generator repeated it, so disconnects added no duplicate.)
    assert got_keys == want_keys
    assert sum(got_keys.values()) == stats["produced"]
    for message in main_msgs[:100]:  # the value is the payload, keyed by its meta.id
        assert json.loads(message.value())["meta"]["id"] == message.key().decode()

    # The DLQ holds one envelope per invalid line, with the rule id as reason.
    dlq_msgs = [json.loads(m.value()) for m in consume_all(broker.bootstrap, dlq, DLQ_PARTITIONS)]
    assert Counter(f"dead_letter:{e['reason']}" for e in dlq_msgs) == Counter(
        o for o, _ in expected if o.startswith("dead_letter:")
    )
    assert stats["filtered"] == sum(1 for o, _ in expected if o == "filtered:domain_not_allowed")
    assert stats["filtered_by_reason"] == {"domain_not_allowed": stats["filtered"]}
    # The stats file the local runner reconciles with says the same.
    assert json.loads((tmp_path / "stats.json").read_text())["produced"] == len(main_msgs)
    print(f"\n100k replay: {elapsed:.1f}s, {n / elapsed:,.0f} ev/s, {served['connections']} connections")
    assert elapsed < 120


def test_fast_contract_check_equals_parse_and_check() -> None:
    # The producer's compiled check must return exactly what the shared contract
    # function returns, on every generator fault kind and on type edge cases.
    from local_runtime.generator import FaultRates, generate
    from producer.validation import check_payload
    from wikistream.events import parse_and_check

    everything = ",".join(f"{name}=0.08" for name in FaultRates.names())
    lines = [r.line for r in generate(3_000, seed=9, faults=FaultRates.parse(everything))]
    base = json.loads(next(line for line in lines if line.startswith("{") and '"meta"' in line))
    edge_values: List[Any] = [None, True, False, 0, 1.5, -3, "", "edit", [], {}, [1], {"a": 1}]
    for field in ("namespace", "type", "bot", "timestamp", "meta", "length", "title"):
        for value in edge_values:
            lines.append(json.dumps({**base, field: value}))
    for value in edge_values:
        lines.append(json.dumps({**base, "meta": {**base["meta"], "id": value}}))
        lines.append(json.dumps(value))
    lines += ["", "nope", "{", '{"a": NaN}', "x" * 2_000, "é" * 500, "é" * 600]
    mismatches = [
        (limit, line[:80])
        for limit in (512 * 1024, 1_100)  # 1,100: "é" * 550+ is oversized in bytes, not in chars
        for line in lines
        if check_payload(line, limit) != parse_and_check(line, limit)
    ]
    assert mismatches == []
    assert len({parse_and_check(line, 512 * 1024)[1] for line in lines}) > 10  # many rules exercised


def _days_ago(days: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _valid_line(tmp: Path) -> Dict[str, Any]:
    from local_runtime.generator import generate

    record = next(
        r
        for r in generate(50, seed=3, start=datetime.now(timezone.utc) - timedelta(minutes=1))
        if r.expected == "valid" and '"domain":"en.' in r.line.replace(" ", "")
    )
    return dict(json.loads(record.line))


def test_invalid_and_unknown_domain_events_are_routed_with_their_reason(
    broker: LocalBroker, topics: Tuple[str, str], tmp_path: Path
) -> None:
    # Given hand-made variants of one valid event, each breaking one rule,
    base = _valid_line(tmp_path)

    def variant(event_id: str, change: Callable[[Dict[str, Any]], None]) -> str:
        event = json.loads(json.dumps(base))
        event["meta"]["id"] = event_id
        change(event)
        return json.dumps(event)

    cases: List[Tuple[str, str]] = [
        (variant("ok-1", lambda e: None), "main"),
        (
            variant("dom-1", lambda e: (e["meta"].update(domain="xx.example.org"), e.update(wiki="xxwiki"))),
            "filtered:domain_not_allowed",
        ),
        (variant("req-1", lambda e: e["meta"].pop("dt")), "dlq:required:meta.dt"),
        (variant("type-1", lambda e: e.update(namespace="zero")), "dlq:type:namespace"),
        (variant("allowed-1", lambda e: e.update(type="bogus")), "dlq:allowed:type"),
        (variant("big-1", lambda e: e.update(comment="x" * 5000)), f"dlq:{RULE_OVERSIZED}"),
        ('{"meta": {"id": "trunc"', f"dlq:{RULE_MALFORMED_JSON}"),
        ("[1, 2, 3]", f"dlq:{RULE_NOT_AN_OBJECT}"),
        (variant("ok-2", lambda e: None), "main"),
        # Event time beyond the bounds (issue 20): the same rule ids bronze applies.
        (
            variant("future-1", lambda e: e["meta"].update(dt="2031-01-01T00:00:00Z")),
            f"dlq:{RULE_FUTURE_EVENT}",
        ),
        (variant("late-1", lambda e: e["meta"].update(dt=_days_ago(90))), f"dlq:{RULE_TOO_LATE}"),
    ]
    path = tmp_path / "cases.ndjson"
    path.write_text("\n".join(line for line, _ in cases) + "\n", encoding="utf-8")
    main, dlq = topics
    with ReplayServer(path) as server:
        env = _env(
            broker, server.url, tmp_path, main, dlq, MAX_EVENTS=str(len(cases)), MAX_EVENT_BYTES="4096"
        )
        stats = Producer(settings_from_env(env)).run()

    # Then each lands where its rule says, with the SSE id of its line.
    assert [m.key().decode() for m in consume_all(broker.bootstrap, main, MAIN_PARTITIONS)].count("ok-1") == 1
    dlq_by_line = {
        json.loads(e["sse_id"])[0]["offset"]: e
        for e in (json.loads(m.value()) for m in consume_all(broker.bootstrap, dlq, DLQ_PARTITIONS))
    }
    want_dlq = {i: want[4:] for i, (_, want) in enumerate(cases) if want.startswith("dlq:")}
    assert {i: e["reason"] for i, e in dlq_by_line.items()} == want_dlq
    assert dlq_by_line[6]["raw"] == '{"meta": {"id": "trunc"'
    assert dlq_by_line[5]["raw_bytes"] > 4096 and dlq_by_line[5]["producer_host"]
    assert stats["produced"] == 2 and stats["filtered_by_reason"] == {"domain_not_allowed": 1}
    assert stats["dead_lettered_by_reason"] == dict(Counter(want_dlq.values()))
    # The local metrics sink got the same totals (summed deltas).
    from wikistream.metrics import PRODUCER_DEAD_LETTERED, PRODUCER_PRODUCED, read_local_metrics

    metrics = tmp_path / "metrics.ndjson"
    assert sum(r["value"] for r in read_local_metrics(metrics, PRODUCER_PRODUCED)) == 2
    assert sum(r["value"] for r in read_local_metrics(metrics, PRODUCER_DEAD_LETTERED)) == len(want_dlq)


def _offset(sse_id: Optional[str]) -> int:
    return -1 if sse_id is None else int(json.loads(sse_id)[0]["offset"])


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_sigkill_mid_stream_resumes_without_gap(
    broker: LocalBroker, topics: Tuple[str, str], tmp_path: Path
) -> None:
    # Given a rate-limited stream (so the kill lands mid-stream) and a producer subprocess,
    n = 15_000
    path, labels = generated(tmp_path, n, "malformed_json=0.01,unknown_domain=0.02", seed=5)
    main, dlq = topics
    log = tmp_path / "producer.log"
    state = tmp_path / "state.json"
    with ReplayServer(path, ReplayOptions(rate_per_s=4_000, heartbeat_s=0.5)) as server:
        env = _env(broker, server.url, tmp_path, main, dlq, STATE_INTERVAL_S="0.2")
        first = spawn_producer(env, log)
        try:
            _wait(lambda: server.sent_unique >= 6_000 and state.exists(), 60, "the first run to get going")
        finally:
            # When it is killed without any chance to flush or save,
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        killed_at = server.sent_unique
        persisted = _offset(json.loads(state.read_text())["last_event_id"])
        assert 0 <= persisted < killed_at

        # and restarted on the same state,
        second = spawn_producer(env, log)
        try:
            _wait(
                lambda: _offset(json.loads(state.read_text())["last_event_id"]) == n - 1, 90, "the last event"
            )
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0, log.read_text()[-3000:]
        served = server.stats()

    # Then the restart resumed right after the persisted id,
    assert served["resumed_at"][0] == 0
    assert served["resumed_at"][1] == persisted + 1
    # and no event is missing: every expected key and DLQ line is in Kafka after the restart.
    main_keys = Counter(m.key().decode() for m in consume_all(broker.bootstrap, main, MAIN_PARTITIONS))
    want_main = Counter(eid for o, eid in labels if o == "valid")
    assert set(main_keys) == set(want_main), "gap in the main topic"
    dlq_lines = Counter(
        _offset(json.loads(m.value())["sse_id"]) for m in consume_all(broker.bootstrap, dlq, DLQ_PARTITIONS)
    )
    assert set(dlq_lines) == {i for i, (o, _) in enumerate(labels) if o.startswith("dead_letter:")}
    # Duplicates are only the events re-sent after the persisted id (bronze dedupes them).
    duplicates = sum(main_keys.values()) - sum(want_main.values()) + sum(dlq_lines.values()) - len(dlq_lines)
    assert 0 <= duplicates <= killed_at - (persisted + 1)
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["exit_reason"] == "signal" and stats["undelivered"] == 0
    print(
        f"\nSIGKILL at {killed_at} served, persisted offset {persisted}: {duplicates} duplicates after restart"
    )


def test_state_stores_round_trip_file_atomically_and_s3(tmp_path: Path) -> None:
    import boto3
    from moto import mock_aws

    from producer.state import FileStateStore, StreamState, state_store_for

    # File: missing -> empty; saved -> read back; no temp files left behind.
    store = state_store_for((tmp_path / "deep" / "state.json").as_uri())
    assert isinstance(store, FileStateStore)
    assert store.load() == StreamState(None)
    store.save(StreamState('[{"offset":41}]', "2026-11-01T00:00:00Z"))
    store.save(StreamState('[{"offset":42}]', "2026-11-01T00:00:01Z"))
    assert store.load().last_event_id == '[{"offset":42}]'
    assert [p.name for p in (tmp_path / "deep").iterdir()] == ["state.json"]

    # S3 (moto): missing object -> empty; saved -> read back by a fresh store.
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="state")
        s3_store = state_store_for("s3://state/producer/state.json", s3_client=client)
        assert s3_store.load() == StreamState(None)
        s3_store.save(StreamState("7", "t"))
        again = state_store_for("s3://state/producer/state.json", s3_client=client)
        assert again.load() == StreamState("7", "t")


def test_metrics_reporter_emits_deltas_to_cloudwatch() -> None:
    import boto3
    from moto import mock_aws

    from producer.metrics import MetricsReporter, sink_for
    from wikistream import metrics as names

    with mock_aws():
        client = boto3.client("cloudwatch", region_name="us-east-1")
        reporter = MetricsReporter(sink_for("cloudwatch", "WikiStreamTest", client=client), "dev", 60)
        reporter.emit({"received": 10, "produced": 7}, "2026-11-01T00:00:00Z")
        reporter.emit({"received": 25, "produced": 20}, None)
        listed = client.list_metrics(Namespace="WikiStreamTest")["Metrics"]
        assert {m["MetricName"] for m in listed} >= {names.PRODUCER_RECEIVED, names.PRODUCER_LAG_SECONDS}
        env_only = [m for m in listed if m["MetricName"] != names.PRODUCER_FILTERED_BY_REASON]
        assert all(m["Dimensions"] == [{"Name": "Env", "Value": "dev"}] for m in env_only)
        by_reason = [m for m in listed if m["MetricName"] == names.PRODUCER_FILTERED_BY_REASON]
        assert {d["Name"] for m in by_reason for d in m["Dimensions"]} == {"Env", "Reason"}
        stats = client.get_metric_statistics(
            Namespace="WikiStreamTest",
            MetricName=names.PRODUCER_PRODUCED,
            Dimensions=[{"Name": "Env", "Value": "dev"}],
            StartTime=time.time() - 600,
            EndTime=time.time() + 600,
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        assert sum(d["Sum"] for d in stats) == 20.0  # deltas 7 + 13


def test_healthcheck_follows_the_health_file(tmp_path: Path) -> None:
    from producer.main import healthcheck

    health = tmp_path / "health"
    assert healthcheck({"HEALTH_FILE": str(health)}) == 1
    health.touch()
    assert healthcheck({"HEALTH_FILE": str(health)}) == 0
    os.utime(health, (time.time() - 600, time.time() - 600))
    assert healthcheck({"HEALTH_FILE": str(health)}) == 1


@pytest.mark.parametrize(("heartbeat_s", "reconnects"), [(0.2, 0), (5.0, 1)])
def test_stall_is_bridged_by_heartbeats_or_ended_by_the_read_watchdog(
    broker: LocalBroker, topics: Tuple[str, str], tmp_path: Path, heartbeat_s: float, reconnects: int
) -> None:
    # Given a 2.5 s stall before line 300 and a 1 s read watchdog: heartbeats every 0.2 s
    # keep the connection; with 5 s heartbeats the watchdog drops it and the producer
    # resumes from the last id — either way every line arrives once.
    n = 600
    path, labels = generated(tmp_path, n, "", seed=2)
    main, dlq = topics
    opts = ReplayOptions(stalls=((300, 2.5),), heartbeat_s=heartbeat_s)
    with ReplayServer(path, opts) as server:
        env = _env(broker, server.url, tmp_path, main, dlq, MAX_EVENTS=str(n), READ_TIMEOUT_S="1")
        stats = Producer(settings_from_env(env)).run()
        served = server.stats()
    assert stats["reconnects"] == reconnects
    assert served["resumed_at"] == [0, 300][: reconnects + 1]
    assert stats["received"] == n and stats["produced"] + stats["filtered"] == n
    keys = Counter(m.key().decode() for m in consume_all(broker.bootstrap, main, MAIN_PARTITIONS))
    assert keys == Counter(eid for o, eid in labels if o == "valid")


def test_replay_server_resumes_counts_unique_lines_and_corrupts_deterministically(tmp_path: Path) -> None:
    from producer.sse import SSEConnection, SSEParser

    path = tmp_path / "lines.ndjson"
    path.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(50)), encoding="utf-8")

    def read_all(server: ReplayServer, last_id: Optional[str]) -> List[Any]:
        conn = SSEConnection(server.url, user_agent="test", last_event_id=last_id, read_timeout_s=5)
        parser, events = SSEParser(), []
        try:
            while chunk := conn.read():
                events += parser.feed(chunk)
        finally:
            conn.close()
        return events

    opts = ReplayOptions(drop_every=20, malformed_rate=0.2, close_at_end=True)
    with ReplayServer(path, opts) as server:
        first = read_all(server, None)  # lines 0..19, then the server drops
        resumed = read_all(server, first[-1].id)  # 20..39
        by_int = read_all(server, "9")  # a bare integer id also resumes: 10..29 (re-sent)
        stats = server.stats()
    assert [_offset(e.id) for e in first] == list(range(20))
    assert [_offset(e.id) for e in resumed] == list(range(20, 40))
    assert [_offset(e.id) for e in by_int] == list(range(10, 30))
    assert stats["sent_unique"] == 40 and stats["events_written"] == 60 and stats["resumed_at"] == [0, 20, 10]
    corrupted = {_offset(e.id) for e in first + resumed if not e.data.endswith("}")}
    assert corrupted == set(server.malformed_offsets(served_only=True)) and 0 < len(corrupted) < 40
    # A re-sent line is corrupted the same way both times.
    assert {_offset(e.id) for e in by_int if not e.data.endswith("}")} == {
        n for n in corrupted if 10 <= n < 30
    }
