"""The Spark engine's aggregation passes and bronze's per-batch log line (pure parts)."""

from __future__ import annotations

from spark_jobs.bronze.metrics import PHASE_CLASSIFY, PHASE_DIVERGENT, BatchStats, batch_line
from spark_jobs.dq.engine_spark import aggregation_passes


def test_distinct_counts_get_a_pass_of_their_own() -> None:
    # Beside a distinct aggregate Spark builds every other aggregate once per key (the
    # freshness quantile: one digest per event id), so they must never share a query.
    exprs = [("rows", "count"), ("m0_n", "keys"), ("m0_d", "distinct"), ("m1", "quantile"), ("m2_d", "d2")]
    assert aggregation_passes(exprs) == [  # type: ignore[arg-type]
        [("rows", "count"), ("m0_n", "keys"), ("m1", "quantile")],
        [("m0_d", "distinct"), ("m2_d", "d2")],
    ]


def test_a_suite_without_distinct_counts_is_one_pass() -> None:
    exprs = [("rows", "count"), ("m1", "share")]
    assert aggregation_passes(exprs) == [exprs]  # type: ignore[arg-type]


def test_batch_line_accounts_for_the_batch_and_its_phases() -> None:
    stats = BatchStats(batch_id=3, records_in=120, events_in=110, dead_lettered=10, written=100)
    stats.divergent_duplicates = 4
    stats.duration_s = 2.5
    stats.phase_s = {PHASE_DIVERGENT: 0.4, PHASE_CLASSIFY: 1.25}
    assert batch_line(stats) == (
        "bronze: batch 3: 120 record(s) in -> 100 event(s) written, 6 exact replay(s) dropped, "
        "4 divergent duplicate(s), 10 dead-lettered; 2.5 s (classify 1.2 s, divergent 0.4 s)"
    )
