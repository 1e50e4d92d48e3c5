"""Roll silver/gold back to the snapshots they had before a bad cycle (Iceberg time travel).

``--run-id BAD`` (the common job argument: this job runs "for" the bad cycle and is
recorded under its id as job ``rollback``) plans and applies the rollback of cycle ``BAD``:

1. From ``ops.pipeline_runs``, the cycle's ``silver_batch`` / ``gold_batch`` rows give the
   tables they write and the time window ``[started_at, finished_at]`` of each run.
2. On each table's current lineage (``history`` x ``snapshots``), the snapshots committed
   inside those windows are the cycle's; the parent of the first one is the snapshot the
   table had before the cycle. Everything after it on the lineage is discarded, so later
   cycles' silver/gold runs are undone too (and listed in the plan).
3. ``CALL lake.system.rollback_to_snapshot(table, before)`` per table (a table the cycle
   created from nothing is emptied with ``DELETE FROM``), then one ``ROLLED_BACK`` ledger
   row per undone (run, job): :func:`spark_jobs.ledger.last_successful` skips those runs,
   so the next silver run re-reads bronze from the last surviving run's watermark and gold
   recomputes from there. ``--rerun`` runs silver and gold once right away (run id
   ``--rerun-id``, default ``BAD.rerun``).

``--to-snapshot TABLE=ID`` (repeatable) is the manual lever: set each table to ``ID``
(``rollback_to_snapshot`` for an ancestor, else ``set_current_snapshot``) without touching
the ledger. ``--dry-run`` prints the plan and changes nothing. A second rollback of the
same cycle finds no cycle snapshot on the lineage and is a no-op.

Usage: ``rollback.py --env ENV --run-id BAD [--dry-run] [--rerun [--rerun-id ID]]`` or
``rollback.py --env ENV --run-id ID --to-snapshot silver.events=123 [...] [--dry-run]``.
Python 3.9-compatible.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from spark_jobs.registry import GOLD_BATCH, ROLLBACK, SILVER_BATCH
from wikistream.catalogue import (
    BY_IDENTIFIER,
    DAILY_SUMMARY,
    HOURLY_STATS,
    PIPELINE_RUNS,
    RISK_SCORES,
    SILVER_EVENTS,
)
from wikistream.config import SPARK_CATALOG

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from spark_jobs.cli import JobArgs

ROLLBACK_JOB = ROLLBACK.name
SILVER_JOB = SILVER_BATCH.name
GOLD_JOB = GOLD_BATCH.name
#: The tables each promoted job writes (the ledger's output_table says the same; this is
#: the fallback for runs that failed before filling it).
JOB_TABLES: Mapping[str, Tuple[str, ...]] = {
    SILVER_JOB: (SILVER_EVENTS.fqn(),),
    GOLD_JOB: (HOURLY_STATS.fqn(), RISK_SCORES.fqn(), DAILY_SUMMARY.fqn()),
}


@dataclass(frozen=True)
class LedgerRun:
    """A silver/gold ledger row, times in epoch microseconds (timezone-proof)."""

    run_id: str
    job: str
    status: str
    started_us: int
    finished_us: Optional[int]
    output_tables: Tuple[str, ...]


@dataclass(frozen=True)
class Snapshot:
    """One entry of a table's current lineage (oldest first)."""

    snapshot_id: int
    parent_id: Optional[int]
    committed_us: int


@dataclass(frozen=True)
class TableAction:
    """Restore ``table`` to ``restore_to`` (``None``: empty it), discarding ``discarded``."""

    table: str
    restore_to: Optional[int]
    discarded: Tuple[int, ...]


@dataclass
class RollbackPlan:
    bad_run_id: str
    actions: List[TableAction] = field(default_factory=list)
    #: (run_id, job) pairs whose output is discarded: the bad cycle's and any later ones.
    runs_to_mark: List[Tuple[str, str]] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def as_dict(self) -> Dict[str, Any]:
        return {
            "bad_run_id": self.bad_run_id,
            "actions": [
                {"table": a.table, "restore_to": a.restore_to, "discarded": list(a.discarded)}
                for a in self.actions
            ],
            "runs_to_mark": [list(r) for r in self.runs_to_mark],
            "notes": self.notes,
        }


