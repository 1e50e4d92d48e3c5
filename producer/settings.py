"""The producer's environment-variable contract as one frozen, validated dataclass.

Read once at start (:func:`settings_from_env`); every error names the variable. Defaults
come from :func:`wikistream.config.load_config` of ``WIKISTREAM_ENV`` so topic names,
the stream URL, the User-Agent and the payload limit are never duplicated here.

| variable | meaning | default |
|---|---|---|
| WIKISTREAM_ENV | local, dev, staging, prod | required |
| KAFKA_BOOTSTRAP | ``host:port[,host:port]`` | required |
| KAFKA_AUTH | ``iam`` (SASL_SSL/OAUTHBEARER) or ``plaintext`` (local only) | iam; plaintext when local |
| AWS_REGION | region for the MSK IAM token | required for iam |
| STREAM_URL, USER_AGENT | SSE source and descriptive UA | config.producer |
| TOPIC, DLQ_TOPIC | Kafka topics | config.kafka |
| STATE_URI | ``file:///abs/path.json`` or ``s3://bucket/key`` | local: data_dir file; else required |
| METRICS | ``cloudwatch`` or ``local:<path>`` | local: data_dir NDJSON; else cloudwatch |
| METRICS_NAMESPACE | CloudWatch namespace | wikistream.config.METRICS_NAMESPACE |
| STATS_PATH | JSON stats written on exit | local: data_dir file; else none |
| HEALTH_FILE | touched while healthy (Docker HEALTHCHECK) | /tmp/producer.health |
| MAX_EVENTS | stop after this many received events (tests) | none |
| MAX_EVENT_BYTES | payload limit (bigger -> DLQ) | config.producer.max_event_bytes |
| FLUSH_TIMEOUT_S | bound of the final flush (< ECS stopTimeout 30 s) | 20 |
| STATE_INTERVAL_S | how often the delivered position is persisted | 5 (local 0.5) |
| METRICS_INTERVAL_S | how often metrics are emitted | 60 (local 5) |
| BACKOFF_BASE_S, BACKOFF_CAP_S | reconnect backoff | 1, 60 |
| READ_TIMEOUT_S | silent-socket watchdog | 60 |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional
from urllib.parse import urlsplit

from wikistream.config import METRICS_NAMESPACE, ConfigError, load_config
from wikistream.events import TimeBounds

ECS_STOP_TIMEOUT_S = 30.0


class SettingsError(ValueError):
    """An environment variable is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Everything the producer needs, validated."""

    env: str
    kafka_bootstrap: str
    kafka_auth: str
    aws_region: Optional[str]
    stream_url: str
    user_agent: str
    topic: str
    dlq_topic: str
    state_uri: str
    metrics: str
    metrics_namespace: str
    stats_path: Optional[Path]
    health_file: Optional[Path]
    max_events: Optional[int]
    max_event_bytes: int
    flush_timeout_s: float
    state_interval_s: float
    metrics_interval_s: float
    backoff_base_s: float
    backoff_cap_s: float
    read_timeout_s: float
    #: Clock-skew allowance and late bound (config ``pipeline``), shared with bronze.
    time_bounds: TimeBounds

    @property
    def is_local(self) -> bool:
        return self.env == "local"


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}: must be between {low} and {high}, got {value}")
    return value


def _int(env: Mapping[str, str], name: str, default: Optional[int], low: int) -> Optional[int]:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None
    if value < low:
        raise SettingsError(f"{name}: must be >= {low}, got {value}")
    return value


def _check_state_uri(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.scheme == "file":
        if not parts.path.startswith("/") or parts.netloc not in ("", "localhost"):
            raise SettingsError(f"STATE_URI: file URIs must be absolute (file:///path), got {uri!r}")
    elif parts.scheme == "s3":
        if not parts.netloc or not parts.path.strip("/"):
            raise SettingsError(f"STATE_URI: expected s3://bucket/key, got {uri!r}")
    else:
        raise SettingsError(f"STATE_URI: scheme must be file or s3, got {uri!r}")
    return uri


def _check_bootstrap(value: str) -> str:
    for server in value.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit():
            raise SettingsError(f"KAFKA_BOOTSTRAP: expected host:port[,host:port...], got {value!r}")
    return value


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """Build and validate :class:`Settings` from an environment mapping (``os.environ``)."""
    name = env.get("WIKISTREAM_ENV", "")
    if not name:
        raise SettingsError("WIKISTREAM_ENV: required (local, dev, staging or prod)")
    try:
        config = load_config(name)
    except ConfigError as exc:
        raise SettingsError(f"WIKISTREAM_ENV: {exc}") from None
    local = config.is_local

    bootstrap = env.get("KAFKA_BOOTSTRAP", "")
    if not bootstrap:
        raise SettingsError("KAFKA_BOOTSTRAP: required (host:port of the brokers)")
    _check_bootstrap(bootstrap)

    auth = env.get("KAFKA_AUTH") or ("plaintext" if local else "iam")
    if auth not in ("iam", "plaintext"):
        raise SettingsError(f"KAFKA_AUTH: must be 'iam' or 'plaintext', got {auth!r}")
    if auth == "plaintext" and not local:
        # Secure default: MSK is reached only over TLS with IAM outside the local mode.
        raise SettingsError(f"KAFKA_AUTH: plaintext is allowed only for WIKISTREAM_ENV=local, not {name!r}")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
    if auth == "iam" and not region:
        raise SettingsError("AWS_REGION: required when KAFKA_AUTH=iam (the MSK IAM token is regional)")

    stream_url = env.get("STREAM_URL") or config.producer.stream_url
    if urlsplit(stream_url).scheme not in ("http", "https"):
        raise SettingsError(f"STREAM_URL: expected an http(s) URL, got {stream_url!r}")
    if not local and urlsplit(stream_url).scheme != "https":
        raise SettingsError(f"STREAM_URL: must be https outside local, got {stream_url!r}")

    topic = env.get("TOPIC") or config.kafka.topic
    dlq_topic = env.get("DLQ_TOPIC") or config.kafka.dlq_topic
    if topic == dlq_topic:
        raise SettingsError("DLQ_TOPIC: must differ from TOPIC")

    data_dir = Path(config.data_dir).resolve()
    state_uri = env.get("STATE_URI") or ((data_dir / "producer" / "state.json").as_uri() if local else "")
    if not state_uri:
        raise SettingsError("STATE_URI: required outside local (s3://bucket/key)")
    _check_state_uri(state_uri)

    metrics = env.get("METRICS") or (
        f"local:{data_dir / 'metrics' / 'metrics.ndjson'}" if local else "cloudwatch"
    )
    if metrics != "cloudwatch" and not (metrics.startswith("local:") and len(metrics) > len("local:")):
        raise SettingsError(f"METRICS: must be 'cloudwatch' or 'local:<path>', got {metrics!r}")

    stats_raw = env.get("STATS_PATH") or (str(data_dir / "producer" / "stats.json") if local else "")
    health_raw = env.get("HEALTH_FILE", "/tmp/producer.health")  # noqa: S108 - container-local file

    backoff_base = _float(env, "BACKOFF_BASE_S", 1.0, 0.0, 60.0)
    backoff_cap = _float(env, "BACKOFF_CAP_S", 60.0, 0.0, 3600.0)
    if backoff_cap < backoff_base:
        raise SettingsError(f"BACKOFF_CAP_S: must be >= BACKOFF_BASE_S ({backoff_base}), got {backoff_cap}")

    return Settings(
        env=name,
        kafka_bootstrap=bootstrap,
        kafka_auth=auth,
        aws_region=region,
        stream_url=stream_url,
        user_agent=env.get("USER_AGENT") or config.producer.user_agent,
        topic=topic,
        dlq_topic=dlq_topic,
        state_uri=state_uri,
        metrics=metrics,
        metrics_namespace=env.get("METRICS_NAMESPACE") or METRICS_NAMESPACE,
        stats_path=Path(stats_raw) if stats_raw else None,
        health_file=Path(health_raw) if health_raw else None,
        max_events=_int(env, "MAX_EVENTS", None, 1),
        max_event_bytes=_int(env, "MAX_EVENT_BYTES", config.producer.max_event_bytes, 1024) or 0,
        # ECS sends SIGKILL stopTimeout (30 s) after SIGTERM: the flush must end before.
        flush_timeout_s=_float(env, "FLUSH_TIMEOUT_S", 20.0, 0.1, ECS_STOP_TIMEOUT_S - 5.0),
        state_interval_s=_float(env, "STATE_INTERVAL_S", 0.5 if local else 5.0, 0.0, 300.0),
        metrics_interval_s=_float(env, "METRICS_INTERVAL_S", 5.0 if local else 60.0, 0.1, 3600.0),
        backoff_base_s=backoff_base,
        backoff_cap_s=backoff_cap,
        read_timeout_s=_float(env, "READ_TIMEOUT_S", 60.0, 1.0, 3600.0),
        time_bounds=TimeBounds.of(config.pipeline),
    )
