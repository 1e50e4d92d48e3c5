"""Table maintenance job: compaction, delete-file compaction, snapshot expiry, orphan
removal and manifest rewrite for the catalogue's Iceberg tables.

Per table, in this order (each a Spark SQL ``CALL lake.system.<procedure>``):

1. ``rewrite_data_files`` - bin-pack small files (bronze commits one file per partition
   per micro-batch) towards the table's ``write.target-file-size-bytes`` (else
   ``config.lakehouse.compaction_target_file_mb``); ``min-input-files=2``,
   ``partial-progress.enabled=true`` so a conflict loses one file group, not all work.
2. ``rewrite_position_delete_files`` - only for merge-on-read tables
   (``write.delete.mode=merge-on-read``, e.g. ``silver.events``).
3. ``rewrite_manifests`` - one manifest per append accumulates; planning reads them all.
4. ``expire_snapshots`` - older than ``snapshot_retention_hours``, keeping at least
   ``min_snapshots_to_keep``.
5. ``remove_orphan_files`` - older than ``unreferenced_file_days`` days. The Spark
   procedure refuses ``older_than`` less than 24 h ago (files of in-flight writes look
   orphaned), so the setting is in days.

Target ``emr`` (S3 Tables): S3 manages compaction, snapshot expiry and unreferenced-file
removal itself. By default the job then runs only the delete-file compaction and the
manifest rewrite; compaction and expiry run only when named in ``--steps`` (a manual
lever), and orphan removal is never attempted there (S3 Tables does not let clients list
or delete a table's objects; its unreferenced-file removal does that). Every skip is
logged with its reason. See docs/MAINTENANCE.md.

Runs next to the bronze stream: a commit that loses a race (``CommitFailedException``, or
``ValidationException`` when a concurrent commit invalidates a rewrite) is retried with
exponential backoff (:func:`with_retries`). Files/bytes before and after (``files``
metadata table) and per-step results are reported, recorded in ``ops.pipeline_runs``
(job ``maintenance``) and emitted as metrics with the dimension ``Table``.

Usage: ``maintenance.py --env ENV [--tables bronze.raw_events,silver.events]
[--steps rewrite_data_files,...] [--where "event_date < DATE '2026-11-02'"] [--dry-run]``.

Python 3.9-compatible.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, TypeVar

from spark_jobs.registry import MAINTENANCE
from wikistream.catalogue import BY_IDENTIFIER, TABLES, sql_string
from wikistream.config import SPARK_CATALOG, LakehouseConfig

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from spark_jobs.cli import JobArgs
    from wikistream.metrics import MetricsSink

LOG = logging.getLogger("wikistream.maintenance")

MAINTENANCE_JOB = MAINTENANCE.name

COMPACT = "rewrite_data_files"
POSITION_DELETES = "rewrite_position_delete_files"
MANIFESTS = "rewrite_manifests"
EXPIRE = "expire_snapshots"
ORPHANS = "remove_orphan_files"
#: Every step, in execution order: compaction first so expiry can drop the replaced files.
ALL_STEPS: Tuple[str, ...] = (COMPACT, POSITION_DELETES, MANIFESTS, EXPIRE, ORPHANS)

#: Managed by S3 Tables on AWS: skipped on target emr unless asked for explicitly.
MANAGED_BY_S3_TABLES: Mapping[str, str] = {
    COMPACT: "S3 Tables compacts automatically (table maintenance configuration)",
    EXPIRE: "S3 Tables expires snapshots automatically (table maintenance configuration)",
}
#: Not possible against S3 Tables: skipped on target emr even when asked for.
UNSUPPORTED_ON_S3_TABLES: Mapping[str, str] = {
    ORPHANS: "S3 Tables does not let clients list or delete table objects; "
    "its unreferenced file removal (table bucket maintenance) does this",
}

#: Text of the Java exceptions (surfacing in Py4J errors) that mean "lost a commit race".
#: The last is rewrite_data_files' partial-progress error when file-group commits lost to
#: concurrent commits (we allow 0 such failures so the retry picks up the files left).
PARTIAL_COMMIT_MARKER = "rewrite commits failed"
CONFLICT_MARKERS: Tuple[str, ...] = ("CommitFailedException", "ValidationException", PARTIAL_COMMIT_MARKER)

T = TypeVar("T")


# --------------------------------------------------------------------------- retries


def is_commit_conflict(error: BaseException) -> bool:
    """True when ``error`` is an Iceberg commit conflict worth retrying.

    Py4J wraps the Java exception; its class name appears in the message text.
    """
    text = f"{type(error).__name__}: {error}"
    return any(marker in text for marker in CONFLICT_MARKERS)


def backoff_delays(attempts: int, base_s: float = 2.0, cap_s: float = 60.0) -> List[float]:
    """Sleep before each retry: ``base, 2*base, 4*base, ...`` capped; ``attempts - 1`` items."""
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    return [min(cap_s, base_s * (2**i)) for i in range(attempts - 1)]


def with_retries(
    action: Callable[[], T],
    attempts: int = 5,
    base_s: float = 2.0,
    cap_s: float = 60.0,
    retryable: Callable[[BaseException], bool] = is_commit_conflict,
    sleep: Callable[[float], None] = time.sleep,
) -> Tuple[T, int]:
    """Run ``action``; on a retryable error sleep and try again. Return (result, retries).

    A non-retryable error, or the last retryable one, propagates unchanged.
    """
    delays = backoff_delays(attempts, base_s, cap_s)
    for retry, delay in enumerate([*delays, None]):  # type: ignore[list-item]
        try:
            return action(), retry
        except Exception as exc:
            if delay is None or not retryable(exc):
                raise
            LOG.warning("commit conflict (retry %d/%d in %.1fs): %s", retry + 1, len(delays), delay, exc)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Step:
    """One planned procedure call on one table; ``sql`` is ``None`` when skipped."""

    table: str
    name: str
    sql: Optional[str]
    skip_reason: Optional[str] = None


def _ts(value: datetime) -> str:
    return "TIMESTAMP '" + value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f") + "'"


def target_file_bytes(properties: Mapping[str, str], policy: LakehouseConfig) -> int:
    """The table's ``write.target-file-size-bytes``, else the configured compaction target."""
    raw = properties.get("write.target-file-size-bytes")
    if raw and raw.isdigit() and int(raw) > 0:
        return int(raw)
    return policy.compaction_target_file_mb * 1024 * 1024


