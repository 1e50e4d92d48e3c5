"""Replace the gold rows of a recomputed scope with a keyed, change-only MERGE.

Gold rows are recomputed for a *scope* (the hours, user-days or days touched this
cycle). Within that scope the recomputed rows are the truth: new keys are inserted,
changed rows updated, and stored keys the recomputation no longer produces deleted.
The diff is computed first, so unchanged rows are not rewritten and a scope with no
differences commits no snapshot.

Python 3.9-compatible.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.silver.merge import rows_differ
from wikistream.catalogue import TableSpec

UPSERT, DELETE = "upsert", "delete"


def date_predicate(dates: Sequence[date], alias: str = "") -> str:
    """Literal ``event_date IN (...)`` for partition pruning (``FALSE`` when empty)."""
    if not dates:
        return "FALSE"
    prefix = f"{alias}." if alias else ""
    listed = ", ".join(f"DATE '{d.isoformat()}'" for d in sorted(set(dates)))
    return f"{prefix}event_date IN ({listed})"


def diff_against(
    computed: DataFrame, stored: DataFrame, keys: Sequence[str], values: Sequence[str]
) -> DataFrame:
    """Rows to apply: ``_op=upsert`` for new/changed keys, ``_op=delete`` for vanished ones."""
    joined = (
        computed.withColumn("_c", F.lit(True))
        .alias("c")
        .join(stored.withColumn("_s", F.lit(True)).alias("s"), list(keys), "full_outer")
    )
    upserts = joined.where(F.col("c._c") & (F.col("s._s").isNull() | rows_differ("c", "s", values))).select(
        *keys, *[F.col(f"c.{v}").alias(v) for v in values], F.lit(UPSERT).alias("_op")
    )
    deletes = joined.where(F.col("c._c").isNull()).select(
        *keys, *[F.col(f"s.{v}").alias(v) for v in values], F.lit(DELETE).alias("_op")
    )
    return upserts.unionByName(deletes)


def replace_scope(
    spark: SparkSession,
    spec: TableSpec,
    computed: DataFrame,
    scope: DataFrame,
    dates: Sequence[date],
    updated_at: datetime,
) -> int:
    """Make ``spec``'s rows within ``scope`` equal ``computed``; return rows changed.

    ``scope`` holds the recomputed keys at their granularity (e.g. ``event_date,
    event_hour`` for hourly stats); ``dates`` are the dates it covers (for pruning).
    """
    keys = [c for c in spec.column_names if c in _key_columns(spec)]
    values = [c for c in spec.column_names if c not in keys and c != "updated_at"]
    scope_cols = scope.columns
    stored = (
        spark.table(spec.fqn()).where(date_predicate(dates)).join(F.broadcast(scope), scope_cols, "left_semi")
    )
    changes = diff_against(computed, stored.select(*keys, *values), keys, values).cache()
    try:
        changed = changes.count()
        if changed == 0:
            return 0
        view = f"gold_changes_{uuid.uuid4().hex}"
        changes.withColumn("updated_at", F.lit(updated_at).cast("timestamp")).createOrReplaceTempView(view)
        on = " AND ".join(f"t.{k} = s.{k}" for k in keys)
        sets = ", ".join(f"t.{c} = s.{c}" for c in (*values, "updated_at"))
        cols = ", ".join(spec.column_names)
        vals = ", ".join(f"s.{c}" for c in spec.column_names)
        try:
            spark.sql(
                f"MERGE INTO {spec.fqn()} t USING {view} s ON {on} AND {date_predicate(dates, 't')} "
                f"WHEN MATCHED AND s._op = '{DELETE}' THEN DELETE "
                f"WHEN MATCHED THEN UPDATE SET {sets} "
                f"WHEN NOT MATCHED AND s._op = '{UPSERT}' THEN INSERT ({cols}) VALUES ({vals})"
            )
        finally:
            spark.catalog.dropTempView(view)
        return changed
    finally:
        changes.unpersist()


#: Primary keys of the gold tables (the catalogue declares columns, not keys).
GOLD_KEYS = {
    "gold.hourly_stats": ("event_date", "event_hour", "domain"),
    "gold.risk_scores": ("event_date", "user_name"),
    "gold.daily_summary": ("event_date",),
}


def _key_columns(spec: TableSpec) -> Sequence[str]:
    return GOLD_KEYS[spec.identifier]
