"""`make reliability`: the fault scenarios, each measured against an independent expectation.

Every scenario runs the real components (the local Apache Kafka broker, SSE replay
server, producer and bronze as subprocesses — bronze reading Spark's Kafka source, as on
EMR — and Spark + Iceberg in one shared session) and compares what came out with what
the generator says went in (its per-line labels / manifest), never with the pipeline's
own output. One table is printed:

| # | scenario | promise |
|---|---|---|
| 1 | bronze SIGKILLed >= 5 times (2 via the commit crash hook) | exactly once |
| 2 | producer: SSE drop every N events + SIGKILL/restart, then bronze | no loss; bronze exactly once |
| 3 | broker SIGKILLed and restarted mid-stream (producer and bronze running) | no loss; bronze exactly once |
| 4 | maintenance (compaction) while appends commit concurrently | exactly once |
| 5 | silver + gold replayed on the same inputs | idempotent |
| 6 | DQ fault matrix (local_runtime/kit/dq_matrix.py) | each fault caught by its gate |

Sizes: ``full`` (>= 200k events for scenario 1; tens of minutes) and ``ci`` (<= 10k
events per scenario). ``--only 2 4`` runs a subset.

    python -m bench.reliability [--size full|ci] [--only N ...] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from bench.scenarios.broker_restart import broker_restart
from bench.scenarios.bronze_crash import bronze_crash
from bench.scenarios.common import ScenarioResult
from bench.scenarios.dq_fault_matrix import dq_fault_matrix
from bench.scenarios.maintenance_conflict import maintenance_conflict
from bench.scenarios.producer_faults import producer_faults
from bench.scenarios.replayed_cycle import replayed_cycle


@dataclass(frozen=True)
class Sizes:
    bronze_events: int
    producer_events: int
    broker_events: int
    maintenance_batches: int
    cycle_events: int
    #: A random SIGKILL lands this long (uniform) after the run's first batch commit.
    bronze_kill_s: Tuple[float, float]


SIZES: Dict[str, Sizes] = {
    "full": Sizes(200_000, 100_000, 50_000, 40, 20_000, (1.0, 8.0)),
    "ci": Sizes(8_000, 8_000, 6_000, 8, 2_000, (0.5, 4.0)),
}


def _cell(value: Optional[int]) -> str:
    return "-" if value is None else f"{value:,}"


def render_table(results: Sequence[ScenarioResult]) -> str:
    """The one table: scenario, events in/out, duplicates, losses, result + note."""
    header = ("scenario", "events in", "events out", "duplicates", "losses", "result")
    rows = [
        (
            r.scenario,
            _cell(r.events_in),
            _cell(r.events_out),
            _cell(r.duplicates),
            _cell(r.losses),
            f"{r.result}: {r.note} ({r.seconds:.0f}s)",
        )
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def _timed(fn: Callable[[], ScenarioResult]) -> ScenarioResult:
    began = time.monotonic()
    try:
        result = fn()
    except Exception as exc:  # a crashed scenario is a FAIL row, not a lost table
        result = ScenarioResult(
            "?", fn.__name__, 0, 0, None, None, False, f"error: {type(exc).__name__}: {exc}"[:200]
        )
    return replace(result, seconds=time.monotonic() - began)


# --------------------------------------------------------------------------- driver

SCENARIOS = ("1", "2", "3", "4", "5", "6")
SPARK_SCENARIOS = ("4", "5", "6")


def _session(warehouse: Path) -> Any:
    from local_runtime.submit import ALL_JOBS, LocalResources, start_session

    return start_session(
        "wikistream-reliability",
        warehouse,
        jobs=ALL_JOBS,
        resources=LocalResources(shuffle_partitions=2, driver_memory="2g"),
    )


def run(
    size: str = "full",
    only: Optional[Sequence[str]] = None,
    spark: Any = None,
    work_dir: Optional[Path] = None,
    echo: Callable[[str], None] = lambda _: None,
) -> List[ScenarioResult]:
    """Run the scenarios (all, or ``only``) at ``size``; one shared SparkSession for 4-6.

    ``spark``: an existing session to use (tests pass theirs); otherwise one is built in a
    throw-away warehouse and stopped at the end. ``work_dir`` is kept if given.
    """
    sizes = SIZES[size]
    wanted = [s for s in SCENARIOS if only is None or s in only]
    root = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="reliability-"))
    root.mkdir(parents=True, exist_ok=True)
    own_spark = spark is None and any(s in SPARK_SCENARIOS for s in wanted)
    if own_spark:
        spark = _session(root / "warehouse")
    calls: Dict[str, Callable[[], ScenarioResult]] = {
        "1": lambda: bronze_crash(sizes.bronze_events, _fresh(root / "s1"), sizes.bronze_kill_s),
        "2": lambda: producer_faults(sizes.producer_events, _fresh(root / "s2")),
        "3": lambda: broker_restart(sizes.broker_events, _fresh(root / "s3")),
        "4": lambda: maintenance_conflict(spark, sizes.maintenance_batches, _fresh(root / "s4")),
        "5": lambda: replayed_cycle(spark, sizes.cycle_events, _fresh(root / "s5")),
        "6": lambda: dq_fault_matrix(spark, _fresh(root / "s6")),
    }
    results: List[ScenarioResult] = []
    try:
        for key in wanted:
            echo(f"scenario {key} ...")
            result = _timed(calls[key])
            results.append(replace(result, key=key))
            echo(f"scenario {key}: {result.result} in {result.seconds:.0f}s")
    finally:
        if own_spark:
            spark.stop()
        if work_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return results


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the suite, print the table; exit 1 if any scenario failed its promise."""
    parser = argparse.ArgumentParser(prog="bench.reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--only", nargs="*", choices=SCENARIOS, default=None)
    parser.add_argument("--work-dir", type=Path, default=None, help="kept for inspection if given")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    results = run(args.size, args.only, work_dir=args.work_dir, echo=lambda s: print(s, flush=True))
    print(render_table(results))
    if args.json:
        rows = [{**r.__dict__, "result": r.result} for r in results]
        args.json.write_text(json.dumps(rows, indent=2, default=str))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
