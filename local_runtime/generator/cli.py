"""``python -m local_runtime.generator``: write generated events to an NDJSON file."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Sequence

from local_runtime.generator.labels import (
    DEFAULT_RATE_PER_S,
    DEFAULT_START,
    FaultRates,
    faults_path,
    manifest_path,
)
from local_runtime.generator.stream import _check_args, write_ndjson

# --------------------------------------------------------------------------- CLI


def _parse_start(value: str) -> datetime:
    """ISO-8601 instant; ``Z`` accepted (``fromisoformat`` on 3.9 does not)."""
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--start {value!r} is not an ISO-8601 time") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _parse_faults(value: str) -> FaultRates:
    try:
        return FaultRates.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_runtime.generator",
        description="Write synthetic mediawiki/recentchange events (NDJSON) with a manifest and fault sidecar.",
    )
    parser.add_argument("--events", type=int, required=True, help="number of lines to write")
    parser.add_argument("--seed", type=int, default=7, help="RNG seed (same seed -> identical file)")
    parser.add_argument("--out", type=Path, required=True, help="output NDJSON path")
    parser.add_argument(
        "--rate", type=float, default=DEFAULT_RATE_PER_S, help="events per second of event time"
    )
    parser.add_argument(
        "--start", type=_parse_start, default=DEFAULT_START, help="first event time (ISO-8601)"
    )
    parser.add_argument(
        "--faults",
        type=_parse_faults,
        default=FaultRates(),
        help=f"comma-separated name=rate; names: {', '.join(FaultRates.names())}",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI entry point: write the file, print the manifest and the measured speed."""
    parser = _arg_parser()
    args = parser.parse_args(argv)
    try:
        _check_args(args.events, args.rate)
    except ValueError as exc:
        parser.error(str(exc))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    manifest = write_ndjson(args.out, args.events, args.seed, args.start, args.rate, args.faults)
    elapsed = time.perf_counter() - began
    summary = {
        "out": str(args.out),
        "manifest": str(manifest_path(args.out)),
        "faults_sidecar": str(faults_path(args.out)),
        **manifest.to_dict(),
        "elapsed_s": round(elapsed, 3),
        "events_per_s": round(manifest.total / elapsed) if elapsed > 0 else None,
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
