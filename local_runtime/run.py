"""`make run`: the whole platform on one machine, driven by the synthesized state machine.

What happens (README, "What make run does"):

1. Set-up is done by make (venv, jars, CDK CLI). Here: create missing tables.
2. Generate EVENTS synthetic events (timestamps ending now) or take ``--input``.
3. At once: start Apache Kafka (KRaft, its own JVM, logs under the data directory),
   synthesize the CDK app (the state machine's ASL from the template) and start this
   process's Spark session (the job server). Then start the bronze streaming job (Spark's
   Kafka source), launched by ``local_runtime.submit`` with the same Spark properties and
   jars as the EMR job runs; its start-up overlaps one pre-warm cycle of the definition on
   a scratch lake (``local_runtime/prewarm.py``) unless ``--no-prewarm``.
4. Start the SSE replay server on 127.0.0.1 and the producer (subprocess, same code as
   the ECS task), and execute the definition with moto's interpreter
   (``local_runtime/sfn_local.py``): every EMR Serverless job state runs the Spark job in
   this process's long-lived session; SNS alerts are captured.
5. After CYCLES cycles (a cycle is complete when it reaches the Wait state) the loop is
   stopped, or with FAULTS a fault is injected first and the next cycle must fail at a
   gate, alert, halt, and leave gold untouched.
6. Wait for bronze to catch up, reconcile every event, print a summary, write the local
   dashboard and the run record under the data directory.

Ctrl-C stops everything cleanly; state in the data directory persists across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

from local_runtime.reconcile import (
    BronzeFacts,
    analyse_file,
    bronze_facts,
    caught_up,
    manifest_rows,
    reconciliation,
)
from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS
from wikistream.config import DQ_ENGINES, PlatformConfig, load_config
from wikistream.events import TimeBounds

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where the live console listens by default (local_runtime/console).
DEFAULT_CONSOLE_PORT = 8765
LIVE_RATE_PER_S = 50.0
#: The deployed environment whose state machine the local run executes (see synthesized_definition).
ASL_ENV = "staging"
#: Data faults the generator injects by default, so the run shows dead letters,
#: filtering and de-duplication at work (none of them should fail a gate).
DEFAULT_DATA_FAULTS = (
    "malformed_json=0.002,missing_required=0.002,wrong_type=0.002,oversized=0.0005,"
    "unknown_domain=0.005,duplicate=0.005,late=0.01,schema_drift=0.005"
)


@dataclass(frozen=True)
class RunOptions:
    events: int = 20_000
    rate: float = 0.0
    cycles: int = 2
    faults: tuple[str, ...] = ()
    input: Optional[Path] = None
    data_dir: Path = Path(".wikistream")
    seed: Optional[int] = None
    wait_seconds: int = 5
    data_faults: str = DEFAULT_DATA_FAULTS
    timeout_s: float = 900.0
    quiet: bool = False
    #: Warm the job server with a scratch cycle first (local_runtime/prewarm.py).
    prewarm: bool = True
    #: The live console's port on 127.0.0.1 (a free one when taken; 0: any; None: no console).
    console_port: Optional[int] = DEFAULT_CONSOLE_PORT
    #: DQ engine of the gates (``None``: the local environment's ``dq.engine``).
    dq_engine: Optional[str] = None


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


def parse_args(argv: Optional[Sequence[str]] = None) -> RunOptions:
    p = argparse.ArgumentParser(prog="make run", description="Run the whole WikiStream platform locally.")
    p.add_argument("--events", type=int, default=20_000, help="synthetic events to replay (default 20000)")
    p.add_argument("--rate", type=float, default=0.0, help="replay rate, events/s (0 = as fast as possible)")
    p.add_argument("--cycles", type=int, default=2, help="clean batch cycles to run (default 2)")
    p.add_argument(
        "--faults",
        default="",
        help="comma-separated DQ faults to inject after the clean cycles (see --list-faults)",
    )
    p.add_argument("--list-faults", action="store_true")
    p.add_argument("--input", type=Path, default=None, help="replay this NDJSON file instead of generating")
    p.add_argument("--data-dir", type=Path, default=Path(".wikistream"))
    p.add_argument(
        "--seed", type=int, default=None, help="generator seed (default: derived from the run number)"
    )
    p.add_argument(
        "--wait-seconds", type=int, default=None, help="Wait state between cycles (default: local config)"
    )
    p.add_argument("--data-faults", default=DEFAULT_DATA_FAULTS, help="generator fault rates ('' for none)")
    p.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--dq-engine", choices=DQ_ENGINES, default=None, help="DQ engine (default: dq.engine)")
    p.add_argument(
        "--no-prewarm",
        dest="prewarm",
        action="store_false",
        help="skip the scratch cycle that warms the job server before ingestion starts",
    )
    p.add_argument(
        "--console-port",
        type=int,
        default=DEFAULT_CONSOLE_PORT,
        help=f"live console port on 127.0.0.1 (default {DEFAULT_CONSOLE_PORT}; a free one if taken; -1: none)",
    )
    ns = p.parse_args(argv)
    from local_runtime.faults import FAULTS

    if ns.list_faults:
        for name, fault in sorted(FAULTS.items()):
            print(f"{name:24} {fault.description}")
        raise SystemExit(0)
    faults = tuple(f for f in ns.faults.split(",") if f)
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        p.error(f"unknown fault(s) {unknown}; choose from {sorted(FAULTS)}")
    if ns.events < 1 or ns.cycles < 1:
        p.error("--events and --cycles must be >= 1")
    wait = (
        ns.wait_seconds if ns.wait_seconds is not None else load_config("local").pipeline.cycle_wait_seconds
    )
    return RunOptions(
        events=ns.events,
        rate=ns.rate,
        cycles=ns.cycles,
        faults=faults,
        input=ns.input,
        data_dir=ns.data_dir,
        seed=ns.seed,
        wait_seconds=wait,
        data_faults=ns.data_faults,
        timeout_s=ns.timeout,
        quiet=ns.quiet,
        prewarm=ns.prewarm,
        console_port=None if ns.console_port < 0 else ns.console_port,
        dq_engine=ns.dq_engine,
    )


# --------------------------------------------------------------------------- processes
def _python_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


@contextmanager
def managed_process(
    name: str, argv: Sequence[str], log_dir: Path, env: Mapping[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a child in its own process group; SIGTERM (then SIGKILL) the group on exit."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_python_env(env),
            cwd=REPO_ROOT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 25.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


# --------------------------------------------------------------------------- input
def _next_run_number(data_dir: Path) -> int:
    runs = data_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    counter = runs / "counter"
    number = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(number))
    return number


def prepare_input(options: RunOptions, run_number: int) -> tuple[Path, Optional[dict[str, Any]]]:
    """The NDJSON file to replay and, for generated data, its manifest."""
    if options.input is not None:
        return options.input, None
    from wikistream.generator import FaultRates, write_ndjson

    seed = options.seed if options.seed is not None else 1000 + run_number
    rate = options.rate or LIVE_RATE_PER_S
    # Event times end "now", as if the stream were live, so freshness checks are meaningful.
    start = datetime.now(timezone.utc) - timedelta(seconds=options.events / rate)
    path = options.data_dir / "input" / f"run-{run_number:04d}-seed-{seed}.ndjson"
    path.parent.mkdir(parents=True, exist_ok=True)
    faults = FaultRates.parse(options.data_faults) if options.data_faults else FaultRates()
    manifest = write_ndjson(path, options.events, seed=seed, start=start, rate_per_s=rate, faults=faults)
    return path, json.loads(Path(str(path) + ".manifest.json").read_text()) if manifest else None


# --------------------------------------------------------------------------- the run
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
                    "PYSPARK_SUBMIT_ARGS": job_env("bronze_stream", self.data_dir / "warehouse")[
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
                {
                    "WIKISTREAM_ENV": "local",
                    "KAFKA_BOOTSTRAP": broker.bootstrap,
                    "KAFKA_AUTH": "plaintext",
                    "STREAM_URL": self.server.url,
                    # A new replay file restarts the SSE ids, so each run has its own resume state.
                    "STATE_URI": (self.data_dir / "state" / f"producer-run-{run_number:04d}.json").as_uri(),
                    "METRICS": f"local:{self.metrics_path}",
                    "STATS_PATH": str(self.producer_stats),
                    "MAX_EVENTS": str(self.server.total),
                    "DATA_DIR": str(self.data_dir),
                },
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
        deadline = time.monotonic() + timeout_s
        while not predicate():
            self.check_services()
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
            time.sleep(0.5)

    # -- the state machine ---------------------------------------------------------
    def synthesized_definition(self) -> dict[str, Any]:
        """Synthesize the CDK app offline and return the state machine's ASL.

        ``staging`` is the environment whose topology the local run mirrors: an always-on
        bronze stream (dev ingests per cycle instead, to stay cheap; its definition only
        adds a BronzeIngest state, see tests/infra).
        """
        from stacks.asl import definition_for_local

        out = self.data_dir / "cdk.out"
        shutil.rmtree(out, ignore_errors=True)  # never read a stale template
        # What the CDK CLI does: cdk.json's context (feature flags included) + `-c env=staging`.
        context = {**json.loads((REPO_ROOT / "cdk.json").read_text()).get("context", {}), "env": ASL_ENV}
        env = _python_env(
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
        cycle = prewarm(self.spark, definition, self.config, self.data_dir / "prewarm")
        self.say(f"pre-warm cycle done in {cycle['duration_s']} s ({len(cycle['states'])} states)")
        return cycle

    def run_job(self, request: Any) -> None:
        """Run one EMR Serverless job request in this process's Spark session."""
        from local_runtime.jobs import run_local_job

        self.status.state = request.name
        run_local_job(self.spark, request, self.data_dir, self.config.dq.engine)

    def drive_cycles(self, definition: dict[str, Any], run_number: int) -> dict[str, Any]:
        """Execute the definition until CYCLES cycles completed (and a faulty one failed)."""
        from local_runtime.console.server import watching
        from local_runtime.faults import FAULTS, gold_snapshots
        from local_runtime.machine import BROKEN, POLL_S, local_state_machine

        report: dict[str, Any] = {"executions": [], "alerts": [], "fault": None}
        with (
            local_state_machine(definition, f"{self.config.prefix}-pipeline", self.run_job) as machine,
            watching(self.console, machine),
        ):
            loop = f"run{run_number:04d}"
            machine.start(f"{loop}-cycle-1", self.options.wait_seconds, loop=loop)
            completed: list[str] = []
            injected_after: Optional[str] = None
            deadline = time.monotonic() + self.options.timeout_s
            while time.monotonic() < deadline:
                self.check_services()
                executions = machine.executions()
                visits = {e["executionArn"]: machine.states(e["executionArn"]) for e in executions}
                for e in executions:
                    if "Wait" in visits[e["executionArn"]] and e["name"] not in completed:
                        completed.append(e["name"])
                        self.status.cycle_times.append(machine.seconds(e["executionArn"]))
                broken = [e for e in executions if e["status"] in BROKEN]
                if injected_after is None and broken:
                    # A clean cycle failed: stop and show why rather than wait for more cycles.
                    report["unexpected_failure"] = broken[0]["name"]
                    break
                latest = executions[-1]
                self.status.cycle = f"{len(executions)}"
                self.status.state = (visits[latest["executionArn"]] or ["-"])[-1]
                if injected_after is None and len(completed) >= self.options.cycles:
                    if not self.options.faults:
                        break
                    # The last clean cycle is in its Wait state: inject, let the loop go on.
                    report["gold_before"] = gold_snapshots(self.spark)
                    for name in self.options.faults:
                        self.say(f"\ninjecting fault {name}: {FAULTS[name].description}")
                        FAULTS[name].inject(self.spark, self.config)
                    injected_after, report["fault"] = completed[-1], list(self.options.faults)
                if injected_after is not None:
                    later = executions[[e["name"] for e in executions].index(injected_after) + 1 :]
                    if any(e["status"] == "FAILED" for e in later):
                        report["gold_after"] = gold_snapshots(self.spark)
                        break
                    if any(e["name"] in completed for e in later):
                        report["fault_missed"] = True
                        break
                time.sleep(POLL_S)
            else:
                raise TimeoutError(f"the loop did not finish within {self.options.timeout_s:.0f}s")
            machine.stop_running(cause="make run: requested cycles done")
            for e in machine.executions():
                report["executions"].append(
                    {
                        "name": e["name"],
                        # list_executions, not describe_execution: moto cannot serialise an
                        # output holding StartExecution's datetime.
                        "status": e["status"],
                        "states": machine.states(e["executionArn"]),
                        "duration_s": machine.seconds(e["executionArn"]),
                        "completed": e["name"] in completed,
                    }
                )
            report["alerts"] = machine.alerts()
        self.status.state = "loop stopped"
        return report