def is_merge_on_read(properties: Mapping[str, str]) -> bool:
    """Row-level deletes of this table write position-delete files."""
    return properties.get("write.delete.mode", "copy-on-write") == "merge-on-read"


def select_steps(target: str, requested: Optional[Sequence[str]]) -> Tuple[List[str], Dict[str, str]]:
    """Steps to run and steps skipped (with why) for ``target`` (``local``/``emr``).

    ``requested=None`` means the target's default set.
    """
    unknown = [s for s in requested or () if s not in ALL_STEPS]
    if unknown:
        raise ValueError(f"unknown maintenance steps {unknown}; choose from {list(ALL_STEPS)}")
    wanted = [s for s in ALL_STEPS if requested is None or s in requested]
    if target != "emr":
        return wanted, {s: "not requested (--steps)" for s in ALL_STEPS if s not in wanted}
    run: List[str] = []
    skipped: Dict[str, str] = {}
    for step in ALL_STEPS:
        if step in UNSUPPORTED_ON_S3_TABLES:
            skipped[step] = f"unsupported on S3 Tables: {UNSUPPORTED_ON_S3_TABLES[step]}"
        elif step not in wanted:
            skipped[step] = "not requested (--steps)"
        elif step in MANAGED_BY_S3_TABLES and requested is None:
            skipped[step] = f"managed on AWS: {MANAGED_BY_S3_TABLES[step]}; name it in --steps to force"
        else:
            run.append(step)
    return run, skipped


