"""Unit tests of the synthetic event generator (local_runtime.generator).

Every expectation is recomputed from the written files (never read back from the
generator's internals); the labels of faulted lines are checked against the event
contract in wikistream.events, which the generator does not call.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import sys
import tracemalloc
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from local_runtime.generator import (
    FaultRates,
    Manifest,
    Record,
    faults_path,
    generate,
    main,
    manifest_path,
    write_ndjson,
)
from wikistream.config import DOMAINS, EVENT_TYPES, ProducerConfig
from wikistream.events import (
    CONTRACT,
    DEFAULT_TIME_BOUNDS,
    REQUIRED_FIELDS,
    contract_violation,
    event_time_of,
    parse_and_check,
    time_violation,
)

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
RATE = 50.0
MAX_BYTES = ProducerConfig().max_event_bytes
ALL_FAULTS = FaultRates(
    malformed_json=0.02,
    missing_required=0.03,
    wrong_type=0.04,
    duplicate=0.03,
    late=0.02,
    future=0.02,
    unknown_domain=0.02,
    oversized=0.002,
    schema_drift=0.02,
)
TEMPORARY = re.compile(r"^~\d{4}-\d{5}-\d{2}$")
# Every property name the contract knows (top level and nested) plus the real ones it
# does not check; anything else in an event is schema drift.
KNOWN_KEYS = {r.path[0] for r in CONTRACT} | {"$schema", "log_params"}
KNOWN_META_KEYS = {r.path[1] for r in CONTRACT if r.path[0] == "meta"}


def _parse_dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _read_lines(path: Path) -> List[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Manifest, List[Dict[str, Any]]]:
    """40k fault-free events, parsed from the written file."""
    out = tmp_path_factory.mktemp("gen") / "clean.ndjson"
    manifest = write_ndjson(out, 40_000, seed=11, start=START, rate_per_s=RATE)
    return manifest, [json.loads(line) for line in _read_lines(out)]


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Manifest]:
    """20k events with every fault enabled."""
    out = tmp_path_factory.mktemp("gen") / "faulty.ndjson"
    return out, write_ndjson(out, 20_000, seed=5, start=START, rate_per_s=RATE, faults=ALL_FAULTS)


def _share(events: List[Dict[str, Any]], predicate: Any) -> float:
    return sum(1 for e in events if predicate(e)) / len(events)


# ---------------------------------------------------------------- determinism


def test_same_seed_writes_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    paths = [tmp_path / f"{name}.ndjson" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (3, 3, 4)):
        write_ndjson(path, 3_000, seed=seed, faults=ALL_FAULTS)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert faults_path(paths[0]).read_bytes() == faults_path(paths[1]).read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_generate_streams_records_like_the_written_file(tmp_path: Path) -> None:
    out = tmp_path / "x.ndjson"
    write_ndjson(out, 500, seed=9, faults=ALL_FAULTS)
    records = list(generate(500, seed=9, faults=ALL_FAULTS))
    assert all(isinstance(r, Record) for r in records)
    assert [r.line for r in records] == _read_lines(out)


# ------------------------------------------------------------- distributions


def test_event_type_mix_matches_the_real_stream(clean: Any) -> None:
    _, events = clean
    shares = Counter(e["type"] for e in events)
    assert set(shares) <= set(EVENT_TYPES)
    n = len(events)
    assert abs(shares["categorize"] / n - 0.50) < 0.03
    assert abs(shares["edit"] / n - 0.31) < 0.03
    assert abs(shares["new"] / n - 0.08) < 0.02
    assert abs(shares["log"] / n - 0.10) < 0.02
    assert 0.003 < shares["external"] / n < 0.02


def test_domains_come_from_the_allow_list_commons_and_wikidata_heaviest(clean: Any) -> None:
    _, events = clean
    counts = Counter(e["meta"]["domain"] for e in events)
    assert set(counts) <= set(DOMAINS)
    assert all(e["server_name"] == e["meta"]["domain"] for e in events)
    top = [d for d, _ in counts.most_common(3)]
    assert set(top[:2]) == {"commons.wikimedia.org", "www.wikidata.org"}
    assert top[2] == "en.wikipedia.org"
    assert (counts["commons.wikimedia.org"] + counts["www.wikidata.org"]) / len(events) > 0.45
    assert len(counts) >= 20  # the long tail of wikis shows up


def _is_ip(user: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(user).version == version
    except ValueError:
        return False


def test_editor_mix_bots_anonymous_and_temporary_accounts(clean: Any) -> None:
    _, events = clean
    bots = [e for e in events if e["bot"]]
    assert abs(len(bots) / len(events) - 0.15) < 0.03
    assert _share(bots, lambda e: e["user"].lower().replace("-", "").endswith("bot")) > 0.8
    assert abs(_share(events, lambda e: _is_ip(e["user"], 4)) - 0.08) < 0.02
    ipv6 = [e["user"] for e in events if _is_ip(e["user"], 6)]
    assert abs(len(ipv6) / len(events) - 0.05) < 0.02
    assert any("::" in u for u in ipv6), "compressed IPv6 forms"
    assert any("::" in u and u == u.lower() for u in ipv6), "lowercase compressed like 2001:db8::1"
    assert any("::" not in u and u == u.upper() for u in ipv6), "MediaWiki's uppercase full form"
    assert abs(_share(events, lambda e: TEMPORARY.match(e["user"]) is not None) - 0.10) < 0.02
    anonymous = [
        e for e in events if _is_ip(e["user"], 4) or _is_ip(e["user"], 6) or TEMPORARY.match(e["user"])
    ]
    assert not any(e["bot"] for e in anonymous)
    assert any(not e["user"].isascii() for e in events), "unicode user names"


def test_real_shapes_of_each_event_type(clean: Any) -> None:
    _, events = clean
    by_type: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_type[e["type"]].append(e)
    assert all("length" not in e and "revision" not in e for e in by_type["categorize"])
    assert all(e["namespace"] == 14 and e["title"].startswith("Category:") for e in by_type["categorize"])
    logs = by_type["log"]
    assert 0.1 < _share(logs, lambda e: "id" not in e) < 0.4, "some log events lack id"
    assert all("length" not in e and "log_type" in e and "log_action" in e for e in logs)
    assert all(set(e["length"]) == {"new"} and set(e["revision"]) == {"new"} for e in by_type["new"])
    assert all(set(e["length"]) == {"old", "new"} for e in by_type["edit"])
    assert any(e["namespace"] < 0 for e in events), "negative namespaces"
    assert all(contract_violation(e) is None for e in events)


def test_large_additions_and_deletions_are_rare_but_present(clean: Any) -> None:
    _, events = clean
    deltas = [e["length"]["new"] - e["length"]["old"] for e in events if e["type"] == "edit"]
    big_add = sum(1 for d in deltas if d > 50_000) / len(deltas)
    big_del = sum(1 for d in deltas if d < -5_000) / len(deltas)
    assert 0.001 < big_add < 0.02
    assert 0.002 < big_del < 0.03
    assert all(e["length"]["new"] >= 0 for e in events if "length" in e)


def test_bursts_one_user_many_edits_across_wikis_within_seconds(clean: Any) -> None:
    _, events = clean
    by_user: Dict[str, List[Tuple[float, str]]] = defaultdict(list)
    for e in events:
        if e["type"] in ("edit", "new") and not e["bot"]:
            by_user[e["user"]].append((_parse_dt(e["meta"]["dt"]).timestamp(), e["meta"]["domain"]))
    bursts = 0
    for edits in by_user.values():
        edits.sort()
        for i in range(len(edits)):
            window = [d for t, d in edits[i : i + 20] if t - edits[i][0] <= 5.0]
            if len(window) == 20 and len(set(window)) >= 3:
                bursts += 1
                break
    # ~10 bursts are expected in 40k events; without them no human reaches 20 in 5 s.
    assert bursts >= 3


def test_ids_and_event_time_follow_the_clock(clean: Any) -> None:
    manifest, events = clean
    ids = [e["meta"]["id"] for e in events]
    assert len(set(ids)) == len(ids)
    uuid4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    assert all(uuid4.match(i) for i in ids)
    for i, e in enumerate(events):
        expected = START + timedelta(seconds=i / RATE)
        assert _parse_dt(e["meta"]["dt"]) == expected.replace(microsecond=expected.microsecond // 1000 * 1000)
        assert e["timestamp"] == int(expected.timestamp())
    assert _parse_dt(manifest.first_event_time) == START
    assert _parse_dt(manifest.last_event_time) == START + timedelta(seconds=(len(events) - 1) / RATE)


# ------------------------------------------------------------------- faults


def _side(path: Path) -> Dict[int, Dict[str, Any]]:
    rows = [json.loads(line) for line in _read_lines(faults_path(path))]
    return {row["line_no"]: row for row in rows}


def test_every_line_is_labelled_as_the_contract_judges_it(faulty: Any) -> None:
    path, _ = faulty
    side = _side(path)
    seen: Dict[str, str] = {}
    # Received as the last line is generated: the event-time rules are judged against that.
    received = START + timedelta(seconds=20_000 / RATE)
    for line_no, line in enumerate(_read_lines(path), start=1):
        row = side.get(line_no, {"fault": None, "expected": "valid"})
        event, rule = parse_and_check(line, MAX_BYTES)
        if rule is None and event is not None:
            rule = time_violation(event_time_of(event)[0], received, DEFAULT_TIME_BOUNDS)
        expected = row["expected"]
        if expected.startswith("dead_letter:"):
            assert rule == expected.split(":", 1)[1], (line_no, row)
            continue
        assert rule is None, (line_no, row, rule)
        assert event is not None
        event_id = event["meta"]["id"]
        assert row.get("event_id", event_id) == event_id
        if expected == "duplicate":
            assert seen.get(event_id) == line, "a duplicate repeats an earlier line byte for byte"
            continue
        assert event_id not in seen
        seen[event_id] = line
        domain = event["meta"]["domain"]
        if expected == "filtered:domain_not_allowed":
            assert domain not in DOMAINS and event["server_name"] not in DOMAINS
        else:
            assert expected == "valid"
            assert domain in DOMAINS
    assert {row["fault"] for row in side.values()} == set(FaultRates.names())


def test_each_fault_is_the_kind_it_claims(faulty: Any) -> None:
    path, _ = faulty
    side = _side(path)
    lines = _read_lines(path)
    by_fault: Dict[str, List[Tuple[int, str]]] = defaultdict(list)
    for line_no, row in side.items():
        by_fault[row["fault"]].append((line_no, row["expected"]))
    for line_no, _ in by_fault["late"] + by_fault["future"]:
        event = json.loads(lines[line_no - 1])
        nominal = START + timedelta(seconds=(line_no - 1) / RATE)
        shift = _parse_dt(event["meta"]["dt"]) - nominal
        if side[line_no]["fault"] == "late":
            assert timedelta(hours=-36, seconds=-1) <= shift <= timedelta(hours=-1), shift
        else:
            assert timedelta(hours=26) <= shift <= timedelta(hours=48, seconds=1), shift
    for line_no, _ in by_fault["schema_drift"]:
        event = json.loads(lines[line_no - 1])
        assert set(event) - KNOWN_KEYS or set(event["meta"]) - KNOWN_META_KEYS
    required = {e.split(":")[-1] for _, e in by_fault["missing_required"]}
    assert required == set(REQUIRED_FIELDS), "missing_required rotates over every required field"
    wrong = {e.split(":")[-1] for _, e in by_fault["wrong_type"]}
    assert {"namespace", "timestamp"} <= wrong
    for line_no, _ in by_fault["oversized"]:
        assert len(lines[line_no - 1].encode("utf-8")) > MAX_BYTES
    for line_no, _ in by_fault["malformed_json"]:
        assert side[line_no]["event_id"] is None


def test_manifest_counts_equal_counts_recomputed_from_the_file(faulty: Any) -> None:
    path, manifest = faulty
    lines = _read_lines(path)
    side = _side(path)
    assert manifest.total == len(lines) == 20_000
    assert manifest.by_fault == dict(Counter(row["fault"] for row in side.values()))
    expected = Counter(row["expected"] for row in side.values())
    expected["valid"] += len(lines) - len(side)
    assert manifest.expected == dict(expected)
    valid_ids = set()
    valid_times = []
    for line in lines:
        event, rule = parse_and_check(line, MAX_BYTES)
        if rule is None and event is not None:
            rule = time_violation(
                event_time_of(event)[0], START + timedelta(seconds=20_000 / RATE), DEFAULT_TIME_BOUNDS
            )
        if rule is None and event is not None and event["meta"]["domain"] in DOMAINS:
            valid_ids.add(event["meta"]["id"])
            valid_times.append(_parse_dt(event["meta"]["dt"]))
    assert manifest.valid_unique == len(valid_ids)
    assert _parse_dt(manifest.min_valid_event_time) == min(valid_times)
    assert _parse_dt(manifest.max_valid_event_time) == max(valid_times)
    assert manifest.bytes == path.stat().st_size
    assert Manifest.load(manifest_path(path)) == manifest


def test_duplicates_only_when_requested_and_at_about_the_rate(tmp_path: Path) -> None:
    out = tmp_path / "d.ndjson"
    manifest = write_ndjson(out, 10_000, seed=2, faults=FaultRates.parse("duplicate=0.05"))
    ids = [json.loads(line)["meta"]["id"] for line in _read_lines(out)]
    duplicates = len(ids) - len(set(ids))
    assert duplicates == manifest.expected["duplicate"] == manifest.by_fault["duplicate"]
    assert 400 < duplicates < 600
    assert manifest.valid_unique == len(set(ids))


# --------------------------------------------------------------- FaultRates


def test_fault_rates_parse_accepts_known_names() -> None:
    rates = FaultRates.parse(" duplicate=0.02, malformed_json=0.01 ")
    assert rates == FaultRates(duplicate=0.02, malformed_json=0.01)
    assert FaultRates.parse("") == FaultRates.parse(None) == FaultRates()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bogus=0.1", r"unknown fault 'bogus'; known faults: malformed_json, "),
        ("duplicate=1.5", r"duplicate=1\.5: must be between 0 and 1"),
        ("late=-0.1", r"late=-0\.1: must be between 0 and 1"),
        ("late=nan", r"must be between 0 and 1"),
        ("late=abc", r"late: rate 'abc' is not a number"),
        ("late", r"expected name=rate"),
        ("late=0.1,late=0.2", r"given more than once"),
        ("late=0.6,future=0.6", r"sum to 1\.2; the sum must be at most 1"),
    ],
)
def test_fault_rates_parse_rejects_bad_specs_clearly(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultRates.parse(spec)


# --------------------------------------------------------------- scale, CLI


def _peak_bytes(path: Path, n: int) -> int:
    tracemalloc.start()
    try:
        write_ndjson(path, n, seed=1, faults=FaultRates(duplicate=0.02, malformed_json=0.01, late=0.01))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_traced_peak_memory_does_not_grow_with_the_event_count(tmp_path: Path) -> None:
    # tracemalloc slows allocation ~15x, so 2k vs 20k here; 200k is measured below by RSS.
    small = _peak_bytes(tmp_path / "small.ndjson", 2_000)
    large = _peak_bytes(tmp_path / "large.ndjson", 20_000)
    assert large < 12 * 1024 * 1024, large
    assert large < small * 1.2 + 256 * 1024, (small, large)


_RSS_PROBE = """
import sys
from pathlib import Path
from local_runtime.generator import FaultRates, write_ndjson
faults = FaultRates(duplicate=0.02, malformed_json=0.01, oversized=0.0005, schema_drift=0.01)
write_ndjson(Path(sys.argv[1]), int(sys.argv[2]), seed=1, faults=faults)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) pytest parent.
status = Path("/proc/self/status").read_text()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))  # KiB
"""


def _max_rss_kib(path: Path, n: int) -> int:
    result = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, str(path), str(n)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    return int(result.stdout.strip())


def test_resident_memory_stays_flat_from_20k_to_200k_events(tmp_path: Path) -> None:
    small = _max_rss_kib(tmp_path / "s.ndjson", 20_000)
    large = _max_rss_kib(tmp_path / "l.ndjson", 200_000)
    assert large < 96 * 1024, large
    assert large < small + 16 * 1024, (small, large)


def test_invalid_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        list(generate(3, rate_per_s=0))
    with pytest.raises(ValueError, match="n must be"):
        list(generate(-1))


def test_cli_writes_files_and_prints_the_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "cli.ndjson"
    args = ["--events", "300", "--seed", "4", "--out", str(out), "--rate", "10"]
    assert main([*args, "--start", "2026-01-02T03:04:05Z", "--faults", "late=0.1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total"] == len(_read_lines(out)) == 300
    assert summary["first_event_time"] == "2026-01-02T03:04:05.000Z"
    assert summary["last_event_time"] == "2026-01-02T03:04:34.900Z"
    assert summary["events_per_s"] > 0
    assert manifest_path(out).exists() and faults_path(out).exists()
    with pytest.raises(SystemExit) as exc:
        main([*args, "--faults", "nope=0.1"])
    assert exc.value.code == 2
    assert "unknown fault 'nope'" in capsys.readouterr().err
