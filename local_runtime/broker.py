"""The local Kafka broker: Apache Kafka of the MSK version, one KRaft node in its own JVM.

The jars come from the JVM manifest (``jvm/kafka-broker``, resolved by ``make setup``
into ``.cache/jars/kafka-broker``); the version is the one the MSK stack configures.
One process is both controller and broker (``process.roles=broker,controller``,
``node.id=1``). Both listeners bind 127.0.0.1 only, and the advertised listener is
127.0.0.1, so nothing on the network can reach it and clients never get a host name.

Data lives under ``data_dir``: the cluster id (``cluster.id``, generated once), the
rendered ``server.properties`` and ``log4j.properties``, and the log dir (``kafka-logs``)
with the topics, the committed offsets and the KRaft metadata log. Given a
``data_dir`` and a port, topics and offsets survive ``stop()``/``start()`` and
``kill()``/``restart()``; without one, a temporary directory is used and ``stop()``
removes it.

Topics are not auto-created, as on MSK (``auto.create.topics.enable`` defaults to false
there): a producer writing to a missing topic fails the same way locally and deployed, so
callers create their topics with ``create_topics``.

    with LocalBroker() as broker:
        broker.create_topics({"t": 4})
        producer = Producer({"bootstrap.servers": broker.bootstrap})
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import errno
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import IO, Dict, List, Mapping, Optional, Tuple, Type

from local_runtime.jars import DEFAULT_CACHE as JAR_CACHE
from local_runtime.jars import JarResolutionError, bundle_jars

REPO_ROOT = Path(__file__).resolve().parent.parent
CDS_DIR = REPO_ROOT / ".cache" / "cds"
BUNDLE = "kafka-broker"
NODE_ID = 1
LOG_DIR = "kafka-logs"

# Sized for 2 shared cores and a few MB/s: a small fixed-ceiling heap, the serial
# collector (no concurrent GC threads), C1 only, IPv4 sockets, and die on OOM instead of
# limping. Measured on 2 loaded cores against C2 (+SerialGC) and Kafka's G1 + full JIT:
# start 9.5 vs 13.0 / 15.7 s, idle RSS 143 vs 172 / 195 MiB, and C2 made the producer
# bench (200k events) no faster.
JVM_FLAGS = (
    "-Xms32m",
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    "-Djava.net.preferIPv4Stack=true",
)

# Broker settings beyond listeners and paths. Semantics follow MSK's defaults; the thread
# counts and buffers are sized down for one local node on 2 cores.
SERVER_SETTINGS: Dict[str, str] = {
    "auto.create.topics.enable": "false",  # MSK's default: topics are created explicitly
    "num.partitions": "1",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    # Fewer internal partitions: the group coordinator loads and recovers 4 logs, not 50,
    # on every start. Group and transaction semantics do not depend on the count.
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.num.partitions": "4",
    "group.initial.rebalance.delay.ms": "0",  # one local member: no need to wait for more
    "num.network.threads": "2",
    "num.io.threads": "2",
    "background.threads": "2",
    # The cleaner (compaction of __consumer_offsets) allocates this on the heap at start;
    # the 128 MiB default would be half the heap.
    "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
    # After a SIGKILL the controller (same JVM) still holds the dead incarnation's
    # registration and refuses the new one until its session expires: 9 s by default,
    # which made a restart after kill take ~18 s. A loopback heartbeat every 0.5 s is cheap.
    "broker.heartbeat.interval.ms": "500",
    "broker.session.timeout.ms": "4000",
}


class BrokerError(RuntimeError):
    """The local broker could not start or answer; the message says why."""


def broker_classpath(cache_dir: Path = JAR_CACHE) -> str:
    """The broker JVM's class path: every jar of the resolved ``kafka-broker`` bundle."""
    try:
        jars = bundle_jars(BUNDLE, cache_dir)
    except JarResolutionError as exc:
        raise BrokerError(str(exc)) from None
    return os.pathsep.join(str(jar) for jar in jars)


