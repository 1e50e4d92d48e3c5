"""Lakehouse: the S3 Tables table bucket (Iceberg) with its namespaces, and the
artifacts bucket holding Spark code, jars, checkpoints, logs and producer state."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

from aws_cdk import Annotations, Duration, Fn
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_s3tables as s3tables
from constructs import Construct

from spark_jobs.launch import DEEQU, EMR_SHIPPED_BUNDLES
from stacks.constructs.defaults import removal_policy, secure_bucket
from wikistream.catalogue import NAMESPACES
from wikistream.config import ConfigError, PlatformConfig

REPO_ROOT = Path(__file__).resolve().parents[2]

# Artifacts bucket layout (prefixes are a contract with the jobs and the docs).
SPARK_JOBS_PREFIX = "spark_jobs/"
CODE_PREFIX = "code/"
JARS_PREFIX = "jars/"
CHECKPOINTS_PREFIX = "checkpoints/"
LOGS_PREFIX = "logs/"

#: Where `make setup` resolves the JVM manifest (jvm/pom.xml): one folder per bundle.
JAR_CACHE = REPO_ROOT / ".cache" / "jars"

#: The --py-files zip: the two packages the jobs import, nothing else (the named queries
#: are Athena's and the local inspect CLI's, not a job's). Glob matching needs the
#: directories re-included by name before their contents, and ``*`` does not match dot
#: files: without ``.*`` and ``!spark_jobs`` the zip held only the repository's dot
#: files (tests/infra/test_packaging.py reads what is staged).
_PY_FILES_EXCLUDES = [
    "*",
    ".*",
    "!spark_jobs",
    "!spark_jobs/**",
    "!wikistream",
    "!wikistream/**",
    "wikistream/queries.py",
    "**/__pycache__",
    "**/*.pyc",
]


class Lakehouse(Construct):
    """Table bucket + namespaces + artifacts bucket with the deployed Spark code.

    Attributes: ``table_bucket`` (CfnTableBucket), ``table_bucket_arn``, ``artifacts``,
    ``access_logs``, ``py_files_uri`` (the zip passed to ``--py-files``), ``namespaces``,
    ``table_bucket_name`` (plain string: the name is fixed by config, e.g. ``wikistream-lake-dev``),
    ``jar_uris`` (bundle -> the s3:// URIs of its jars, uploaded by this deployment).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.table_bucket_name = f"{config.lakehouse.table_bucket_name}-{config.env}"
        self.table_bucket = self._build_table_bucket()
        self.table_bucket_arn = self.table_bucket.attr_table_bucket_arn
        self.namespaces = [self._build_namespace(ns) for ns in NAMESPACES]
        self.access_logs = self._build_access_logs()
        self.artifacts = secure_bucket(self, "Artifacts", config=config, access_logs=self.access_logs)
        self.artifacts.add_lifecycle_rule(
            id="expire-job-logs", prefix=LOGS_PREFIX, expiration=Duration.days(30)
        )
        self.py_files_uri = self._deploy_code()
        self.jar_uris = self._deploy_jars()
        self._warn_about_pydeequ()

    def _build_table_bucket(self) -> s3tables.CfnTableBucket:
        lake = self._config.lakehouse
        bucket = s3tables.CfnTableBucket(
            self,
            "TableBucket",
            table_bucket_name=self.table_bucket_name,
            # SSE-S3: S3 Tables maintenance (compaction, snapshot expiry, unreferenced-file
            # removal) works without extra key-policy grants to the maintenance principal.
            encryption_configuration=s3tables.CfnTableBucket.EncryptionConfigurationProperty(
                sse_algorithm="AES256"
            ),
            unreferenced_file_removal=s3tables.CfnTableBucket.UnreferencedFileRemovalProperty(
                status="Enabled",
                unreferenced_days=lake.unreferenced_file_days,
                noncurrent_days=lake.unreferenced_file_days,
            ),
        )
        bucket.apply_removal_policy(removal_policy(self._config))
        return bucket

    def _build_namespace(self, name: str) -> s3tables.CfnNamespace:
        namespace = s3tables.CfnNamespace(
            self, f"Namespace{name.capitalize()}", namespace=name, table_bucket_arn=self.table_bucket_arn
        )
        namespace.apply_removal_policy(removal_policy(self._config))
        return namespace

    def _build_access_logs(self) -> s3.Bucket:
        logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            removal_policy=removal_policy(self._config),
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(90))],
        )
        return logs

    def _deploy_code(self) -> str:
        # Entry points as plain files: s3://<artifacts>/spark_jobs/<module>.py
        s3deploy.BucketDeployment(
            self,
            "SparkJobs",
            destination_bucket=self.artifacts,
            destination_key_prefix=SPARK_JOBS_PREFIX,
            sources=[s3deploy.Source.asset(str(REPO_ROOT / "spark_jobs"), exclude=["__pycache__", "*.pyc"])],
        )
        # The --py-files zip, uploaded unextracted (spark_jobs/ + wikistream/ at its root).
        zipped = s3deploy.BucketDeployment(
            self,
            "PyFiles",
            destination_bucket=self.artifacts,
            destination_key_prefix=CODE_PREFIX,
            extract=False,
            sources=[s3deploy.Source.asset(str(REPO_ROOT), exclude=_PY_FILES_EXCLUDES)],
        )
        return f"s3://{self.artifacts.bucket_name}/{CODE_PREFIX}{Fn.select(0, zipped.object_keys)}"

    def shipped_bundles(self) -> List[str]:
        """The manifest bundles EMR job runs need: Kafka + MSK IAM; Deequ if the env runs it."""
        return [b for b in EMR_SHIPPED_BUNDLES if b != DEEQU or self._config.dq.engine == "deequ"]

    def _warn_about_pydeequ(self) -> None:
        """The Deequ jar ships with the job runs, but the Python side does not: say so at synth."""
        if self._config.dq.engine == "deequ":
            Annotations.of(self).add_warning_v2(
                "wikistream:deequ-python",
                "dq.engine=deequ: the Deequ jar ships with the gate job runs, but their Python must "
                "also import pydeequ 1.7 and pandas, which neither the --py-files zip nor the stock "
                "EMR image provides (docs/DATA_QUALITY.md). Use an EMR custom image or a "
                "spark.archives virtualenv, or dq.engine=spark.",
            )

    def _deploy_jars(self) -> Dict[str, List[str]]:
        """Upload each bundle EMR needs to ``jars/<bundle>/``, from the resolved manifest.

        The same folders the local launcher puts on its classpath, so EMR runs exactly the
        jars the local runs and tests use. Synth reads the folder listing (offline).
        """
        uris: Dict[str, List[str]] = {}
        for bundle in self.shipped_bundles():
            folder = JAR_CACHE / bundle
            names = sorted(p.name for p in folder.glob("*.jar"))
            if not names:
                raise ConfigError(
                    f"no jars in {folder}: run `make setup` (it resolves jvm/pom.xml with Maven)"
                )
            s3deploy.BucketDeployment(
                self,
                f"Jars-{bundle}",
                destination_bucket=self.artifacts,
                destination_key_prefix=f"{JARS_PREFIX}{bundle}/",
                sources=[s3deploy.Source.asset(str(folder))],
            )
            uris[bundle] = [f"s3://{self.artifacts.bucket_name}/{JARS_PREFIX}{bundle}/{n}" for n in names]
        return uris

    # ---- IAM helpers --------------------------------------------------------------------
    def tables_arn(self) -> str:
        """ARN pattern of every table in the table bucket."""
        return f"{self.table_bucket_arn}/table/*"

    def grant_tables_read_write(self, grantee: iam.IGrantable) -> None:
        """S3 Tables data- and metadata-plane access to this bucket and its tables only."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "s3tables:GetTableBucket",
                    "s3tables:GetNamespace",
                    "s3tables:ListNamespaces",
                    "s3tables:ListTables",
                    "s3tables:CreateTable",
                ],
                resources=[self.table_bucket_arn],
            )
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "s3tables:GetTable",
                    "s3tables:GetTableMetadataLocation",
                    "s3tables:UpdateTableMetadataLocation",
                    "s3tables:GetTableData",
                    "s3tables:PutTableData",
                    "s3tables:GetTableMaintenanceConfiguration",
                    "s3tables:PutTableMaintenanceConfiguration",
                ],
                resources=[self.tables_arn()],
            )
        )


__all__ = ["Lakehouse"]
