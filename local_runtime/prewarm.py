"""Pre-initialized capacity, locally: warm the job server before the first real cycle.

On AWS the staging application keeps pre-initialized EMR Serverless workers
(``emr.prewarm_drivers`` / ``emr.prewarm_executors`` in :mod:`wikistream.config`), so a
job does not wait for workers to start. Locally the cold start is of another kind: every
job state runs in one long-lived Spark session, and its first cycle used to be the slow
one, loading classes, compiling generated code and warming the JIT while it ran (30-45 s
against 20-30 s warm). That cycle set the freshness tail (docs/ARCHITECTURE.md).

So before ingestion starts, the runner executes **one cycle of the same synthesized
definition** against a scratch lake: a second Spark session of the same JVM, whose
catalog points at a scratch warehouse, seeded with generated events through the bronze
writer. Nothing of it reaches the real lake: the scratch session has its own catalog,
ledger and metrics file, and its directory is deleted afterwards.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from local_runtime.machine import local_state_machine
from wikistream.config import SPARK_CATALOG, PlatformConfig

#: Generated events the scratch bronze table starts with: enough for every job to run its
#: full plan (every gate check, every gold table), few enough to seed in seconds.
PREWARM_EVENTS = 2_000
#: Fixed seed: the warm-up is the same every run.
PREWARM_SEED = 4242
#: Seed events are stamped at the live stream's rate: 2,000 of them span the last 40 s.
SEED_RATE_PER_S = 50.0
#: The scratch cycle's Wait. The loop is stopped as soon as the cycle enters it, so it is
#: never waited out; a long one means no second scratch cycle can start (and submit a job
#: to the scratch lake) in the moment between entering Wait and the stop.
PREWARM_WAIT_S = 3600
#: A cold cycle takes under a minute on 2 cores; anything far longer is a fault.
PREWARM_TIMEOUT_S = 300.0


def seed_rows(count: int, seed: int, topic: str, partitions: int, now: datetime) -> list[tuple[Any, ...]]:
    """``count`` generated events as Kafka source rows, their event times ending at ``now``."""
    from local_runtime.generator import generate, start_ending_at

    start = start_ending_at(now, count, SEED_RATE_PER_S)
    records = generate(count, seed=seed, start=start, rate_per_s=SEED_RATE_PER_S)
    return [
        (None, record.line.encode(), topic, i % partitions, i // partitions, now, 0)
        for i, record in enumerate(records)
    ]


def scratch_session(spark: Any, warehouse: Path) -> Any:
    """A new session of ``spark``'s JVM whose catalog is a scratch warehouse.

    Catalogs are per session and loaded on first use, so setting the warehouse before
    that first use points only this session at ``warehouse``.
    """
    session = spark.newSession()
    session.conf.set(f"spark.sql.catalog.{SPARK_CATALOG}.warehouse", warehouse.resolve().as_uri())
    return session


def seed_bronze(session: Any, config: PlatformConfig, rows: list[tuple[Any, ...]]) -> None:
    """Land ``rows`` in the scratch bronze tables the way the bronze stream would."""
    from spark_jobs.bronze.schema import kafka_schema
    from spark_jobs.bronze.writer import BronzeBatchWriter

    writer = BronzeBatchWriter(
        dlq_topic=config.kafka.dlq_topic,
        max_event_bytes=config.producer.max_event_bytes,
        env=config.env,
        log_batches=False,  # a scratch seed, not a bronze batch anyone should read about
    )
    writer(session.createDataFrame(rows, kafka_schema()), 0)


def prewarm(
    spark: Any,
    definition: dict[str, Any],
    config: PlatformConfig,
    scratch_dir: Path,
    events: int = PREWARM_EVENTS,
) -> dict[str, Any]:
    """Run one cycle of ``definition`` on a scratch lake in ``spark``'s JVM; return that cycle.

    Raises when the scratch cycle does not complete: a definition or job that fails on
    clean generated data would fail the real run too, and is better reported now.
    """
    from local_runtime.jobs import run_local_job
    from spark_jobs.create_tables import create_missing

    shutil.rmtree(scratch_dir, ignore_errors=True)
    session = scratch_session(spark, scratch_dir / "warehouse")
    try:
        create_missing(session)
        now = datetime.now(timezone.utc)
        seed_bronze(
            session,
            config,
            seed_rows(events, PREWARM_SEED, config.kafka.topic, config.kafka.partitions, now),
        )
        with local_state_machine(
            definition,
            f"{config.prefix}-prewarm",
            lambda request: run_local_job(session, request, scratch_dir, config.dq.engine),
        ) as machine:
            cycle = machine.run_one_cycle("prewarm", PREWARM_WAIT_S, PREWARM_TIMEOUT_S)
            alerts = machine.alerts()
        if not cycle["completed"]:
            detail = "; ".join(f"{a['subject']}: {a['message']}" for a in alerts) or "no alert published"
            raise RuntimeError(
                f"the pre-warm cycle {cycle['status']} at {cycle['states'][-1]}: {detail} "
                "(--no-prewarm, or PREWARM=0 with make, skips the pre-warm)"
            )
        return cycle
    finally:
        # Cached data is shared by every session of the JVM; the scratch lake's is not needed.
        session.catalog.clearCache()
        shutil.rmtree(scratch_dir, ignore_errors=True)
