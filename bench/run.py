"""`make bench`: every benchmark in one run, each in a fresh process, ratios printed.

Targets are ratios measured within one run (our machines are shared and noisy), plus the
absolute numbers the issues ask for. Results go to ``bench/results/latest.json``.

    python -m bench.run              # full sizes (about 20-40 minutes on 2 cores)
    python -m bench.run --quick      # small sizes, a smoke run (a few minutes)
    python -m bench.run --only producer dq_gate
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
LIVE_PEAK_EVENTS_PER_S = 50.0


@dataclass(frozen=True)
class Target:
    """One line of the report: a named figure, its value from the results, and its goal."""

    label: str
    value: Callable[[Mapping[str, Any]], float]
    goal: str
    met: Callable[[float], bool]
    #: Context printed after the value (e.g. the two times a ratio is made of).
    detail: Optional[Callable[[Mapping[str, Any]], str]] = None


@dataclass(frozen=True)
class Bench:
    name: str
    call: str  # Python expression evaluated in a fresh process; must return a dict
    quick_call: str
    targets: tuple[Target, ...]


def _cycle_ratio(r: Mapping[str, Any]) -> float:
    sizes = r["results"]
    return float(sizes[-1]["cycle_s"]) / float(sizes[0]["cycle_s"])


BENCHES: tuple[Bench, ...] = (
    Bench(
        "generator",
        "__import__('bench.generator_bench', fromlist=['run']).run(1_000_000, 1)",
        "__import__('bench.generator_bench', fromlist=['run']).run(50_000, 1)",
        (
            Target(
                "generator events/s (wall)",
                lambda r: r["events_per_s_wall"],
                ">= 50,000",
                lambda v: v >= 50_000,
            ),
        ),
    ),
    Bench(
        "producer",
        "__import__('bench.producer_bench', fromlist=['run']).run(200_000)",
        "__import__('bench.producer_bench', fromlist=['run']).run(20_000)",
        (
            Target(
                "producer events/s to the broker (wall)",
                lambda r: r["sink_events_per_s"],
                ">= 50,000",
                lambda v: v >= 50_000,
            ),
            Target(
                "producer x live peak (one core, CPU time)",
                lambda r: r["sink_events_per_loop_cpu_s"] / LIVE_PEAK_EVENTS_PER_S,
                ">= 1000x",
                lambda v: v >= 1000,
            ),
        ),
    ),
    Bench(
        "bronze",
        "__import__('bench.bronze_bench', fromlist=['run']).run(1_000_000)",
        "__import__('bench.bronze_bench', fromlist=['run']).run(50_000)",
        (
            Target("bronze events/s", lambda r: r["bronze_events_per_s"], ">= 25,000", lambda v: v >= 25_000),
            Target(
                "bronze / plain parse+append",
                lambda r: r["ratio"],
                ">= 0.7",
                lambda v: v >= 0.7,
            ),
        ),
    ),
    Bench(
        "bronze_history",
        "__import__('bench.bronze_bench', fromlist=['run_history']).run_history((1_000_000, 10_000_000), 20_000)",
        "__import__('bench.bronze_bench', fromlist=['run_history']).run_history((20_000, 200_000), 4_000)",
        (
            Target(
                "bronze micro-batch: 10M vs 1M rows of history",
                lambda r: r["ratio"],
                "<= 1.1",
                lambda v: v <= 1.1,
            ),
        ),
    ),
    Bench(
        "dq_gate",
        "__import__('bench.dq_bench', fromlist=['run']).run(1_000_000)",
        "__import__('bench.dq_bench', fromlist=['run']).run(50_000, 1)",
        (
            Target(
                "dq engine spark vs deequ (deequ s / spark s, bronze suite, same window)",
                lambda r: r["ratio_deequ_vs_spark"],
                ">= 1 (spark no slower)",
                lambda v: v >= 1,
                lambda r: __import__("bench.dq_bench", fromlist=["headline"]).headline(r),
            ),
        ),
    ),
    Bench(
        "cycle",
        "__import__('bench.cycle_bench', fromlist=['run_sizes']).run_sizes((1_000_000, 10_000_000), 100_000)",
        "__import__('bench.cycle_bench', fromlist=['run_sizes']).run_sizes((20_000, 200_000), 10_000, False)",
        (
            Target(
                "silver+gold cycle: big history / small history", _cycle_ratio, "<= 1.3", lambda v: v <= 1.3
            ),
            Target(
                "silver+gold cycle seconds (small history)",
                lambda r: r["results"][0]["cycle_s"],
                "<= 30 s",
                lambda v: v <= 30,
            ),
        ),
    ),
    Bench(
        "freshness",
        "__import__('bench.run', fromlist=['freshness_run']).freshness_run(60_000, 500)",
        "__import__('bench.run', fromlist=['freshness_run']).freshness_run(6_000, 200)",
        (
            Target(
                "p95 producer send -> gold.hourly_stats commit (steady replay)",
                lambda r: r["freshness_s"]["p95"],
                "<= 60 s",
                lambda v: v <= 60,
            ),
        ),
    ),
    Bench(
        "maintenance",
        "__import__('bench.maintenance_bench', fromlist=['run']).run(200)",
        "__import__('bench.maintenance_bench', fromlist=['run']).run(40)",
        (
            Target(
                "data files after / before compaction",
                lambda r: r["data_files_ratio"],
                "<= 0.05",
                lambda v: v <= 0.05,
            ),
            Target(
                "query results identical (1 = yes)",
                lambda r: float(r["query_equal"]),
                "= 1",
                lambda v: v == 1,
            ),
        ),
    ),
)


def freshness_run(events: int, rate: float) -> dict[str, Any]:
    """`make run` with a steady replay (``rate`` events/s) and short waits; its summary."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="wikistream-freshness-") as data_dir:
        cmd = [
            sys.executable, "-m", "local_runtime.run", "--events", str(events), "--rate", str(rate),
            "--cycles", str(max(3, int(events / rate / 20))), "--wait-seconds", "2", "--data-dir", data_dir, "--quiet",
        ]  # fmt: skip
        subprocess.run(
            cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False, capture_output=True
        )
        record = json.loads((Path(data_dir) / "runs" / "latest.json").read_text())
    return dict(record["summary"])


