"""Silver's pure helpers: the IP address patterns against Python's ipaddress, the hour
predicate of the MERGE and the backfill window (the transforms: tests/component)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest


def test_ipv6_regex_agrees_with_ipaddress_on_random_forms():
    # Given 3,000 random addresses written in every textual form Python can produce
    import ipaddress
    import random
    import re

    from spark_jobs.silver.transforms import IPV4_RE, IPV6_RE

    rng = random.Random(3)
    ipv6 = re.compile(IPV6_RE)
    for _ in range(1000):
        # Zero runs of random length so every "::" position occurs
        groups = [rng.choice([0, 0, rng.randrange(1 << 16)]) for _ in range(8)]
        addr = ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups))
        v4 = ipaddress.IPv4Address(rng.randrange(1 << 32))
        for text in (
            addr.compressed,
            addr.exploded,
            addr.compressed.upper(),
            f"::ffff:{v4}",
            f"64:ff9b::{v4}",
        ):
            assert ipv6.match(text), text
            assert not re.match(IPV4_RE, text)
        assert re.match(IPV4_RE, str(v4)) and not ipv6.match(str(v4))
    # And strings ipaddress rejects are rejected too
    for text in [
        "1:2:3:4:5:6:7:8:9",
        "1::2::3",
        "12345::",
        ":1:2",
        "1:2:3:4:5:6:7:1.2.3.4",
        "::1.2.3.04",
        "g::1",
    ]:
        with pytest.raises(ValueError):
            ipaddress.IPv6Address(text)
        assert not ipv6.match(text), text


def test_hours_predicate_and_backfill_window():
    from spark_jobs.silver.lineage import parse_backfill
    from spark_jobs.silver.merge import hours_predicate

    d1, d2 = date(2026, 11, 1), date(2026, 11, 2)
    assert hours_predicate([(d2, 0), (d1, 23), (d1, 5), (d1, 23)], "t") == (
        "((t.event_date = DATE '2026-11-01' AND t.event_hour IN (5, 23)) OR "
        "(t.event_date = DATE '2026-11-02' AND t.event_hour IN (0)))"
    )
    assert hours_predicate([]) == "FALSE"
    assert parse_backfill(["--other", "x"]) is None
    assert parse_backfill(
        ["--backfill-from", "2026-11-01T00:00:00Z", "--backfill-to", "2026-11-01T02:00:00"]
    ) == (
        datetime(2026, 11, 1, tzinfo=timezone.utc),
        datetime(2026, 11, 1, 2, tzinfo=timezone.utc),
    )
    with pytest.raises(ValueError, match="go together"):
        parse_backfill(["--backfill-from", "2026-11-01T00:00:00Z"])
    with pytest.raises(ValueError, match="before"):
        parse_backfill(["--backfill-from", "2026-11-02", "--backfill-to", "2026-11-01"])
