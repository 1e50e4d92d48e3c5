"""Create every catalogue table (and namespace) that does not exist yet.

Idempotent: safe at every start. Locally the runner calls :func:`create_missing`
before any job; on AWS the state machine's first-cycle ``Init`` state runs this module
as an EMR Serverless job, because CloudFormation's ``AWS::S3Tables::Table`` cannot
express partition specs or table properties (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, List, Optional, Sequence

from spark_jobs.registry import CREATE_TABLES
from wikistream.catalogue import NAMESPACES, TABLES, TableSpec
from wikistream.config import SPARK_CATALOG

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession


def create_missing(spark: SparkSession, tables: Sequence[TableSpec] = TABLES) -> List[str]:
    """Create missing namespaces and tables; return the identifiers that were created."""
    for namespace in sorted({t.namespace for t in tables} | set(NAMESPACES)):
        spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {SPARK_CATALOG}.{namespace}")
    created = []
    for table in tables:
        if spark.catalog.tableExists(table.fqn()):
            for ddl in add_columns_ddl(table, spark.table(table.fqn()).columns):
                spark.sql(ddl)
            continue
        spark.sql(table.create_ddl())
        if table.sorted_by:
            spark.sql(table.sort_ddl())
        created.append(table.identifier)
    return created


def add_columns_ddl(table: TableSpec, existing: Sequence[str]) -> List[str]:
    """``ALTER TABLE ... ADD COLUMN`` for catalogue columns an existing table lacks (in place).

    Only optional columns are ever added this way (a required one would reject the rows
    already there); e.g. ``bronze.raw_events.event_time_source``.
    """
    out = []
    previous = None
    for column in table.columns:
        if column.name not in existing:
            if column.required:
                raise ValueError(
                    f"{table.identifier}: required column {column.name} cannot be added in place"
                )
            where = f" AFTER {previous}" if previous else " FIRST"
            out.append(f"ALTER TABLE {table.fqn()} ADD COLUMN {column.name} {column.spark_type}{where}")
        previous = column.name
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point for EMR Serverless: ``create_tables.py --env ENV --table-bucket-arn ARN --region R``."""
    from spark_jobs.cli import parse_job_args, session_for

    args = parse_job_args(CREATE_TABLES.name, argv)
    spark = session_for(args, "wikistream-create-tables")
    created = create_missing(spark)
    print(f"created {len(created)} table(s): {', '.join(created) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