def run_one(bench: Bench, quick: bool) -> dict[str, Any]:
    """Run one benchmark in a fresh interpreter (its own JVM and warehouse)."""
    code = f"import json\nresult = {bench.quick_call if quick else bench.call}\nprint('@@RESULT ' + json.dumps(result, default=str))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    seconds = round(time.monotonic() - started, 1)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("@@RESULT "):
            return {"ok": True, "seconds": seconds, "result": json.loads(line[len("@@RESULT ") :])}
    return {"ok": False, "seconds": seconds, "error": (proc.stderr or proc.stdout)[-3000:]}


def report_rows(name: str, outcome: Mapping[str, Any], bench: Bench) -> list[tuple[str, str, str, str]]:
    if not outcome["ok"]:
        return [(name, "FAILED to run", "", "see results file")]
    rows = []
    for target in bench.targets:
        try:
            value = float(target.value(outcome["result"]))
        except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError) as exc:
            rows.append((target.label, f"n/a ({exc})", target.goal, "?"))
            continue
        shown = f"{value:,.2f}"
        if target.detail is not None:
            shown += f" [{target.detail(outcome['result'])}]"
        rows.append((target.label, shown, target.goal, "met" if target.met(value) else "NOT met"))
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmarks, print the ratio table, write the machine-readable results."""
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--only", nargs="*", default=None, choices=[b.name for b in BENCHES])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args(argv)
    selected = [b for b in BENCHES if args.only is None or b.name in args.only]
    results: dict[str, Any] = {
        "quick": args.quick,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    table: list[tuple[str, str, str, str]] = []
    for bench in selected:
        print(f"== {bench.name} ...", flush=True)
        outcome = run_one(bench, args.quick)
        results[bench.name] = outcome
        rows = report_rows(bench.name, outcome, bench)
        table.extend(rows)
        for row in rows:
            print(f"   {row[0]}: {row[1]} (target {row[2]}: {row[3]})  [{outcome['seconds']} s]", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))
    from local_runtime.inspect import format_table

    print("\n" + format_table(("figure", "value", "target", "result"), table))
    print(f"\nresults: {args.out}")
    return 0 if all(o.get("ok") for k, o in results.items() if isinstance(o, dict)) else 1


if __name__ == "__main__":
    sys.exit(main())
