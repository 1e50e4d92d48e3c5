"""One list of the topics bronze reads: the Kafka source subscribes to exactly
``KafkaConfig.bronze_topics``, the list the EMR role's topic grants come from."""

from __future__ import annotations

import pytest

from spark_jobs.bronze.source import kafka_options
from wikistream.config import load_config


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_bronze_subscribes_to_exactly_the_granted_topics(env: str) -> None:
    kafka = load_config(env).kafka
    subscribed = kafka_options(kafka, "b-1:9098")["subscribe"].split(",")
    assert subscribed == list(kafka.bronze_topics) == [kafka.topic, kafka.dlq_topic]
