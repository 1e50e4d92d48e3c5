"""A crafted recorded-style input (issue 20): real event shapes with every time and
identity problem the issue names, relative to a given "now".

``python -m tests.crafted OUT.ndjson [N]`` writes it (N ordinary events, default 2,000)
for ``make run INPUT=OUT.ndjson``.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

#: What the crafted tail holds, by name (the ordinary events come first).
CRAFTED = {
    "exact_duplicates": 2,
    "divergent_duplicates": 2,
    "future": 1,
    "too_late": 1,
    "time_fallbacks": 1,
    "malformed": 1,
    "filtered": 1,
}


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def event(i: int, when: datetime, **changes: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "$schema": "/mediawiki/recentchange/1.0.0",
        "meta": {
            "uri": f"https://en.wikipedia.org/wiki/Page_{i}",
            "request_id": f"req-{i}",
            "id": f"00000000-0000-4000-8000-{i:012d}",
            "dt": _iso(when),
            "domain": "en.wikipedia.org",
            "stream": "mediawiki.recentchange",
            "topic": "eqiad.mediawiki.recentchange",
            "partition": 0,
            "offset": 1_000_000 + i,
        },
        "id": 2_000_000 + i,
        "type": "edit",
        "namespace": 0,
        "title": f"Page {i} \u2013 Ünïcode ✓",  # en dash: Unicode must survive
        "title_url": f"https://en.wikipedia.org/wiki/Page_{i}",
        "comment": "copyedit",
        "timestamp": int(when.timestamp()),
        "user": f"Editor{i % 37}",
        "bot": i % 11 == 0,
        "notify_url": f"https://en.wikipedia.org/w/index.php?diff={3_000_000 + i}",
        "minor": False,
        "length": {"old": 100 + i, "new": 120 + i},
        "revision": {"old": 3_000_000 + i - 1, "new": 3_000_000 + i},
        "server_url": "https://en.wikipedia.org",
        "server_name": "en.wikipedia.org",
        "server_script_path": "/w",
        "wiki": "enwiki",
        "parsedcomment": "copyedit",
    }
    ev.update(changes)
    return ev


def crafted_lines(now: datetime, ordinary: int = 200) -> list[str]:
    """``ordinary`` events over the last hour, then one of each crafted case."""
    start = now - timedelta(hours=1)
    base = [event(i, start + timedelta(seconds=3600 * i / max(ordinary, 1))) for i in range(ordinary)]
    lines = [json.dumps(e, ensure_ascii=False) for e in base]
    # Exact duplicates: the same line again (a producer retry, an SSE re-send).
    lines += [lines[1], lines[2]]
    # Divergent duplicates: same meta.id, another body (a changed comment, a changed size).
    lines.append(json.dumps({**base[3], "comment": "a different comment"}, ensure_ascii=False))
    lines.append(json.dumps({**base[4], "length": {"old": 1, "new": 999_999}}, ensure_ascii=False))
    n = ordinary
    # An event dated years ahead.
    lines.append(json.dumps(event(n, now.replace(year=now.year + 5)), ensure_ascii=False))
    # An event three months old.
    lines.append(json.dumps(event(n + 1, now - timedelta(days=90)), ensure_ascii=False))
    # An unparseable meta.dt: its time comes from ``timestamp``.
    fallback = event(n + 2, now - timedelta(minutes=5))
    fallback["meta"] = {**fallback["meta"], "dt": "Thursday at noon"}
    lines.append(json.dumps(fallback, ensure_ascii=False))
    # Malformed JSON, and a wiki outside the allow-list.
    lines.append(json.dumps(event(n + 3, now))[:-10])
    other = event(n + 4, now)
    other["meta"] = {**other["meta"], "domain": "xx.example.org"}
    other["wiki"], other["server_name"] = "xxwiki", "xx.example.org"
    lines.append(json.dumps(other, ensure_ascii=False))
    return lines


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    ordinary = int(argv[1]) if len(argv) > 1 else 2_000
    lines = crafted_lines(datetime.now(timezone.utc), ordinary)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} lines to {out}: {ordinary} ordinary + {CRAFTED}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
