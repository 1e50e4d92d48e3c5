"""Named operational queries, written once for Athena (deployed by CDK as named queries)
and for the local inspect CLI (Spark SQL).

Table references are ``{namespace.table}`` placeholders; :func:`render` fills them for
the target. The SQL sticks to what Spark SQL and Athena (Trino) share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict

from wikistream.catalogue import BY_IDENTIFIER


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str


#: The day both "latest day" reports show: the newest day of ``gold.daily_summary`` that
#: holds at least 1% of the busiest day's events. Both reports read this one definition
#: (they used to take the newest day of their own table and could disagree), and a day
#: with a handful of stray events (the outlier that was "the latest day" in issue 20)
#: cannot become it.
LATEST_DAY_SQL = (
    "(SELECT max(event_date) FROM {gold.daily_summary} "
    "WHERE events >= 0.01 * (SELECT max(events) FROM {gold.daily_summary}))"
)

_QUERIES = (
    NamedQuery(
        "freshness",
        "Newest event time per layer (how far behind the pipeline is)",
        "SELECT 'bronze' AS layer, max(event_time) AS newest_event FROM {bronze.raw_events} "
        "UNION ALL SELECT 'silver', max(event_time) FROM {silver.events} "
        "UNION ALL SELECT 'gold', max(updated_at) FROM {gold.hourly_stats}",
    ),
    NamedQuery(
        "top_domains",
        "Domains by events over the latest day in gold (the day is in the output)",
        "SELECT event_date AS day, domain, sum(events) AS events, sum(distinct_users) AS user_hours, "
        "round(avg(bot_share), 1) AS avg_bot_share FROM {gold.hourly_stats} "
        f"WHERE event_date = {LATEST_DAY_SQL} "
        "GROUP BY event_date, domain ORDER BY events DESC LIMIT 20",
    ),
    NamedQuery(
        "risk_leaderboard",
        "Riskiest users of the latest day (the same day as top_domains)",
        "SELECT event_date AS day, user_name, editor_class, events, large_deletions, domains, risk_score, "
        "risk_level "
        f"FROM {{gold.risk_scores}} WHERE event_date = {LATEST_DAY_SQL} "
        "ORDER BY risk_score DESC, events DESC LIMIT 20",
    ),
    NamedQuery(
        "dq_failures",
        "Failed data-quality checks over time",
        "SELECT CAST(evaluated_at AS DATE) AS day, layer, check_name, level, count(*) AS failures "
        "FROM {ops.dq_results} WHERE status = 'FAIL' GROUP BY 1, 2, 3, 4 ORDER BY day DESC, failures DESC",
    ),
    NamedQuery(
        "dead_letters_by_reason",
        "Dead-lettered records by source and failed rule",
        "SELECT source, failed_rule, count(*) AS records, max(ingest_time) AS latest "
        "FROM {bronze.dead_letters} GROUP BY source, failed_rule ORDER BY records DESC",
    ),
    NamedQuery(
        "pipeline_runs",
        "Latest job and gate runs with their snapshot lineage",
        "SELECT run_id, job, status, started_at, duration_s, input_snapshot_from, input_snapshot_to, "
        "output_snapshot_id, rows_in, rows_out FROM {ops.pipeline_runs} ORDER BY started_at DESC LIMIT 30",
    ),
)

NAMED_QUERIES: Dict[str, NamedQuery] = {q.name: q for q in _QUERIES}

_PLACEHOLDER = re.compile(r"\{([a-z_]+\.[a-z_]+)\}")


def render(query: NamedQuery, catalog_prefix: str) -> str:
    """Fill table placeholders: ``lake`` -> ``lake.gold.hourly_stats`` (Spark);
    ``"s3tablescatalog/bucket"`` -> ``"s3tablescatalog/bucket"."gold"."hourly_stats"`` (Athena)."""

    def table(match: re.Match[str]) -> str:
        identifier = match.group(1)
        if identifier not in BY_IDENTIFIER:
            raise KeyError(f"query {query.name} references unknown table {identifier}")
        namespace, name = identifier.split(".")
        if catalog_prefix.startswith('"'):
            return f'{catalog_prefix}."{namespace}"."{name}"'
        return f"{catalog_prefix}.{namespace}.{name}"

    return _PLACEHOLDER.sub(table, query.sql)