def java_binary() -> str:
    """``$JAVA_HOME/bin/java`` if set, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home) / "bin" / "java" if home else None
    if candidate is not None and candidate.exists():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise BrokerError("no `java` on PATH (Java 17 is needed for the local Kafka broker)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_port_free(port: int, what: str) -> None:
    """Raise ``BrokerError`` if something already listens on 127.0.0.1:``port``.

    SO_REUSEADDR as the JVM sets it, so connections of a previous broker lingering in
    TIME_WAIT do not count as taken.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise BrokerError(f"{what} port {port} on 127.0.0.1 is already in use") from exc
            raise


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the forked child: SIGTERM when the parent dies (Linux prctl).

    A test run or ``make run`` killed hard would otherwise leave a 256 MiB JVM behind in
    its own session. (Strictly, the signal follows the forking thread: start brokers
    from a thread that outlives them, as the main thread does.)
    """
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def class_data_archive(cds_dir: Path, classpath: str, java: str) -> Path:
    """Where the broker's AppCDS archive for this class path and JVM lives.

    The JVM maps the classes it loaded last time from this archive instead of parsing
    ~60 jars again: measured ~2 s (about 30 %) off every start on 2 loaded cores. The
    name hashes the class path and the java binary, so new jars or a new JDK get a new
    archive; the JVM also validates it and ignores a mismatching one.
    """
    digest = hashlib.sha256(f"{java}\n{classpath}".encode()).hexdigest()[:16]
    return cds_dir / f"kafka-broker-{digest}.jsa"


def new_cluster_id() -> str:
    """A KRaft cluster id as ``StorageTool random-uuid`` makes it (base64url UUID, no '-' first)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def read_properties(path: Path) -> Dict[str, str]:
    """``key=value`` lines of a Java properties file (enough for meta.properties)."""
    out: Dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip() and not line.lstrip().startswith(("#", "!")) and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _write_properties(path: Path, values: Mapping[str, str]) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")


