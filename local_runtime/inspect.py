"""Inspect the local lakehouse: list tables, show snapshots, run SQL or a named query.

    python -m local_runtime.inspect tables
    python -m local_runtime.inspect snapshots silver.events
    python -m local_runtime.inspect sql "SELECT domain, sum(events) FROM lake.gold.hourly_stats GROUP BY 1"
    python -m local_runtime.inspect query top_domains
    python -m local_runtime.inspect queries          # list the named queries

(`make inspect ARGS='...'` does the same after set-up.) Reads through a local Spark
session on the same Hadoop catalog the pipeline writes; it never writes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from wikistream.catalogue import BY_IDENTIFIER, TABLES
from wikistream.queries import NAMED_QUERIES, render


def _session(data_dir: Path) -> Any:
    from local_runtime.submit import start_session

    return start_session("wikistream-inspect", data_dir / "warehouse")


def _table_rows(spark: Any) -> list[tuple[str, str, str, str]]:
    rows = []
    for table in TABLES:
        if not spark.catalog.tableExists(table.fqn()):
            rows.append((table.identifier, "-", "-", "missing"))
            continue
        count = spark.table(table.fqn()).count()
        snaps = spark.sql(f"SELECT count(*) FROM {table.fqn()}.snapshots").collect()[0][0]
        files = spark.sql(f"SELECT count(*) FROM {table.fqn()}.files").collect()[0][0]
        rows.append((table.identifier, str(count), str(snaps), str(files)))
    return rows


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Render rows as a plain fixed-width text table."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``make inspect``."""
    parser = argparse.ArgumentParser(prog="inspect", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data-dir", type=Path, default=Path(".wikistream"))
    parser.add_argument("--limit", type=int, default=50)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("tables", help="list tables with row, snapshot and file counts")
    snaps = sub.add_parser("snapshots", help="show a table's snapshots")
    snaps.add_argument("table", choices=sorted(BY_IDENTIFIER))
    sql = sub.add_parser("sql", help="run a SQL query (tables are lake.<namespace>.<table>)")
    sql.add_argument("query")
    named = sub.add_parser("query", help="run a named query")
    named.add_argument("name", choices=sorted(NAMED_QUERIES))
    sub.add_parser("queries", help="list the named queries")
    args = parser.parse_args(argv)

    if args.command == "queries":
        for name, query in sorted(NAMED_QUERIES.items()):
            print(f"{name:20} {query.description}")
        return 0
    if not (args.data_dir / "warehouse").exists():
        print(f"no local lakehouse at {args.data_dir}; run `make run` first", file=sys.stderr)
        return 1
    spark = _session(args.data_dir)
    try:
        if args.command == "tables":
            print(format_table(("table", "rows", "snapshots", "files"), _table_rows(spark)))
            return 0
        if args.command == "snapshots":
            query = (
                f"SELECT committed_at, snapshot_id, parent_id, operation, "
                f"summary['added-records'] AS added_records, summary['total-records'] AS total_records "
                f"FROM {BY_IDENTIFIER[args.table].fqn()}.snapshots ORDER BY committed_at"
            )
        elif args.command == "query":
            query = render(NAMED_QUERIES[args.name], catalog_prefix="lake")
        else:
            query = args.query
        df = spark.sql(query)
        rows = [tuple(r) for r in df.limit(args.limit).collect()]
        print(format_table(df.columns, rows))
        return 0
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
