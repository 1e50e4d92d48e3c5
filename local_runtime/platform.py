"""The platform of one `make run`: every local component started, watched and stopped.

Spark's job server, the Kafka broker, the SSE replay server, the producer and the bronze
stream (children stopped with the run), the state machine's definition synthesized from
the CDK app, the pre-warm cycle, and the progress line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from local_runtime.kit.processes import REPO_ROOT, managed_process, producer_env, python_env, wait_for
from local_runtime.options import RunOptions
from spark_jobs.registry import BRONZE_STREAM
from wikistream.config import PlatformConfig, load_config

#: The deployed environment whose state machine the local run executes (see synthesized_definition).
ASL_ENV = "staging"


@dataclass
class Status:
    """What the progress line shows; updated by the watchers."""

    started: float = field(default_factory=time.monotonic)
    phase: str = "starting"
    sent: int = 0
    produced: int = 0
    dead_lettered: int = 0
    filtered: int = 0
    bronze: int = 0
    bronze_dead: int = 0
    cycle: str = "-"
    state: str = "-"
    cycle_times: list[float] = field(default_factory=list)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        timings = ", ".join(f"{t:.0f}s" for t in self.cycle_times) or "-"
        return (
            f"[{elapsed:5.0f}s] {self.phase:<10} sent {self.sent:>7} | produced {self.produced:>7} "
            f"dlq {self.dead_lettered:>5} filtered {self.filtered:>5} | bronze {self.bronze:>7} "
            f"dead {self.bronze_dead:>5} | cycle {self.cycle} {self.state:<14} | cycle times {timings}"
        )


class LocalPlatform:
    """Owns every local component of one `make run`."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.data_dir = options.data_dir.resolve()
        overrides: dict[str, Any] = {"data_dir": str(self.data_dir)}
        if options.dq_engine:
            overrides["dq"] = {"engine": options.dq_engine}
        self.config: PlatformConfig = load_config("local", overrides)
        self.status = Status()
        self.stack = ExitStack()
        self.logs = self.data_dir / "logs"
        self.metrics_path = self.data_dir / "metrics" / "metrics.ndjson"
        self.alerts_path = self.data_dir / "alerts" / "alerts.ndjson"
        self.producer_stats = self.data_dir / "state" / "producer-stats.json"
        self._stop = threading.Event()
        self.spark: Any = None
        self.server: Any = None
        self.producer: Optional[subprocess.Popen[bytes]] = None
        #: Long-running children that must stay up for the whole run (not the producer,
        #: which exits once it has sent every event).
        self.services: dict[str, subprocess.Popen[bytes]] = {}
        #: The live console (local_runtime/console), if the run has one.
        self.console: Any = None

    # -- printing ----------------------------------------------------------------
    def say(self, message: str) -> None:
        if not self.options.quiet:
            print(message, flush=True)

    def _progress(self) -> None:
        interactive = sys.stdout.isatty()
        last = 0.0
        while not self._stop.wait(1.0):
            self._refresh_counts()
            if self.options.quiet:
                continue
            if interactive:
                print("\r" + self.status.line()[:200], end="", flush=True)
            elif time.monotonic() - last >= 10:
                print(self.status.line(), flush=True)
                last = time.monotonic()
        if interactive and not self.options.quiet:
            print()

    def _refresh_counts(self) -> None:
        from wikistream import metrics as m

        if self.server is not None:
            self.status.sent = self.server.sent_unique
        totals: dict[str, float] = {}
        for row in m.read_local_metrics(self.metrics_path):
            if row["ts"] >= self.run_started_wall:
                totals[row["name"]] = totals.get(row["name"], 0.0) + float(row["value"])
        self.status.produced = int(totals.get(m.PRODUCER_PRODUCED, 0))
        self.status.dead_lettered = int(totals.get(m.PRODUCER_DEAD_LETTERED, 0))
        self.status.filtered = int(totals.get(m.PRODUCER_FILTERED, 0))
        self.status.bronze = int(totals.get(m.BRONZE_RECORDS_PROCESSED, 0))
        self.status.bronze_dead = int(totals.get(m.BRONZE_DEAD_LETTERED, 0))

    # -- lifecycle ----------------------------------------------------------------
    def __enter__(self) -> LocalPlatform:
        self.run_started_wall = time.time()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.stack.close()

    def start_spark(self) -> None:
        from local_runtime.submit import LocalResources, start_session
        from spark_jobs.create_tables import create_missing

        self.status.phase = "spark"
        self.spark = start_session(
            "wikistream-local-runner",
            self.data_dir / "warehouse",
            dq_engine=self.config.dq.engine,
            resources=LocalResources(driver_memory="6g"),
        )
        created = create_missing(self.spark)
        if created:
            self.say(f"created tables: {', '.join(created)}")

    def launch_broker(self) -> Any:
        """Spawn Apache Kafka's JVM without waiting for it (call on the main thread: the
        broker dies with the thread that forked it); :meth:`broker_ready` waits."""
        from local_runtime.broker import LocalBroker

        broker = LocalBroker(log_path=self.logs / "broker.log", data_dir=self.data_dir / "kafka")
        self.stack.callback(broker.stop)
        return broker.launch()

    def broker_ready(self, broker: Any, timeout_s: float = 60.0) -> None:
        """Wait until the broker answers, then create the run's topics."""
        kafka = self.config.kafka
        broker.wait_ready(timeout_s)
        broker.create_topics({kafka.topic: kafka.partitions, kafka.dlq_topic: kafka.partitions})

    def start_bronze(self, broker: Any) -> None:
        """The bronze streaming job, launched as EMR launches it, idle until events arrive.

        Started before the pre-warm cycle, so its JVM and stream start-up overlap that
        cycle instead of delaying the first commit.
        """
        from local_runtime.submit import job_env

        self.services["bronze_stream"] = self.stack.enter_context(
            managed_process(
                "bronze_stream",
                [
                    sys.executable,
                    "-m",
                    "local_runtime.submit",
                    "spark_jobs.bronze_stream",
                    "--env",
                    "local",
                    "--data-dir",
                    str(self.data_dir),
                    "--bootstrap",
                    broker.bootstrap,
                ],
                self.logs,
                {
                    "PYSPARK_SUBMIT_ARGS": job_env(BRONZE_STREAM, self.data_dir / "warehouse")[
                        "PYSPARK_SUBMIT_ARGS"
                    ]
                },
            )
        )
        watcher = threading.Thread(target=self._progress, name="progress", daemon=True)
        watcher.start()

    def start_replay(self, broker: Any, events_file: Path, run_number: int) -> None:
        """The SSE replay server and the producer: events start to flow."""
        from local_runtime.sse_server import ReplayOptions, ReplayServer

        self.status.phase = "ingest"
        self.server = ReplayServer(events_file, ReplayOptions(rate_per_s=self.options.rate)).start()
        self.stack.callback(self.server.stop)
        self.say(f"broker {broker.bootstrap}; SSE replay {self.server.url} ({self.server.total} events)")
        self.producer = self.stack.enter_context(
            managed_process(
                "producer",
                [sys.executable, "-m", "producer.main"],
                self.logs,
                producer_env(
                    bootstrap=broker.bootstrap,
                    stream_url=self.server.url,
                    # A new replay file restarts the SSE ids, so each run has its own resume state.
                    state=self.data_dir / "state" / f"producer-run-{run_number:04d}.json",
                    metrics=self.metrics_path,
                    stats=self.producer_stats,
                    KAFKA_AUTH="plaintext",
                    MAX_EVENTS=str(self.server.total),
                    DATA_DIR=str(self.data_dir),
                ),
            )
        )

    def check_services(self) -> None:
        """Fail fast, naming the log to read, when a component died."""
        for name, proc in self.services.items():
            if proc.poll() is not None:
                log = self.logs / f"{name}.log"
                tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
                raise RuntimeError(
                    f"{name} exited with code {proc.returncode}; see {log}:\n" + "\n".join(tail)
                )

    def wait_until(self, predicate: Any, what: str, timeout_s: float) -> None:
        if not wait_for(predicate, timeout_s, poll_s=0.5, between=self.check_services):
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")

    # -- the state machine ---------------------------------------------------------
    def synthesized_definition(self) -> dict[str, Any]:
        """Synthesize the CDK app offline and return the state machine's ASL.

        ``staging`` is the environment whose topology the local run mirrors: an always-on
        bronze stream (dev ingests per cycle instead, to stay cheap; its definition only
        adds a BronzeIngest state, see tests/infra).
        """
        from local_runtime.asl import definition_for_local

        out = self.data_dir / "cdk.out"
        shutil.rmtree(out, ignore_errors=True)  # never read a stale template
        # What the CDK CLI does: cdk.json's context (feature flags included) + `-c env=staging`.
        context = {**json.loads((REPO_ROOT / "cdk.json").read_text()).get("context", {}), "env": ASL_ENV}
        env = python_env(
            {
                "CDK_OUTDIR": str(out),
                "CDK_CONTEXT_JSON": json.dumps(context),
                "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            }
        )
        result = subprocess.run(
            [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"cdk synth failed:\n{result.stderr[-3000:]}")
        template_file = out / f"WikiStream-{ASL_ENV}.template.json"
        if not template_file.exists():
            raise RuntimeError(f"cdk synth wrote no {template_file.name} under {out}")
        return definition_for_local(json.loads(template_file.read_text()))

    def prewarm(self, definition: dict[str, Any]) -> dict[str, Any]:
        """One cycle of ``definition`` on a scratch lake, so the first real cycle runs warm."""
        from local_runtime.prewarm import prewarm

        self.status.phase = "prewarm"
        self.say("pre-warming the job server: one cycle of the state machine on a scratch lake ...")
        started = time.monotonic()
        cycle = prewarm(self.spark, definition, self.config, self.data_dir / "prewarm")
        self.say(
            f"pre-warm done in {time.monotonic() - started:.1f} s: scratch lake seeded, then one cycle "
            f"of {cycle['duration_s']} s ({len(cycle['states'])} states)"
        )
        return cycle

    def run_job(self, request: Any) -> None:
        """Run one EMR Serverless job request in this process's Spark session."""
        from local_runtime.jobs import run_local_job

        self.status.state = request.name
        run_local_job(self.spark, request, self.data_dir, self.config.dq.engine)
