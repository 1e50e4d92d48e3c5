"""Pure ``DataFrame -> DataFrame`` transforms from ``bronze.raw_events`` to ``silver.events``.

Each ``with_*`` function adds or replaces columns and nothing else; :func:`to_silver`
chains them with ``df.transform`` in the order the rules depend on each other. No IO
here: the entry point (``spark_jobs/silver_batch.py``) reads and writes. Every rule is
written down in docs/ANALYTICS.md and mirrored independently in tests/oracle.py.

Python 3.9-compatible (runs on EMR Serverless 7.x).
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Callable, List

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from wikistream.catalogue import SILVER_EVENTS
from wikistream.config import DOMAINS, EDITOR_CLASSES, EVENT_TYPES, UNKNOWN_REGION, WIKIS

#: ``length_delta`` thresholds (bytes) for the two "large change" flags.
LARGE_DELETION_BYTES = -5000
LARGE_ADDITION_BYTES = 50000
#: MediaWiki's virtual namespaces are -1 (Special) and -2 (Media); anything lower is bogus.
MIN_NAMESPACE = -2
#: Editor classes that count as "anonymous" (logged-out editing: IPs and temporary accounts,
#: which MediaWiki hands to logged-out editors instead of exposing their IP).
ANONYMOUS_CLASSES = ("anonymous_ipv4", "anonymous_ipv6", "temporary")

TEMPORARY_ACCOUNT_RE = r"^~[0-9]{4}-[0-9]+-[0-9]+$"
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_RE = rf"^{_OCTET}(\.{_OCTET}){{3}}$"
# Characters removed anywhere in a user name (C0 + DEL + C1 control characters) and
# trimmed at both ends (Unicode separators: space, NBSP, line/paragraph separators...).
_CONTROL_RE = r"\p{Cc}"
_EDGE_SPACE_RE = r"^\p{Z}+|\p{Z}+$"
# First label of a host that looks like a language code (mirror of config.language_from_host).
_LANGUAGE_LABEL_RE = r"^[a-z]{2,3}(-[a-z]{2,8})*$"
_NOT_LANGUAGES = ("www", "api", "m")


def _ipv6_regex() -> str:
    """A regex matching every textual IPv6 form of RFC 4291 section 2.2.

    Eight 16-bit groups, or six groups plus a dotted IPv4 tail; ``::`` stands for one or
    more zero groups (so at most N-1 explicit groups around it). Generated, not
    hand-typed, so no compressed form (``::``, ``::1``, ``1::``, ``a:b::c``,
    ``::ffff:1.2.3.4``...) is forgotten. Case-insensitive.
    """
    h16 = "[0-9a-f]{1,4}"
    ipv4 = rf"{_OCTET}(\.{_OCTET}){{3}}"
    forms: List[str] = []
    for groups, tail in ((8, ""), (6, ipv4)):
        sep_tail = f":{tail}" if tail else ""
        full = ":".join([h16] * groups) + sep_tail
        forms.append(full)
        for left, right in itertools.product(range(groups), repeat=2):
            if left + right > groups - 1:
                continue
            lhs = ":".join([h16] * left)
            rhs = ":".join([h16] * right)
            if tail:
                rhs = f"{rhs}:{tail}" if right else tail
            forms.append(f"{lhs}::{rhs}")
    return "(?i)^(" + "|".join(f"({f})" for f in forms) + ")$"


IPV6_RE = _ipv6_regex()


def normalised_user(col: Column) -> Column:
    """Remove control characters, trim Unicode separators at both ends; ``""`` -> null."""
    cleaned = F.regexp_replace(F.regexp_replace(col, _CONTROL_RE, ""), _EDGE_SPACE_RE, "")
    return F.when(cleaned == "", F.lit(None).cast("string")).otherwise(cleaned)


def with_normalised_user(df: DataFrame) -> DataFrame:
    """``user_name`` trimmed, control characters stripped, empty -> null."""
    return df.withColumn("user_name", normalised_user(df["user_name"]))


def editor_class(user: Column, is_bot: Column) -> Column:
    """Classify an editor (values of :data:`wikistream.config.EDITOR_CLASSES`).

    Precedence: ``bot`` (bot flag true, whatever the name) > ``unknown`` (no name) >
    ``temporary`` (``~2026-12345-67``) > ``anonymous_ipv4`` > ``anonymous_ipv6`` >
    ``registered``.
    """
    result = (
        F.when(F.coalesce(is_bot, F.lit(False)), "bot")
        .when(user.isNull(), "unknown")
        .when(user.rlike(TEMPORARY_ACCOUNT_RE), "temporary")
        .when(user.rlike(IPV4_RE), "anonymous_ipv4")
        .when(user.rlike(IPV6_RE), "anonymous_ipv6")
        .otherwise("registered")
    )
    return result


def with_editor_class(df: DataFrame) -> DataFrame:
    """``editor_class``, ``is_bot`` (null -> false) and ``is_anonymous``."""
    assert set(ANONYMOUS_CLASSES) <= set(EDITOR_CLASSES)
    return (
        df.withColumn("editor_class", editor_class(F.col("user_name"), F.col("is_bot")))
        .withColumn("is_bot", F.coalesce(F.col("is_bot"), F.lit(False)))
        .withColumn("is_anonymous", F.col("editor_class").isin(*ANONYMOUS_CLASSES))
    )


def _domain_map(field: str) -> Column:
    """A literal ``map<string,string>`` domain -> region/language from config.DOMAINS."""
    pairs = itertools.chain.from_iterable(
        (F.lit(domain), F.lit(getattr(info, field))) for domain, info in sorted(DOMAINS.items())
    )
    return F.create_map(*pairs)


def language_from_host(domain: Column) -> Column:
    """Spark twin of :func:`wikistream.config.language_from_host`."""
    first = F.lower(F.substring_index(domain, ".", 1))
    return F.when(
        first.rlike(_LANGUAGE_LABEL_RE) & ~first.isin(*_NOT_LANGUAGES),
        first,
    ).otherwise("unknown")


def with_wiki_domain(df: DataFrame) -> DataFrame:
    """``domain`` = the canonical domain of the event's wiki (``wiki`` database name), as
    the producer's allow-list identifies it (:func:`wikistream.config.wiki_domain`); the
    ``meta.domain`` bronze kept when the wiki is not in the map or the event has none.

    So an account creation of enwiki that came in on ``auth.wikimedia.org`` counts for
    ``en.wikipedia.org`` in silver and gold, like every other enwiki event.
    """
    wikis = F.create_map(*[x for wiki, domain in sorted(WIKIS.items()) for x in (F.lit(wiki), F.lit(domain))])
    return df.withColumn("domain", F.coalesce(wikis[F.col("wiki")], F.col("domain")))


def with_region_language(df: DataFrame) -> DataFrame:
    """``region`` and ``language`` from the config domain map; unknown domains -> ``other``
    and the language parsed from the host (``unknown`` when it does not look like one)."""
    domain = F.col("domain")
    return df.withColumn(
        "region", F.coalesce(_domain_map("region")[domain], F.lit(UNKNOWN_REGION))
    ).withColumn("language", F.coalesce(_domain_map("language")[domain], language_from_host(domain)))


def with_length_delta(df: DataFrame) -> DataFrame:
    """``length_delta`` = new - old, and the large deletion/addition flags.

    * ``categorize`` and ``log`` events carry no page length: delta null.
    * ``new`` pages: a missing old length means the page did not exist -> old counts as 0.
    * otherwise a missing old or new length gives a null delta (unknown, not zero).
    Flags are false when the delta is null.
    """
    old = F.col("length_old")
    new = F.col("length_new")
    delta = (
        F.when(F.col("event_type").isin("categorize", "log"), F.lit(None).cast("long"))
        .when(F.col("event_type") == "new", new - F.coalesce(old, F.lit(0).cast("long")))
        .otherwise(new - old)
    )
    return (
        df.withColumn("length_delta", delta.cast("long"))
        .withColumn(
            "is_large_deletion", F.coalesce(F.col("length_delta") < LARGE_DELETION_BYTES, F.lit(False))
        )
        .withColumn(
            "is_large_addition", F.coalesce(F.col("length_delta") > LARGE_ADDITION_BYTES, F.lit(False))
        )
    )


def with_is_valid(df: DataFrame) -> DataFrame:
    """``is_valid``: the row is fit for analytics (gold aggregates only valid rows).

    Valid = event_id, event_time and domain present, ``event_type`` one of
    config.EVENT_TYPES, lengths (when present) >= 0, and namespace (when present) >= -2.
    Invalid rows stay in silver (visible to DQ) instead of being dropped silently.
    """
    rule = (
        F.col("event_id").isNotNull()
        & F.col("event_time").isNotNull()
        & F.col("domain").isNotNull()
        & F.coalesce(F.col("event_type").isin(*EVENT_TYPES), F.lit(False))
        & F.coalesce(F.col("length_old") >= 0, F.lit(True))
        & F.coalesce(F.col("length_new") >= 0, F.lit(True))
        & F.coalesce(F.col("namespace") >= MIN_NAMESPACE, F.lit(True))
    )
    return df.withColumn("is_valid", rule)


def dedupe_earliest(df: DataFrame) -> DataFrame:
    """One row per ``event_id``: the earliest ingested (ties: lowest Kafka partition/offset)."""
    order = Window.partitionBy("event_id").orderBy(
        F.col("ingest_time").asc_nulls_last(),
        F.col("kafka_partition").asc_nulls_last(),
        F.col("kafka_offset").asc_nulls_last(),
    )
    return df.withColumn("_rank", F.row_number().over(order)).where("_rank = 1").drop("_rank")


def with_silver_columns(processed_at: datetime) -> Callable[[DataFrame], DataFrame]:
    """Project onto the silver schema (catalogue order), stamping ``processed_at``."""

    def project(df: DataFrame) -> DataFrame:
        renamed = df.withColumnRenamed("ingest_time", "bronze_ingest_time").withColumn(
            "processed_at", F.lit(processed_at).cast("timestamp")
        )
        return renamed.select(
            *[F.col(c.name).cast(c.spark_type.lower()).alias(c.name) for c in SILVER_EVENTS.columns]
        )

    return project


def to_silver(bronze: DataFrame, processed_at: datetime) -> DataFrame:
    """The whole bronze -> silver chain (dedupe first so every later rule sees one row)."""
    return (
        bronze.transform(dedupe_earliest)
        .transform(with_normalised_user)
        .transform(with_editor_class)
        .transform(with_wiki_domain)
        .transform(with_region_language)
        .transform(with_length_delta)
        .transform(with_is_valid)
        .transform(with_silver_columns(processed_at))
    )
