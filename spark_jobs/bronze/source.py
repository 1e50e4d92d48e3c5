"""Where bronze's rows come from: MSK through Spark's Kafka source, or landed files.

On EMR the job reads both topics (main and producer DLQ) with Spark's Kafka source and
MSK IAM authentication. The connector (``spark-sql-kafka-0-10_2.12`` matching Spark
3.5, with ``kafka-clients``, ``commons-pool2`` and ``spark-token-provider-kafka``) and
``aws-msk-iam-auth`` (shaded "-all" build) are staged by the deployment in the
artifacts bucket and passed to the job with ``--jars``; nothing is downloaded at start.

Locally Spark's Kafka connector cannot be obtained (no Maven), so
``local_runtime.kafka_bridge`` consumes both topics from the local broker and lands
Parquet files with exactly the Kafka source's columns (:func:`.schema.kafka_schema`);
:func:`landed_files_stream` reads them with that explicit schema. Everything after the
source is the same code.

Python 3.9-compatible.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Dict, Optional, Union

from spark_jobs.bronze.schema import kafka_schema

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from wikistream.config import KafkaConfig

MSK_IAM_JAAS = "software.amazon.msk.auth.iam.IAMLoginModule required;"
MSK_IAM_CALLBACK = "software.amazon.msk.auth.iam.IAMClientCallbackHandler"


def kafka_options(
    kafka: KafkaConfig, bootstrap: str, max_offsets_per_trigger: Optional[int] = None
) -> Dict[str, str]:
    """Options of Spark's Kafka source for MSK with IAM auth, reading both topics (pure)."""
    if not bootstrap:
        raise ValueError("a bootstrap broker list is required for the Kafka source")
    options = {
        "kafka.bootstrap.servers": bootstrap,
        "subscribe": f"{kafka.topic},{kafka.dlq_topic}",
        "startingOffsets": "earliest",
        # Losing data silently (retention ran out while bronze was down) must stop the job.
        "failOnDataLoss": "true",
        "kafka.security.protocol": "SASL_SSL",
        "kafka.sasl.mechanism": "AWS_MSK_IAM",
        "kafka.sasl.jaas.config": MSK_IAM_JAAS,
        "kafka.sasl.client.callback.handler.class": MSK_IAM_CALLBACK,
    }
    if max_offsets_per_trigger:
        options["maxOffsetsPerTrigger"] = str(max_offsets_per_trigger)
    return options


def kafka_stream(spark: SparkSession, options: Dict[str, str]) -> DataFrame:
    """Spark's Kafka source (EMR)."""
    return spark.readStream.format("kafka").options(**options).load()


def landed_files_stream(
    spark: SparkSession, landing_dir: Union[str, Path], max_files_per_trigger: Optional[int] = None
) -> DataFrame:
    """The bridge's landed Parquet files as a stream with the Kafka source's schema.

    The file source ignores names starting with ``_`` or ``.``, where the bridge writes
    its temporary files before renaming them in.
    """
    reader = spark.readStream.schema(kafka_schema())
    if max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", str(max_files_per_trigger))
    return reader.parquet(str(landing_dir))