def plan_rollback(
    bad_run_id: str, runs: Sequence[LedgerRun], lineages: Mapping[str, Sequence[Snapshot]]
) -> RollbackPlan:
    """Decide what to restore and which runs to void (pure; unit-tested).

    ``runs`` are the silver/gold ledger rows of the environment (any status, any run id);
    ``lineages`` each table's current lineage, oldest first.
    """
    plan = RollbackPlan(bad_run_id)
    bad = [r for r in runs if r.run_id == bad_run_id and r.job in JOB_TABLES]
    if not bad:
        raise ValueError(f"no silver_batch/gold_batch ledger rows for run {bad_run_id!r}")
    cycle_start = min(r.started_us for r in bad)
    windows: Dict[str, List[Tuple[int, int]]] = {}
    for r in bad:
        end = r.finished_us if r.finished_us is not None else 2**62  # still running / crashed
        for table in r.output_tables or JOB_TABLES[r.job]:
            # committed_at has millisecond precision: widen by 1 ms so truncation never hides one.
            windows.setdefault(table, []).append((r.started_us - 1000, end + 1000))
    for table in sorted(windows):
        lineage = list(lineages.get(table, ()))
        inside = [
            i for i, s in enumerate(lineage) if any(lo <= s.committed_us <= hi for lo, hi in windows[table])
        ]
        if not inside:
            plan.notes.append(
                f"{table}: no snapshot of run {bad_run_id} on the current lineage; nothing to undo"
            )
            continue
        first = inside[0]
        plan.actions.append(
            TableAction(table, lineage[first].parent_id, tuple(s.snapshot_id for s in lineage[first:]))
        )
    if not plan.actions:
        return plan
    undone = sorted(
        {
            (r.run_id, r.job)
            for r in runs
            if r.job in JOB_TABLES and (r.run_id == bad_run_id or r.started_us >= cycle_start)
        }
    )
    plan.runs_to_mark = undone
    later = sorted({rid for rid, _ in undone if rid != bad_run_id})
    if later:
        plan.notes.append(
            f"later runs are undone as well (their snapshots descend from the bad ones): {later}"
        )
    return plan


def parse_to_snapshot(values: Sequence[str]) -> Dict[str, int]:
    """``["silver.events=123"]`` -> ``{"lake.silver.events": 123}``."""
    out: Dict[str, int] = {}
    for value in values:
        table, sep, sid = value.partition("=")
        ident = table.strip()
        ident = ident[len(SPARK_CATALOG) + 1 :] if ident.startswith(SPARK_CATALOG + ".") else ident
        if not sep or ident not in BY_IDENTIFIER or not sid.strip().lstrip("-").isdigit():
            raise ValueError(f"--to-snapshot expects namespace.table=SNAPSHOT_ID, got {value!r}")
        out[BY_IDENTIFIER[ident].fqn()] = int(sid)
    return out


def parse_rollback_args(extra: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=ROLLBACK_JOB, add_help=False)
    p.add_argument("--to-snapshot", action="append", default=[])
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--rerun", action="store_true", help="run silver and gold once after the rollback")
    p.add_argument("--rerun-id", default=None, help="run id of the --rerun cycle (default: <run-id>.rerun)")
    ns, unknown = p.parse_known_args(list(extra))
    if unknown:
        p.error(f"unrecognised arguments: {' '.join(unknown)}")
    ns.to_snapshot = parse_to_snapshot(ns.to_snapshot)
    return ns


# --------------------------------------------------------------------------- Spark side


def _ident(table_fqn: str) -> str:
    return table_fqn[len(SPARK_CATALOG) + 1 :]


def ledger_runs(spark: SparkSession, env: str) -> List[LedgerRun]:
    rows = spark.sql(
        f"SELECT run_id, job, status, unix_micros(started_at) AS s, unix_micros(finished_at) AS f, output_table "
        f"FROM {PIPELINE_RUNS.fqn()} WHERE env = '{env}' AND job IN ('{SILVER_JOB}', '{GOLD_JOB}') "
        f"AND status <> 'ROLLED_BACK'"
    ).collect()
    return [
        LedgerRun(
            r["run_id"],
            r["job"],
            r["status"],
            int(r["s"]),
            int(r["f"]) if r["f"] is not None else None,
            tuple(t for t in (r["output_table"] or "").split(",") if t),
        )
        for r in rows
    ]


def lineage(spark: SparkSession, table_fqn: str) -> List[Snapshot]:
    """The table's current lineage, oldest first (walks parent ids from the current snapshot)."""
    from spark_jobs.ledger import current_snapshot_id

    rows = spark.sql(
        f"SELECT snapshot_id, parent_id, unix_micros(committed_at) AS c FROM {table_fqn}.snapshots"
    ).collect()
    by_id = {int(r["snapshot_id"]): r for r in rows}
    chain: List[Snapshot] = []
    current = current_snapshot_id(spark, table_fqn)
    while current is not None and current in by_id:
        r = by_id[current]
        parent = int(r["parent_id"]) if r["parent_id"] is not None else None
        chain.append(Snapshot(current, parent, int(r["c"])))
        current = parent
    return list(reversed(chain))


def build_plan(spark: SparkSession, env: str, bad_run_id: str) -> RollbackPlan:
    runs = ledger_runs(spark, env)
    tables = sorted({t for ts in JOB_TABLES.values() for t in ts})
    return plan_rollback(bad_run_id, runs, {t: lineage(spark, t) for t in tables})


