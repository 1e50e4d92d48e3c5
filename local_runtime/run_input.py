"""The events one `make run` replays: a recorded file, or freshly generated events whose
times end now; and the run's number, which names its files."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from local_runtime.options import LIVE_RATE_PER_S, RunOptions


def next_run_number(data_dir: Path) -> int:
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
    from local_runtime.generator import FaultRates, start_ending_at, write_ndjson

    seed = options.seed if options.seed is not None else 1000 + run_number
    rate = options.rate or LIVE_RATE_PER_S
    # Event times end "now", as if the stream were live, so freshness checks are meaningful.
    start = start_ending_at(datetime.now(timezone.utc), options.events, rate)
    path = options.data_dir / "input" / f"run-{run_number:04d}-seed-{seed}.ndjson"
    path.parent.mkdir(parents=True, exist_ok=True)
    faults = FaultRates.parse(options.data_faults) if options.data_faults else FaultRates()
    manifest = write_ndjson(path, options.events, seed=seed, start=start, rate_per_s=rate, faults=faults)
    return path, json.loads(Path(str(path) + ".manifest.json").read_text()) if manifest else None
