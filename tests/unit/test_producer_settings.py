"""The producer's env-var contract: defaults from wikistream.config, errors name the variable."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest

from producer.settings import Settings, SettingsError, settings_from_env
from wikistream.config import METRICS_NAMESPACE, load_config

LOCAL = {"WIKISTREAM_ENV": "local", "KAFKA_BOOTSTRAP": "127.0.0.1:9092"}
AWS = {
    "WIKISTREAM_ENV": "prod",
    "KAFKA_BOOTSTRAP": "b-1.msk.example:9098,b-2.msk.example:9098",
    "AWS_REGION": "eu-west-1",
    "STATE_URI": "s3://wikistream-prod-state/producer/state.json",
}


def test_local_defaults_come_from_config() -> None:
    s = settings_from_env(LOCAL)
    config = load_config("local")
    data_dir = Path(config.data_dir).resolve()
    assert s.kafka_auth == "plaintext"
    assert s.topic == config.kafka.topic and s.dlq_topic == config.kafka.dlq_topic
    assert s.stream_url == config.producer.stream_url
    assert s.user_agent == config.producer.user_agent
    assert s.max_event_bytes == config.producer.max_event_bytes
    assert s.state_uri == (data_dir / "producer" / "state.json").as_uri()
    assert s.metrics == f"local:{data_dir / 'metrics' / 'metrics.ndjson'}"
    assert s.metrics_namespace == METRICS_NAMESPACE
    assert s.max_events is None
    assert s.flush_timeout_s < 30.0


def test_aws_defaults_are_secure() -> None:
    s = settings_from_env(AWS)
    assert s.kafka_auth == "iam" and s.aws_region == "eu-west-1"
    assert s.metrics == "cloudwatch"
    assert s.stats_path is None
    assert s.state_interval_s == 5.0


def test_overrides_win() -> None:
    s = settings_from_env(
        {**LOCAL, "TOPIC": "a", "DLQ_TOPIC": "b", "MAX_EVENTS": "10", "STATE_URI": "file:///tmp/x.json"}
    )
    assert (s.topic, s.dlq_topic, s.max_events, s.state_uri) == ("a", "b", 10, "file:///tmp/x.json")


def test_settings_are_frozen() -> None:
    s = settings_from_env(LOCAL)
    with pytest.raises(AttributeError):
        s.topic = "x"  # type: ignore[misc]
    assert isinstance(s, Settings)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"KAFKA_BOOTSTRAP": "h:1"}, "WIKISTREAM_ENV"),
        ({**LOCAL, "WIKISTREAM_ENV": "qa"}, "WIKISTREAM_ENV"),
        ({"WIKISTREAM_ENV": "local"}, "KAFKA_BOOTSTRAP"),
        ({**LOCAL, "KAFKA_BOOTSTRAP": "no-port"}, "KAFKA_BOOTSTRAP"),
        ({**LOCAL, "KAFKA_AUTH": "scram"}, "KAFKA_AUTH"),
        ({**AWS, "KAFKA_AUTH": "plaintext"}, "KAFKA_AUTH"),
        ({**LOCAL, "KAFKA_AUTH": "iam"}, "AWS_REGION"),
        ({k: v for k, v in AWS.items() if k != "STATE_URI"}, "STATE_URI"),
        ({**LOCAL, "STATE_URI": "relative/path.json"}, "STATE_URI"),
        ({**LOCAL, "STATE_URI": "s3://bucket-only"}, "STATE_URI"),
        ({**LOCAL, "METRICS": "statsd"}, "METRICS"),
        ({**LOCAL, "MAX_EVENTS": "ten"}, "MAX_EVENTS"),
        ({**LOCAL, "MAX_EVENTS": "0"}, "MAX_EVENTS"),
        ({**LOCAL, "FLUSH_TIMEOUT_S": "30"}, "FLUSH_TIMEOUT_S"),
        ({**LOCAL, "TOPIC": "same", "DLQ_TOPIC": "same"}, "DLQ_TOPIC"),
        ({**LOCAL, "STREAM_URL": "ftp://x"}, "STREAM_URL"),
        ({**AWS, "STREAM_URL": "http://insecure.example/stream"}, "STREAM_URL"),
        ({**LOCAL, "BACKOFF_BASE_S": "5", "BACKOFF_CAP_S": "1"}, "BACKOFF_CAP_S"),
    ],
)
def test_invalid_settings_name_the_variable(env: Dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as raised:
        settings_from_env(env)
    assert str(raised.value).startswith(f"{variable}:")


def _pins(path: Path) -> Dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.split("[", 1)[0].lower()] = version
    return pins


def test_image_requirements_pin_the_same_versions_as_the_repo() -> None:
    repo = Path(__file__).resolve().parents[2]
    image, root = _pins(repo / "producer" / "requirements.txt"), _pins(repo / "requirements.txt")
    assert image, "producer/requirements.txt is empty"
    assert all(version for version in image.values()), "every image dependency is pinned"
    assert {name: root.get(name) for name in image} == image