def plan_table(
    table_fqn: str,
    properties: Mapping[str, str],
    policy: LakehouseConfig,
    target: str,
    now: datetime,
    requested: Optional[Sequence[str]] = None,
    where: Optional[str] = None,
    catalog: str = SPARK_CATALOG,
) -> List[Step]:
    """The procedure calls for one table, in order (pure; unit-tested)."""
    ident = table_fqn[len(catalog) + 1 :] if table_fqn.startswith(catalog + ".") else table_fqn
    run, skipped = select_steps(target, requested)
    if not is_merge_on_read(properties) and POSITION_DELETES in run:
        run.remove(POSITION_DELETES)
        skipped[POSITION_DELETES] = "copy-on-write table (write.delete.mode): no position deletes"
    call = f"CALL {catalog}.system."
    table_arg = f"table => {sql_string(ident)}"
    sql: Dict[str, str] = {}
    options = {
        "target-file-size-bytes": str(target_file_bytes(properties, policy)),
        "min-input-files": "2",
        "partial-progress.enabled": "true",
        # Fail (and get retried) when any file-group commit lost a race, instead of
        # silently leaving those files uncompacted.
        "partial-progress.max-failed-commits": "0",
    }
    if is_merge_on_read(properties):
        # Rewrite data files carrying deletes too, so the deletes are applied and dropped.
        options["delete-file-threshold"] = "1"
    rendered = ", ".join(f"{sql_string(k)}, {sql_string(v)}" for k, v in options.items())
    sql[COMPACT] = f"{call}{COMPACT}({table_arg}, options => map({rendered})" + (
        f", where => {sql_string(where)})" if where else ")"
    )
    sql[POSITION_DELETES] = (
        f"{call}{POSITION_DELETES}({table_arg}, options => map('partial-progress.enabled', 'true'))"
    )
    sql[MANIFESTS] = f"{call}{MANIFESTS}({table_arg})"
    expire_before = now - timedelta(hours=policy.snapshot_retention_hours)
    sql[EXPIRE] = (
        f"{call}{EXPIRE}({table_arg}, older_than => {_ts(expire_before)}, "
        f"retain_last => {int(policy.min_snapshots_to_keep)})"
    )
    orphan_before = now - timedelta(days=policy.unreferenced_file_days)
    sql[ORPHANS] = f"{call}{ORPHANS}({table_arg}, older_than => {_ts(orphan_before)})"
    return [
        Step(table_fqn, s, sql[s]) if s in run else Step(table_fqn, s, None, skipped.get(s, "not requested"))
        for s in ALL_STEPS
    ]


# --------------------------------------------------------------------------- execution


@dataclass
class TableReport:
    """What maintenance did to one table."""

    table: str
    before: Dict[str, int] = field(default_factory=dict)
    after: Dict[str, int] = field(default_factory=dict)
    steps: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return any(s.get("status") == "failed" for s in self.steps.values())

    @property
    def retries(self) -> int:
        return sum(int(s.get("retries", 0)) for s in self.steps.values())

    def as_dict(self) -> Dict[str, Any]:
        return {
            "table": self.table,
            "before": self.before,
            "after": self.after,
            "steps": self.steps,
            "seconds": self.seconds,
        }


class MaintenanceError(RuntimeError):
    """At least one maintenance step failed (after retries)."""


