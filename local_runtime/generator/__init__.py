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

from local_runtime.generator.cli import main
from local_runtime.generator.labels import (
    DEAD_LETTER_PREFIX,
    DEFAULT_RATE_PER_S,
    DEFAULT_START,
    EXPECT_DUPLICATE,
    EXPECT_FILTERED_DOMAIN,
    EXPECT_VALID,
    FaultRates,
    Manifest,
    Record,
    dead_letter,
    faults_path,
    manifest_path,
)
from local_runtime.generator.stream import generate, start_ending_at, write_ndjson

__all__ = [
    "DEAD_LETTER_PREFIX",
    "DEFAULT_RATE_PER_S",
    "DEFAULT_START",
    "EXPECT_DUPLICATE",
    "EXPECT_FILTERED_DOMAIN",
    "EXPECT_VALID",
    "FaultRates",
    "Manifest",
    "Record",
    "dead_letter",
    "faults_path",
    "generate",
    "main",
    "manifest_path",
    "start_ending_at",
    "write_ndjson",
]
