"""Bronze's contract in Spark agrees with the Python contract, line by line; the pure
pieces of the bronze job (Kafka options, MERGE SQL, retries, schemas) do what they say."""

from __future__ import annotations

import json
from typing import Any, List

import pytest

from local_runtime.generator import DEAD_LETTER_PREFIX, FaultRates, generate
from wikistream.config import load_config
from wikistream.events import CONTRACT, RULE_FUTURE_EVENT, RULE_TOO_LATE, parse_and_check

MAX_BYTES = load_config("local").producer.max_event_bytes
TIME_RULES = (RULE_FUTURE_EVENT, RULE_TOO_LATE)

_REAL = {
    "meta": {"id": "e1", "dt": "2026-11-01T10:00:00Z", "domain": "en.wikipedia.org", "partition": 0},
    "type": "edit",
    "timestamp": 1793527200,
    "id": 7,
    "namespace": 0,
    "title": "1984",
    "comment": "[[Foo]]",
    "user": "2001:db8::1",
    "bot": False,
    "length": {"old": 1, "new": 2},
    "revision": {"old": 1, "new": 2},
}


def _variant(**changes: Any) -> str:
    event = json.loads(json.dumps(_REAL))
    for key, value in changes.items():
        if value is _DROP:
            event.pop(key, None)
        else:
            event[key] = value
    return json.dumps(event)


_DROP = object()

#: Hand-written edge cases next to the generated ones: real shapes that must pass, and
#: tricky invalid text (glued messages, single quotes, nested wrong types, non-objects).
EDGE_LINES: List[str] = [
    _variant(),
    _variant(type="categorize", length=_DROP, revision=_DROP),
    _variant(type="log", id=_DROP, log_type="block", log_action="block"),
    _variant(namespace=-1, user="~2026-50211-05"),
    _variant(title="true", comment="{x}"),
    _variant(title=1984),
    # Text at the edges of the "starts like a number" byte range, as strings and as numbers.
    _variant(title="-5", comment="9 lives"),
    _variant(title=-5),
    _variant(title=-0.5e3),
    _variant(title=".5", comment="/x"),
    _variant(title="", comment=":)"),
    _variant(user=["a"]),
    _variant(comment={"a": 1}),
    _variant(bot="false"),
    _variant(meta=5),
    _variant(length="x"),
    _variant(type="nope"),
    _variant(timestamp=1.5),
    _variant() + _variant(),
    _variant() + " x",
    # Text after the object, where Spark's parser stops: each must get Python's verdict
    # (whitespace passes, anything else is malformed_json), on the fast path (a plain
    # title and comment) and through the full rules.
    *(
        base + tail
        for base in (_variant(), _variant(title="Foo", comment="edit"))
        for tail in (",", "," + base, "}", "][1]}", "]x}", ",0]x}", " ]", " \n\t")
    ),
    json.dumps({**_REAL, "extra": float("nan")}),
    "{'a': 1}",
    "[1, 2]",
    "42",
    "",
    "{}",
]


def _spark_rules(spark: Any, lines: List[str]) -> List[Any]:
    from pyspark.sql import functions as F

    from spark_jobs.bronze.contract import with_contract

    df = spark.createDataFrame([(i, line) for i, line in enumerate(lines)], "i int, value_str string")
    df = df.withColumn("value_size", F.octet_length("value_str"))
    rows = with_contract(df, MAX_BYTES).select("i", "failed_rule").orderBy("i").collect()
    return [r.failed_rule for r in rows]