# --------------------------------------------------------------------------- accounting
@dataclass(frozen=True)
class Baseline:
    """Bronze snapshots before this run, so its own rows can be counted incrementally."""

    raw_events: Optional[int]
    dead_letters: Optional[int]


def bronze_baseline(spark: Any) -> Baseline:
    from spark_jobs.ledger import current_snapshot_id
    from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS

    return Baseline(
        current_snapshot_id(spark, RAW_EVENTS.fqn()), current_snapshot_id(spark, DEAD_LETTERS.fqn())
    )


def rows_since(spark: Any, table_fqn: str, snapshot: Optional[int]) -> Any:
    """Rows appended to ``table_fqn`` after ``snapshot`` (all rows when ``None``)."""
    from spark_jobs.ledger import current_snapshot_id, read_appended

    now = current_snapshot_id(spark, table_fqn)
    if now is None:
        return spark.table(table_fqn).limit(0)
    return read_appended(spark, table_fqn, snapshot, now)


def bronze_counts(spark: Any, baseline: Baseline) -> dict[str, Any]:
    from pyspark.sql import functions as F

    from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS

    raw = rows_since(spark, RAW_EVENTS.fqn(), baseline.raw_events)
    dead = rows_since(spark, DEAD_LETTERS.fqn(), baseline.dead_letters)
    raw_stats = raw.agg(F.count("*").alias("rows"), F.countDistinct("event_id").alias("distinct")).collect()[
        0
    ]
    by_rule = {
        f"{r.source}:{r.failed_rule}": r["count"]
        for r in dead.groupBy("source", "failed_rule").count().collect()
    }
    return {
        "bronze_rows": int(raw_stats["rows"]),
        "bronze_distinct": int(raw_stats["distinct"]),
        "dead_letters": int(sum(by_rule.values())),
        "dead_letters_by_rule": by_rule,
    }


