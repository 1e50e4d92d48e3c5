"""The reliability suite (``bench/reliability.py``) at CI size, on the session's Spark.

CI runs 2 (producer disconnects + SIGKILL, then bronze), 3 (the broker SIGKILLed and
restarted under a running producer and bronze stream), 4 (maintenance vs concurrent
appends) and 5 (silver + gold replayed). Left to ``make reliability``: 1 (bronze
SIGKILLed 5 times: six bronze JVM starts; ``test_bronze_crash.py`` proves the same at
20k events in CI) and 6 (the DQ matrix: the same matrix runs in ``test_dq_gates.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.reliability import ScenarioResult, render_table, run

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.spark]

CI_SCENARIOS = ("2", "3", "4", "5")


def test_reliability_ci_scenarios_lose_and_duplicate_nothing(spark: object, tmp_path: Path) -> None:
    results = run("ci", only=CI_SCENARIOS, spark=spark, work_dir=tmp_path, echo=print)
    table = render_table(results)
    print("\n" + table)

    assert [r.key for r in results] == list(CI_SCENARIOS)
    by_key = {r.key: r for r in results}
    for r in results:
        assert r.passed is True, f"{r.key} {r.scenario}: {r.note}"
        assert r.losses == 0, r
        assert r.events_in > 0 and r.events_out > 0, r
    for r in results:
        if r.exactly_once:
            assert r.duplicates == 0, r
    # The producer promises at-least-once only: Kafka duplicates are reported, but after
    # bronze there are none, and every sent line is accounted for.
    producer = by_key["2"]
    assert producer.details["bronze_duplicates"] == 0 and producer.details["bronze_losses"] == 0
    assert producer.events_out - (producer.duplicates or 0) == producer.events_in
    # A broker crash on a persistent log dir loses nothing: every line is accounted for
    # (landed, dead-lettered or filtered), in Kafka and after bronze.
    restart = by_key["3"]
    assert restart.events_out == restart.events_in and restart.details["kafka"]["losses"] == 0
    # The table renders one line per scenario with its verdict.
    lines = table.splitlines()
    assert len(lines) == 2 + len(results)
    assert all("PASS" in line for line in lines[2:])


def test_table_marks_passed_and_failed_rows() -> None:
    rows = [
        ScenarioResult("3", "broker restart", 10, 10, 0, 0, True, "nothing lost"),
        ScenarioResult("1", "bronze", 1_000, 999, 1, 0, False, "one duplicate", exactly_once=True),
    ]
    table = render_table(rows)
    assert "PASS: nothing lost" in table and "FAIL: one duplicate" in table
    assert "1,000" in table and "| -" not in table
