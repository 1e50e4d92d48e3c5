"""Silver and gold after several incremental cycles equal an independent oracle.

Given generated events with faults (duplicates, late events, malformed JSON), of which
only valid unique events reach bronze (as the producer + bronze guarantee), delivered
over 3 cycles of bronze micro-batches, with a slice of the first hour held back and
delivered in the last cycle (late data into an already-processed hour):
after every cycle, EVERY row of silver, hourly_stats, risk_scores and daily_summary
equals what tests/oracle.py computes in plain Python from the lines delivered so far.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from local_runtime.generator import FaultRates, generate
from local_runtime.kit.bronze_rows import append_bronze, valid_lines
from spark_jobs import gold_batch, silver_batch
from spark_jobs.cli import JobArgs
from spark_jobs.ledger import runs_for
from tests import oracle
from wikistream.catalogue import DAILY_SUMMARY, HOURLY_STATS, RISK_SCORES, SILVER_EVENTS
from wikistream.config import load_config
from wikistream.metrics import JOB_DURATION, JOB_ROWS_OUT, LocalMetricsSink, read_local_metrics

pytestmark = pytest.mark.spark

START = datetime(2026, 11, 1, 0, 0, tzinfo=timezone.utc)


def job_args(tmp: Path, run_id: str, extra: tuple[str, ...] = ()) -> JobArgs:
    return JobArgs("test", "local", run_id, "local", tmp, None, None, list(extra))


def table_rows(spark, spec, keys):
    out = {}
    for r in spark.table(spec.fqn()).collect():
        d = r.asDict()
        out[tuple(d.pop(k) for k in keys)] = d
    return out


def assert_rows_equal(actual: dict, expected: dict, what: str) -> None:
    assert set(actual) == set(expected), (
        f"{what}: keys differ: +{set(actual) - set(expected)} -{set(expected) - set(actual)}"
    )
    for key, want in expected.items():
        got = actual[key]
        for col, value in want.items():
            if isinstance(value, float):
                assert math.isclose(got[col], value, rel_tol=1e-9, abs_tol=1e-9), (
                    what,
                    key,
                    col,
                    got[col],
                    value,
                )
            else:
                assert got[col] == value, (what, key, col, got[col], value)


def hour_of(line: str) -> tuple:
    dt = datetime.fromisoformat(json.loads(line)["meta"]["dt"].replace("Z", "+00:00"))
    return dt.date(), dt.hour


def crafted_lines() -> list[str]:
    """Hand-written events that must score MEDIUM and HIGH (the generated slice is calm):
    a temporary account blanking pages on 4 wikis, an IPv6 editor with 2 large deletions."""
    out = []
    editors = [
        (
            "~2026-10001-01",
            12,
            ["en.wikipedia.org", "de.wikipedia.org", "fr.wikipedia.org", "es.wikipedia.org"],
            12,
        )
    ]
    editors.append(("2001:DB8::7", 6, ["pl.wikipedia.org"], 2))
    for user, n, domains, deletions in editors:
        for i in range(n):
            dt = START + timedelta(hours=2, minutes=i)
            out.append(json.dumps({
                "meta": {"id": f"crafted-{user}-{i}", "dt": dt.isoformat().replace("+00:00", "Z"),
                         "domain": domains[i % len(domains)]},
                "type": "edit", "timestamp": int(dt.timestamp()), "namespace": 0, "title": f"Page {i}",
                "user": user, "bot": False, "length": {"old": 9000, "new": 100 if i < deletions else 9100},
            }))  # fmt: skip
    return out


def cycles(lines: list[str]) -> list[list[list[str]]]:
    """3 cycles of 2 micro-batches; 40 events of the first hour held back to cycle 3
    (the generator's first hour: its clock starts at START)."""
    first = (START.date(), START.hour)
    held = [line for line in lines[:600] if hour_of(line) == first][-40:]
    rest = [line for line in lines if line not in set(held)]
    third = len(rest) // 3
    parts = [rest[:third], rest[third : 2 * third], rest[2 * third :] + held]
    return [[p[: len(p) // 2], p[len(p) // 2 :]] for p in parts]


def test_gold_matches_oracle_over_incremental_cycles_with_late_data(empty_lake, tmp_path):
    spark = empty_lake
    # Given ~2,000 valid events over ~5 h (0.12 ev/s) with faults
    faults = FaultRates(duplicate=0.03, late=0.04, malformed_json=0.02)
    records = list(generate(2200, seed=11, start=START, rate_per_s=0.12, faults=faults))
    assert {r.expected for r in records} >= {"valid", "duplicate"}
    lines = valid_lines(records)
    lines[len(lines) // 2 : len(lines) // 2] = crafted_lines()
    min_events = load_config("local").pipeline.risk_min_events
    sink = LocalMetricsSink(tmp_path / "metrics.ndjson")

    delivered: list[str] = []
    touched_by_cycle = []
    offset = 0
    for n, batches in enumerate(cycles(lines), start=1):
        for b, batch in enumerate(batches):
            append_bronze(spark, batch, START + timedelta(hours=10 * n, minutes=b), offset)
            offset += len(batch)
            delivered += batch
        # When one silver + gold cycle runs
        silver = silver_batch.run(spark, job_args(tmp_path, f"cycle-{n}"), sink)
        gold = gold_batch.run(spark, job_args(tmp_path, f"cycle-{n}"), sink)
        assert (silver.status, gold.status) == ("SUCCEEDED", "SUCCEEDED")
        assert silver.rows_in == sum(len(b) for b in batches)
        touched_by_cycle.append({tuple(h) for h in silver.details["touched_hours"]})

        # Then every row equals the oracle's
        want_silver = oracle.silver(delivered)
        got_silver = table_rows(spark, SILVER_EVENTS, ["event_id"])
        assert_rows_equal(
            {k[0]: v for k, v in got_silver.items()},
            {k: {c: v for c, v in row.items() if c != "event_id"} for k, row in want_silver.items()},
            f"silver after cycle {n}",
        )
        rows = list(want_silver.values())
        want_risk = oracle.risk(rows, min_events)
        assert_rows_equal(
            table_rows(spark, HOURLY_STATS, ["event_date", "event_hour", "domain"]),
            oracle.hourly(rows),
            "hourly",
        )
        assert_rows_equal(table_rows(spark, RISK_SCORES, ["event_date", "user_name"]), want_risk, "risk")
        assert_rows_equal(
            table_rows(spark, DAILY_SUMMARY, ["event_date"]),
            {(d,): v for d, v in oracle.daily(rows, want_risk).items()},
            "daily",
        )

    # The scenario really had late data into an hour processed in cycle 1
    first_hour = (START.date(), START.hour)
    assert (first_hour[0].isoformat(), first_hour[1]) in touched_by_cycle[0] & touched_by_cycle[2]
    # ... some users were scored, and the late-fault events landed on an earlier day too
    assert len(table_rows(spark, RISK_SCORES, ["event_date", "user_name"])) > 5
    assert len(table_rows(spark, DAILY_SUMMARY, ["event_date"])) >= 2
    assert {
        r["risk_level"] for r in table_rows(spark, RISK_SCORES, ["event_date", "user_name"]).values()
    } == {"LOW", "MEDIUM", "HIGH"}
    # The ledger holds one SUCCEEDED silver and gold run per cycle; metrics were emitted
    ledger = runs_for(spark, "cycle-3")
    assert sorted((r["job"], r["status"]) for r in ledger) == [
        ("gold_batch", "SUCCEEDED"),
        ("silver_batch", "SUCCEEDED"),
    ]
    metrics = read_local_metrics(tmp_path / "metrics.ndjson")
    assert {(m["name"], m["dims"]["Job"]) for m in metrics} == {
        (JOB_DURATION, "silver_batch"), (JOB_ROWS_OUT, "silver_batch"),
        (JOB_DURATION, "gold_batch"), (JOB_ROWS_OUT, "gold_batch"),
    }  # fmt: skip
