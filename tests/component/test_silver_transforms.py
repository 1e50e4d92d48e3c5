"""Unit tests of the silver transforms: tiny explicit inputs, whole-result assertions,
always a null row (house style #9). Expectations are written out by hand here."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from pyspark.sql.types import (
    BooleanType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from spark_jobs.silver.transforms import (
    dedupe_earliest,
    to_silver,
    with_editor_class,
    with_is_valid,
    with_length_delta,
    with_normalised_user,
    with_region_language,
)
from tests.dataframes import assert_df_equality
from wikistream.catalogue import RAW_EVENTS, SILVER_EVENTS

pytestmark = pytest.mark.spark

T0 = datetime(2026, 11, 1, 10, 30, tzinfo=timezone.utc)


def _with(schema: StructType, *fields: StructField) -> StructType:
    """``schema`` plus the columns a transform adds."""
    return StructType([*schema.fields, *fields])


def test_normalised_user_trims_strips_controls_and_nulls_empty(spark):
    schema = StructType([StructField("k", IntegerType()), StructField("user_name", StringType())])
    given = [
        (1, "  Alice "),
        (2, "Bo\x00b\x1f"),
        (3, "\u00a0Carol\u2003"),
        (4, "   "),
        (5, "\t\n"),
        (6, ""),
        (7, None),
        (8, "Dan\u0085 Smith"),
        (9, "  ~2026-1-2  "),
    ]
    out = spark.createDataFrame(given, schema).transform(with_normalised_user)
    expected = spark.createDataFrame(
        [
            (1, "Alice"),
            (2, "Bob"),
            (3, "Carol"),
            (4, None),
            (5, None),
            (6, None),
            (7, None),
            (8, "Dan Smith"),
            (9, "~2026-1-2"),
        ],
        schema,
    )
    assert_df_equality(out, expected)


IPV6_FORMS = [
    "::",
    "::1",
    "1::",
    "2001:DB8::1",
    "2001:db8:0:0:0:0:2:1",
    "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    "fe80::1ff:fe23:4567:890a",
    "::ffff:1.2.3.4",
    "::FFFF:192.168.0.1",
    "64:ff9b::192.0.2.33",
    "1:2:3:4:5:6:1.2.3.4",
    "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8",
    "A:B:C:D:E:F:0:1",
]
NOT_IP = [
    "1:2:3:4:5:6:7:8:9",
    "12345::1",
    ":::",
    "1::2::3",
    "::ffff:1.2.3.256",
    "2001:db8::g",
    "1.2.3",
    "01.2.3.4",
]


def test_editor_class_covers_every_class_and_ip_form(spark):
    schema = StructType([StructField("user_name", StringType()), StructField("is_bot", BooleanType())])
    given = (
        [(ip, False) for ip in IPV6_FORMS]
        + [(bad, None) for bad in NOT_IP]
        + [
            ("1.2.3.4", False),
            ("255.255.255.255", None),
            ("256.1.1.1", False),
            ("~2026-50211-05", False),
            ("~2026-1-1", None),
            ("~26-1-1", False),
            ("~2026-12345-67x", False),
            ("ExampleBot", True),
            ("1.2.3.4", True),
            (None, True),
            (None, None),
            ("Alice", None),
        ]
    )
    out = spark.createDataFrame(given, schema).transform(with_editor_class)
    expected = (
        [(ip, False, "anonymous_ipv6", True) for ip in IPV6_FORMS]
        + [(bad, False, "registered", False) for bad in NOT_IP]
        + [
            ("1.2.3.4", False, "anonymous_ipv4", True),
            ("255.255.255.255", False, "anonymous_ipv4", True),
            ("256.1.1.1", False, "registered", False),
            ("~2026-50211-05", False, "temporary", True),
            ("~2026-1-1", False, "temporary", True),
            ("~26-1-1", False, "registered", False),
            ("~2026-12345-67x", False, "registered", False),
            ("ExampleBot", True, "bot", False),
            ("1.2.3.4", True, "bot", False),
            (None, True, "bot", False),
            (None, False, "unknown", False),
            ("Alice", False, "registered", False),
        ]
    )
    # is_bot is coalesced to False; every row gets a class and an anonymity flag (never null)
    out_schema = StructType(
        [
            StructField("user_name", StringType()),
            StructField("is_bot", BooleanType(), nullable=False),
            StructField("editor_class", StringType(), nullable=False),
            StructField("is_anonymous", BooleanType(), nullable=False),
        ]
    )
    assert_df_equality(out, spark.createDataFrame(expected, out_schema))


def test_region_language_known_unknown_and_null_domains(spark):
    schema = StructType([StructField("domain", StringType())])
    given = [
        ("en.wikipedia.org",),
        ("commons.wikimedia.org",),
        ("ca.wikipedia.org",),
        ("zh-min-nan.wiktionary.org",),
        ("www.example.org",),
        ("EN.wikibooks.org",),
        ("localhost",),
        ("",),
        (None,),
    ]
    out = spark.createDataFrame(given, schema).transform(with_region_language)
    # every domain gets a region ("other" when unknown); the language may stay null
    out_schema = _with(
        schema, StructField("region", StringType(), nullable=False), StructField("language", StringType())
    )
    expected = spark.createDataFrame(
        [
            ("en.wikipedia.org", "americas", "en"),
            ("commons.wikimedia.org", "global", "multi"),
            ("ca.wikipedia.org", "other", "ca"),
            ("zh-min-nan.wiktionary.org", "other", "zh-min-nan"),
            ("www.example.org", "other", "unknown"),
            ("EN.wikibooks.org", "other", "en"),
            ("localhost", "other", "unknown"),
            ("", "other", "unknown"),
            (None, "other", "unknown"),
        ],
        out_schema,
    )
    assert_df_equality(out, expected)


def test_length_delta_and_large_change_flags(spark):
    schema = StructType(
        [
            StructField("k", IntegerType()),
            StructField("event_type", StringType()),
            StructField("length_old", LongType()),
            StructField("length_new", LongType()),
        ]
    )
    given = [
        (1, "edit", 100, 150),
        (2, "edit", 10000, 4999),
        (3, "edit", 10000, 5000),
        (4, "new", None, 60000),
        (5, "new", None, 50000),
        (6, "categorize", 5, 1),
        (7, "log", None, None),
        (8, "edit", None, 100),
        (9, "edit", 100, None),
        (10, None, None, None),
        (11, "external", 1, 3),
    ]
    out = spark.createDataFrame(given, schema).transform(with_length_delta)
    derived = [
        (1, 50, False, False),
        (2, -5001, True, False),
        (3, -5000, False, False),
        (4, 60000, False, True),
        (5, 50000, False, False),
        (6, None, False, False),
        (7, None, False, False),
        (8, None, False, False),
        (9, None, False, False),
        (10, None, False, False),
        (11, 2, False, False),
    ]
    # the delta is null without both lengths; the flags are never null
    out_schema = _with(
        schema,
        StructField("length_delta", LongType()),
        StructField("is_large_deletion", BooleanType(), nullable=False),
        StructField("is_large_addition", BooleanType(), nullable=False),
    )
    by_k = {d[0]: d[1:] for d in derived}
    expected = spark.createDataFrame([(*g, *by_k[g[0]]) for g in given], out_schema)
    assert_df_equality(out, expected)


def test_is_valid_rule(spark):
    schema = StructType(
        [
            StructField("k", IntegerType()),
            StructField("event_id", StringType()),
            StructField("event_time", TimestampType()),
            StructField("domain", StringType()),
            StructField("event_type", StringType()),
            StructField("length_old", LongType()),
            StructField("length_new", LongType()),
            StructField("namespace", IntegerType()),
        ]
    )
    given = [
        (1, "a", T0, "en.wikipedia.org", "edit", 1, 2, 0),
        (2, "b", T0, "en.wikipedia.org", "edit", None, None, -1),
        (3, "c", T0, "en.wikipedia.org", "log", None, None, -2),
        (4, "d", T0, "en.wikipedia.org", "edit", 1, 2, -3),
        (5, "e", T0, "en.wikipedia.org", "edit", -1, 2, 0),
        (6, "f", T0, "en.wikipedia.org", "edit", 1, -2, 0),
        (7, "g", T0, "en.wikipedia.org", "bogus", 1, 2, 0),
        (8, "h", T0, None, "edit", 1, 2, 0),
        (9, "i", None, "en.wikipedia.org", "edit", 1, 2, 0),
        (10, None, None, None, None, None, None, None),
    ]
    out = spark.createDataFrame(given, schema).transform(with_is_valid)
    verdicts = [
        (1, True),
        (2, True),
        (3, True),
        (4, False),
        (5, False),
        (6, False),
        (7, False),
        (8, False),
        (9, False),
        (10, False),
    ]
    valid = dict(verdicts)
    out_schema = _with(schema, StructField("is_valid", BooleanType(), nullable=False))
    assert_df_equality(out, spark.createDataFrame([(*g, valid[g[0]]) for g in given], out_schema))


def test_dedupe_keeps_earliest_ingest(spark):
    schema = StructType(
        [
            StructField("event_id", StringType()),
            StructField("ingest_time", TimestampType()),
            StructField("kafka_partition", IntegerType()),
            StructField("kafka_offset", LongType()),
            StructField("tag", StringType()),
        ]
    )
    later = datetime(2026, 11, 1, 11, tzinfo=timezone.utc)
    given = [
        ("a", later, 0, 5, "a-late"),
        ("a", T0, 1, 9, "a-early"),
        ("b", T0, 2, 7, "b-high-partition"),
        ("b", T0, 1, 8, "b-low-partition"),
        ("c", None, 0, 1, "c-null-ingest"),
        ("c", T0, 0, 2, "c-ingested"),
        (None, None, None, None, "null-id"),
    ]
    out = spark.createDataFrame(given, schema).transform(dedupe_earliest)
    kept = ("a-early", "b-low-partition", "c-ingested", "null-id")
    assert_df_equality(out, spark.createDataFrame([g for g in given if g[-1] in kept], schema))


def _bronze_schema() -> str:
    return ", ".join(f"{c.name} {c.spark_type}" for c in RAW_EVENTS.columns)


def test_to_silver_projects_the_catalogue_schema(spark):
    # Given one full bronze row and one almost-empty row
    names = RAW_EVENTS.column_names
    full = dict.fromkeys(names)
    full.update(
        event_id="id-1",
        event_type="new",
        namespace=-1,
        domain="de.wikipedia.org",
        user_name=" Bob\x07 ",
        is_bot=None,
        length_new=120,
        event_time=T0,
        event_date=T0.date(),
        event_hour=10,
        ingest_time=T0,
        raw_payload="{}",
        kafka_partition=0,
        kafka_offset=1,
    )
    sparse = dict.fromkeys(names)
    sparse.update(event_id="id-2", event_type="categorize", domain="xx.example.org", ingest_time=T0)
    df = spark.createDataFrame([tuple(r[c] for c in names) for r in (full, sparse)], _bronze_schema())
    processed = datetime(2026, 11, 2, tzinfo=timezone.utc)
    # When
    out = to_silver(df, processed)
    # Then: catalogue column order, and every derived value
    assert tuple(out.columns) == SILVER_EVENTS.column_names
    got = {r.event_id: r.asDict() for r in out.collect()}
    naive = processed.replace(tzinfo=None)
    assert got["id-1"] == {
        "event_id": "id-1", "rc_id": None, "event_type": "new", "namespace": -1, "title": None,
        "domain": "de.wikipedia.org", "region": "europe", "language": "de", "user_name": "Bob",
        "editor_class": "registered", "is_bot": False, "is_anonymous": False, "is_minor": None,
        "length_old": None, "length_new": 120, "length_delta": 120, "is_large_deletion": False,
        "is_large_addition": False, "is_valid": True, "event_time": T0.replace(tzinfo=None),
        "event_date": date(2026, 11, 1), "event_hour": 10, "bronze_ingest_time": T0.replace(tzinfo=None),
        "processed_at": naive,
    }  # fmt: skip
    assert got["id-2"] == {
        "event_id": "id-2", "rc_id": None, "event_type": "categorize", "namespace": None, "title": None,
        "domain": "xx.example.org", "region": "other", "language": "xx", "user_name": None,
        "editor_class": "unknown", "is_bot": False, "is_anonymous": False, "is_minor": None,
        "length_old": None, "length_new": None, "length_delta": None, "is_large_deletion": False,
        "is_large_addition": False, "is_valid": False, "event_time": None, "event_date": None,
        "event_hour": None, "bronze_ingest_time": T0.replace(tzinfo=None), "processed_at": naive,
    }  # fmt: skip