class LocalBroker:
    """An Apache Kafka KRaft node on 127.0.0.1 with readiness check and clean shutdown.

    ``port`` (PLAINTEXT) and ``controller_port`` are picked free unless given and then
    kept for the object's life, so ``restart()`` comes back on the same address.
    """

    def __init__(
        self,
        port: Optional[int] = None,
        log_path: Optional[Path] = None,
        *,
        data_dir: Optional[Path] = None,
        controller_port: Optional[int] = None,
        jar_dir: Path = JAR_CACHE,
        jvm_flags: tuple[str, ...] = JVM_FLAGS,
        cds_dir: Optional[Path] = CDS_DIR,
    ) -> None:
        self.port = port or free_port()
        self.controller_port = controller_port or free_port()
        self.log_path = log_path
        self.data_dir = data_dir
        self.jar_dir = jar_dir
        self.jvm_flags = jvm_flags
        self.cds_dir = cds_dir
        self._cds_dump: Optional[Tuple[Path, Path]] = None  # (being written, final name)
        self._owns_data_dir = data_dir is None
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._log: Optional[IO[bytes]] = None
        self._log_offset = 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc is not None else None

    # -- files --------------------------------------------------------------------------

    def _data(self) -> Path:
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="wikistream-kafka-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def _broker_log(self) -> Path:
        return self.log_path or self._data() / "broker.log"

    def _write_config(self, data: Path) -> Path:
        listeners = f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
        server = {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            # A static single-voter quorum: the voter's address is configuration, not part
            # of the metadata log, so a later start may use another controller port.
            "controller.quorum.voters": f"{NODE_ID}@127.0.0.1:{self.controller_port}",
            "controller.listener.names": "CONTROLLER",
            "listeners": listeners,
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(data / LOG_DIR),
            **SERVER_SETTINGS,
        }
        path = data / "server.properties"
        _write_properties(path, server)
        _write_properties(data / "log4j.properties", self._log4j(self._broker_log()))
        return path

    @staticmethod
    def _log4j(log_file: Path) -> Dict[str, str]:
        # WARN and above from everything, plus the INFO lines that say the node started,
        # which port it bound and that it shut down cleanly.
        return {
            "log4j.rootLogger": "WARN, file",
            "log4j.appender.file": "org.apache.log4j.FileAppender",
            "log4j.appender.file.File": str(log_file),
            "log4j.appender.file.Append": "true",
            "log4j.appender.file.layout": "org.apache.log4j.PatternLayout",
            "log4j.appender.file.layout.ConversionPattern": "[%d] %p %m (%c)%n",
            "log4j.logger.kafka.server.KafkaRaftServer": "INFO",
            "log4j.logger.kafka.server.BrokerServer": "INFO",
            "log4j.logger.kafka.server.ControllerServer": "INFO",
            "log4j.logger.kafka.network.SocketServer": "INFO",
        }

    def _cluster_id(self, data: Path) -> str:
        """The cluster id kept in ``data/cluster.id`` (generated on first use)."""
        path = data / "cluster.id"
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        cluster_id = new_cluster_id()
        path.write_text(cluster_id + "\n", encoding="utf-8")
        return cluster_id

    def _formatted(self, data: Path, cluster_id: str) -> bool:
        meta = data / LOG_DIR / "meta.properties"
        if not meta.exists():
            return False
        # Anything else (unreadable, another cluster's) goes to the format step, which
        # refuses it with its own explanation.
        return read_properties(meta).get("cluster.id") == cluster_id

    def _cds_flags(self, classpath: str, *, dump: bool) -> List[str]:
        """Use the class-data archive if there is one; else (``dump``) write it at exit."""
        if self.cds_dir is None:
            return []
        archive = class_data_archive(self.cds_dir, classpath, java_binary())
        if archive.exists():
            return [f"-XX:SharedArchiveFile={archive}"]
        if not dump:
            return []
        # Written by the JVM as it exits after SIGTERM, under a private name; _halt()
        # renames it into place only after a clean exit, so no reader sees half a file.
        self.cds_dir.mkdir(parents=True, exist_ok=True)
        partial = archive.with_name(f"{archive.name}.{os.getpid()}-{id(self)}.partial")
        self._cds_dump = (partial, archive)
        return [f"-XX:ArchiveClassesAtExit={partial}"]

    def _format(self, data: Path, config: Path, classpath: str) -> None:
        cluster_id = self._cluster_id(data)
        if self._formatted(data, cluster_id):
            return
        cmd = [
            java_binary(),
            *self.jvm_flags,
            *self._cds_flags(classpath, dump=False),
            f"-Dlog4j.configuration=file:{data / 'log4j.properties'}",
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(config),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        # StorageTool reports some refusals ("already formatted") on stdout with exit 0
        # in some versions; success is judged by the result, not the exit code alone.
        if done.returncode != 0 or not self._formatted(data, cluster_id):
            detail = (done.stderr.strip() + "\n" + done.stdout.strip()).strip()
            raise BrokerError(
                f"formatting the Kafka log dir {data / LOG_DIR} failed (exit {done.returncode}): {detail}"
            )

    # -- life cycle ---------------------------------------------------------------------

    def start(self, timeout_s: float = 60.0) -> LocalBroker:
        """Launch the broker and wait until it answers."""
        self.launch()
        self.wait_ready(timeout_s)
        return self

    def launch(self) -> LocalBroker:
        """Format the log dir if new and spawn the broker's JVM, without waiting for it.

        Call from a thread that outlives the broker (see :func:`_die_with_parent`), then
        :meth:`wait_ready` — meanwhile the caller can start other things.
        """
        if self.running:
            return self
        classpath = broker_classpath(self.jar_dir)
        check_port_free(self.port, "Kafka listener")
        check_port_free(self.controller_port, "Kafka controller")
        data = self._data()
        config = self._write_config(data)
        self._format(data, config, classpath)
        log_file = self._broker_log()
        log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_file.open("ab")
        self._log_offset = self._log.tell()  # errors are looked for in this start's lines only
        cmd = [
            java_binary(),
            *self.jvm_flags,
            *self._cds_flags(classpath, dump=True),
            f"-Dlog4j.configuration=file:{data / 'log4j.properties'}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(config),
        ]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches every child
            preexec_fn=_die_with_parent,
        )
        return self

    def _log_tail(self, lines: int = 15) -> str:
        """The last ``lines`` the broker wrote since this start."""
        path = self._broker_log()
        if not path.exists():
            return ""
        with path.open("rb") as f:
            f.seek(self._log_offset)
            text = f.read().decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout_s: float) -> None:
        """Wait until the broker answers a metadata request (not just accepts TCP)."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(
            {
                "bootstrap.servers": self.bootstrap,
                # librdkafka backs off up to 10 s between connection attempts by default;
                # the JVM takes a few seconds to listen, so poll briskly instead.
                "reconnect.backoff.ms": 50,
                "reconnect.backoff.max.ms": 250,
                "log_level": 0,  # refused connections are expected until the JVM listens
            }
        )
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                code = self._proc.returncode
                self._halt(signal.SIGKILL)
                tail = self._log_tail()
                bind = re.search(r"failed to bind to (127\.0\.0\.1:\d+)", self._log_tail(400))
                hint = f" ({bind.group(1)} is already in use)" if bind else ""
                raise BrokerError(f"the Kafka broker exited with code {code}{hint}:\n{tail}")
            try:
                metadata = admin.list_topics(timeout=1)
                if metadata.brokers:
                    return
                last = "no broker registered yet"
            except Exception as exc:  # KafkaException while the JVM is still starting
                last = str(exc)
            time.sleep(0.1)
        self._halt(signal.SIGKILL)
        raise BrokerError(
            f"broker on {self.bootstrap} not ready after {timeout_s}s: {last}\n{self._log_tail()}"
        )

    def create_topics(self, topics: Mapping[str, int], timeout_s: float = 15.0) -> None:
        """Create ``{name: partitions}`` topics; existing ones are left as they are."""
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        existing = set(admin.list_topics(timeout=5).topics)
        wanted = [
            NewTopic(name, num_partitions=n, replication_factor=1)
            for name, n in topics.items()
            if name not in existing
        ]
        if not wanted:
            return
        futures = admin.create_topics(wanted, request_timeout=timeout_s)
        for name, future in futures.items():
            try:
                future.result(timeout=timeout_s)
            except Exception as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise BrokerError(f"could not create topic {name}: {exc}") from exc
        self._wait_for_leaders(admin, [t.topic for t in wanted], timeout_s)

    @staticmethod
    def _wait_for_leaders(admin: object, names: List[str], timeout_s: float) -> None:
        # CreateTopics returns once the controller committed the topic; the broker
        # serves it a moment later. Wait, so the first produce does not race it.
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            topics = admin.list_topics(timeout=5).topics  # type: ignore[attr-defined]
            if all(
                name in topics
                and topics[name].error is None
                and all(p.leader >= 0 for p in topics[name].partitions.values())
                for name in names
            ):
                return
            time.sleep(0.05)
        raise BrokerError(f"topics {names} have no leader after {timeout_s}s")

    def _halt(self, sig: signal.Signals, timeout_s: float = 30.0) -> None:
        """Signal the broker's process group and wait; SIGKILL if it outlives the timeout."""
        proc, self._proc = self._proc, None
        clean = sig != signal.SIGKILL
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                clean = False
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout_s)
        self._settle_cds_dump(clean)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _settle_cds_dump(self, clean: bool) -> None:
        if self._cds_dump is None:
            return
        (partial, archive), self._cds_dump = self._cds_dump, None
        if clean and partial.exists() and partial.stat().st_size > 0:
            os.replace(partial, archive)
        else:
            partial.unlink(missing_ok=True)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Controlled shutdown (SIGTERM; SIGKILL after ``timeout_s``), then remove a temp data dir."""
        self._halt(signal.SIGTERM, timeout_s)
        if self._owns_data_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def kill(self) -> None:
        """SIGKILL, as a crash would; the data dir stays for ``restart()``."""
        self._halt(signal.SIGKILL)

    def restart(self, timeout_s: float = 60.0) -> LocalBroker:
        """Stop (if running) and start again on the same ports and data dir."""
        self._halt(signal.SIGTERM)
        return self.start(timeout_s)

    def __enter__(self) -> LocalBroker:
        return self.start() if not self.running else self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()
