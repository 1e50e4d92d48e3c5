"""Synthetic ``mediawiki/recentchange`` events: realistic, seeded, streaming, with faults.

The generator stands in for Wikimedia EventStreams wherever the real stream is not
wanted (tests, benchmarks, the local embedded run, replay). It produces events in the
real 1.0.x shapes (see :mod:`wikistream.events`): ``categorize`` events without
``length``/``revision``, ``log`` events sometimes without ``id``, new pages with only
``length.new``/``revision.new``, negative namespaces, IPv4/IPv6/temporary-account
users, bots, large additions/deletions, and bursts where one user edits many wikis in
a few seconds.

Every line comes out as a :class:`Record` that says which fault (if any) was injected
and what the pipeline is expected to do with it (``valid``, ``duplicate``,
``dead_letter:<rule id>`` or ``filtered:domain_not_allowed``). The labels come from
what was injected, never from :func:`wikistream.events.contract_violation`, so tests
can use the contract as an independent check.

Memory is constant in ``n``: events are built and written one at a time; duplicates
are drawn from a bounded ring buffer of recent valid lines. Same seed, same Python →
byte-identical output.

Library::

    from local_runtime.generator import FaultRates, generate, write_ndjson
    manifest = write_ndjson(Path("events.ndjson"), 100_000, seed=7,
                            faults=FaultRates.parse("duplicate=0.02,malformed_json=0.01"))

CLI::

    python -m local_runtime.generator --events 100000 --seed 7 --out events.ndjson \\
        [--rate 50] [--start 2026-11-01T00:00:00Z] [--faults "malformed_json=0.01"]

Local-only: the local run, bench and tests use it; it never ships (not in the EMR code
archive, not in the producer image).
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import itertools
import json
import math
import random
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple
from urllib.parse import quote

from wikistream.config import DOMAINS, EVENT_TYPES, ProducerConfig
from wikistream.events import REQUIRED_FIELDS, RULE_FUTURE_EVENT, RULE_MALFORMED_JSON, RULE_OVERSIZED

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


# ------------------------------------------------------------------------ pools

_NS_PREFIX: Dict[int, str] = {
    -1: "Special:",
    0: "",
    1: "Talk:",
    2: "User:",
    3: "User talk:",
    4: "Project:",
    6: "File:",
    10: "Template:",
    14: "Category:",
    118: "Draft:",
    120: "Property:",
    146: "Lexeme:",
}
# Namespace mix of edits per kind of wiki: wikidata edits items, commons edits files.
_NS_WEIGHTS: Dict[str, Dict[int, float]] = {
    "wikipedia": {0: 70, 1: 5, 2: 5, 3: 6, 4: 3, 10: 4, 14: 3, 6: 2, 118: 2},
    "wikidata": {0: 90, 120: 3, 146: 3, 1: 2, 4: 2},
    "commons": {6: 75, 14: 10, 0: 5, 2: 5, 3: 5},
    "wikimedia": {0: 60, 2: 20, 3: 10, 4: 10},
}
# fmt: off
_LATIN_WORDS: Tuple[str, ...] = (
    "History", "River", "Station", "Church", "Park", "Island", "Battle", "Album", "Football",
    "Club", "School", "Bridge", "Mountain", "Railway", "Festival", "Museum", "Party", "Lake",
    "University", "Castle", "Election", "Song", "Film", "Airport", "District", "Novel"
)
# fmt: on
_WORDS: Dict[str, Tuple[str, ...]] = {
    "latin": _LATIN_WORDS,
    "de": ("Straße", "Müller", "Geschichte", "Bahnhof", "Kirche", "Schloss", "Fußball", "Gemeinde"),
    "fr": ("Église", "Château", "Rivière", "Gare", "Élection", "Bataille", "Musée", "Forêt"),
    "es": ("Año", "España", "Río", "Batalla", "Iglesia", "Estación", "Canción", "Montaña"),
    "pt": ("São Paulo", "Coração", "Rio", "Estação", "Igreja", "Eleição", "Município"),
    "it": ("Città", "Chiesa", "Stazione", "Castello", "Battaglia", "Università", "Canzone"),
    "nl": ("Kerk", "Rivier", "Station", "Gemeente", "Molen", "Slag", "Eiland"),
    "pl": ("Łódź", "Kraków", "Gmina", "Kościół", "Bitwa", "Rzeka", "Zamek", "Wieś"),
    "sv": ("Göteborg", "Kyrka", "Sjö", "Socken", "Järnväg", "Älv", "Slott"),
    "tr": ("İstanbul", "Türkiye", "Savaşı", "Cami", "Nehri", "Köyü", "Şarkı"),  # noqa: RUF001 - Turkish dotless i
    "vi": ("Việt Nam", "Hà Nội", "Sông", "Chùa", "Trận", "Tỉnh", "Huyện"),
    "id": ("Sungai", "Gunung", "Pulau", "Kabupaten", "Stasiun", "Masjid", "Desa"),
    "ru": ("История", "Река", "Москва", "Станция", "Церковь", "Битва", "Альбом", "Район"),
    "uk": ("Історія", "Київ", "Річка", "Станція", "Церква", "Битва", "Село", "Область"),
    "ja": ("東京", "駅", "歴史", "大学", "神社", "戦い", "アルバム", "川", "城"),
    "zh": ("北京", "历史", "车站", "大学", "战役", "河流", "寺", "电影", "县"),
    "ko": ("서울", "역사", "대학교", "전투", "강", "역", "앨범", "군"),
    "ar": ("تاريخ", "نهر", "مسجد", "جامعة", "معركة", "محطة", "مدينة"),
    "fa": ("تاریخ", "رود", "مسجد", "دانشگاه", "نبرد", "ایستگاه", "شهرستان"),
    "he": ("היסטוריה", "נהר", "תחנה", "אוניברסיטה", "קרב", "בית כנסת", "עיר"),
    "hi": ("इतिहास", "नदी", "मंदिर", "विश्वविद्यालय", "युद्ध", "स्टेशन", "ज़िला"),
}
# Real titles that exercise JSON and URL escaping.
_SPECIAL_TITLES: Tuple[str, ...] = (
    '"Weird Al" Yankovic',
    "Don't Stop Me Now",
    "AT&T",
    "C++",
    "100% (song)",
    "AC/DC",
    "Question? (album)",
    "Back\\slash",
)
_COMMENTS: Dict[str, Tuple[str, ...]] = {
    "wikipedia": (
        "",
        "/* History */ fix typo",
        "/* Early life */ added citation",
        "copyedit",
        "+cat",
        "Reverted edits by [[Special:Contributions/203.0.113.7|203.0.113.7]] to last version",
        "Undid revision 1234567 by [[Special:Contributions/Example|Example]] ([[User talk:Example|talk]])",
        "Rescuing 2 sources and tagging 0 as dead.) #IABot (v2.0.9.5",
        "Tippfehler korrigiert",
        "Ортография",
        "修正",
        "→‎top: ajout de références",
    ),
    "wikidata": (
        "/* wbsetclaim-create:2||1 */ [[Property:P31]]: [[Q5]]",
        "/* wbsetdescription-add:1|en */ Wikimedia category",
        "/* wbsetlabel-add:1|de */ Straße",
        "/* wbsetreference-add:2| */ [[Property:P248]]: [[Q36578]]",
        "/* wbeditentity-update:0| */ #quickstatements; [[:toollabs:quickstatements/#/batch/12345|batch #12345]]",
        "/* wbremoveclaims-remove:1| */ [[Property:P18]]: Example.jpg",
    ),
    "commons": (
        "/* wbeditentity-update:0| */ add structured data",
        "Uploaded a work by [[User:Example|Example]] from Flickr with UploadWizard",
        "/* wbsetclaim-create:2||1 */ [[d:Special:EntityPage/P180]]: [[d:Special:EntityPage/Q146]]",
        "Removed [[Category:Uncategorized]]",
        "",
    ),
    "wikimedia": ("", "/* Request */ reply", "[[m:Special:MyLanguage/Tech/News|Tech News]] delivery"),
}
# fmt: off
_BOT_NAMES: Tuple[str, ...] = (
    "InternetArchiveBot", "Cewbot", "SuccuBot", "KrBot", "QuickStatementsBot", "DeltaBot", "Pi bot",
    "Citation bot", "ClueBot NG", "Lsjbot", "JJMC89 bot", "AnomieBOT", "Emijrpbot", "SchlurcherBot",
    "Mr.Ibrahembot", "Dexbot", "MatSuBot", "FuzzyBot", "Edoderoobot", "Ghuron-bot", "Listeriabot",
    "Reinheitsbot", "BotMultichill", "JarBot", "ZkBot", "WikiCleanerBot", "Texvc2LaTeXBot",
    "Wikidata-bot"
)
# fmt: on
# fmt: off
_NAME_PARTS: Tuple[str, ...] = (
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
    "Oscar", "Peggy", "Trent", "Victor", "Walter", "Wiki", "Editor", "History", "Map", "Geo",
    "Jürgen", "Zoë", "Søren", "Ana", "José", "Łukasz", "Ömer", "Nguyễn", "Иван", "Ольга", "太郎",
    "小明", "지훈", "محمد", "مریم", "דוד", "राहुल", "Ελένη"
)
# fmt: on
_LOG_TYPES: Tuple[Tuple[str, str, float], ...] = (
    ("patrol", "patrol", 25),
    ("newusers", "create", 15),
    ("upload", "upload", 12),
    ("thanks", "thank", 10),
    ("delete", "delete", 8),
    ("abusefilter", "hit", 10),
    ("move", "move", 6),
    ("block", "block", 6),
    ("protect", "protect", 4),
    ("create", "create", 4),
)


class _Domain(NamedTuple):
    name: str
    server_url: str
    wiki: str
    kind: str
    language: str
    patrolling: bool


class _Page(NamedTuple):
    title: str
    url_path: str  # quoted, appended to <server_url>/wiki/


def _wiki_db_name(domain: str) -> str:
    """``en.wikipedia.org -> enwiki``, ``www.wikidata.org -> wikidatawiki``."""
    first, _, rest = domain.partition(".")
    if domain == "www.wikidata.org":
        return "wikidatawiki"
    if rest == "wikimedia.org":
        return f"{first}wiki"
    project = rest.split(".", 1)[0]
    suffix = "wiki" if project == "wikipedia" else project
    return f"{first.replace('-', '_')}{suffix}"


def _kind_of(domain: str) -> str:
    if domain == "www.wikidata.org":
        return "wikidata"
    if domain == "commons.wikimedia.org":
        return "commons"
    return "wikimedia" if domain.endswith("wikimedia.org") else "wikipedia"


def _domain(name: str, patrolling: bool) -> _Domain:
    language = DOMAINS[name].language if name in DOMAINS else name.split(".", 1)[0]
    return _Domain(name, f"https://{name}", _wiki_db_name(name), _kind_of(name), language, patrolling)


def _url_path(title: str) -> str:
    """MediaWiki's ``wfUrlencode`` of a title: spaces as ``_``, a few characters kept."""
    return quote(title.replace(" ", "_"), safe=";@$!*(),/~:")


