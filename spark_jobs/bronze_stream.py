"""Bronze: the Structured Streaming job Kafka -> Iceberg (``bronze.raw_events`` and
``bronze.dead_letters``), exactly once.

Each micro-batch (``foreachBatch``, :class:`spark_jobs.bronze.writer.BronzeBatchWriter`):
parse every record once with an explicit schema derived from the event contract, check
the contract as Column expressions (same rule ids as the producer), de-duplicate by
``event_id``, insert-only ``MERGE`` the events into ``raw_events`` pruned to the batch's
own (date, hour) partitions, insert-only ``MERGE`` failures and producer-DLQ records
into ``dead_letters``, emit metrics. Re-running a batch after a crash inserts nothing
twice (see :mod:`spark_jobs.bronze.writer` for why, and where the lateness bound sits).

Source: Spark's Kafka source on BOTH topics (main and DLQ), on EMR (MSK, IAM auth) and
locally (Apache Kafka on 127.0.0.1, plaintext) alike — :mod:`spark_jobs.bronze.source`.
Its jars (``kafka-source`` bundle, plus ``msk-iam`` on EMR) are put on the classpath by
the launcher from the declaration in :mod:`spark_jobs.launch`; a missing topic or an
unreachable broker fails before the stream starts (:func:`~spark_jobs.bronze.source.preflight`).

On EMR Serverless the restart Lambda (``lambdas/bronze_restart``; not this module) starts
the always-on stream, with what ``stacks/constructs/restart_lambda.py`` renders from the
job registry (:data:`spark_jobs.registry.BRONZE_STREAM`)::

    StartJobRun(
        applicationId=..., executionRoleArn=..., name="bronze_stream",
        mode="STREAMING",                                   # long-running, no timeout
        retryPolicy={"maxFailedAttemptsPerHour": config.emr.bronze_max_failed_attempts_per_hour},
        jobDriver={"sparkSubmit": {
            "entryPoint": "s3://<artifacts>/spark_jobs/bronze_stream.py",
            "entryPointArguments": ["--env", ENV, "--run-id", "stream", "--target", "emr",
                "--table-bucket-arn", ARN, "--region", REGION,
                "--bootstrap", MSK_IAM_BOOTSTRAP_BROKERS,
                "--checkpoint", "s3://<artifacts>/checkpoints/bronze"],
            "sparkSubmitParameters": EmrServerless.submit_parameters_for(BRONZE_STREAM)}})

In ``pipeline.bronze_mode = "per_cycle"`` (dev) the state machine's ``BronzeIngest`` state
runs it instead, as a batch job run with the same arguments plus ``--available-now``.

Retries restart from the checkpoint, which is what makes them safe. Arguments: the
common ones (:mod:`spark_jobs.cli`) plus ``--checkpoint``, ``--trigger-seconds``
(default ``pipeline.bronze_trigger_seconds``),
``--bootstrap`` (required), ``--max-offsets-per-trigger`` (default
``pipeline.bronze_max_offsets_per_trigger``: a backlog is read in bounded batches) and, for
tests and benchmarks, ``--available-now`` (process what is there, then stop) and
``--max-batches N``.

Test hook: environment variable ``WIKISTREAM_BRONZE_CRASH_AT="<batch_id>:<point>"``
(``after_events`` | ``after_dead_letters``) kills the process right after that commit,
before the checkpoint commit. Read in :func:`main` only; unset in production.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence

from spark_jobs.registry import BRONZE_STREAM

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from spark_jobs.cli import JobArgs

CRASH_ENV = "WIKISTREAM_BRONZE_CRASH_AT"


def build_parser() -> argparse.ArgumentParser:
    """The bronze-specific arguments (the common ones are added by ``parse_job_args``)."""
    p = argparse.ArgumentParser(prog=BRONZE_STREAM.name)
    p.add_argument("--checkpoint", default=None, help="default (local): <data-dir>/checkpoints/bronze")
    p.add_argument("--trigger-seconds", type=int, default=None)
    p.add_argument("--bootstrap", default=None, help="Kafka bootstrap servers (required)")
    p.add_argument("--max-offsets-per-trigger", type=int, default=None)
    p.add_argument("--available-now", action="store_true")
    p.add_argument("--max-batches", type=int, default=None)
    return p


def source_options(args: JobArgs, ns: argparse.Namespace) -> Dict[str, str]:
    """The Kafka source options of this run: ``--max-offsets-per-trigger``, else the
    environment's ``pipeline.bronze_max_offsets_per_trigger`` (a backlog is always read
    in bounded batches)."""
    from spark_jobs.bronze.source import kafka_options

    limit = ns.max_offsets_per_trigger or args.config.pipeline.bronze_max_offsets_per_trigger
    return kafka_options(args.config.kafka, ns.bootstrap, limit)


def open_source(spark: SparkSession, args: JobArgs, ns: argparse.Namespace) -> DataFrame:
    """Check both topics exist, then open Spark's Kafka source on them."""
    from spark_jobs.bronze.source import kafka_stream, preflight, source_topics

    options = source_options(args, ns)
    preflight(spark, options, source_topics(args.config.kafka))
    return kafka_stream(spark, options)


