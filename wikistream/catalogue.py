"""The table catalogue: every Iceberg table the platform owns, declared once.

Each :class:`TableSpec` carries schema, partition spec, sort order and table
properties. From it come the Spark ``CREATE TABLE`` DDL (local and on EMR), the
S3 Tables namespaces in CDK, the IAM scoping of jobs, and the DQ suites' column lists.

Python 3.9-compatible (shipped to EMR Serverless with the Spark jobs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Tuple

from wikistream.config import SPARK_CATALOG

NAMESPACES: Tuple[str, ...] = ("bronze", "silver", "gold", "ops")

#: Iceberg primitive type -> Spark SQL type.
_SPARK_TYPES: Mapping[str, str] = {
    "string": "STRING",
    "int": "INT",
    "long": "BIGINT",
    "boolean": "BOOLEAN",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamptz": "TIMESTAMP",
}


def sql_string(value: str) -> str:
    """``value`` as a Spark SQL string literal (quotes and backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    doc: str = ""

    def __post_init__(self) -> None:
        if self.type not in _SPARK_TYPES:
            raise ValueError(f"column {self.name}: unsupported type {self.type!r}")

    @property
    def spark_type(self) -> str:
        return _SPARK_TYPES[self.type]


_V2 = {"format-version": "2", "write.parquet.compression-codec": "zstd"}
_MOR = {
    "write.delete.mode": "merge-on-read",
    "write.update.mode": "merge-on-read",
    "write.merge.mode": "merge-on-read",
}
_COW = {
    "write.delete.mode": "copy-on-write",
    "write.update.mode": "copy-on-write",
    "write.merge.mode": "copy-on-write",
}


@dataclass(frozen=True)
class TableSpec:
    namespace: str
    name: str
    columns: Tuple[Column, ...]
    partitioned_by: Tuple[str, ...] = ()
    sorted_by: Tuple[str, ...] = ()
    properties: Tuple[Tuple[str, str], ...] = ()
    doc: str = ""

    @property
    def identifier(self) -> str:
        """``namespace.name`` (what S3 Tables and pyiceberg call the table)."""
        return f"{self.namespace}.{self.name}"

    def fqn(self, catalog: str = SPARK_CATALOG) -> str:
        """Fully qualified Spark name, e.g. ``lake.bronze.raw_events``."""
        return f"{catalog}.{self.identifier}"

    @property
    def column_names(self) -> Tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.identifier} has no column {name!r}")

    def create_ddl(self, catalog: str = SPARK_CATALOG) -> str:
        """Spark SQL ``CREATE TABLE IF NOT EXISTS`` for this table."""
        cols = ",\n  ".join(
            f"{c.name} {c.spark_type}{' NOT NULL' if c.required else ''}"
            + (f" COMMENT {sql_string(c.doc)}" if c.doc else "")
            for c in self.columns
        )
        ddl = f"CREATE TABLE IF NOT EXISTS {self.fqn(catalog)} (\n  {cols}\n) USING iceberg"
        if self.partitioned_by:
            ddl += f"\nPARTITIONED BY ({', '.join(self.partitioned_by)})"
        props = dict(self.properties)
        if props:
            rendered = ", ".join(f"{sql_string(k)}={sql_string(v)}" for k, v in sorted(props.items()))
            ddl += f"\nTBLPROPERTIES ({rendered})"
        return ddl

    def sort_ddl(self, catalog: str = SPARK_CATALOG) -> str:
        """``ALTER TABLE ... WRITE ORDERED BY`` (Iceberg SQL extension), or ``""``."""
        if not self.sorted_by:
            return ""
        return f"ALTER TABLE {self.fqn(catalog)} WRITE ORDERED BY {', '.join(self.sorted_by)}"


def _props(*groups: Mapping[str, str], target_mb: int = 128) -> Tuple[Tuple[str, str], ...]:
    merged: Dict[str, str] = {}
    for g in groups:
        merged.update(g)
    merged["write.target-file-size-bytes"] = str(target_mb * 1024 * 1024)
    return tuple(sorted(merged.items()))


