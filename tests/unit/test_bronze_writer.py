"""Bronze's pure parts: the event schema derived from the contract, the Kafka source
options, the MERGE's partition pruning, commit retries, the crash hook and idle-trigger
metrics (the Spark half of the contract: tests/component/test_bronze_contract.py)."""

from __future__ import annotations

from datetime import date
from typing import Any, List

import pytest

from spark_jobs.bronze.source import kafka_options
from spark_jobs.bronze.writer import (
    merge_dead_letters_sql,
    merge_events_sql,
    parse_crash_hook,
    partition_predicate,
    with_retries,
)
from wikistream.config import load_config
from wikistream.events import CONTRACT


def test_event_schema_is_derived_from_the_contract() -> None:
    from pyspark.sql import types as T

    from spark_jobs.bronze.schema import presence_schema, typed_event_schema

    typed = typed_event_schema()
    expected = {"string": T.StringType(), "int": T.LongType(), "bool": T.BooleanType()}
    for rule in CONTRACT:
        node: Any = typed
        for key in rule.path:
            node = node[key].dataType
        assert node == expected[rule.type], rule.name
        node = presence_schema()
        for key in rule.path:
            node = node[key].dataType
        assert node == T.StringType()
    assert typed.fieldNames()[-1] == "_corrupt_record"


def test_kafka_options_read_both_topics_with_msk_iam() -> None:
    kafka = load_config("prod").kafka
    assert kafka_options(kafka, "b-1:9098,b-2:9098") == {
        "kafka.bootstrap.servers": "b-1:9098,b-2:9098",
        "subscribe": "wikistream.recentchange,wikistream.recentchange.dlq",
        "startingOffsets": "earliest",
        "failOnDataLoss": "true",
        # The consumer group the execution role may use on MSK (wikistream-bronze*).
        "groupIdPrefix": "wikistream-bronze",
        # Spark's consumer only fetches ranges that exist: never wait 500 ms for more.
        "kafka.fetch.max.wait.ms": "50",
        "kafka.security.protocol": "SASL_SSL",
        "kafka.sasl.mechanism": "AWS_MSK_IAM",
        "kafka.sasl.jaas.config": "software.amazon.msk.auth.iam.IAMLoginModule required;",
        "kafka.sasl.client.callback.handler.class": "software.amazon.msk.auth.iam.IAMClientCallbackHandler",
    }
    assert kafka_options(kafka, "b:9098", 5000)["maxOffsetsPerTrigger"] == "5000"
    # Locally only the bootstrap servers and the security options differ, from config.
    local = kafka_options(load_config("local").kafka, "127.0.0.1:9092")
    remote = kafka_options(kafka, "127.0.0.1:9092")
    assert {k: v for k, v in local.items() if not k.startswith("kafka.s")} == {
        k: v for k, v in remote.items() if not k.startswith("kafka.s")
    }
    assert {k: v for k, v in local.items() if k.startswith("kafka.s")} == {
        "kafka.security.protocol": "PLAINTEXT"
    }
    with pytest.raises(ValueError):
        kafka_options(kafka, "")


def test_merge_prunes_to_exactly_the_batch_partitions() -> None:
    pairs = [(date(2026, 11, 1), 23), (date(2026, 11, 2), 0), (date(2026, 11, 1), 5), (date(2026, 11, 1), 23)]
    assert partition_predicate(pairs) == (
        "((t.event_date = DATE'2026-11-01' AND t.event_hour IN (5, 23)) OR "
        "(t.event_date = DATE'2026-11-02' AND t.event_hour IN (0)))"
    )
    sql = merge_events_sql("v", pairs)
    assert sql.startswith("MERGE INTO lake.bronze.raw_events t USING v s ON t.event_id = s.event_id AND ((")
    assert sql.endswith("WHEN NOT MATCHED THEN INSERT *") and "WHEN MATCHED" not in sql
    assert partition_predicate([]) == "FALSE"
    dl = merge_dead_letters_sql("d", date(2026, 11, 2))
    assert "t.dead_letter_id = s.dead_letter_id AND t.ingest_date >= DATE'2026-11-01'" in dl
    assert "ingest_date" not in merge_dead_letters_sql("d", None)


def test_retries_only_commit_conflicts_with_backoff() -> None:
    calls: List[int] = []
    sleeps: List[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("org.apache.iceberg.exceptions.CommitFailedException: conflict")
        return "ok"

    assert with_retries(flaky, sleep=sleeps.append) == "ok"
    assert sleeps == [1.0, 2.0]

    def broken() -> None:
        raise RuntimeError("AnalysisException: no such table")

    with pytest.raises(RuntimeError, match="no such table"):
        with_retries(broken, sleep=sleeps.append)
    assert sleeps == [1.0, 2.0]


def test_crash_hook_parsing() -> None:
    assert parse_crash_hook(None) is None
    assert parse_crash_hook("3:after_events") == (3, "after_events")
    with pytest.raises(ValueError):
        parse_crash_hook("3:somewhere")


def test_idle_trigger_reports_zero_once_per_trigger() -> None:
    from spark_jobs.bronze.metrics import idle_trigger_data
    from wikistream import metrics as names

    idle = {"batchId": 7, "numInputRows": 0, "timestamp": "2026-11-01T00:00:00.000Z"}
    # Given an idle trigger: zero records in and processed, with the Env dimension.
    data, key = idle_trigger_data(idle, None, "dev", now=5.0)
    assert [(d.name, d.value, d.dimensions) for d in data] == [
        (names.BRONZE_RECORDS_IN, 0.0, {"Env": "dev"}),
        (names.BRONZE_RECORDS_PROCESSED, 0.0, {"Env": "dev"}),
    ]
    # The same progress polled again is not counted twice...
    assert idle_trigger_data(idle, key, "dev") == ([], key)
    # ...the next idle trigger (same pending batchId, later start) is reported again...
    later = dict(idle, timestamp="2026-11-01T00:01:00.000Z")
    again, key2 = idle_trigger_data(later, key, "dev")
    assert len(again) == 2 and key2 != key
    # ...and triggers that read rows, or no progress yet, are left to the writer.
    assert idle_trigger_data(dict(idle, numInputRows=12), key2, "dev") == ([], key2)
    assert idle_trigger_data(None, key2, "dev") == ([], key2)


def _bronze_source_options(*extra: str) -> dict:
    """The Kafka options bronze_stream opens its source with, for these arguments."""
    from spark_jobs.bronze_stream import build_parser, source_options
    from spark_jobs.cli import parse_job_args

    argv = ["--env", "staging", "--table-bucket-arn", "arn:aws:s3tables:eu-west-1:1:bucket/b"]
    argv += ["--region", "eu-west-1", "--bootstrap", "b-1:9098", *extra]
    parser = build_parser()
    args = parse_job_args("bronze_stream", argv, parser)
    return source_options(args, parser.parse_known_args(argv)[0])


def test_bronze_reads_a_backlog_in_bounded_batches() -> None:
    # The deployed job runs pass no --max-offsets-per-trigger: the environment's bound applies.
    bound = load_config("staging").pipeline.bronze_max_offsets_per_trigger
    assert _bronze_source_options()["maxOffsetsPerTrigger"] == str(bound)
    assert _bronze_source_options("--max-offsets-per-trigger", "5000")["maxOffsetsPerTrigger"] == "5000"
