"""The generator proper: a seeded stream of events with faults injected at their rates
(:func:`generate`), written as NDJSON with its manifest (:func:`write_ndjson`)."""

from __future__ import annotations

import bisect
import itertools
import json
import math
import random
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Deque, Dict, Iterator, List, Optional, Tuple

from local_runtime.generator.events import _Clock, _EventFactory
from local_runtime.generator.faulting import _DRIFT, _WRONG_TYPES, _has, _malformed, _remove, _set
from local_runtime.generator.labels import (
    _DUPLICATE_WINDOW,
    _EPOCH,
    _JSON,
    _WRITE_BATCH,
    DEFAULT_RATE_PER_S,
    DEFAULT_START,
    EXPECT_DUPLICATE,
    EXPECT_FILTERED_DOMAIN,
    EXPECT_VALID,
    NO_FAULTS,
    FaultRates,
    Manifest,
    Record,
    dead_letter,
    faults_path,
    manifest_path,
)
from local_runtime.generator.pools import _Pools
from wikistream.config import ProducerConfig
from wikistream.events import REQUIRED_FIELDS, RULE_FUTURE_EVENT, RULE_MALFORMED_JSON, RULE_OVERSIZED


class _Generator:
    """The generation loop's state; :func:`generate` is its public face."""

    def __init__(self, n: int, seed: int, start: datetime, rate_per_s: float, faults: FaultRates) -> None:
        self.n = n
        self.rng = random.Random(seed)  # noqa: S311 - seeded on purpose: reproducible data
        self.clock = _Clock(start, rate_per_s)
        self.pools = _Pools(seed, start.year)
        self.factory = _EventFactory(self.pools, self.rng)
        self.max_bytes = ProducerConfig().max_event_bytes
        names, rates = (
            zip(*[(k, v) for k, v in faults.as_dict().items() if v > 0]) if faults.total() else ((), ())
        )
        self.fault_names: Tuple[str, ...] = tuple(names)
        self.fault_cum: List[float] = list(itertools.accumulate(rates))
        self.fault_total = self.fault_cum[-1] if self.fault_cum else 0.0
        self.recent: Deque[Tuple[str, str]] = deque(maxlen=_DUPLICATE_WINDOW)
        self.rotation: Dict[str, int] = dict.fromkeys(FaultRates.names(), 0)

    def _draw_fault(self) -> Optional[str]:
        if not self.fault_total:
            return None
        u = self.rng.random()
        if u >= self.fault_total:
            return None
        return self.fault_names[min(bisect.bisect(self.fault_cum, u), len(self.fault_names) - 1)]

    def _next_rotation(self, fault: str) -> int:
        k = self.rotation[fault]
        self.rotation[fault] = k + 1
        return k

    def records(self) -> Iterator[Tuple[Record, int]]:
        """Yield ``(record, event time in µs)`` for each of the ``n`` lines."""
        rng, clock, factory = self.rng, self.clock, self.factory
        for slot in range(self.n):
            t_us = clock.at(slot)
            fault = self._draw_fault()
            if fault == "duplicate":
                if self.recent:
                    line, event_id = self.recent[int(rng.random() * len(self.recent))]
                    yield Record(line, event_id, fault, EXPECT_DUPLICATE), t_us
                    continue
                fault = None  # nothing to duplicate yet: emit a clean event instead
            if fault is None:
                ev = factory.event(t_us, clock)
                line = _JSON(ev)
                event_id = ev["meta"]["id"]
                self.recent.append((line, event_id))
                yield Record(line, event_id, None, EXPECT_VALID), t_us
                continue
            yield self._faulted(fault, t_us)

    def _faulted(self, fault: str, t_us: int) -> Tuple[Record, int]:
        rng, clock, factory = self.rng, self.clock, self.factory
        if fault == "late":
            t_us -= rng.randint(3600, 36 * 3600) * 1_000_000 + rng.randrange(1_000_000)
        elif fault == "future":
            # A day or more ahead: beyond pipeline.max_clock_skew_seconds of any receive
            # time within the file's own span (up to a day), however late a replay starts.
            t_us += rng.randint(26 * 3600, 48 * 3600) * 1_000_000 + rng.randrange(1_000_000)
        domain = None
        if fault == "unknown_domain":
            domain = factory.p.unknown_domains[self._next_rotation(fault) % len(factory.p.unknown_domains)]
        ev = factory.event(t_us, clock, domain)
        event_id: Optional[str] = ev["meta"]["id"]
        expected = EXPECT_VALID
        if fault == "unknown_domain":
            expected = EXPECT_FILTERED_DOMAIN
        elif fault == "future":
            expected = dead_letter(RULE_FUTURE_EVENT)
        elif fault == "schema_drift":
            _DRIFT[self._next_rotation(fault) % len(_DRIFT)](ev, rng)
        elif fault == "missing_required":
            name = REQUIRED_FIELDS[self._next_rotation(fault) % len(REQUIRED_FIELDS)]
            _remove(ev, tuple(name.split(".")))
            expected = dead_letter(f"required:{name}")
            if name == "meta.id":
                event_id = None
        elif fault == "wrong_type":
            k = self._next_rotation(fault)
            path, corrupt = next(
                _WRONG_TYPES[(k + j) % len(_WRONG_TYPES)]
                for j in range(len(_WRONG_TYPES))
                if _has(ev, _WRONG_TYPES[(k + j) % len(_WRONG_TYPES)][0])
            )
            node: Any = ev
            for key in path:
                node = node[key]
            _set(ev, path, corrupt(node))
            expected = dead_letter("type:" + ".".join(path))
        line = _JSON(ev)
        if fault == "oversized":
            # Pad the comment with ASCII (1 byte per character, no JSON escaping) to just
            # past the producer's limit, as a pasted article in an edit summary would.
            need = self.max_bytes - len(line.encode("utf-8")) + 1 + rng.randrange(4096)
            filler = self.pools.filler
            pad = (filler * (need // len(filler) + 1))[:need]
            ev["comment"] = ev["comment"] + pad
            line = _JSON(ev)
            assert len(line.encode("utf-8")) > self.max_bytes
            expected = dead_letter(RULE_OVERSIZED)
        elif fault == "malformed_json":
            line = _malformed(line, ev, self._next_rotation(fault) % 5, rng)
            event_id, expected = None, dead_letter(RULE_MALFORMED_JSON)
        if expected == EXPECT_VALID:
            self.recent.append((line, ev["meta"]["id"]))
        return Record(line, event_id, fault, expected), t_us


def _check_args(n: int, rate_per_s: float) -> None:
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not (rate_per_s > 0 and math.isfinite(rate_per_s)):
        raise ValueError(f"rate_per_s must be a positive number, got {rate_per_s}")


def _timed_records(
    n: int, seed: int, start: Optional[datetime], rate_per_s: float, faults: FaultRates
) -> Iterator[Tuple[Record, int]]:
    _check_args(n, rate_per_s)
    return _Generator(n, seed, start or DEFAULT_START, rate_per_s, faults).records()


def start_ending_at(end: datetime, n: int, rate_per_s: float = DEFAULT_RATE_PER_S) -> datetime:
    """The ``start`` at which ``n`` lines at ``rate_per_s`` end at ``end``.

    Generated event times must be recent, as a live stream's are: the producer and bronze
    dead-letter events older than ``pipeline.late_event_bound_hours``, and the generator's
    fixed :data:`DEFAULT_START` is.
    """
    return end - timedelta(seconds=n / rate_per_s)


def generate(
    n: int,
    seed: int = 7,
    start: Optional[datetime] = None,
    rate_per_s: float = DEFAULT_RATE_PER_S,
    faults: FaultRates = NO_FAULTS,
) -> Iterator[Record]:
    """Stream ``n`` records (one per line), deterministic in ``seed``.

    Line ``i`` (0-based) is stamped ``start + i / rate_per_s`` (late/future faults shift
    it; a duplicate repeats an earlier line verbatim). ``start`` defaults to
    2026-11-01T00:00:00Z; a naive ``start`` is taken as UTC.
    """
    return (record for record, _ in _timed_records(n, seed, start, rate_per_s, faults))


def _iso(t_us: int) -> str:
    return (_EPOCH + timedelta(microseconds=t_us)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_ndjson(
    path: Path,
    n: int,
    seed: int = 7,
    start: Optional[datetime] = None,
    rate_per_s: float = DEFAULT_RATE_PER_S,
    faults: FaultRates = NO_FAULTS,
) -> Manifest:
    """Write ``n`` lines to ``path`` (UTF-8 NDJSON), the manifest to
    ``<path>.manifest.json`` and the fault sidecar to ``<path>.faults.ndjson``.

    Memory stays constant in ``n``; counts are tallied while streaming.
    """
    path = Path(path)
    manifest = Manifest(seed=seed, rate_per_s=rate_per_s, faults=faults.as_dict())
    min_valid = max_valid = None
    buffer: List[str] = []
    with (
        path.open("w", encoding="utf-8", newline="\n") as out,
        faults_path(path).open("w", encoding="utf-8", newline="\n") as side,
    ):
        line_no = 0
        for line_no, (record, t_us) in enumerate(_timed_records(n, seed, start, rate_per_s, faults), start=1):
            buffer.append(record.line)
            manifest.bytes += len(record.line.encode("utf-8")) + 1
            if len(buffer) >= _WRITE_BATCH:
                out.write("\n".join(buffer) + "\n")
                buffer.clear()
            manifest.expected[record.expected] = manifest.expected.get(record.expected, 0) + 1
            if record.expected == EXPECT_VALID:
                # Fresh ids are 122 random bits: distinct valid lines are distinct ids.
                manifest.valid_unique += 1
                min_valid = t_us if min_valid is None or t_us < min_valid else min_valid
                max_valid = t_us if max_valid is None or t_us > max_valid else max_valid
            if record.fault is not None:
                manifest.by_fault[record.fault] = manifest.by_fault.get(record.fault, 0) + 1
                side.write(
                    _JSON(
                        {
                            "line_no": line_no,
                            "fault": record.fault,
                            "event_id": record.event_id,
                            "expected": record.expected,
                        }
                    )
                    + "\n"
                )
        if buffer:
            out.write("\n".join(buffer) + "\n")
        manifest.total = line_no
    if n:
        clock = _Clock(start or DEFAULT_START, rate_per_s)
        manifest.first_event_time = _iso(clock.at(0))
        manifest.last_event_time = _iso(clock.at(n - 1))
    if min_valid is not None and max_valid is not None:
        manifest.min_valid_event_time, manifest.max_valid_event_time = _iso(min_valid), _iso(max_valid)
    manifest.by_fault = dict(sorted(manifest.by_fault.items()))
    manifest.expected = dict(sorted(manifest.expected.items()))
    manifest_path(path).write_text(json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8")
    return manifest
