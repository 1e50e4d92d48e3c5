"""Explicit Spark schemas for bronze, all derived from data (no inference).

* :func:`kafka_schema` is the row shape of Spark's Kafka source; the local bridge lands
  Parquet files of exactly this shape so the file source delivers identical rows.
* :func:`typed_event_schema` is the read schema of a recentchange event, built from
  :data:`wikistream.events.CONTRACT` (JSON ``int`` -> ``long``, ``bool`` -> ``boolean``,
  ``string`` -> ``string``), plus ``_corrupt_record``: Spark's JSON parser fills it when
  the text is malformed *or* a field has the wrong JSON type (partial results keep the
  other fields), which is how the rare slow path of the contract check is selected.
* :func:`presence_schema` has every contract leaf as ``string``; Spark's parser turns
  any non-null JSON token into text for a string field, so "not null" means "present".
* :func:`probe_schema` types only the contract's *string* leaves as a probe type
  (double, boolean, empty struct, array): a string field parses to non-null under a
  probe exactly when its JSON token is a number, a boolean, an object or an array.

Python 3.9-compatible.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Tuple, Union

from pyspark.sql import types as T

from wikistream.events import CONTRACT, FieldRule

CORRUPT_COLUMN = "_corrupt_record"

#: JSON type in the contract -> Spark type of the typed read schema.
_TYPED: Dict[str, T.DataType] = {
    "string": T.StringType(),
    "int": T.LongType(),
    "bool": T.BooleanType(),
    "object": T.StructType([]),
}

#: Probe kinds for string fields: name -> Spark type that accepts only that JSON token kind.
PROBE_TYPES: Dict[str, T.DataType] = {
    "number": T.DoubleType(),
    "boolean": T.BooleanType(),
    "object": T.StructType([]),
    "array": T.ArrayType(T.StringType()),
}

_Tree = Dict[str, Union["_Tree", FieldRule]]


def kafka_schema() -> T.StructType:
    """The columns of Spark's Kafka source (and of the bridge's landed Parquet files)."""
    return T.StructType(
        [
            T.StructField("key", T.BinaryType()),
            T.StructField("value", T.BinaryType()),
            T.StructField("topic", T.StringType()),
            T.StructField("partition", T.IntegerType()),
            T.StructField("offset", T.LongType()),
            T.StructField("timestamp", T.TimestampType()),
            T.StructField("timestampType", T.IntegerType()),
        ]
    )


def dlq_envelope_schema() -> T.StructType:
    """The producer's DLQ envelope (``producer.validation.dlq_envelope``)."""
    return T.StructType(
        [
            T.StructField("reason", T.StringType()),
            T.StructField("raw", T.StringType()),
            T.StructField("raw_truncated", T.BooleanType()),
            T.StructField("raw_bytes", T.LongType()),
            T.StructField("raw_sha256", T.StringType()),
            T.StructField("sse_id", T.StringType()),
            T.StructField("received_at", T.StringType()),
        ]
    )


def _tree(rules: Tuple[FieldRule, ...]) -> _Tree:
    root: _Tree = {}
    for rule in rules:
        node = root
        for key in rule.path[:-1]:
            child = node.setdefault(key, {})
            if isinstance(child, FieldRule):
                raise ValueError(f"contract path {rule.name} nests under a leaf")
            node = child
        node[rule.path[-1]] = rule
    return root


def _struct(tree: _Tree, leaf: Callable[[FieldRule], T.DataType]) -> T.StructType:
    fields: List[T.StructField] = []
    for name, node in tree.items():
        if isinstance(node, FieldRule):
            fields.append(T.StructField(name, leaf(node)))
        else:
            fields.append(T.StructField(name, _struct(node, leaf)))
    return T.StructType(fields)


def typed_event_schema(rules: Tuple[FieldRule, ...] = CONTRACT) -> T.StructType:
    """Typed read schema of an event, plus ``_corrupt_record``."""
    schema = _struct(_tree(rules), lambda r: _TYPED[r.type])
    return schema.add(T.StructField(CORRUPT_COLUMN, T.StringType()))


def presence_schema(rules: Tuple[FieldRule, ...] = CONTRACT) -> T.StructType:
    """Every contract leaf as ``string``: non-null iff present and not JSON ``null``."""
    return _struct(_tree(rules), lambda r: T.StringType())


def string_rules(rules: Tuple[FieldRule, ...] = CONTRACT) -> Tuple[FieldRule, ...]:
    """The contract's string-typed fields (the only ones Spark's typed parse cannot check)."""
    return tuple(r for r in rules if r.type == "string")


def probe_schema(kind: str, rules: Tuple[FieldRule, ...] = CONTRACT) -> T.StructType:
    """The string fields of the contract typed as the probe type of ``kind``."""
    probe = PROBE_TYPES[kind]
    return _struct(_tree(string_rules(rules)), lambda r: probe)
