"""Query access: an Athena (engine v3) workgroup over the S3 Tables lake, the operational
named queries of :mod:`wikistream.queries`, and a managed policy for data engineers.

Athena reaches S3 Tables through the Glue Data Catalog federation ``s3tablescatalog``
(one child catalog per table bucket, one database per namespace). That federation is an
account/Region-level, one-time "AWS analytics services integration" which this stack
does NOT create (docs/DEPLOY.md, "Query with Athena"); the queries therefore address
tables fully qualified, ``"s3tablescatalog/<table bucket>"."<namespace>"."<table>"``.
"""

from __future__ import annotations

import re
from typing import List

from aws_cdk import ArnFormat, Aws, Duration, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.constructs.lakehouse import Lakehouse
from wikistream.catalogue import BY_IDENTIFIER, NAMESPACES
from wikistream.config import ConfigError, PlatformConfig
from wikistream.queries import NAMED_QUERIES, NamedQuery, render

#: Query results (and Athena's own metadata files) live under this artifacts prefix.
ATHENA_RESULTS_PREFIX = "athena-results/"
#: The Glue federated catalog that mounts every S3 table bucket of the account/Region.
S3_TABLES_CATALOG = "s3tablescatalog"
ATHENA_ENGINE_V3 = "Athena engine version 3"
#: Athena rejects a per-query cutoff below 10 MB; our unit is whole GB, so >= 1.
_MIN_CUTOFF_GB = 1

_FIRST_NAMESPACE = re.compile(r"\{([a-z_]+)\.[a-z_]+\}")


def athena_catalog(table_bucket_name: str) -> str:
    """The quoted catalog prefix Athena uses for one table bucket."""
    return f'"{S3_TABLES_CATALOG}/{table_bucket_name}"'


def query_database(query: NamedQuery) -> str:
    """The namespace of the first table a query reads (its default database in Athena)."""
    match = _FIRST_NAMESPACE.search(query.sql)
    if match is None:
        raise ValueError(f"query {query.name} references no table")
    return match.group(1)


