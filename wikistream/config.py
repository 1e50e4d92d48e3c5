"""Typed configuration: the one source of truth for names and knobs.

Infrastructure (stacks/), Spark jobs (spark_jobs/), the producer and the local
runtime all read the same frozen dataclasses from here. Nothing is read from the
environment at import time: callers build a config with :func:`load_config`.

Precedence (house style): explicit override > environment defaults > secure default.

This module must stay importable on the Python that EMR Serverless 7.x ships (3.9):
no ``match``, no runtime ``X | Y`` unions, no ``dataclass(slots=...)``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

ENVIRONMENTS: Tuple[str, ...] = ("local", "dev", "staging", "prod")

#: The Spark catalog name used by every job in every environment, so SQL is identical
#: locally (Hadoop catalog) and on AWS (S3 Tables through its Iceberg REST endpoint).
SPARK_CATALOG = "lake"

#: CloudWatch namespace for every metric the platform emits (producer, bronze, jobs, DQ).
METRICS_NAMESPACE = "WikiStream"

#: EMR Serverless release: Spark 3.5.x, Iceberg 1.6+, Python 3.9 in the stock image.
EMR_RELEASE_LABEL = "emr-7.12.0"


#: vCPU counts an EMR Serverless worker can have (EMR Serverless user guide, "Supported
#: worker configurations").
EMR_WORKER_VCPUS: Tuple[int, ...] = (1, 2, 4, 8, 16)


class ConfigError(ValueError):
    """A configuration value is invalid; the message says which and why."""


@dataclass(frozen=True)
class DomainInfo:
    """Where a wiki lives: its region bucket, its content language, and its database name
    (the event's ``wiki`` field, e.g. ``enwiki``), which is what identifies the wiki."""

    region: str
    language: str
    wiki: str


#: Domain allow-list and domain -> region/language map. The single copy: the producer's
#: allow-list, silver's enrichment and the DQ allowed-values checks all derive from it.
DOMAINS: Mapping[str, DomainInfo] = {
    "commons.wikimedia.org": DomainInfo("global", "multi", "commonswiki"),
    "www.wikidata.org": DomainInfo("global", "multi", "wikidatawiki"),
    "meta.wikimedia.org": DomainInfo("global", "multi", "metawiki"),
    "species.wikimedia.org": DomainInfo("global", "multi", "specieswiki"),
    "en.wikipedia.org": DomainInfo("americas", "en", "enwiki"),
    "es.wikipedia.org": DomainInfo("americas", "es", "eswiki"),
    "pt.wikipedia.org": DomainInfo("americas", "pt", "ptwiki"),
    "de.wikipedia.org": DomainInfo("europe", "de", "dewiki"),
    "fr.wikipedia.org": DomainInfo("europe", "fr", "frwiki"),
    "it.wikipedia.org": DomainInfo("europe", "it", "itwiki"),
    "nl.wikipedia.org": DomainInfo("europe", "nl", "nlwiki"),
    "pl.wikipedia.org": DomainInfo("europe", "pl", "plwiki"),
    "ru.wikipedia.org": DomainInfo("europe", "ru", "ruwiki"),
    "uk.wikipedia.org": DomainInfo("europe", "uk", "ukwiki"),
    "sv.wikipedia.org": DomainInfo("europe", "sv", "svwiki"),
    "ja.wikipedia.org": DomainInfo("asia_pacific", "ja", "jawiki"),
    "zh.wikipedia.org": DomainInfo("asia_pacific", "zh", "zhwiki"),
    "ko.wikipedia.org": DomainInfo("asia_pacific", "ko", "kowiki"),
    "id.wikipedia.org": DomainInfo("asia_pacific", "id", "idwiki"),
    "vi.wikipedia.org": DomainInfo("asia_pacific", "vi", "viwiki"),
    "hi.wikipedia.org": DomainInfo("asia_pacific", "hi", "hiwiki"),
    "ar.wikipedia.org": DomainInfo("middle_east_africa", "ar", "arwiki"),
    "fa.wikipedia.org": DomainInfo("middle_east_africa", "fa", "fawiki"),
    "he.wikipedia.org": DomainInfo("middle_east_africa", "he", "hewiki"),
    "tr.wikipedia.org": DomainInfo("middle_east_africa", "tr", "trwiki"),
}

#: What identifies a wiki: its database name (``wiki``), not the host a request came in
#: on. ``meta.domain`` can name a shared host: account creations of allow-listed wikis
#: arrive with ``meta.domain = auth.wikimedia.org`` (central login) and ``wiki = enwiki``.
#: Database name -> the wiki's canonical domain (a key of :data:`DOMAINS`).
WIKIS: Mapping[str, str] = {info.wiki: domain for domain, info in DOMAINS.items()}

#: Region of a wiki not in :data:`DOMAINS`. The producer filters such wikis
#: (``domain_not_allowed``), so silver meets them only if bronze was fed another way;
#: it then tags them ``other`` instead of failing.
UNKNOWN_REGION = "other"
REGIONS: Tuple[str, ...] = tuple(sorted({d.region for d in DOMAINS.values()} | {UNKNOWN_REGION}))

#: Event types of mediawiki/recentchange 1.0.x.
EVENT_TYPES: Tuple[str, ...] = ("edit", "new", "log", "categorize", "external")

#: Editor classes assigned by silver.
EDITOR_CLASSES: Tuple[str, ...] = (
    "registered",
    "anonymous_ipv4",
    "anonymous_ipv6",
    "temporary",
    "bot",
    "unknown",
)

#: Risk levels assigned by gold from the score alone.
RISK_LEVELS: Tuple[str, ...] = ("LOW", "MEDIUM", "HIGH")

_NAME = re.compile(r"^[a-z][a-z0-9-]{1,40}$")


@dataclass(frozen=True)
class KafkaConfig:
    """Topics and MSK sizing."""

    topic: str = "wikistream.recentchange"
    dlq_topic: str = "wikistream.recentchange.dlq"
    partitions: int = 6
    replication_factor: int = 2
    retention_hours: int = 168
    broker_count: int = 2
    broker_instance_type: str = "kafka.t3.small"
    broker_volume_gib: int = 100
    kafka_version: str = "3.9.x.kraft"
    consumer_group: str = "wikistream-bronze"
    #: How clients authenticate: "iam" (MSK, SASL/IAM over TLS) or "plaintext" (the local
    #: broker on 127.0.0.1). Read by the bronze Kafka source; AWS environments must use iam.
    auth: str = "iam"

    @property
    def bronze_topics(self) -> Tuple[str, ...]:
        """Every topic bronze reads: the main topic and the producer's dead-letter topic.
        The bronze Kafka source subscribes to these and the EMR role is granted on them."""
        return (self.topic, self.dlq_topic)


@dataclass(frozen=True)
class ProducerConfig:
    """The ECS producer: stream source and sizing."""

    stream_url: str = "https://stream.wikimedia.org/v2/stream/recentchange"
    user_agent: str = "WikiStream/1.0 (https://github.com/wikistream/wikistream; data-platform)"
    desired_count: int = 1
    cpu: int = 256
    memory_mib: int = 512
    max_event_bytes: int = 512 * 1024


@dataclass(frozen=True)
class EmrConfig:
    """EMR Serverless application sizing."""

    release_label: str = EMR_RELEASE_LABEL
    max_vcpu: int = 16
    max_memory_gb: int = 64
    max_disk_gb: int = 200
    idle_timeout_minutes: int = 15
    prewarm_drivers: int = 0
    prewarm_executors: int = 0
    job_timeout_minutes: int = 60
    bronze_max_failed_attempts_per_hour: int = 5
    #: Spark driver/executor size of every job run (``spark.{driver,executor}.{cores,memory}``).
    #: Small: one cycle's data is small and the always-on bronze stream dominates cost
    #: (docs/DEPLOY.md). The pre-initialized workers are sized from the same four fields.
    driver_cores: int = 1
    driver_memory_gb: int = 2
    executor_cores: int = 1
    executor_memory_gb: int = 2
    max_executors: int = 4


@dataclass(frozen=True)
class PipelineConfig:
    """Batch loop and streaming cadence."""

    cycle_wait_seconds: int = 900
    bronze_trigger_seconds: int = 60
    #: Most Kafka records one bronze micro-batch reads (Spark's ``maxOffsetsPerTrigger``,
    #: over both topics). The live stream fills a 60 s trigger with ~3,000; the bound
    #: matters when a backlog waits (bronze down for hours, a per-cycle run after a long
    #: pause): it is read in batches of this size instead of one batch holding all of it in
    #: the executors' memory and cache. 200,000 records (~250 MB of payloads) fit the
    #: default 2 GB executors. It is a memory bound, not a speed knob: larger batches
    #: catch up only a little faster (docs/ARCHITECTURE.md, "Bronze throughput").
    bronze_max_offsets_per_trigger: int = 200_000
    #: An event whose time (``meta.dt``, else ``timestamp``) is more than this many hours
    #: before the time the producer received it (bronze: its Kafka timestamp) is
    #: dead-lettered as ``late:event_time``, by the producer and by bronze alike
    #: (wikistream/events.py). Gold recomputes only hours it can reopen cheaply; an
    #: event this late is kept with its raw payload for a deliberate backfill instead.
    late_event_bound_hours: int = 48
    #: How far an event time may lie *ahead* of its reference time (clock skew between
    #: MediaWiki's app servers and ours). Beyond it: dead-lettered as ``future:event_time``,
    #: so no event from the future reaches silver, gold or the freshness checks.
    max_clock_skew_seconds: int = 300
    risk_min_events: int = 5
    #: How bronze runs on AWS: "streaming" = one always-on Structured Streaming job run
    #: (restarted by the bronze-restart Lambda); "per_cycle" = the state machine runs
    #: bronze with ``--available-now`` as the first job of every cycle (cheaper, fresh
    #: only once per cycle; docs/DEPLOY.md). Checked in stacks/ (BRONZE_MODES).
    bronze_mode: str = "streaming"


#: DQ engines a configuration may choose (``dq.engine``); both feed the same ``evaluate``.
DQ_ENGINES: Tuple[str, ...] = ("spark", "deequ")


@dataclass(frozen=True)
class DqConfig:
    """Data-quality thresholds (ERROR checks block promotion, WARNING checks alert)."""

    #: Which engine measures the gates' metrics (one of :data:`DQ_ENGINES`). The gate job
    #: reads it from its ``--env``; an environment choosing ``deequ`` must launch its gate
    #: jobs with the Deequ jar (spark_jobs/dq/engine_deequ.py names what it needs).
    engine: str = "spark"
    freshness_max_minutes: int = 120
    volume_min_ratio: float = 0.2
    volume_zscore_max: float = 3.5
    volume_history_days: int = 7
    sample_keys: int = 5
    #: Fewer history points than this for a (domain, hour) -> volume check passes, noted.
    volume_min_history: int = 3
    #: Stale data alerts by default; set to ERROR to block promotion on staleness.
    freshness_level: str = "WARNING"
    #: Bronze WARNING when more than this percent of a window's events took their time
    #: from ``timestamp`` because ``meta.dt`` was unreadable (none do on the live stream).
    event_time_fallback_max_percent: float = 1.0


@dataclass(frozen=True)
class LakehouseConfig:
    """S3 Tables bucket and maintenance policy."""

    table_bucket_name: str = "wikistream-lake"
    compaction_target_file_mb: int = 256
    snapshot_retention_hours: int = 168
    min_snapshots_to_keep: int = 5
    unreferenced_file_days: int = 3
    #: EventBridge Scheduler expression of the weekly ``maintenance`` job (UTC).
    maintenance_schedule: str = "cron(0 3 ? * SUN *)"


@dataclass(frozen=True)
class NetworkConfig:
    max_azs: int = 2
    nat_gateways: int = 1
    #: "gateway" (managed NAT gateway) or "instance" (one small EC2 NAT instance per
    #: ``nat_gateways``: ~$4 instead of ~$37 a month, no managed HA; dev only).
    nat_provider: str = "gateway"
    nat_instance_type: str = "t4g.nano"


@dataclass(frozen=True)
class QueryConfig:
    """Athena access to the lake (workgroup guard rails)."""

    #: Per-query scan limit enforced by the workgroup (Athena cancels larger scans).
    bytes_scanned_cutoff_gb: int = 10
    #: Query results under s3://<artifacts>/athena-results/ expire after this many days.
    results_retention_days: int = 30


@dataclass(frozen=True)
class PlatformConfig:
    """Everything one environment needs; built once and passed down."""

    env: str
    kafka: KafkaConfig = field(default_factory=KafkaConfig)
    producer: ProducerConfig = field(default_factory=ProducerConfig)
    emr: EmrConfig = field(default_factory=EmrConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    dq: DqConfig = field(default_factory=DqConfig)
    lakehouse: LakehouseConfig = field(default_factory=LakehouseConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    query: QueryConfig = field(default_factory=QueryConfig)
    alert_email: Optional[str] = None
    retain_data: bool = True
    data_dir: Path = Path(".wikistream")

    @property
    def prefix(self) -> str:
        """Resource-name prefix, e.g. ``wikistream-dev``."""
        return f"wikistream-{self.env}"

    @property
    def is_local(self) -> bool:
        return self.env == "local"


# Per-environment deltas from the secure defaults above. Only what differs is written.
_ENV_OVERRIDES: Mapping[str, Mapping[str, Any]] = {
    "local": {
        # Bronze trigger 8 s: on 2 cores the bronze JVM and the batch JVM share the CPU, and
        # a shorter trigger keeps bronze busy all the time, which slows every cycle. Freshness
        # p95 at 500 ev/s, measured: 2 s -> 82 s, 5 s -> 64 s, 8 s -> 50-64 s (4 runs), 12 s -> 55 s.
        "pipeline": {"cycle_wait_seconds": 5, "bronze_trigger_seconds": 8},
        "kafka": {"partitions": 4, "replication_factor": 1, "auth": "plaintext"},
        "retain_data": False,
    },
    "dev": {
        "retain_data": False,
        # Cost (docs/DEPLOY.md): small broker disks, hourly batch cycles.
        "kafka": {"broker_volume_gib": 20},
        # Bronze runs once per hourly cycle instead of 24/7, behind a NAT instance
        # instead of a NAT gateway: together -$108/month (docs/DEPLOY.md, cost table).
        "pipeline": {"cycle_wait_seconds": 3600, "bronze_mode": "per_cycle"},
        "network": {"nat_provider": "instance"},
        "emr": {"max_vcpu": 8, "max_memory_gb": 32},
        "lakehouse": {"snapshot_retention_hours": 72},
        "query": {"bytes_scanned_cutoff_gb": 1},
    },
    "staging": {
        "kafka": {"broker_count": 2},
        # No AWS environment chooses dq.engine="deequ" yet: cdk deploy ships the Deequ jar
        # for it (spark_jobs/launch.py), but the EMR driver's Python must also import
        # pydeequ 1.7 (and pandas, which it imports), which neither the --py-files zip nor
        # the stock EMR image provides; not verifiable here (docs/DATA_QUALITY.md).
    },
    "prod": {
        "kafka": {
            "broker_count": 3,
            "replication_factor": 3,
            "partitions": 12,
            "broker_instance_type": "kafka.m7g.large",
        },
        "emr": {"max_vcpu": 32, "max_memory_gb": 128, "prewarm_drivers": 1, "prewarm_executors": 2},
        "network": {"max_azs": 3, "nat_gateways": 2},
        "producer": {"desired_count": 1, "cpu": 512, "memory_mib": 1024},
        "lakehouse": {"snapshot_retention_hours": 336, "min_snapshots_to_keep": 10},
    },
}


def _merge(base: Any, overrides: Mapping[str, Any], where: str) -> Any:
    """Return ``base`` (a frozen dataclass) with ``overrides`` applied, type-checked."""
    known = {f.name: f for f in dataclasses.fields(base)}
    changes: Dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown setting {key!r}; known: {sorted(known)}")
        current = getattr(base, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}.{key}: expected a mapping, got {type(value).__name__}")
            changes[key] = _merge(current, value, f"{where}.{key}")
        else:
            changes[key] = _coerce(current, value, f"{where}.{key}")
    return dataclasses.replace(base, **changes)


def _coerce(current: Any, value: Any, where: str) -> Any:
    """Coerce ``value`` to the type of ``current`` (context values arrive as strings)."""
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "yes"):
            return True
        if str(value).lower() in ("false", "0", "no"):
            return False
        raise ConfigError(f"{where}: expected a boolean, got {value!r}")
    if isinstance(current, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if isinstance(current, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if isinstance(current, Path):
        return Path(value)
    if value is None or isinstance(value, str):
        return value
    raise ConfigError(f"{where}: expected a string, got {type(value).__name__}")


def validate(config: PlatformConfig) -> PlatformConfig:
    """Reject configurations that would deploy or run wrongly; return it unchanged."""
    errors = []
    if config.env not in ENVIRONMENTS:
        errors.append(f"env: {config.env!r} is not one of {ENVIRONMENTS}")
    k = config.kafka
    for name in (k.topic, k.dlq_topic):
        if not re.match(r"^[A-Za-z0-9._-]{1,249}$", name):
            errors.append(f"kafka topic {name!r}: only letters, digits, '.', '_', '-' allowed")
    if k.topic == k.dlq_topic:
        errors.append("kafka.dlq_topic must differ from kafka.topic")
    if k.auth not in ("iam", "plaintext"):
        errors.append(f"kafka.auth must be 'iam' or 'plaintext', got {k.auth!r}")
    if not config.is_local and k.auth != "iam":
        errors.append("kafka.auth must be 'iam' on AWS: MSK only admits IAM-authenticated clients here")
    if k.partitions < 1:
        errors.append(f"kafka.partitions must be >= 1, got {k.partitions}")
    if not config.is_local:
        if k.broker_count < 2:
            errors.append(f"kafka.broker_count must be >= 2 on AWS, got {k.broker_count}")
        if k.broker_count % config.network.max_azs:
            errors.append(
                f"kafka.broker_count ({k.broker_count}) must be a multiple of "
                f"network.max_azs ({config.network.max_azs}) for MSK"
            )
        if k.replication_factor > k.broker_count:
            errors.append(
                f"kafka.replication_factor ({k.replication_factor}) exceeds "
                f"kafka.broker_count ({k.broker_count})"
            )
    if not 2 <= config.network.max_azs <= 3:
        errors.append(f"network.max_azs must be 2 or 3, got {config.network.max_azs}")
    if config.pipeline.cycle_wait_seconds < 0:
        errors.append("pipeline.cycle_wait_seconds must be >= 0")
    if config.pipeline.bronze_trigger_seconds < 1:
        errors.append("pipeline.bronze_trigger_seconds must be >= 1")
    if config.pipeline.bronze_max_offsets_per_trigger < 1:
        errors.append("pipeline.bronze_max_offsets_per_trigger must be >= 1")
    if config.pipeline.late_event_bound_hours < 1:
        errors.append("pipeline.late_event_bound_hours must be >= 1")
    if config.pipeline.max_clock_skew_seconds < 0:
        errors.append("pipeline.max_clock_skew_seconds must be >= 0")
    if config.dq.engine not in DQ_ENGINES:
        errors.append(f"dq.engine must be one of {DQ_ENGINES}, got {config.dq.engine!r}")
    if config.dq.freshness_level not in ("ERROR", "WARNING"):
        errors.append(f"dq.freshness_level must be ERROR or WARNING, got {config.dq.freshness_level!r}")
    if not 0 < config.dq.volume_min_ratio < 1:
        errors.append("dq.volume_min_ratio must be between 0 and 1")
    if config.emr.max_vcpu < 2 or config.emr.max_memory_gb < 4:
        errors.append("emr.max_vcpu must be >= 2 and emr.max_memory_gb >= 4")
    for role in ("driver", "executor"):
        cores = getattr(config.emr, f"{role}_cores")
        if cores not in EMR_WORKER_VCPUS:
            errors.append(f"emr.{role}_cores must be one of {EMR_WORKER_VCPUS}, got {cores}")
        if getattr(config.emr, f"{role}_memory_gb") < 1:
            errors.append(f"emr.{role}_memory_gb must be >= 1")
    if config.emr.max_executors < 1:
        errors.append("emr.max_executors must be >= 1")
    if config.alert_email is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", config.alert_email):
        errors.append(f"alert_email {config.alert_email!r} is not an email address")
    if not _NAME.match(config.lakehouse.table_bucket_name):
        errors.append(
            f"lakehouse.table_bucket_name {config.lakehouse.table_bucket_name!r}: "
            "lowercase letters, digits and '-', 2-41 characters, starting with a letter"
        )
    if errors:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(errors))
    return config


def load_config(env: str, overrides: Optional[Mapping[str, Any]] = None) -> PlatformConfig:
    """Build the validated configuration of ``env``.

    ``overrides`` (e.g. cdk.json context ``config`` or CLI flags) win over the
    environment's defaults, which win over the secure defaults of the dataclasses.
    """
    if env not in ENVIRONMENTS:
        raise ConfigError(f"unknown environment {env!r}; choose one of {', '.join(ENVIRONMENTS)}")
    config = _merge(PlatformConfig(env=env), _ENV_OVERRIDES.get(env, {}), env)
    if overrides:
        config = _merge(config, overrides, f"{env} overrides")
    return validate(config)


def wiki_domain(wiki: Any, meta_domain: Any, allowed: Mapping[str, Any] = DOMAINS) -> Optional[str]:
    """The canonical domain of the wiki an event belongs to, or ``None`` if not allowed.

    By ``wiki`` (database name) when the event has one, else by ``meta.domain`` (a few
    log events lack ``wiki``). A ``wiki`` not on the allow-list is not allowed, whatever
    host the request came in on. Silver applies the same mapping to ``domain``.
    """
    if isinstance(wiki, str) and wiki:
        domain = WIKIS.get(wiki)
        return domain if domain is not None and domain in allowed else None
    return meta_domain if isinstance(meta_domain, str) and meta_domain in allowed else None


def region_of(domain: Optional[str]) -> str:
    """Region bucket of a wiki domain (``other`` when not in the map)."""
    info = DOMAINS.get(domain or "")
    return info.region if info else UNKNOWN_REGION


def language_of(domain: Optional[str]) -> str:
    """Content language of a wiki domain: from the map, else the host's first label
    when it looks like a language code (``xx.wikipedia.org``), else ``unknown``."""
    info = DOMAINS.get(domain or "")
    if info:
        return info.language
    return language_from_host(domain)


def language_from_host(domain: Optional[str]) -> str:
    """``"ca.wikipedia.org" -> "ca"``, ``"zh-min-nan.wiktionary.org" -> "zh-min-nan"``."""
    if not domain:
        return "unknown"
    first = domain.split(".", 1)[0].lower()
    if re.match(r"^[a-z]{2,3}(-[a-z]{2,8})*$", first) and first not in ("www", "api", "m"):
        return first
    return "unknown"
