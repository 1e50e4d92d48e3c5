"""The local Apache Kafka broker: loopback only, durable on its data dir, clear failures.

Every test that needs a JVM starts the real broker from the resolved jars; the
expectations (socket addresses, record counts, offsets) are stated here, never read
back from the broker's own configuration.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

from local_runtime.broker import LOG_DIR, BrokerError, LocalBroker

pytestmark = pytest.mark.kafka


def listening_sockets(pid: int) -> Set[Tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state owned by ``pid``."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A = TCP_LISTEN
                continue
            hex_addr, hex_port = local.split(":")
            found.add((_address(hex_addr), int(hex_port, 16)))
    return found


def _address(hex_addr: str) -> str:
    """/proc/net/tcp{,6} address (little-endian 32-bit words) as text."""
    raw = b"".join(bytes.fromhex(hex_addr[i : i + 8])[::-1] for i in range(0, len(hex_addr), 8))
    if len(raw) == 16 and raw[:12] == b"\0" * 10 + b"\xff\xff":  # IPv4-mapped IPv6
        raw = raw[12:]
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def produce(bootstrap: str, topic: str, n: int, partitions: int) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for i in range(n):
        producer.produce(topic, key=f"k{i}", value=f"v{i}", partition=i % partitions)
    assert producer.flush(30) == 0


def read_all(bootstrap: str, topic: str, partitions: int) -> List[Tuple[int, str, str]]:
    """(partition, key, value) of every record up to the high watermarks, by assignment."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "read-all", "enable.auto.commit": False})
    try:
        highs = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        out: List[Tuple[int, str, str]] = []
        deadline = time.monotonic() + 30
        while len(out) < sum(highs.values()):
            assert time.monotonic() < deadline, f"stalled at {len(out)} of {sum(highs.values())}"
            for m in consumer.consume(1000, timeout=0.5):
                assert m.error() is None, m.error()
                out.append((m.partition(), m.key().decode(), m.value().decode()))
        return out
    finally:
        consumer.close()


def commit(bootstrap: str, group: str, topic: str, offsets: Dict[int, int]) -> None:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
    finally:
        consumer.close()


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> Dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        got = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return {tp.partition: tp.offset for tp in got}
    finally:
        consumer.close()


def assert_gone(pid: int, port: int) -> None:
    """No process left in the broker's process group, and its port is free again."""
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the broker led its own process group
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


@pytest.fixture(scope="module")
def broker() -> Iterator[LocalBroker]:
    with LocalBroker() as running:
        yield running


def test_listens_on_loopback_only_and_round_trips_records(broker: LocalBroker) -> None:
    assert broker.pid is not None
    # The JVM listens on exactly two sockets, the client and controller listeners, both loopback.
    assert listening_sockets(broker.pid) == {
        ("127.0.0.1", broker.port),
        ("127.0.0.1", broker.controller_port),
    }
    # And records go in and come out as sent, per partition.
    broker.create_topics({"round.trip": 3})
    produce(broker.bootstrap, "round.trip", 300, partitions=3)
    got = read_all(broker.bootstrap, "round.trip", 3)
    assert sorted(got) == sorted((i % 3, f"k{i}", f"v{i}") for i in range(300))


def test_topics_are_not_auto_created_as_on_msk(broker: LocalBroker) -> None:
    from confluent_kafka import KafkaError, Producer
    from confluent_kafka.admin import AdminClient

    # Given no topic "never.created", a produce to it fails instead of creating it.
    producer = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 3000})
    errors: List[KafkaError] = []
    producer.produce("never.created", value=b"x", on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(10)
    assert len(errors) == 1 and errors[0] is not None
    assert (
        "never.created"
        not in AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=5).topics
    )


def test_topics_and_committed_offsets_survive_stop_and_start_on_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "kafka"
    # Given a topic with records and a group's committed offsets on a broker with a data dir,
    first = LocalBroker(data_dir=data).start()
    try:
        first.create_topics({"durable": 2})
        produce(first.bootstrap, "durable", 200, partitions=2)
        commit(first.bootstrap, "bronze", "durable", {0: 60, 1: 75})
        pid, port = first.pid, first.port
    finally:
        # when it stops cleanly (no process left behind, data dir kept)
        first.stop()
    assert pid is not None
    assert_gone(pid, port)
    assert (data / LOG_DIR / "meta.properties").exists()

    # and a new broker starts on the same data dir and port,
    with LocalBroker(port=port, data_dir=data) as second:
        # then the topic, its records and the committed offsets are all there.
        assert sorted(read_all(second.bootstrap, "durable", 2)) == sorted(
            (i % 2, f"k{i}", f"v{i}") for i in range(200)
        )
        assert committed(second.bootstrap, "bronze", "durable", 2) == {0: 60, 1: 75}
    assert data.exists()  # a caller's data dir is the caller's: stop() keeps it


def test_sigkill_then_restart_keeps_records_and_offsets(tmp_path: Path) -> None:
    with LocalBroker(data_dir=tmp_path / "kafka") as broker:
        broker.create_topics({"crash": 2})
        produce(broker.bootstrap, "crash", 100, partitions=2)
        commit(broker.bootstrap, "g", "crash", {0: 10, 1: 20})
        pid, port = broker.pid, broker.port
        # When the JVM is SIGKILLed (no controlled shutdown, no flush) and restarted,
        broker.kill()
        assert pid is not None and not broker.running
        assert_gone(pid, port)
        broker.restart()
        # then it is back on the same address with every acknowledged record and offset.
        assert broker.port == port and broker.pid != pid
        assert len(read_all(broker.bootstrap, "crash", 2)) == 100
        assert committed(broker.bootstrap, "g", "crash", 2) == {0: 10, 1: 20}


def test_temporary_data_dir_is_removed_and_no_process_is_left() -> None:
    broker = LocalBroker().start()
    data, pid, port = broker.data_dir, broker.pid, broker.port
    assert data is not None and pid is not None and data.exists()
    broker.stop()
    assert not broker.running and not data.exists()
    assert_gone(pid, port)


def test_port_taken_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(BrokerError, match=f"port {port} on 127.0.0.1 is already in use"):
            LocalBroker(port=port).start()


def test_failing_format_step_reports_the_tools_message(tmp_path: Path) -> None:
    # Given a log dir that holds a corrupt meta.properties (no cluster id of ours),
    logs = tmp_path / "kafka" / LOG_DIR
    logs.mkdir(parents=True)
    (logs / "meta.properties").write_bytes(b"\x00garbage\nnode.id=oops\n")
    # the format step refuses it, and its own explanation reaches the caller.
    with pytest.raises(BrokerError, match=r"(?s)formatting the Kafka log dir .* failed.*already formatted"):
        LocalBroker(data_dir=tmp_path / "kafka").start()


def test_missing_jars_say_run_make_setup(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="run `make setup`"):
        LocalBroker(jar_dir=tmp_path).start()


def test_port_taken_after_the_check_is_reported_when_the_jvm_exits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given another process grabs the listener port between the check and the JVM's bind
    # (simulated by skipping the check), the JVM exits early and the error says why.
    monkeypatch.setattr("local_runtime.broker.check_port_free", lambda port, what: None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = LocalBroker(port=port, data_dir=tmp_path / "kafka")
        with pytest.raises(
            BrokerError, match=rf"exited with code \d+ \(127\.0\.0\.1:{port} is already in use\)"
        ):
            broker.start()
    assert not broker.running
