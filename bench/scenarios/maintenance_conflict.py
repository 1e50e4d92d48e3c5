"""Reliability scenario 4: table maintenance (compaction) while appends commit
concurrently: every appended row exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

from bench.scenarios.common import (
    ScenarioResult,
    reset_lake,
)


def maintenance_conflict(spark: Any, batches: int, work: Path) -> ScenarioResult:
    """Scenario 4: compaction + manifest rewrite + expiry while a writer keeps appending."""
    from local_runtime.kit.maintenance_scenario import BRONZE, append_batch, maintain_during_appends
    from spark_jobs import maintenance as m

    reset_lake(spark)
    expected: List[str] = []
    for batch in range(batches):
        expected += append_batch(spark, "pre", batch)
    probe = (
        f"SELECT event_date, event_hour, count(*), sum(hash(*)) FROM {BRONZE} "
        "WHERE event_id LIKE 'pre-%' GROUP BY event_date, event_hour ORDER BY 1, 2"
    )
    before = [tuple(r) for r in spark.sql(probe).collect()]
    run = maintain_during_appends(spark)
    report, written, writer_retries, errors = run.report, run.written, run.writer_retries, run.errors
    expected += written
    got = [r[0] for r in spark.sql(f"SELECT event_id FROM {BRONZE}").collect()]
    after = [tuple(r) for r in spark.sql(probe).collect()]
    duplicates = len(got) - len(set(got)) + len(set(got) - set(expected))
    losses = len(set(expected) - set(got))
    statuses = {name: report.steps[name]["status"] for name in (m.COMPACT, m.MANIFESTS, m.EXPIRE)}
    ok = (
        not errors
        and duplicates == 0
        and losses == 0
        and after == before
        and set(statuses.values()) == {"ok"}
    )
    note = (
        f"maintenance retries {report.retries}, writer retries {sum(writer_retries)} over {len(writer_retries)} "
        f"concurrent appends; files {report.before['data_files']}->{report.after['data_files']}; "
        f"{'/'.join(statuses.values())}; results over old rows {'unchanged' if after == before else 'CHANGED'}"
    )
    if errors:
        note += f"; writer error {errors[0]!r}"[:200]
    if report.retries + sum(writer_retries) == 0:
        note += "; no commit conflict occurred this run"
    return ScenarioResult(
        "4",
        "maintenance vs appends",
        len(expected),
        len(got),
        duplicates,
        losses,
        ok,
        note,
        exactly_once=True,
    )
