"""What silver tells gold through the ledger, and the backfill window both jobs accept.

Silver is written with MERGE (``overwrite`` snapshots), so gold cannot read it
incrementally by snapshot range. Instead each silver run records in its ledger
``details`` the hours it changed (``touched_hours``) and the ``processed_at`` stamp it
put on every row it wrote. Gold lists the silver snapshots committed since its last run,
finds the silver runs that produced them, and reads exactly those rows (partition-pruned
to the touched hours, filtered on the stamps): independent of clock skew between runs
and proportional to what changed. See docs/ANALYTICS.md, "Incremental processing".

Python 3.9-compatible.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from spark_jobs.registry import SILVER_BATCH

Hour = Tuple[date, int]

SILVER_JOB = SILVER_BATCH.name
MODE_INCREMENTAL = "incremental"
MODE_BACKFILL = "backfill"


def encode_details(mode: str, hours: Sequence[Hour], processed_at: datetime, **extra: Any) -> Dict[str, Any]:
    """Ledger ``details`` of a silver run."""
    return {
        "mode": mode,
        "touched_hours": [[d.isoformat(), h] for d, h in hours],
        "processed_at": processed_at.astimezone(timezone.utc).isoformat(),
        **extra,
    }


def decode_hours(details: Mapping[str, Any]) -> List[Hour]:
    return [(date.fromisoformat(d), int(h)) for d, h in details.get("touched_hours", [])]


def decode_processed_at(details: Mapping[str, Any]) -> Optional[datetime]:
    raw = details.get("processed_at")
    return datetime.fromisoformat(raw) if raw else None


def _utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def parse_backfill(extra: Sequence[str]) -> Optional[Tuple[datetime, datetime]]:
    """``--backfill-from ISO --backfill-to ISO`` (half-open ``[from, to)``), or ``None``."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--backfill-from", type=_utc, default=None)
    parser.add_argument("--backfill-to", type=_utc, default=None)
    ns, _ = parser.parse_known_args(list(extra))
    if ns.backfill_from is None and ns.backfill_to is None:
        return None
    if ns.backfill_from is None or ns.backfill_to is None:
        raise ValueError("--backfill-from and --backfill-to go together")
    if ns.backfill_from >= ns.backfill_to:
        raise ValueError("--backfill-from must be before --backfill-to")
    return ns.backfill_from, ns.backfill_to