@pytest.mark.spark
def test_spark_contract_matches_python_contract_on_every_generated_line(spark: Any) -> None:
    # Given: generated lines with every fault kind (the generator labels them itself).
    faults = FaultRates.parse(
        "malformed_json=0.05,missing_required=0.05,wrong_type=0.08,duplicate=0.02,late=0.02,"
        "future=0.02,unknown_domain=0.02,oversized=0.005,schema_drift=0.04"
    )
    records = list(generate(3000, seed=3, faults=faults))
    lines = [r.line for r in records] + EDGE_LINES
    # When
    got = _spark_rules(spark, lines)
    # Then: the Python contract (independent oracle) agrees on every line...
    oracle = [parse_and_check(line, MAX_BYTES)[1] for line in lines]
    mismatches = [(lines[i][:120], oracle[i], got[i]) for i in range(len(lines)) if oracle[i] != got[i]]
    assert mismatches == []
    # ...and so do the generator's labels on the generated ones.
    for rec, rule in zip(records, got):
        label = rec.expected[len(DEAD_LETTER_PREFIX) :]
        if rec.expected.startswith(DEAD_LETTER_PREFIX) and label not in TIME_RULES:
            assert rule == label, rec.line[:200]
        elif label in TIME_RULES:
            # Future events pass the contract; the event-time rule catches them
            # (tests/unit/test_bronze_event_time.py).
            assert rule is None, rec.line[:200]
        else:
            assert rule is None, rec.line[:200]
    kinds = {r.fault for r in records}
    assert {"malformed_json", "missing_required", "wrong_type", "oversized"} <= kinds
    # Real shapes passed: categorize without length, log without id, IPv6/temporary users.
    assert got[len(records) : len(records) + 5] == [None] * 5


def _split_path_rules(spark: Any, lines: List[str]) -> List[Any]:
    """The writer's path: typed parse + fast verdict persisted, full rules only off the fast path."""
    from pyspark.sql import functions as F

    from spark_jobs.bronze.contract import with_failed_rule, with_parsed_event

    df = spark.createDataFrame([(i, line) for i, line in enumerate(lines)], "i int, value_str string")
    parsed = with_parsed_event(df.withColumn("value_size", F.octet_length("value_str")), MAX_BYTES).persist()
    try:
        fast = parsed.where("_fast").count()
        rows = with_failed_rule(parsed, MAX_BYTES).select("i", "failed_rule").orderBy("i").collect()
    finally:
        parsed.unpersist()
    assert len(rows) == len(lines)
    return [fast] + [r.failed_rule for r in rows]


@pytest.mark.spark
def test_split_contract_path_matches_python_contract(spark: Any) -> None:
    # Given: the same kinds of faults, a different seed, and the hand-written edge cases.
    faults = FaultRates.parse(
        "malformed_json=0.05,missing_required=0.05,wrong_type=0.08,duplicate=0.02,late=0.02,"
        "future=0.02,unknown_domain=0.02,oversized=0.005,schema_drift=0.04"
    )
    lines = [r.line for r in generate(2000, seed=11, faults=faults)] + EDGE_LINES
    # When: rules are decided the way the writer does it (fast path, then the rest).
    fast, *got = _split_path_rules(spark, lines)
    # Then: the Python contract agrees on every line, and the fast path did carry most rows
    # (a fast path that never fires would pass the first check and be useless).
    oracle = [parse_and_check(line, MAX_BYTES)[1] for line in lines]
    mismatches = [(lines[i][:120], oracle[i], got[i]) for i in range(len(lines)) if oracle[i] != got[i]]
    assert mismatches == []
    assert 0 < fast <= oracle.count(None)
    assert fast >= 0.5 * oracle.count(None)


def test_contract_expressions_are_built_once_and_reused_across_batches(spark: Any) -> None:
    # Given: the contract steps built for one micro-batch.
    from spark_jobs.bronze.contract import contract_steps

    first = contract_steps(MAX_BYTES, "value_str", "value_size", CONTRACT)
    # When: the next batch (or the fast-path parse) asks for them again.
    again = contract_steps(MAX_BYTES, "value_str", "value_size", CONTRACT)
    other = contract_steps(MAX_BYTES + 1, "value_str", "value_size", CONTRACT)
    # Then: the same Column objects come back (no ~9,000 Py4J calls per batch), and a
    # different size limit gets its own expressions (its limit is a literal inside them).
    assert again is first
    assert other is not first
    assert [list(step) for step in first[0]][:2] == [["_event"], ["_fast"]]
