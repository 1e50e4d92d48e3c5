"""The options of `make run`: what one local run does, parsed from its command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from wikistream.config import DQ_ENGINES, load_config

#: Where the live console listens by default (local_runtime/console).
DEFAULT_CONSOLE_PORT = 8765
LIVE_RATE_PER_S = 50.0
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