def table_properties(spark: SparkSession, table_fqn: str) -> Dict[str, str]:
    return {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES {table_fqn}").collect()}


def file_stats(spark: SparkSession, table_fqn: str) -> Dict[str, int]:
    """Live data/delete files and bytes (``files`` metadata table) and snapshot count."""
    rows = spark.sql(
        f"SELECT content, count(*) AS n, coalesce(sum(file_size_in_bytes), 0) AS b "
        f"FROM {table_fqn}.files GROUP BY content"
    ).collect()
    by_content = {int(r["content"]): (int(r["n"]), int(r["b"])) for r in rows}
    data = by_content.get(0, (0, 0))
    deletes = [v for k, v in by_content.items() if k != 0]
    snapshots = spark.sql(f"SELECT count(*) FROM {table_fqn}.snapshots").collect()[0][0]
    return {
        "data_files": data[0],
        "data_bytes": data[1],
        "delete_files": sum(n for n, _ in deletes),
        "delete_bytes": sum(b for _, b in deletes),
        "snapshots": int(snapshots),
    }


def _step_action(spark: SparkSession, step: Step, totals: Dict[str, Any]) -> Callable[[], None]:
    """One attempt of ``step``; numeric results are summed into ``totals`` across attempts."""
    statement = step.sql or ""

    def attempt() -> None:
        result = _result(spark.sql(statement).collect(), step.name)
        for key, value in result.items():
            totals[key] = totals.get(key, 0) + value if isinstance(value, (int, float)) else value

    return attempt


def _result(rows: List[Any], step: str) -> Dict[str, Any]:
    if step == ORPHANS:
        return {"orphan_files_removed": len(rows)}
    if not rows:
        return {}
    return {k: v for k, v in rows[0].asDict().items() if isinstance(v, (int, float, str))}


def maintain_table(
    spark: SparkSession, steps: Sequence[Step], attempts: int = 5, base_s: float = 2.0
) -> TableReport:
    """Run the planned steps of one table, each with conflict retries; never raises for a step."""
    table = steps[0].table
    report = TableReport(table)
    t0 = time.perf_counter()
    report.before = file_stats(spark, table)
    for step in steps:
        if step.sql is None:
            LOG.info("%s: skip %s (%s)", table, step.name, step.skip_reason)
            report.steps[step.name] = {"status": "skipped", "reason": step.skip_reason}
            continue
        LOG.info("%s: %s", table, step.sql)
        s0 = time.perf_counter()
        totals: Dict[str, Any] = {}
        action = _step_action(spark, step, totals)
        try:
            _, retries = with_retries(action, attempts, base_s)
        except Exception as exc:
            if PARTIAL_COMMIT_MARKER in str(exc):
                # Every attempt lost some file groups to concurrent commits: what did
                # commit is kept (partial progress); the rest waits for the next run.
                LOG.warning("%s: %s partial after %d attempts: %s", table, step.name, attempts, exc)
                report.steps[step.name] = {"status": "partial", "retries": attempts - 1, **totals}
                continue
            LOG.error("%s: %s failed: %s", table, step.name, exc)
            report.steps[step.name] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:1000]}
            continue
        report.steps[step.name] = {
            "status": "ok",
            "retries": retries,
            "seconds": round(time.perf_counter() - s0, 3),
            **totals,
        }
    report.after = file_stats(spark, table)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def parse_maintenance_args(extra: Sequence[str]) -> argparse.Namespace:
    """Job-specific arguments (the common ones come from ``spark_jobs.cli``)."""
    p = argparse.ArgumentParser(prog=MAINTENANCE_JOB, add_help=False)
    p.add_argument("--tables", default=None, help="comma-separated namespace.table (default: all)")
    p.add_argument("--steps", default=None, help=f"comma-separated subset of {','.join(ALL_STEPS)}")
    p.add_argument("--where", default=None, help="partition filter for rewrite_data_files")
    p.add_argument("--dry-run", action="store_true")
    ns, unknown = p.parse_known_args(list(extra))
    if unknown:
        p.error(f"unrecognised arguments: {' '.join(unknown)}")
    ns.tables = resolve_tables(ns.tables)
    ns.steps = [s.strip() for s in ns.steps.split(",") if s.strip()] if ns.steps else None
    select_steps("local", ns.steps)  # validate names early
    return ns


def resolve_tables(spec: Optional[str]) -> List[str]:
    """``"bronze.raw_events,lake.silver.events"`` -> fully-qualified names (default: all)."""
    if not spec:
        return [t.fqn() for t in TABLES]
    out = []
    for raw in (s.strip() for s in spec.split(",")):
        if not raw:
            continue
        ident = raw[len(SPARK_CATALOG) + 1 :] if raw.startswith(SPARK_CATALOG + ".") else raw
        if ident not in BY_IDENTIFIER:
            raise ValueError(f"unknown table {raw!r}; known: {sorted(BY_IDENTIFIER)}")
        out.append(BY_IDENTIFIER[ident].fqn())
    return out