def _offset_lag(progress: Optional[Any]) -> Optional[float]:
    """``maxOffsetsBehindLatest`` of the Kafka source's last progress, if reported."""
    if not progress:
        return None
    for source in progress.get("sources", []):
        value = (source.get("metrics") or {}).get("maxOffsetsBehindLatest")
        if value is not None:
            return float(value)
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the bronze stream until stopped (or until ``--available-now``/``--max-batches``)."""
    from spark_jobs.bronze.metrics import idle_trigger_data
    from spark_jobs.bronze.writer import BronzeBatchWriter, parse_crash_hook
    from spark_jobs.cli import metrics_for, parse_job_args, session_for
    from spark_jobs.create_tables import create_missing
    from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS
    from wikistream.events import TimeBounds

    parser = build_parser()
    args = parse_job_args(BRONZE_STREAM.name, argv, parser)
    # parse_job_args added the common arguments to ``parser``; this reads ours.
    ns = parser.parse_known_args(argv)[0]
    config = args.config
    if not ns.bootstrap:
        parser.error("--bootstrap (the Kafka bootstrap servers) is required")
    if ns.checkpoint is None:
        if args.target == "emr":
            parser.error("--target emr needs --checkpoint (s3://...)")
        ns.checkpoint = str(args.data_dir / "checkpoints" / "bronze")
    trigger_s = ns.trigger_seconds or config.pipeline.bronze_trigger_seconds

    spark = session_for(args, "wikistream-bronze")
    create_missing(spark, (RAW_EVENTS, DEAD_LETTERS))
    writer = BronzeBatchWriter(
        dlq_topic=config.kafka.dlq_topic,
        max_event_bytes=config.producer.max_event_bytes,
        env=config.env,
        time_bounds=TimeBounds.of(config.pipeline),
        sink=metrics_for(args),
        crash_hook=parse_crash_hook(os.environ.get(CRASH_ENV)),
    )
    from spark_jobs.bronze.source import KafkaSourceError

    try:
        source = open_source(spark, args, ns)
    except KafkaSourceError as exc:
        print(f"bronze: error: {exc}", file=sys.stderr, flush=True)
        return 2
    stream = source.writeStream.foreachBatch(writer)
    stream = stream.option("checkpointLocation", ns.checkpoint).queryName("bronze")
    if ns.available_now:
        stream = stream.trigger(availableNow=True)
    else:
        stream = stream.trigger(processingTime=f"{trigger_s} seconds")
    query = stream.start()
    print(f"bronze: kafka={ns.bootstrap} checkpoint={ns.checkpoint} trigger={trigger_s}s", flush=True)
    idle_key: Optional[str] = None
    try:
        while query.isActive:
            query.awaitTermination(1)
            progress = query.lastProgress
            writer.offset_lag = _offset_lag(progress)
            # An idle trigger runs no batch; report "processed 0" so only a dead stream
            # leaves the stalled alarm without data.
            idle, idle_key = idle_trigger_data(progress, idle_key, config.env)
            if idle and writer.sink is not None:
                for datum in idle:
                    writer.sink.emit(datum)
                writer.sink.flush()
            if ns.max_batches and writer.batches_done >= ns.max_batches:
                query.stop()
        query.awaitTermination()
    finally:
        if query.isActive:
            query.stop()
    print(f"bronze: stopped after {writer.batches_done} batch(es)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
