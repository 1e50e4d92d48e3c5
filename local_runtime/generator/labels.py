"""What the generator promises about each line: the fault kinds and their rates, the
expected outcome per line (:class:`Record`), the run's :class:`Manifest`, and the constants
the rest of the generator draws from."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, NamedTuple, Optional, Tuple

DEFAULT_START = datetime(2026, 11, 1, tzinfo=timezone.utc)
DEFAULT_RATE_PER_S = 50.0

#: Expected outcomes (``Record.expected``) other than ``dead_letter:<rule>``.
EXPECT_VALID = "valid"
EXPECT_DUPLICATE = "duplicate"
EXPECT_FILTERED_DOMAIN = "filtered:domain_not_allowed"
DEAD_LETTER_PREFIX = "dead_letter:"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_SCHEMA_URI = "/mediawiki/recentchange/1.0.0"

# Mix of the real stream (rounded from a day of stream.wikimedia.org recentchange).
_TYPE_WEIGHTS: Dict[str, float] = {"categorize": 50, "edit": 31, "new": 8, "log": 10, "external": 1}
_DOMAIN_WEIGHTS: Dict[str, float] = {
    "commons.wikimedia.org": 30,
    "www.wikidata.org": 25,
    "en.wikipedia.org": 12,
    "de.wikipedia.org": 4,
    "fr.wikipedia.org": 3.5,
    "es.wikipedia.org": 3,
    "ja.wikipedia.org": 2.5,
    "ru.wikipedia.org": 2.5,
    "it.wikipedia.org": 2,
    "zh.wikipedia.org": 1.8,
    "pt.wikipedia.org": 1.5,
    "pl.wikipedia.org": 1.3,
    "nl.wikipedia.org": 1.2,
    "uk.wikipedia.org": 1.1,
    "fa.wikipedia.org": 1,
    "ar.wikipedia.org": 1,
    "meta.wikimedia.org": 1,
    "sv.wikipedia.org": 0.8,
    "id.wikipedia.org": 0.8,
    "vi.wikipedia.org": 0.7,
    "he.wikipedia.org": 0.7,
    "tr.wikipedia.org": 0.7,
    "ko.wikipedia.org": 0.6,
    "hi.wikipedia.org": 0.4,
    "species.wikimedia.org": 0.3,
}
#: Share of events per editor class (``bot`` means ``bot: true``).
_EDITOR_WEIGHTS: Dict[str, float] = {"bot": 15, "registered": 62, "temporary": 10, "ipv4": 8, "ipv6": 5}
#: Real wikis that are NOT in the allow-list: the ``unknown_domain`` fault uses them.
_UNKNOWN_DOMAINS: Tuple[str, ...] = (
    "ca.wikipedia.org",
    "sr.wikipedia.org",
    "xx.wikipedia.org",
    "en.wiktionary.org",
    "de.wikibooks.org",
    "zh-min-nan.wikipedia.org",
    "test.wikipedia.org",
)

_LARGE_ADD_P = 0.004  # edits adding > 50,000 bytes (pastes, imports)
_LARGE_DEL_P = 0.008  # edits removing > 5,000 bytes (blanking, vandalism)
_LOG_WITHOUT_ID_P = 0.25
_BURST_START_P = 1 / 4000  # a burst starts on average every 4,000 events
_BURST_OWN_P = 0.6  # share of slots inside a burst taken by the burst user
_DUPLICATE_WINDOW = 1000  # ring buffer of recent valid lines the duplicates come from
# Lines joined per write: large enough to amortise the call, small enough that the joined
# string (UCS-4 when a line holds CJK text) stays a few MB.
_WRITE_BATCH = 256


# --------------------------------------------------------------------------- faults


@dataclass(frozen=True)
class FaultRates:
    """Probability per line of each injected fault; at most one fault per line.

    Each rate is in [0, 1] and their sum is at most 1.
    """

    malformed_json: float = 0.0
    missing_required: float = 0.0
    wrong_type: float = 0.0
    duplicate: float = 0.0
    late: float = 0.0
    future: float = 0.0
    unknown_domain: float = 0.0
    oversized: float = 0.0
    schema_drift: float = 0.0

    def __post_init__(self) -> None:
        for name, rate in self.as_dict().items():
            if isinstance(rate, bool) or not isinstance(rate, (int, float)):
                raise ValueError(f"fault rate {name}: expected a number, got {rate!r}")
            # Written as a negation so NaN is rejected too.
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate {name}={rate}: must be between 0 and 1")
        total = self.total()
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault rates sum to {total:g}; the sum must be at most 1")

    @classmethod
    def names(cls) -> Tuple[str, ...]:
        """The fault names, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def parse(cls, spec: Optional[str]) -> FaultRates:
        """Parse ``"duplicate=0.02,malformed_json=0.01"``; empty or ``None`` means no faults."""
        rates: Dict[str, float] = {}
        for part in (spec or "").split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, value = part.partition("=")
            name = name.strip()
            if not sep:
                raise ValueError(f"fault spec {part!r}: expected name=rate")
            if name not in cls.names():
                raise ValueError(f"unknown fault {name!r}; known faults: {', '.join(cls.names())}")
            if name in rates:
                raise ValueError(f"fault {name!r} given more than once")
            try:
                rates[name] = float(value)
            except ValueError:
                raise ValueError(f"fault {name}: rate {value.strip()!r} is not a number") from None
        return cls(**rates)

    def as_dict(self) -> Dict[str, float]:
        return {name: getattr(self, name) for name in self.names()}

    def total(self) -> float:
        return math.fsum(self.as_dict().values())