def _uuid4(rng: random.Random) -> str:
    """A UUID-4-formatted string from the seeded RNG (``uuid.uuid4`` is not seedable)."""
    n = rng.getrandbits(128)
    n = (n & ~(0xF << 76)) | (0x4 << 76)  # version 4
    n = (n & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _normalised(cum: List[float]) -> List[float]:
    # The last bound is +inf, not 1.0: ``random() < 1`` then always lands inside,
    # whatever the rounding of the running sum, and :func:`_pick` needs no clamp.
    return [c / cum[-1] for c in cum[:-1]] + [math.inf]


def _weighted(weights: Dict[Any, float]) -> Tuple[List[Any], List[float]]:
    """Keys and their cumulative weights, for :func:`_pick`."""
    keys = list(weights)
    return keys, _normalised(list(itertools.accumulate(weights[k] for k in keys)))


def _zipf_cum(n: int, s: float) -> List[float]:
    """Cumulative Zipf(s) weights over ``n`` ranks: a few very active editors, a long tail."""
    return _normalised(list(itertools.accumulate(1.0 / (k + 1) ** s for k in range(n))))


def _pick(rng: random.Random, keys: Sequence[Any], cum: Sequence[float]) -> Any:
    return keys[bisect.bisect(cum, rng.random())]


def _ipv4(rng: random.Random) -> str:
    return f"{rng.choice((31, 41, 62, 78, 81, 85, 93, 103, 176, 188, 203))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _ipv6(rng: random.Random) -> str:
    """IPv6 user names in the forms seen in the stream: MediaWiki's canonical uppercase,
    compressed with ``::``, and lowercase compressed (``2001:db8::1``)."""
    prefix = rng.choice(("2A02:810D", "2001:DB8", "2600:1700", "2A01:CB00", "240E:3B7", "2409:4060"))
    groups = [f"{rng.randrange(0x10000):X}" for _ in range(6)]
    form = rng.randrange(3)
    if form == 0:
        return ":".join([prefix, *groups])
    if form == 1:
        return f"{prefix}:{groups[0]}::{groups[5]}"
    return f"{prefix}::{rng.randrange(1, 0x100):x}".lower()


def _registered_name(rng: random.Random, i: int) -> str:
    a, b = rng.choice(_NAME_PARTS), rng.choice(_NAME_PARTS)
    form = i % 4
    if form == 0:
        return f"{a} {b}"
    if form == 1:
        return f"{a}{b}{rng.randrange(1, 2000)}"
    if form == 2:
        return f"{a}_{rng.randrange(10, 99)}"
    return a + b.lower()


def _titles(rng: random.Random, language: str, n: int) -> List[str]:
    words = _WORDS.get(language, ()) + _WORDS["latin"]
    out = []
    for i in range(n):
        k = 1 + i % 3
        title = " ".join(rng.choice(words) for _ in range(k))
        if i % 7 == 0:
            title += f" ({rng.randrange(1800, 2027)})"
        out.append(title[:1].upper() + title[1:])
    if language == "en":
        out.extend(_SPECIAL_TITLES)
    return out


def _file_names(rng: random.Random, n: int) -> List[str]:
    exts = ("jpg", "jpg", "jpg", "png", "svg", "tif", "webm", "pdf")
    out = []
    for i in range(n):
        if i % 3 == 0:
            out.append(f"IMG {rng.randrange(10000):04d}.{rng.choice(exts)}")
        else:
            words = " ".join(rng.choice(_WORDS["latin"] + _WORDS["de"] + _WORDS["fr"]) for _ in range(2))
            out.append(f"{words} {rng.randrange(1900, 2027)}.{rng.choice(exts)}")
    return out


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _parsed(comment: str, server_path: str = "/wiki/") -> str:
    """A plausible ``parsedcomment`` (HTML) for ``comment``: autocomment spans and links."""
    html = _html_escape(comment)
    if html.startswith("/* ") and " */" in html:
        section, rest = html[3:].split(" */", 1)
        html = (
            '<span dir="auto"><span class="autocomment">'
            f'<a href="{server_path}#{_url_path(section)}">→‎{section}</a>{":" if rest else ""} </span>'
            f"{rest.strip()}</span>"
        )
    return html


class _Pools:
    """Everything pre-built once per run so the per-event work is picks and a dict."""

    def __init__(self, seed: int, start_year: int) -> None:
        rng = random.Random(f"wikistream-generator-pools-{seed}")  # noqa: S311 - synthetic data, not crypto
        names = list(_DOMAIN_WEIGHTS)
        assert set(names) <= set(DOMAINS), "generator domain weights must use config.DOMAINS"
        self.domains = [_domain(d, patrolling=i % 2 == 0) for i, d in enumerate(names)]
        self.domain_cum = _weighted(_DOMAIN_WEIGHTS)[1]
        unknown = [d for d in _UNKNOWN_DOMAINS if d not in DOMAINS]
        self.unknown_domains = [_domain(d, patrolling=False) for d in unknown]
        self.types, self.type_cum = _weighted(_TYPE_WEIGHTS)
        assert set(self.types) <= set(EVENT_TYPES)
        self.editors, self.editor_cum = _weighted(_EDITOR_WEIGHTS)
        self.ns = {kind: _weighted(w) for kind, w in _NS_WEIGHTS.items()}
        self.log_types = [(t, a) for t, a, _ in _LOG_TYPES]
        self.log_cum = _weighted({i: w for i, (_, _, w) in enumerate(_LOG_TYPES)})[1]

        languages = {d.language for d in self.domains} | {d.language for d in self.unknown_domains}
        self.pages: Dict[str, List[_Page]] = {
            lang: [_Page(t, _url_path(t)) for t in _titles(rng, lang, 400)] for lang in sorted(languages)
        }
        self.files = [_Page(t, _url_path(t)) for t in _file_names(rng, 2000)]
        self.categories: Dict[str, List[_Page]] = {
            lang: [_Page(p.title, _url_path(p.title)) for p in pages[:150]]
            for lang, pages in self.pages.items()
        }
        self.ns_prefix = {ns: (p, _url_path(p)) for ns, p in _NS_PREFIX.items()}
        self.comments = {kind: [(c, _parsed(c)) for c in cs] for kind, cs in _COMMENTS.items()}

        self.registered = [_registered_name(rng, i) for i in range(4000)]
        self.registered_cum = _zipf_cum(len(self.registered), 0.6)
        self.bots = list(_BOT_NAMES)
        self.bots_cum = _zipf_cum(len(self.bots), 1.0)
        self.temporary = [
            f"~{start_year}-{rng.randrange(1, 100000):05d}-{rng.randrange(1, 100):02d}" for _ in range(3000)
        ]
        self.ipv4 = [_ipv4(rng) for _ in range(5000)]
        self.ipv6 = [_ipv6(rng) for _ in range(3000)]
        self.filler = " ".join(rng.choice(_WORDS["latin"]) for _ in range(2000))


# ----------------------------------------------------------------------- events


class _Clock:
    """Slot ``i`` is at ``start + i / rate``, in integer microseconds (no float drift)."""

    def __init__(self, start: datetime, rate_per_s: float) -> None:
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        td = start - _EPOCH
        self.start_us = (td.days * 86400 + td.seconds) * 1_000_000 + td.microseconds
        self.step_us = 1_000_000 / rate_per_s
        self._sec = -1
        self._prefix = ""

    def at(self, slot: int) -> int:
        return self.start_us + int(slot * self.step_us + 0.5)

    def iso(self, t_us: int) -> str:
        """``2026-11-01T00:00:00.020Z``; the seconds part is cached (it changes rarely)."""
        sec = t_us // 1_000_000
        if sec != self._sec:
            self._sec, self._prefix = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return f"{self._prefix}.{(t_us // 1000) % 1000:03d}Z"


class _User(NamedTuple):
    name: str
    klass: str  # one of _EDITOR_WEIGHTS


class _Burst:
    """One user editing many wikis within seconds (vandalism sprees, cross-wiki spam)."""

    def __init__(self, user: _User, domains: List[_Domain], slots: int) -> None:
        self.user, self.domains, self.remaining = user, domains, slots


class _EventFactory:
    """Builds valid event dicts; counters (rc ids, revisions, offsets) advance per event."""

    def __init__(self, pools: _Pools, rng: random.Random) -> None:
        self.p, self.rng = pools, rng
        self.rc_id = {d.name: rng.randrange(10**8, 3 * 10**9) for d in pools.domains + pools.unknown_domains}
        self.rev_id = {d.name: rng.randrange(10**8, 2 * 10**9) for d in pools.domains + pools.unknown_domains}
        self.log_id = {d.name: rng.randrange(10**7, 10**9) for d in pools.domains + pools.unknown_domains}
        self.offset = rng.randrange(10**9, 6 * 10**9)
        self.burst: Optional[_Burst] = None

    # -- choices

    def user(self) -> _User:
        p, rng = self.p, self.rng
        klass = _pick(rng, p.editors, p.editor_cum)
        if klass == "registered":
            return _User(_pick(rng, p.registered, p.registered_cum), klass)
        if klass == "bot":
            return _User(_pick(rng, p.bots, p.bots_cum), klass)
        pool = p.temporary if klass == "temporary" else p.ipv4 if klass == "ipv4" else p.ipv6
        return _User(pool[int(rng.random() * len(pool))], klass)

    def start_burst(self) -> None:
        rng = self.rng
        user = self.user()
        while user.klass == "bot":  # bursts model humans (or vandals), not approved bots
            user = self.user()
        domains = rng.sample(self.p.domains, rng.randint(3, 6))
        self.burst = _Burst(user, domains, rng.randint(40, 150))

    def page(self, domain: _Domain, ns: int) -> _Page:
        """A page in namespace ``ns`` of ``domain``: its title and quoted path under ``/wiki/``."""
        p, rng = self.p, self.rng
        prefix, qprefix = p.ns_prefix[ns]
        if domain.kind == "wikidata" and ns in (0, 120, 146):
            letter = "Q" if ns == 0 else "P" if ns == 120 else "L"
            body = f"{letter}{rng.randrange(1, 130_000_000 if ns == 0 else 13_000)}"
            title, path = prefix + body, qprefix + body
        elif ns == 6:
            page = p.files[int(rng.random() * len(p.files))]
            title, path = prefix + page.title, qprefix + page.url_path
        else:
            pages = p.pages[domain.language]
            page = pages[int(rng.random() * len(pages))]
            title, path = prefix + page.title, qprefix + page.url_path
        return _Page(title, path)

    def sizes(self) -> Tuple[int, int]:
        """``(old, new)`` page lengths of an edit: small changes, rare huge ones."""
        rng = self.rng
        old = 500 + int(rng.expovariate(1 / 30_000))
        u = rng.random()
        if u < _LARGE_ADD_P:
            delta = rng.randint(50_001, 250_000)
        elif u < _LARGE_ADD_P + _LARGE_DEL_P:
            delta = -rng.randint(5_001, 80_000)
            old = max(old, -delta + rng.randrange(0, 5_000))
        else:
            delta = int(rng.expovariate(1 / 150)) * (1 if rng.random() < 0.62 else -1)
            old = max(old, -delta)
        return old, old + delta

    # -- events

    def event(self, t_us: int, clock: _Clock, domain: Optional[_Domain] = None) -> Dict[str, Any]:
        """A valid event at ``t_us``; ``domain`` overrides the weighted pick."""
        p, rng = self.p, self.rng
        burst = self.burst
        if burst is not None and rng.random() < _BURST_OWN_P:
            user = burst.user
            etype = "edit" if rng.random() < 0.9 else "new"
            dom = domain or burst.domains[int(rng.random() * len(burst.domains))]
        else:
            user = self.user()
            etype = _pick(rng, p.types, p.type_cum)
            dom = domain or _pick(rng, p.domains, p.domain_cum)
        if burst is not None:
            burst.remaining -= 1
            if burst.remaining <= 0:
                self.burst = None
        elif rng.random() < _BURST_START_P:
            self.start_burst()

        event_id = _uuid4(rng)
        self.offset += 1
        self.rc_id[dom.name] += 1
        bot = user.klass == "bot"
        ev: Dict[str, Any] = {
            "$schema": _SCHEMA_URI,
            "meta": {
                "uri": "",
                "request_id": _uuid4(rng),
                "id": event_id,
                "dt": clock.iso(t_us),
                "domain": dom.name,
                "stream": "mediawiki.recentchange",
                "topic": "eqiad.mediawiki.recentchange",
                "partition": 0,
                "offset": self.offset,
            },
            "id": self.rc_id[dom.name],
            "type": etype,
            "namespace": 0,
            "title": "",
            "title_url": "",
            "comment": "",
            "timestamp": t_us // 1_000_000,
            "user": user.name,
            "bot": bot,
        }
        if etype == "categorize":
            self._categorize(ev, dom)
        elif etype == "log":
            self._log(ev, dom, user)
        else:
            ns = 0 if etype == "external" else _pick(rng, *p.ns[dom.kind])
            ev["namespace"] = ns
            page = self.page(dom, ns)
            ev["title"], ev["title_url"] = page.title, f"{dom.server_url}/wiki/{page.url_path}"
            comments = p.comments["wikidata" if etype == "external" else dom.kind]
            ev["comment"], parsed = comments[int(rng.random() * len(comments))]
            if etype != "external":
                self._revision(ev, dom, user, etype)
            ev["parsedcomment"] = parsed
        ev["meta"]["uri"] = ev["title_url"]
        ev["server_url"] = dom.server_url
        ev["server_name"] = dom.name
        ev["server_script_path"] = "/w"
        ev["wiki"] = dom.wiki
        if "parsedcomment" not in ev:
            ev["parsedcomment"] = _parsed(ev["comment"])
        return ev

    def _revision(self, ev: Dict[str, Any], dom: _Domain, user: _User, etype: str) -> None:
        rng = self.rng
        self.rev_id[dom.name] += 1
        rev = self.rev_id[dom.name]
        if etype == "new":
            ev["notify_url"] = f"{dom.server_url}/w/index.php?oldid={rev}"
            ev["minor"] = False
            if dom.patrolling:
                ev["patrolled"] = user.klass in ("bot", "registered") and rng.random() < 0.5
            length = (
                rng.randint(50, 20_000) if rng.random() > _LARGE_ADD_P * 5 else rng.randint(50_001, 150_000)
            )
            ev["length"] = {"new": length}
            ev["revision"] = {"new": rev}
            return
        old_rev = rev - rng.randint(1, 5_000_000)
        ev["notify_url"] = f"{dom.server_url}/w/index.php?diff={rev}&oldid={old_rev}"
        ev["minor"] = user.klass in ("bot", "registered") and rng.random() < 0.25
        if dom.patrolling:
            ev["patrolled"] = user.klass in ("bot", "registered") and rng.random() < 0.7
        old, new = self.sizes()
        ev["length"] = {"old": old, "new": new}
        ev["revision"] = {"old": old_rev, "new": rev}

    def _categorize(self, ev: Dict[str, Any], dom: _Domain) -> None:
        p, rng = self.p, self.rng
        cats = p.categories[dom.language]
        cat = cats[int(rng.random() * len(cats))]
        ev["namespace"] = 14
        ev["title"] = "Category:" + cat.title
        ev["title_url"] = f"{dom.server_url}/wiki/Category:{cat.url_path}"
        member = self.page(dom, 6 if dom.kind == "commons" else 0)
        verb = "added to" if rng.random() < 0.8 else "removed from"
        ev["comment"] = f"[[:{member.title}]] {verb} category"
        text = _html_escape(member.title)
        ev["parsedcomment"] = f'<a href="/wiki/{member.url_path}" title="{text}">{text}</a> {verb} category'
        ev["notify_url"] = f"{dom.server_url}/w/index.php?diff={rng.randrange(10**8, 2 * 10**9)}&oldid=0"

    def _log(self, ev: Dict[str, Any], dom: _Domain, user: _User) -> None:
        p, rng = self.p, self.rng
        log_type, action = _pick(rng, p.log_types, p.log_cum)
        self.log_id[dom.name] += 1
        params: Any = []
        if log_type == "abusefilter":
            # Filter hits are logged against Special: pages: the stream's negative namespace.
            ns, title = -1, f"Special:AbuseFilter/{rng.randrange(1, 1500)}"
            params = {"action": "edit", "filter": str(rng.randrange(1, 1500)), "actions": "tag"}
            url = f"{dom.server_url}/wiki/{_url_path(title)}"
            action_comment = f"{user.name} triggered {title}"
        elif log_type in ("newusers", "block", "thanks"):
            ns = 2
            target = user.name if log_type == "newusers" else _pick(rng, p.registered, p.registered_cum)
            title, url = "User:" + target, f"{dom.server_url}/wiki/User:{_url_path(target)}"
            if log_type == "block":
                params = {"duration": "31 hours", "flags": "nocreate,noautoblock", "sitewide": True}
                action_comment = f"blocked [[User:{target}]] with an expiration time of 31 hours"
            elif log_type == "thanks":
                action_comment = f"{user.name} thanked {target}"
            else:
                params = {"userid": rng.randrange(1, 50_000_000)}
                action_comment = "New user account"
        else:
            ns = 6 if log_type == "upload" else 0
            page = self.page(dom, ns)
            title, url = page.title, f"{dom.server_url}/wiki/{page.url_path}"
            if log_type == "move":
                params = {"target": title + " (disambiguation)", "noredir": "0"}
            elif log_type == "patrol":
                params = {"curid": rng.randrange(10**8, 2 * 10**9), "previd": rng.randrange(10**8), "auto": 0}
            elif log_type == "upload":
                params = {"img_sha1": f"{rng.getrandbits(124):031x}", "img_timestamp": ev["meta"]["dt"]}
            action_comment = f"{log_type} [[{title}]]"
        if rng.random() < _LOG_WITHOUT_ID_P:
            del ev["id"]  # real log events can come without a recentchange id
        ev["namespace"], ev["title"], ev["title_url"] = ns, title, url
        ev["comment"] = ""
        ev["log_id"] = self.log_id[dom.name]
        ev["log_type"] = log_type
        ev["log_action"] = action
        ev["log_params"] = params
        ev["log_action_comment"] = action_comment


# ---------------------------------------------------------------------- faulting

# Fields the wrong_type fault corrupts, in rotation, with the corrupting function.
# Each keeps the rest of the event valid, so the rule id is ``type:<field>``.
_WRONG_TYPES: Tuple[Tuple[Tuple[str, ...], Callable[[Any], Any]], ...] = (
    (("namespace",), str),
    (("timestamp",), str),
    (("bot",), lambda v: "true" if v else "false"),
    (("meta", "dt"), lambda v: 1_793_491_200),
    (("length", "new"), str),
    (("id",), str),
    (("meta", "partition"), lambda v: "0"),
    (("revision", "new"), float),
    (("user",), lambda v: 12345),
)
_DRIFT: Tuple[Callable[[Dict[str, Any], random.Random], None], ...] = (
    lambda ev, rng: ev.update(tags=["mobile edit", "visualeditor"]),
    lambda ev, rng: ev.update(review={"status": "pending", "score": round(rng.random(), 3)}),
    lambda ev, rng: ev["meta"].update(cluster="eqiad", schema_version="1.1.0"),
    lambda ev, rng: ev.update(
        performer={"user_text": ev.get("user"), "user_edit_count": rng.randrange(10**5)}
    ),
)


def _has(ev: Dict[str, Any], path: Tuple[str, ...]) -> bool:
    node: Any = ev
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _set(ev: Dict[str, Any], path: Tuple[str, ...], value: Any) -> None:
    node = ev
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _remove(ev: Dict[str, Any], path: Tuple[str, ...]) -> None:
    node = ev
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]


def _malformed(line: str, ev: Dict[str, Any], variant: int, rng: random.Random) -> str:
    """Broken JSON text of the kinds seen on the wire; never a valid JSON document."""
    if variant == 0:  # truncated mid-message (dropped connection)
        return line[: rng.randrange(len(line) // 4, len(line) - 1)]
    if variant == 1:  # a Python repr instead of JSON (single quotes, True/False)
        return repr(ev)
    if variant == 2:  # a colon lost
        return line.replace('":', '" ', 1)
    if variant == 3:  # trailing comma
        return line[:-1] + ",}"
    return line + line  # two messages glued together


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


def generate(
    n: int,
    seed: int = 7,
    start: Optional[datetime] = None,
    rate_per_s: float = DEFAULT_RATE_PER_S,
    faults: FaultRates = FaultRates(),
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
    faults: FaultRates = FaultRates(),
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


if __name__ == "__main__":
    sys.exit(main())
