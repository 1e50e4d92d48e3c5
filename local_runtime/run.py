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

import json
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from local_runtime.accounting import bronze_baseline, bronze_counts, rows_since
from local_runtime.cycles import drive_cycles
from local_runtime.options import RunOptions, parse_args
from local_runtime.platform import ASL_ENV, LocalPlatform
from local_runtime.reconcile import BronzeFacts, analyse_file, bronze_facts, caught_up
from local_runtime.report import RunResult, report
from local_runtime.run_input import next_run_number, prepare_input
from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS
from wikistream.config import load_config
from wikistream.events import TimeBounds


def run(options: RunOptions) -> int:
    """The whole local run; returns the process exit code."""
    data_dir = options.data_dir.resolve()
    run_number = next_run_number(data_dir)
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
        cycles = drive_cycles(platform, definition, run_number)

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
        result = RunResult(
            run_number=run_number,
            events_file=events_file,
            manifest=manifest,
            cycles=cycles,
            prewarm_cycle=prewarm_cycle,
            producer_stats=stats,
            facts=facts,
            bronze_landed=bronze_landed,
            bronze=bronze,
            sent=platform.server.sent_unique if platform.server else 0,
        )
        ok = report(platform, result, console)
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