#: No faults: every line valid (the default of :func:`~local_runtime.generator.generate`).
NO_FAULTS = FaultRates()


class Record(NamedTuple):
    """One generated line and what the pipeline must do with it.

    ``event_id`` is the ``meta.id`` a consumer can read from ``line``: ``None`` when
    the line is not JSON or its ``meta.id`` was removed. ``fault`` is the injected fault
    name or ``None``. ``expected`` is ``valid``, ``duplicate``,
    ``dead_letter:<rule id of wikistream.events>`` or ``filtered:domain_not_allowed``.
    """

    line: str
    event_id: Optional[str]
    fault: Optional[str]
    expected: str


@dataclass
class Manifest:
    """Counts of one generated file, recomputable from the file itself.

    ``first_event_time``/``last_event_time`` are the generator clock at the first and
    last line (ISO-8601 UTC); ``min_valid_event_time``/``max_valid_event_time`` span the
    ``meta.dt`` of lines expected ``valid`` (late events included; future ones are dead letters).
    """

    total: int = 0
    by_fault: Dict[str, int] = field(default_factory=dict)
    expected: Dict[str, int] = field(default_factory=dict)
    valid_unique: int = 0
    first_event_time: Optional[str] = None
    last_event_time: Optional[str] = None
    min_valid_event_time: Optional[str] = None
    max_valid_event_time: Optional[str] = None
    seed: Optional[int] = None
    rate_per_s: Optional[float] = None
    faults: Dict[str, float] = field(default_factory=dict)
    bytes: int = 0

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read a manifest written by :func:`write_ndjson` (pass the manifest's path)."""
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


def manifest_path(out: Path) -> Path:
    """``<out>.manifest.json``: where :func:`write_ndjson` writes the manifest."""
    return Path(f"{out}.manifest.json")


def faults_path(out: Path) -> Path:
    """``<out>.faults.ndjson``: one JSON line per faulted line (1-based ``line_no``)."""
    return Path(f"{out}.faults.ndjson")


def dead_letter(rule: str) -> str:
    """The ``Record.expected`` value of a line the producer must dead-letter with ``rule``."""
    return DEAD_LETTER_PREFIX + rule