def restore(spark: SparkSession, table_fqn: str, snapshot_id: Optional[int]) -> Optional[str]:
    """Make ``snapshot_id`` current (``None``: delete every row); return the SQL run, if any.

    Iceberg cannot roll back to "before the first snapshot", so a table the cycle wrote
    first is emptied with a ``DELETE`` snapshot instead (skipped when already empty, which
    keeps a repeated rollback a no-op).
    """
    if snapshot_id is None:
        if spark.sql(f"SELECT count(*) FROM {table_fqn}").collect()[0][0] == 0:
            return None
        sql = f"DELETE FROM {table_fqn}"
    elif snapshot_id in {s.snapshot_id for s in lineage(spark, table_fqn)}:
        sql = f"CALL {SPARK_CATALOG}.system.rollback_to_snapshot('{_ident(table_fqn)}', {snapshot_id})"
    else:
        # Not an ancestor (e.g. undoing a rollback): only set_current_snapshot can do it.
        sql = f"CALL {SPARK_CATALOG}.system.set_current_snapshot('{_ident(table_fqn)}', {snapshot_id})"
    spark.sql(sql).collect()
    return sql


def apply_plan(spark: SparkSession, args: JobArgs, plan: RollbackPlan) -> Dict[str, Any]:
    """Restore every table, then void the undone runs in the ledger."""
    from spark_jobs.ledger import ROLLED_BACK, RunRecord, record_run

    done: Dict[str, Any] = {"sql": []}
    for action in plan.actions:
        sql = restore(spark, action.table, action.restore_to)
        if sql is not None:
            done["sql"].append(sql)
    marked = _already_marked(spark, args.env, plan.runs_to_mark)
    for run_id, job in plan.runs_to_mark:
        if (run_id, job) in marked:
            continue
        mark = RunRecord(run_id, job, args.env, details={"bad_run_id": plan.bad_run_id})
        record_run(spark, mark.finish(ROLLED_BACK))
    return done


def _already_marked(spark: SparkSession, env: str, pairs: Sequence[Tuple[str, str]]) -> set:
    """(run_id, job) pairs voided after their last SUCCEEDED row (keeps a rerun idempotent)."""
    from spark_jobs.ledger import ROLLED_BACK, SUCCEEDED

    if not pairs:
        return set()
    rows = spark.sql(
        f"SELECT run_id, job, max(CASE WHEN status = '{ROLLED_BACK}' THEN started_at END) AS rb, "
        f"max(CASE WHEN status = '{SUCCEEDED}' THEN started_at END) AS ok "
        f"FROM {PIPELINE_RUNS.fqn()} WHERE env = '{env}' GROUP BY run_id, job"
    ).collect()
    wanted = set(pairs)
    return {
        (r["run_id"], r["job"])
        for r in rows
        if (r["run_id"], r["job"]) in wanted
        and r["rb"] is not None
        and (r["ok"] is None or r["rb"] >= r["ok"])
    }


def run(spark: SparkSession, args: JobArgs) -> Dict[str, Any]:
    """Plan and (unless ``--dry-run``) apply a rollback; recorded in the ledger as job ``rollback``."""
    from spark_jobs.ledger import RunRecord, execute_recorded

    opts = parse_rollback_args(args.extra)
    result: Dict[str, Any] = {"dry_run": opts.dry_run}
    if opts.to_snapshot:
        result["manual"] = dict(opts.to_snapshot)
        if opts.dry_run:
            return result
        record = RunRecord(args.run_id, ROLLBACK_JOB, args.env, details={"manual": result["manual"]})

        def manual() -> None:
            result["sql"] = [restore(spark, t, s) for t, s in opts.to_snapshot.items()]
            record.output_table = ",".join(opts.to_snapshot)

        execute_recorded(spark, record, manual)
        return result
    plan = build_plan(spark, args.env, args.run_id)
    result["plan"] = plan.as_dict()
    if opts.dry_run:
        return result
    record = RunRecord(args.run_id, ROLLBACK_JOB, args.env, details={"plan": plan.as_dict()})

    def body() -> None:
        result.update(apply_plan(spark, args, plan))
        record.output_table = ",".join(a.table for a in plan.actions)
        record.rows_out = len(plan.actions)

    execute_recorded(spark, record, body)
    if opts.rerun and plan.actions:
        result["rerun"] = rerun(spark, args, opts.rerun_id or f"{args.run_id}.rerun")
    return result


def rerun(spark: SparkSession, args: JobArgs, run_id: str) -> Dict[str, Any]:
    """One silver run then one gold run (as cycle ``run_id``) from the restored state."""
    from dataclasses import replace

    from spark_jobs import gold_batch, silver_batch

    fresh = replace(args, run_id=run_id, extra=[])
    silver = silver_batch.run(spark, replace(fresh, job=SILVER_JOB))
    gold = gold_batch.run(spark, replace(fresh, job=GOLD_JOB))
    return {"silver": [silver.status, silver.rows_out], "gold": [gold.status, gold.rows_out]}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point: plan (``--dry-run``) or apply a rollback and print what was done."""
    from spark_jobs.cli import parse_job_args, session_for

    args = parse_job_args(ROLLBACK_JOB, argv)
    parse_rollback_args(args.extra)  # fail fast before starting Spark
    spark = session_for(args, "wikistream-rollback")
    print(json.dumps(run(spark, args), indent=2, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