def freshness(spark: Any, since: datetime) -> dict[str, Any]:
    """Seconds from the producer sending an event (its Kafka timestamp) to the commit that
    made it visible in gold.hourly_stats, over events sent since ``since``: p50, p95, min, max.
    Also the p95 of the events sent after the first such commit (``p95_after_first_cycle``,
    over ``events_after_first_cycle``): they never wait for a cold JVM or a first cycle,
    so the two p95s separate the start-up tail from the steady state.

    Silver stamps each row with its run's start (``processed_at``); the gold run of the
    same cycle (run id) records the hourly_stats snapshot it committed
    (``details.output_snapshots``), whose commit time is when the event appeared there.
    A gold run without that record counts until the run finished (later, never earlier).
    """
    from wikistream.catalogue import HOURLY_STATS, PIPELINE_RUNS, RAW_EVENTS, SILVER_EVENTS

    cutoff = since.strftime("%Y-%m-%d %H:%M:%S")
    row = spark.sql(
        f"""
        WITH silver_runs AS (
          SELECT run_id, started_at FROM {PIPELINE_RUNS.fqn()} WHERE job = 'silver_batch' AND status = 'SUCCEEDED'),
        gold_commits AS (
          SELECT run_id, finished_at,
                 CAST(get_json_object(details, "$.output_snapshots['{HOURLY_STATS.identifier}']") AS BIGINT)
                   AS hourly_snapshot
          FROM {PIPELINE_RUNS.fqn()} WHERE job = 'gold_batch' AND status = 'SUCCEEDED'),
        gold_runs AS (
          SELECT c.run_id, max(coalesce(h.committed_at, c.finished_at)) AS finished_at
          FROM gold_commits c LEFT JOIN {HOURLY_STATS.fqn()}.snapshots h ON h.snapshot_id = c.hourly_snapshot
          GROUP BY c.run_id),
        first_sent AS (
          -- An event_id bronze holds twice (an injected fault) still counts once: first send.
          SELECT event_id, min(kafka_timestamp) AS sent FROM {RAW_EVENTS.fqn()} GROUP BY event_id),
        first_commit AS (SELECT min(finished_at) AS at FROM gold_runs WHERE finished_at >= TIMESTAMP '{cutoff}'),
        latency AS (
          SELECT CAST((unix_millis(g.finished_at) - unix_millis(b.sent)) / 1000.0 AS DOUBLE) AS seconds,
                 b.sent > f.at AS after_first
          FROM {SILVER_EVENTS.fqn()} s
          CROSS JOIN first_commit f
          JOIN first_sent b ON s.event_id = b.event_id
          JOIN silver_runs r ON s.processed_at = r.started_at
          JOIN gold_runs g ON g.run_id = r.run_id
          WHERE b.sent >= TIMESTAMP '{cutoff}' AND s.is_valid)
        SELECT count(*) AS events, percentile_approx(seconds, 0.5) AS p50,
               percentile_approx(seconds, 0.95) AS p95, min(seconds) AS min,
               max(seconds) AS max, count_if(after_first) AS events_after_first_cycle,
               percentile_approx(CASE WHEN after_first THEN seconds END, 0.95) AS p95_after_first_cycle
        FROM latency
        """
    ).collect()[0]
    return {k: (round(float(v), 1) if isinstance(v, float) else v) for k, v in row.asDict().items()}


