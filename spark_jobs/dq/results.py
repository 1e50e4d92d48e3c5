"""Persist every check result of a gate run to ``ops.dq_results`` (one row per check).

:func:`result_rows` is pure (unit-testable); :func:`write_results` appends them.

Python 3.9-compatible.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, Dict, List

from spark_jobs.dq.evaluate import GateResult
from wikistream.catalogue import DQ_RESULTS

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession


def result_rows(run_id: str, result: GateResult, evaluated_at: datetime) -> List[Dict[str, Any]]:
    """One ``ops.dq_results`` row per check, in suite order."""
    rows = []
    for r in result.results:
        rows.append(
            {
                "run_id": run_id,
                "layer": result.layer,
                "check_name": r.check.name,
                "check_type": r.check.type,
                "level": r.check.level,
                "status": r.status,
                "metric": r.metric,
                "threshold": r.check.threshold,
                "rows_tested": int(r.rows_tested),
                "failing_sample": json.dumps(list(r.sample)) if r.sample else None,
                "snapshot_id": r.snapshot_id,
                "evaluated_at": evaluated_at,
                "table_name": r.check.table,
                "note": r.note or None,
            }
        )
    return rows


def write_results(spark: SparkSession, rows: List[Dict[str, Any]]) -> None:
    """Append ``rows`` to ``ops.dq_results`` in one commit."""
    if not rows:
        return
    schema = ", ".join(f"{c.name} {c.spark_type}" for c in DQ_RESULTS.columns)
    data = [tuple(row.get(c) for c in DQ_RESULTS.column_names) for row in rows]
    spark.createDataFrame(data, schema).writeTo(DQ_RESULTS.fqn()).append()