def plan(spark: SparkSession, args: JobArgs, now: Optional[datetime] = None) -> List[List[Step]]:
    """The steps of every selected table (reads each table's properties)."""
    opts = parse_maintenance_args(args.extra)
    when = now or datetime.now(timezone.utc)
    policy = args.config.lakehouse
    return [
        plan_table(t, table_properties(spark, t), policy, args.target, when, opts.steps, opts.where)
        for t in opts.tables
    ]


def _emit(sink: MetricsSink, reports: Sequence[TableReport]) -> None:
    from wikistream.metrics import (
        DIM_TABLE,
        MAINTENANCE_COMMIT_RETRIES,
        MAINTENANCE_FILES_AFTER,
        MAINTENANCE_FILES_BEFORE,
        MAINTENANCE_SNAPSHOTS_EXPIRED,
        Datum,
    )

    for r in reports:
        dims = {DIM_TABLE: r.table.split(".", 1)[1]}
        sink.emit(Datum(MAINTENANCE_FILES_BEFORE, float(r.before.get("data_files", 0)), "Count", dims))
        sink.emit(Datum(MAINTENANCE_FILES_AFTER, float(r.after.get("data_files", 0)), "Count", dims))
        expired = max(0, r.before.get("snapshots", 0) - r.after.get("snapshots", 0))
        sink.emit(Datum(MAINTENANCE_SNAPSHOTS_EXPIRED, float(expired), "Count", dims))
        sink.emit(Datum(MAINTENANCE_COMMIT_RETRIES, float(r.retries), "Count", dims))
    sink.flush()


def run(
    spark: SparkSession,
    args: JobArgs,
    sink: Optional[MetricsSink] = None,
    attempts: int = 5,
    base_s: float = 2.0,
) -> List[Dict[str, Any]]:
    """Maintain the selected tables in an existing session; return one report per table.

    ``--dry-run`` returns the plan (no procedure runs, nothing recorded). Otherwise the run
    is recorded in the ledger (FAILED when any step failed after retries).
    """
    from spark_jobs.ledger import RunRecord, execute_recorded

    opts = parse_maintenance_args(args.extra)
    plans = plan(spark, args)
    if opts.dry_run:
        return [
            {
                "table": steps[0].table,
                "dry_run": True,
                "steps": {s.name: s.sql or f"SKIP: {s.skip_reason}" for s in steps},
            }
            for steps in plans
        ]
    reports: List[TableReport] = []
    record = RunRecord(args.run_id, MAINTENANCE_JOB, args.env)

    def body() -> None:
        for steps in plans:
            reports.append(maintain_table(spark, steps, attempts, base_s))
        record.rows_in = sum(r.before.get("data_files", 0) for r in reports)
        record.rows_out = sum(r.after.get("data_files", 0) for r in reports)
        record.output_table = ",".join(r.table for r in reports)
        record.details["tables"] = [r.as_dict() for r in reports]
        if sink is not None:
            _emit(sink, reports)
        failed = [
            f"{r.table}.{n}" for r in reports for n, s in r.steps.items() if s.get("status") == "failed"
        ]
        if failed:
            raise MaintenanceError(f"maintenance steps failed: {', '.join(failed)}")

    # A MaintenanceError is recorded FAILED with the reports; main() exits non-zero.
    with contextlib.suppress(MaintenanceError):
        execute_recorded(spark, record, body, sink)
    return [r.as_dict() for r in reports]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point (EMR Serverless and local): maintain tables once, print the reports."""
    from spark_jobs.cli import metrics_for, parse_job_args, session_for

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_job_args(MAINTENANCE_JOB, argv)
    parse_maintenance_args(args.extra)  # fail fast before starting Spark
    spark = session_for(args, "wikistream-maintenance")
    reports = run(spark, args, metrics_for(args))
    print(json.dumps(reports, indent=2, sort_keys=True, default=str))
    failed = any(
        s.get("status") == "failed"
        for r in reports
        for s in r.get("steps", {}).values()
        if isinstance(s, dict)
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
