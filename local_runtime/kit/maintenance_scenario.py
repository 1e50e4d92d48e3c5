"""Bronze micro-batch appends and "maintenance while the stream keeps writing".

Shared by the maintenance component test (``tests/component/test_maintenance.py``), the
reliability suite's maintenance-conflict scenario (``bench/reliability.py``) and the
maintenance benchmark (``bench/maintenance_bench.py``), so all three fragment the table
and race the writer the same way.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, List

from spark_jobs import maintenance as m
from wikistream.catalogue import RAW_EVENTS
from wikistream.config import LakehouseConfig, load_config
from wikistream.events import EVENT_TIME_FROM_DT

BRONZE = RAW_EVENTS.fqn()
START = datetime(2026, 11, 1, 0, 0, tzinfo=timezone.utc)
HOURS = 10
#: Pause between the concurrent writer's appends: the local bronze trigger is 8 s (60 s on
#: AWS). Back-to-back appends on 2 shared cores starve the compaction commit instead.
WRITER_PAUSE_S = 1.0


def _lit(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return "TIMESTAMP '" + value.strftime("%Y-%m-%d %H:%M:%S.%f") + "'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def _row(event_id: str, when: datetime, offset: int) -> str:
    values = {
        "event_id": event_id,
        "rc_id": offset,
        "event_type": "edit",
        "namespace": 0,
        "title": f"T{offset}",
        "domain": "en.wikipedia.org",
        "wiki": "enwiki",
        "user_name": None if offset % 7 == 0 else f"u{offset % 11}",
        "is_bot": offset % 3 == 0,
        "is_minor": False,
        "is_patrolled": None,
        "length_old": offset,
        "length_new": offset * 2,
        "revision_old": None,
        "revision_new": offset,
        "comment": "c",
        "log_type": None,
        "log_action": None,
        "server_name": "en.wikipedia.org",
        "event_time": when,
        "event_time_source": EVENT_TIME_FROM_DT,
        "event_date": when.date(),
        "event_hour": when.hour,
        "ingest_time": when,
        "kafka_topic": "t",
        "kafka_partition": offset % 4,
        "kafka_offset": offset,
        "kafka_timestamp": when,
        "raw_payload": "{}",
    }
    return "(" + ", ".join(_lit(values[c]) for c in RAW_EVENTS.column_names) + ")"


def append_batch(spark: Any, prefix: str, batch: int, hours: int = HOURS, per_hour: int = 2) -> List[str]:
    """One INSERT (one append snapshot) with ``per_hour`` rows in each of ``hours`` hours."""
    ids: List[str] = []
    rows: List[str] = []
    for h in range(hours):
        for k in range(per_hour):
            eid = f"{prefix}-{batch}-{h}-{k}"
            ids.append(eid)
            offset = batch * 100 + h * 10 + k
            rows.append(_row(eid, START + timedelta(hours=h, seconds=offset), offset))
    spark.sql(f"INSERT INTO {BRONZE} VALUES {', '.join(rows)}")
    return ids


def pre_state(spark: Any) -> Any:
    """Query results over the pre-existing rows, and how many files hold them."""
    result = sorted(
        tuple(r)
        for r in spark.sql(
            f"SELECT event_date, event_hour, count(*), sum(hash(*)), count(user_name) FROM {BRONZE} "
            "WHERE event_id LIKE 'pre-%' GROUP BY event_date, event_hour"
        ).collect()
    )
    files = spark.sql(f"SELECT count(DISTINCT _file) FROM {BRONZE} WHERE event_id LIKE 'pre-%'").collect()[0][
        0
    ]
    return result, files


@dataclass
class ConcurrentRun:
    """What :func:`maintain_during_appends` did: the maintenance report and the writer's side."""

    report: Any
    policy: LakehouseConfig
    written: List[str] = field(default_factory=list)
    writer_retries: List[int] = field(default_factory=list)
    errors: List[BaseException] = field(default_factory=list)
    writer_alive: bool = False


def maintain_during_appends(spark: Any) -> ConcurrentRun:
    """Compact, rewrite manifests and expire snapshots (0 h retention) on bronze while a
    second thread keeps appending 2-hour batches, as the bronze stream would.

    The writer makes at least 3 appends, retries commit conflicts itself, and stops once
    maintenance has finished.
    """
    policy = replace(load_config("local").lakehouse, snapshot_retention_hours=0, min_snapshots_to_keep=3)
    run = ConcurrentRun(report=None, policy=policy)
    stop = threading.Event()

    def writer() -> None:
        batch = 0
        while not stop.is_set() or batch < 3:
            try:
                ids, retries = m.with_retries(
                    lambda b=batch: append_batch(spark, "conc", b, hours=2), base_s=0.2
                )
            except Exception as exc:
                run.errors.append(exc)
                return
            run.written.extend(ids)
            run.writer_retries.append(retries)
            batch += 1
            stop.wait(WRITER_PAUSE_S)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    time.sleep(1.0)  # let the writer get going first
    steps = m.plan_table(
        BRONZE,
        m.table_properties(spark, BRONZE),
        policy,
        "local",
        datetime.now(timezone.utc),
        requested=[m.COMPACT, m.MANIFESTS, m.EXPIRE],
    )
    run.report = m.maintain_table(spark, steps, attempts=6, base_s=0.5)
    stop.set()
    thread.join(timeout=120)
    run.writer_alive = thread.is_alive()
    return run