def dq_summary(spark: Any, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    from pyspark.sql import functions as F

    from wikistream.catalogue import DQ_RESULTS

    if not run_ids:
        return []
    df = spark.table(DQ_RESULTS.fqn()).where(F.col("run_id").isin(list(run_ids)))
    return [
        r.asDict()
        for r in df.select(
            "run_id", "layer", "check_name", "level", "status", "metric", "threshold"
        ).collect()
    ]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from local_runtime.inspect import format_table

    print(format_table(headers, rows), flush=True)


def run(options: RunOptions) -> int:
    """The whole local run; returns the process exit code."""
    from local_runtime.dashboard import render_dashboard
    from wikistream import metrics as m
    from wikistream.queries import NAMED_QUERIES, render

    data_dir = options.data_dir.resolve()
    run_number = _next_run_number(data_dir)
    print(f"WikiStream local run #{run_number}: data in {data_dir}", flush=True)
    console = None
    if options.console_port is not None:
        from local_runtime.console.server import Console

        template = data_dir / "cdk.out" / f"WikiStream-{ASL_ENV}.template.json"
        console = Console(data_dir, run_number=run_number, template_path=template, port=options.console_port)
        print(f"console: {console.start().url}", flush=True)
    events_file, manifest = prepare_input(options, run_number)
    print(
        f"input: {events_file}"
        + (f" ({manifest['total']} events, faults {manifest['by_fault']})" if manifest else ""),
        flush=True,
    )
    ok = True
    with LocalPlatform(options) as platform:
        if console is not None:
            platform.console = console.follow(lambda: platform.status.phase, platform.run_started_wall)
            platform.stack.callback(console.close)
        # Three independent start-ups at once: the broker's JVM, `cdk synth` (node + python)
        # and the job server's JVM. Then the bronze JVM starts while the pre-warm cycle runs.
        broker = platform.launch_broker()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="synth") as pool:
            synthesized = pool.submit(platform.synthesized_definition)
            platform.start_spark()
            baseline = bronze_baseline(platform.spark)
            definition = synthesized.result()
        platform.broker_ready(broker)
        print(
            f"state machine: {len(definition['States'])} states from the synthesized CDK template", flush=True
        )
        platform.start_bronze(broker)
        prewarm_cycle = platform.prewarm(definition) if options.prewarm else None
        platform.start_replay(broker, events_file, run_number)
        platform.wait_until(lambda: platform.status.bronze > 0, "the first bronze commit", 240)
        platform.status.phase = "cycles"
        report = platform.drive_cycles(definition, run_number)

        platform.status.phase = "drain"
        producer = platform.producer
        assert producer is not None
        platform.wait_until(lambda: producer.poll() is not None, "the producer to send every event", 300)
        stats = json.loads(platform.producer_stats.read_text()) if platform.producer_stats.exists() else {}
        # What bronze must hold, counted from the replayed file itself (any input, no manifest).
        config = load_config("local")
        facts = analyse_file(
            events_file, bounds=TimeBounds.of(config.pipeline), max_bytes=config.producer.max_event_bytes
        )

        def landed() -> BronzeFacts:
            return bronze_facts(
                rows_since(platform.spark, RAW_EVENTS.fqn(), baseline.raw_events),
                rows_since(platform.spark, DEAD_LETTERS.fqn(), baseline.dead_letters),
            )

        try:
            platform.wait_until(
                lambda: caught_up(landed(), facts, stats), "bronze to land every produced event", 180
            )
        except TimeoutError as exc:
            print(f"\nWARNING: {exc}", flush=True)
        bronze_landed = landed()
        bronze = bronze_counts(platform.spark, baseline)
        platform._stop.set()
        sent = platform.server.sent_unique if platform.server else 0

        print("\n\n== Every event accounted for", flush=True)
        rows = reconciliation(sent, stats, bronze_landed, facts)
        if manifest is not None:
            rows += manifest_rows(manifest, stats, bronze_landed)
        print_table(
            ("what", "count", "expectation", "ok"), [(w, c, e, "yes" if h else "NO") for w, c, e, h in rows]
        )
        ok = ok and all(h for *_, h in rows)
        print(f"dead letters by rule: {json.dumps(bronze['dead_letters_by_rule'], sort_keys=True)}")

        print("\n== Cycles (the synthesized state machine, executed locally)", flush=True)
        print_table(
            ("execution", "status", "seconds", "states visited"),
            [
                (e["name"], e["status"], e["duration_s"], " > ".join(e["states"]))
                for e in report["executions"]
            ],
        )
        completed = [e for e in report["executions"] if e["completed"]]
        if report.get("unexpected_failure"):
            ok = False
            print(f"cycle {report['unexpected_failure']} FAILED without an injected fault:", flush=True)
            for alert in report["alerts"]:
                print(f"SNS alert — subject: {alert['subject']}\n{alert['message']}", flush=True)
        if len(completed) < options.cycles:
            ok = False
            print(f"only {len(completed)} of {options.cycles} cycles completed", flush=True)
        dq = dq_summary(platform.spark, [e["name"] for e in report["executions"]])
        print("\n== Data-quality results per gate", flush=True)
        per_gate: dict[tuple[str, str], list[int]] = {}
        for r in dq:
            counts = per_gate.setdefault((r["run_id"], r["layer"]), [0, 0, 0])
            counts[0 if r["status"] == "PASS" else (1 if r["level"] == "WARNING" else 2)] += 1
        print_table(
            ("cycle", "gate", "passed", "warnings", "errors"),
            [(k[0], k[1], *v) for k, v in sorted(per_gate.items())],
        )

        fresh = freshness(platform.spark, datetime.fromtimestamp(platform.run_started_wall, timezone.utc))
        steady = (
            f"; p95 {fresh['p95_after_first_cycle']} s over the {fresh['events_after_first_cycle']} "
            "sent after the first cycle's commit"
            if fresh["events_after_first_cycle"]
            else ""  # the replay ended before the first commit: no steady-state subset
        )
        print(
            f"\n== Freshness (producer send -> gold.hourly_stats commit): p50 {fresh['p50']} s, p95 {fresh['p95']} s, "
            f"max {fresh['max']} s over {fresh['events']} events{steady}",
            flush=True,
        )

        for name in ("top_domains", "risk_leaderboard"):
            print(f"\n== gold: {NAMED_QUERIES[name].description}", flush=True)
            df = platform.spark.sql(render(NAMED_QUERIES[name], "lake"))
            print_table(df.columns, [tuple(r) for r in df.limit(8).collect()])

        if report["fault"]:
            print(f"\n== Fault injected: {', '.join(report['fault'])}", flush=True)
            failed = [e for e in report["executions"] if e["status"] == "FAILED"]
            caught = bool(failed) and not report.get("fault_missed")
            untouched = report.get("gold_before") == report.get("gold_after")
            print(
                f"caught by a gate: {'yes' if caught else 'NO'}; loop halted: {'yes' if caught else 'NO'}; "
                f"gold untouched (same snapshot ids): {'yes' if untouched else 'NO'}"
            )
            for alert in report["alerts"]:
                print(f"\nSNS alert — subject: {alert['subject']}\n{alert['message']}")
            ok = ok and caught and untouched
        alerts_file = platform.alerts_path
        alerts_file.parent.mkdir(parents=True, exist_ok=True)
        with alerts_file.open("a", encoding="utf-8") as handle:
            for alert in report["alerts"]:
                handle.write(json.dumps({"run": run_number, **alert}) + "\n")

        summary = {
            "run": run_number,
            "events_file": str(events_file),
            "accounting": {w: c for w, c, _, _ in rows},
            "ok": ok,
            "cycle_times_s": [e["duration_s"] for e in completed],
            "freshness_s": fresh,
        }
        record = {
            "summary": summary,
            "cycles": completed,
            "prewarm": prewarm_cycle,
            "dq_results": dq,
            "executions": report["executions"],
            "alerts": report["alerts"],
            "fault": report["fault"],
            "fault_missed": bool(report.get("fault_missed")),
            "gold_before": report.get("gold_before"),
            "gold_after": report.get("gold_after"),
            "bronze": bronze,
            "producer": stats,
            "manifest": manifest,
        }
        runs_dir = data_dir / "runs"
        (runs_dir / f"run-{run_number:04d}.json").write_text(json.dumps(record, indent=2, default=str))
        (runs_dir / "latest.json").write_text(json.dumps(record, indent=2, default=str))
        page = render_dashboard(
            data_dir / "dashboard",
            [r for r in m.read_local_metrics(platform.metrics_path) if r["ts"] >= platform.run_started_wall],
            completed,
            dq,
            summary,
        )
        print(f"\nlocal dashboard: {page}")
        if console is not None:
            console.set_done(ok)
            print(f"console snapshot (opens offline): {console.write_snapshot(data_dir / 'console')}")
        print(f"alerts: {alerts_file}")
        print(f"result: {'OK' if ok else 'PROBLEMS (see above)'}", flush=True)
    return 0 if ok else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``make run``."""
    options = parse_args(argv)

    def _terminate(signum: int, _frame: Any) -> None:
        # SIGTERM would otherwise end the process without running any cleanup,
        # orphaning the broker, producer and bronze JVMs.
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    try:
        return run(options)
    except KeyboardInterrupt:
        print("\ninterrupted: every component was stopped; local data is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