_KAFKA_COLUMNS = (
    Column("kafka_topic", "string", True),
    Column("kafka_partition", "int", True),
    Column("kafka_offset", "long", True),
    Column("kafka_timestamp", "timestamptz"),
)

RAW_EVENTS = TableSpec(
    "bronze",
    "raw_events",
    (
        Column("event_id", "string", True, "meta.id of the event"),
        Column("rc_id", "long", doc="recentchange id (absent on some log events)"),
        Column("event_type", "string", True),
        Column("namespace", "int"),
        Column("title", "string"),
        Column("domain", "string", True, "meta.domain"),
        Column("wiki", "string"),
        Column("user_name", "string"),
        Column("is_bot", "boolean"),
        Column("is_minor", "boolean"),
        Column("is_patrolled", "boolean"),
        Column("length_old", "long"),
        Column("length_new", "long"),
        Column("revision_old", "long"),
        Column("revision_new", "long"),
        Column("comment", "string"),
        Column("log_type", "string"),
        Column("log_action", "string"),
        Column("server_name", "string"),
        Column("event_time", "timestamptz", True, "meta.dt, else timestamp (event_time_source)"),
        Column("event_time_source", "string", doc="meta.dt or timestamp (the fallback)"),
        Column("event_date", "date", True),
        Column("event_hour", "int", True),
        Column("ingest_time", "timestamptz", True),
        *_KAFKA_COLUMNS,
        Column("raw_payload", "string", True, "the event exactly as received"),
    ),
    partitioned_by=("event_date", "event_hour"),
    properties=_props(_V2, {"write.distribution-mode": "hash"}),
    doc="Every contract-valid event exactly once (insert-only MERGE on event_id).",
)

DEAD_LETTERS = TableSpec(
    "bronze",
    "dead_letters",
    (
        Column("dead_letter_id", "string", True, "topic/partition/offset/timestamp-ms of the record"),
        Column("failed_rule", "string", True),
        Column("error_detail", "string"),
        Column("source", "string", True, "producer_dlq or bronze_contract"),
        Column("raw_payload", "string"),
        Column("event_id", "string", doc="meta.id when it could be parsed"),
        Column("ingest_time", "timestamptz", True),
        Column("ingest_date", "date", True),
        *_KAFKA_COLUMNS,
    ),
    partitioned_by=("ingest_date",),
    properties=_props(_V2),
    doc="Records that failed validation, never silently dropped.",
)

SILVER_EVENTS = TableSpec(
    "silver",
    "events",
    (
        Column("event_id", "string", True),
        Column("rc_id", "long"),
        Column("event_type", "string", True),
        Column("namespace", "int"),
        Column("title", "string"),
        Column("domain", "string", True, "canonical domain of the wiki (its database name decides)"),
        Column("region", "string", True),
        Column("language", "string", True),
        Column("user_name", "string"),
        Column("editor_class", "string", True),
        Column("is_bot", "boolean", True),
        Column("is_anonymous", "boolean", True),
        Column("is_minor", "boolean"),
        Column("length_old", "long"),
        Column("length_new", "long"),
        Column("length_delta", "long"),
        Column("is_large_deletion", "boolean", True),
        Column("is_large_addition", "boolean", True),
        Column("is_valid", "boolean", True),
        Column("event_time", "timestamptz", True),
        Column("event_date", "date", True),
        Column("event_hour", "int", True),
        Column("bronze_ingest_time", "timestamptz", True),
        Column("processed_at", "timestamptz", True),
    ),
    partitioned_by=("event_date", "event_hour"),
    properties=_props(_V2, _MOR, {"write.distribution-mode": "hash"}),
    doc="Cleaned, enriched, de-duplicated events.",
)