class QueryAccess(Construct):
    """Athena workgroup + named queries + ``policy`` (attach to data-engineer roles).

    Attributes: ``workgroup`` (CfnWorkGroup), ``workgroup_name``, ``named_queries``
    (name -> CfnNamedQuery), ``policy`` (ManagedPolicy).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        lakehouse: Lakehouse,
    ) -> None:
        super().__init__(scope, construct_id)
        if config.query.bytes_scanned_cutoff_gb < _MIN_CUTOFF_GB:
            raise ConfigError(
                f"query.bytes_scanned_cutoff_gb must be >= {_MIN_CUTOFF_GB}, "
                f"got {config.query.bytes_scanned_cutoff_gb}"
            )
        self._config = config
        self._lakehouse = lakehouse
        self.workgroup_name = f"{config.prefix}-analytics"
        self.workgroup = self._build_workgroup(lakehouse.artifacts)
        self.named_queries = {q.name: self._build_named_query(q) for q in NAMED_QUERIES.values()}
        self.policy = self._build_policy()

    def _build_workgroup(self, artifacts: s3.Bucket) -> athena.CfnWorkGroup:
        artifacts.add_lifecycle_rule(
            id="expire-athena-results",
            prefix=ATHENA_RESULTS_PREFIX,
            expiration=Duration.days(self._config.query.results_retention_days),
        )
        return athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=self.workgroup_name,
            description=f"WikiStream {self._config.env}: queries over the S3 Tables lake",
            state="ENABLED",
            # Deleting the stack must also delete the workgroup's named queries/history in dev.
            recursive_delete_option=not self._config.retain_data,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=self._config.query.bytes_scanned_cutoff_gb * 1024**3,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version=ATHENA_ENGINE_V3
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{artifacts.bucket_name}/{ATHENA_RESULTS_PREFIX}",
                    # SSE-S3 like the bucket itself; Athena cannot write to S3 Tables from a
                    # workgroup with SSE-KMS results, and no KMS key is needed for reads.
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                    expected_bucket_owner=Aws.ACCOUNT_ID,
                ),
            ),
        )

    def _build_named_query(self, query: NamedQuery) -> athena.CfnNamedQuery:
        return athena.CfnNamedQuery(
            self,
            f"Query{''.join(part.capitalize() for part in query.name.split('_'))}",
            name=f"{self._config.prefix}-{query.name}",
            description=query.description,
            database=query_database(query),
            query_string=render(query, athena_catalog(self._lakehouse.table_bucket_name)),
            work_group=self.workgroup.ref,  # Ref of a workgroup is its name; also orders creation
        )

    def _glue_arns(self) -> List[str]:
        """Exactly the federated catalog objects of this table bucket (no wildcards)."""
        stack = Stack.of(self)
        bucket = self._lakehouse.table_bucket_name

        def glue(resource: str, name: str = "") -> str:
            return stack.format_arn(
                service="glue",
                resource=resource,
                resource_name=name or None,
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )

        arns = [
            glue("catalog"),
            glue("catalog", S3_TABLES_CATALOG),
            glue("catalog", f"{S3_TABLES_CATALOG}/{bucket}"),
        ]
        arns += [glue("database", f"{S3_TABLES_CATALOG}/{bucket}/{ns}") for ns in NAMESPACES]
        arns += [
            glue("table", f"{S3_TABLES_CATALOG}/{bucket}/{ident.replace('.', '/')}")
            for ident in BY_IDENTIFIER
        ]
        return arns

    def _build_policy(self) -> iam.ManagedPolicy:
        artifacts = self._lakehouse.artifacts
        workgroup_arn = Stack.of(self).format_arn(
            service="athena", resource="workgroup", resource_name=self.workgroup_name
        )
        return iam.ManagedPolicy(
            self,
            "DataEngineerPolicy",
            description=f"Query the WikiStream {self._config.env} lake with Athena (workgroup {self.workgroup_name})",
            statements=[
                iam.PolicyStatement(
                    sid="AthenaWorkgroup",
                    actions=[
                        "athena:GetWorkGroup",
                        "athena:StartQueryExecution",
                        "athena:StopQueryExecution",
                        "athena:GetQueryExecution",
                        "athena:GetQueryResults",
                        "athena:GetQueryRuntimeStatistics",
                        "athena:ListQueryExecutions",
                        "athena:BatchGetQueryExecution",
                        "athena:ListNamedQueries",
                        "athena:GetNamedQuery",
                        "athena:BatchGetNamedQuery",
                    ],
                    resources=[workgroup_arn],
                ),
                iam.PolicyStatement(
                    sid="GlueS3TablesCatalogRead",
                    actions=[
                        "glue:GetCatalog",
                        "glue:GetDatabase",
                        "glue:GetDatabases",
                        "glue:GetTable",
                        "glue:GetTables",
                    ],
                    resources=self._glue_arns(),
                ),
                iam.PolicyStatement(
                    # With Lake Formation access control, LF vends the table credentials;
                    # GetDataAccess has no resource-level permissions.
                    sid="LakeFormationCredentialVending",
                    actions=["lakeformation:GetDataAccess"],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    # With IAM access control instead, the caller needs S3 Tables read itself.
                    sid="S3TablesRead",
                    actions=[
                        "s3tables:GetTableBucket",
                        "s3tables:GetNamespace",
                        "s3tables:ListNamespaces",
                        "s3tables:ListTables",
                    ],
                    resources=[self._lakehouse.table_bucket_arn],
                ),
                iam.PolicyStatement(
                    sid="S3TablesTableRead",
                    actions=[
                        "s3tables:GetTable",
                        "s3tables:GetTableMetadataLocation",
                        "s3tables:GetTableData",
                    ],
                    resources=[self._lakehouse.tables_arn()],
                ),
                iam.PolicyStatement(
                    sid="AthenaResultsObjects",
                    actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=[artifacts.arn_for_objects(f"{ATHENA_RESULTS_PREFIX}*")],
                ),
                iam.PolicyStatement(
                    sid="AthenaResultsBucket",
                    actions=["s3:GetBucketLocation"],
                    resources=[artifacts.bucket_arn],
                ),
                iam.PolicyStatement(
                    sid="AthenaResultsList",
                    actions=["s3:ListBucket"],
                    resources=[artifacts.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{ATHENA_RESULTS_PREFIX}*"]}},
                ),
            ],
        )


__all__ = ["ATHENA_RESULTS_PREFIX", "QueryAccess", "athena_catalog", "query_database"]
