"""The generator's seeded pools: wikis (weighted), pages per language, users, comments,
log types, and the sampling helpers that draw from them."""

from __future__ import annotations

import bisect
import itertools
import math
import random
from typing import Any, Dict, List, NamedTuple, Sequence, Tuple
from urllib.parse import quote

from local_runtime.generator.labels import _DOMAIN_WEIGHTS, _EDITOR_WEIGHTS, _TYPE_WEIGHTS, _UNKNOWN_DOMAINS
from wikistream.config import DOMAINS, EVENT_TYPES

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
