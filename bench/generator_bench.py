"""Benchmark of the synthetic event generator: events/s writing NDJSON to a file.

Reports wall-clock and CPU-time rates (the build machines are shared, so the CPU rate
is the steadier number) and the process's peak resident memory (VmHWM), median of
``--repeat`` runs::

    PYTHONPATH=. .venv/bin/python -m bench.generator_bench --events 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from local_runtime.generator import FaultRates, write_ndjson

#: Fault mix of the "with faults" run: every fault, at rates a bad day could show.
DEFAULT_FAULTS = (
    "malformed_json=0.01,missing_required=0.01,wrong_type=0.01,duplicate=0.02,late=0.01,"
    "future=0.01,unknown_domain=0.01,oversized=0.0005,schema_drift=0.01"
)


def _peak_rss_kib() -> Optional[int]:
    """VmHWM of this process (Linux), or ``None`` where /proc is absent."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), None)


def measure(events: int, repeat: int, faults: FaultRates) -> Dict[str, Any]:
    """Write ``events`` lines ``repeat`` times to a temp file; return median rates."""
    walls, cpus = [], []
    size = 0
    with tempfile.TemporaryDirectory(prefix="wikistream-genbench-") as tmp:
        out = Path(tmp) / "events.ndjson"
        for i in range(repeat):
            wall0, cpu0 = time.perf_counter(), time.process_time()
            manifest = write_ndjson(out, events, seed=1000 + i, faults=faults)
            walls.append(time.perf_counter() - wall0)
            cpus.append(time.process_time() - cpu0)
            size = manifest.bytes
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    return {
        "events": events,
        "repeat": repeat,
        "faults": faults.as_dict(),
        "bytes_per_run": size,
        "median_wall_s": round(wall, 3),
        "median_cpu_s": round(cpu, 3),
        "events_per_s_wall": round(events / wall),
        "events_per_s_cpu": round(events / cpu),
        "mib_per_s_wall": round(size / wall / 2**20, 1),
    }


def run(events: int = 1_000_000, repeat: int = 1) -> Dict[str, Any]:
    """``make bench`` entry: rates with the bad-day fault mix (the harder case)."""
    return measure(events, repeat, FaultRates.parse(DEFAULT_FAULTS))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark without and with faults; print one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--faults", default=DEFAULT_FAULTS, help="fault mix of the second run")
    parser.add_argument("--json-out", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    result = {
        "clean": measure(args.events, args.repeat, FaultRates()),
        "with_faults": measure(args.events, args.repeat, FaultRates.parse(args.faults)),
        "peak_rss_kib": _peak_rss_kib(),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