HOURLY_STATS = TableSpec(
    "gold",
    "hourly_stats",
    (
        Column("event_date", "date", True),
        Column("event_hour", "int", True),
        Column("domain", "string", True),
        Column("region", "string", True),
        Column("events", "long", True),
        Column("edits", "long", True),
        Column("new_pages", "long", True),
        Column("log_events", "long", True),
        Column("categorize_events", "long", True),
        Column("external_events", "long", True),
        Column("distinct_users", "long", True),
        Column("bot_share", "double", True, "percent 0-100"),
        Column("anonymous_share", "double", True, "percent 0-100"),
        Column("bytes_added", "long", True),
        Column("bytes_removed", "long", True),
        Column("large_deletions", "long", True),
        Column("updated_at", "timestamptz", True),
    ),
    partitioned_by=("event_date",),
    properties=_props(_V2, _COW),
)

RISK_SCORES = TableSpec(
    "gold",
    "risk_scores",
    (
        Column("event_date", "date", True),
        Column("user_name", "string", True),
        Column("editor_class", "string", True),
        Column("events", "long", True),
        Column("active_hours", "int", True),
        Column("edits_per_hour", "double", True),
        Column("large_deletions", "long", True),
        Column("domains", "int", True),
        Column("is_anonymous", "boolean", True),
        Column("risk_score", "double", True, "0-100"),
        Column("risk_level", "string", True),
        Column("updated_at", "timestamptz", True),
    ),
    partitioned_by=("event_date",),
    properties=_props(_V2, _COW),
)

DAILY_SUMMARY = TableSpec(
    "gold",
    "daily_summary",
    (
        Column("event_date", "date", True),
        Column("events", "long", True),
        Column("distinct_users", "long", True),
        Column("active_domains", "int", True),
        Column("bot_share", "double", True),
        Column("anonymous_share", "double", True),
        Column("bytes_added", "long", True),
        Column("bytes_removed", "long", True),
        Column("large_deletions", "long", True),
        Column("high_risk_users", "long", True),
        Column("health_score", "double", True, "0-100"),
        Column("updated_at", "timestamptz", True),
    ),
    properties=_props(_V2, _COW),
)

DQ_RESULTS = TableSpec(
    "ops",
    "dq_results",
    (
        Column("run_id", "string", True),
        Column("layer", "string", True),
        Column("check_name", "string", True),
        Column("check_type", "string", True),
        Column("level", "string", True),
        Column("status", "string", True),
        Column("metric", "double"),
        Column("threshold", "string"),
        Column("rows_tested", "long", True),
        Column("failing_sample", "string"),
        Column("snapshot_id", "long"),
        Column("evaluated_at", "timestamptz", True),
        Column("table_name", "string", doc="table the check measured"),
        Column("note", "string", doc="why a check passed/failed unusually (e.g. insufficient history)"),
    ),
    partitioned_by=("days(evaluated_at)",),
    properties=_props(_V2),
)

PIPELINE_RUNS = TableSpec(
    "ops",
    "pipeline_runs",
    (
        Column("run_id", "string", True),
        Column("job", "string", True),
        Column("env", "string", True),
        Column("status", "string", True),
        Column("started_at", "timestamptz", True),
        Column("finished_at", "timestamptz"),
        Column("duration_s", "double"),
        Column("input_table", "string"),
        Column("input_snapshot_from", "long"),
        Column("input_snapshot_to", "long"),
        Column("output_table", "string"),
        Column("output_snapshot_id", "long"),
        Column("rows_in", "long"),
        Column("rows_out", "long"),
        Column("details", "string", doc="JSON"),
    ),
    partitioned_by=("days(started_at)",),
    properties=_props(_V2),
)

TABLES: Tuple[TableSpec, ...] = (
    RAW_EVENTS,
    DEAD_LETTERS,
    SILVER_EVENTS,
    HOURLY_STATS,
    RISK_SCORES,
    DAILY_SUMMARY,
    DQ_RESULTS,
    PIPELINE_RUNS,
)

BY_IDENTIFIER: Mapping[str, TableSpec] = {t.identifier: t for t in TABLES}
