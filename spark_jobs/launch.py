"""Launch configuration of the Spark jobs, declared once for EMR Serverless and local runs.

Everything a job's JVM needs *at start* — jars, ``spark.sql.extensions``, the Iceberg
catalog, the session time zone — is declared here and given to the launcher, never set
by job code: on EMR ``spark-submit`` starts the driver before any Python runs, so a
``spark.jars`` set from a SparkSession builder arrives too late (and would overwrite the
``--jars`` executors fetch). Two launchers read this module:

* **EMR Serverless**: ``stacks/constructs/emr.py`` renders :func:`submit_parameters` into
  every job run's ``sparkSubmitParameters`` (state machine, restart Lambda, maintenance).
* **Local**: the local launcher (``local_runtime``) renders the same properties and jars
  into ``PYSPARK_SUBMIT_ARGS`` before the job's JVM starts.

What differs between the two is named here, with why: the catalog implementation
(S3 Tables' Iceberg REST endpoint vs. a Hadoop catalog in a local directory), where the
Iceberg runtime comes from (EMR's image ships it; locally the ``iceberg`` bundle of the
manifest, same version), and the MSK IAM client (only MSK needs IAM auth). Jars beyond
EMR's image come from the JVM manifest ``jvm/pom.xml`` in bundles (one folder each);
which job needs which bundle is declared with the job in :mod:`spark_jobs.registry`.

Python 3.9-compatible (shipped to EMR).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Mapping, Sequence, Tuple, Union

from wikistream.config import SPARK_CATALOG

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

#: Where EMR 7.x installs its (complete) Iceberg Spark runtime.
EMR_ICEBERG_JAR = "/usr/share/aws/iceberg/lib/iceberg-spark3-runtime.jar"
ICEBERG_EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"

#: Jar bundles: the modules of ``jvm/pom.xml`` (each resolves into a folder of that name).
KAFKA_SOURCE = "kafka-source"
MSK_IAM = "msk-iam"
ICEBERG = "iceberg"
DEEQU = "deequ"
#: The bundles ``cdk deploy`` may ship to EMR (Iceberg comes with EMR's image).
EMR_SHIPPED_BUNDLES: Tuple[str, ...] = (KAFKA_SOURCE, MSK_IAM, DEEQU)

#: Properties only a launcher may set. A job that sets one of these from code is a bug
#: (tests/unit/test_launch_contract.py scans spark_jobs/ for it).
LAUNCH_ONLY_PREFIXES: Tuple[str, ...] = (
    "spark.jars",
    "spark.sql.extensions",
    "spark.sql.catalog.",
    "spark.driver.",
    "spark.executor.",
    "spark.master",
    "spark.submit.",
    "spark.dynamicAllocation.",
)


class LaunchError(RuntimeError):
    """A job's JVM was started without the launch configuration it needs."""


@dataclass(frozen=True)
class S3TablesCatalog:
    """Amazon S3 Tables through its Iceberg REST endpoint (SigV4); values may be CDK tokens."""

    table_bucket_arn: str
    region: str


@dataclass(frozen=True)
class HadoopCatalog:
    """Local adapter: an Iceberg Hadoop catalog on a warehouse directory (a ``file:`` URI)."""

    warehouse_uri: str


Catalog = Union[S3TablesCatalog, HadoopCatalog]


def _catalog_key(key: str) -> str:
    return f"spark.sql.catalog.{SPARK_CATALOG}{'.' + key if key else ''}"


def catalog_properties(catalog: Catalog) -> Dict[str, str]:
    """The Iceberg catalog named :data:`SPARK_CATALOG`, so every job's SQL is the same."""
    props = {_catalog_key(""): "org.apache.iceberg.spark.SparkCatalog"}
    if isinstance(catalog, S3TablesCatalog):
        props.update(
            {
                _catalog_key("type"): "rest",
                _catalog_key("uri"): f"https://s3tables.{catalog.region}.amazonaws.com/iceberg",
                _catalog_key("warehouse"): catalog.table_bucket_arn,
                _catalog_key("rest.sigv4-enabled"): "true",
                _catalog_key("rest.signing-name"): "s3tables",
                _catalog_key("rest.signing-region"): catalog.region,
                _catalog_key("io-impl"): "org.apache.iceberg.aws.s3.S3FileIO",
                _catalog_key("rest-metrics-reporting-enabled"): "false",
            }
        )
    else:
        props.update(
            {
                _catalog_key("type"): "hadoop",
                _catalog_key("warehouse"): catalog.warehouse_uri,
                # Another process (bronze vs. the batch job server) may commit between our
                # reads; a cached table would serve stale snapshots.
                _catalog_key("cache-enabled"): "false",
            }
        )
    return props


def launch_properties(catalog: Catalog) -> Dict[str, str]:
    """Every Spark property a job needs at start, for ``catalog``'s target (pure)."""
    return {
        "spark.sql.extensions": ICEBERG_EXTENSIONS,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.iceberg.handle-timestamp-without-timezone": "false",
        **catalog_properties(catalog),
    }


def submit_parameters(
    properties: Mapping[str, str], jars: Sequence[str], py_files: Sequence[str] = ()
) -> str:
    """``spark-submit`` options for ``properties`` and ``jars`` (pure; sorted, deterministic).

    The same string shape goes into EMR's ``sparkSubmitParameters`` and, followed by
    ``pyspark-shell``, into ``PYSPARK_SUBMIT_ARGS`` locally.
    """
    parts: List[str] = []
    if py_files:
        parts.append("--py-files " + ",".join(py_files))
    if jars:
        parts.append("--jars " + ",".join(jars))
    for key in sorted(properties):
        value = properties[key]
        if any(c.isspace() for c in value):
            raise ValueError(
                f"launch property {key} has whitespace, which spark-submit would split: {value!r}"
            )
        parts.append(f"--conf {key}={value}")
    return " ".join(parts)


def verify_launched(spark: SparkSession) -> None:
    """Fail fast when the JVM was started without the launch properties (not by a launcher)."""
    conf = spark.sparkContext.getConf()
    missing = [
        key
        for key in ("spark.sql.extensions", _catalog_key(""), _catalog_key("type"))
        if not conf.contains(key)
    ]
    if missing:
        raise LaunchError(
            f"this Spark JVM was started without {missing}. Jobs take their launch configuration "
            "from spark-submit: on EMR the job run's sparkSubmitParameters, locally "
            "`python -m local_runtime.submit <job module> ...` (see spark_jobs/launch.py)."
        )
