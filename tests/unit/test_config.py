"""Typed configuration: every environment loads, bad input is rejected clearly."""

from __future__ import annotations

import dataclasses

import pytest

from wikistream.config import (
    DOMAINS,
    ENVIRONMENTS,
    REGIONS,
    UNKNOWN_REGION,
    ConfigError,
    language_of,
    load_config,
    region_of,
)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_environment_loads_and_is_frozen(env: str) -> None:
    config = load_config(env)
    assert config.env == env
    assert config.prefix == f"wikistream-{env}"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.env = "other"  # type: ignore[misc]


def test_prod_is_sized_up_from_dev() -> None:
    dev, prod = load_config("dev"), load_config("prod")
    assert (dev.kafka.broker_count, prod.kafka.broker_count) == (2, 3)
    assert (dev.network.max_azs, prod.network.max_azs) == (2, 3)
    assert prod.retain_data and not dev.retain_data


def test_overrides_win_and_are_coerced_from_context_strings() -> None:
    config = load_config("dev", {"pipeline": {"cycle_wait_seconds": "42"}, "alert_email": "ops@example.com"})
    assert config.pipeline.cycle_wait_seconds == 42
    assert config.alert_email == "ops@example.com"


@pytest.mark.parametrize(
    ("env", "overrides", "message"),
    [
        ("qa", None, "unknown environment 'qa'"),
        ("dev", {"kafka": {"partitons": 3}}, "unknown setting 'partitons'"),
        ("dev", {"kafka": {"partitions": "many"}}, "kafka.partitions: expected an integer"),
        ("dev", {"kafka": 3}, "dev overrides.kafka: expected a mapping"),
        ("dev", {"kafka": {"broker_count": 3}}, "must be a multiple of network.max_azs"),
        ("dev", {"kafka": {"dlq_topic": "wikistream.recentchange"}}, "dlq_topic must differ"),
        ("dev", {"kafka": {"topic": "bad topic!"}}, "only letters, digits"),
        ("dev", {"alert_email": "not-an-email"}, "is not an email address"),
        ("dev", {"dq": {"engine": "great_expectations"}}, "dq.engine must be"),
        ("dev", {"retain_data": "perhaps"}, "expected a boolean"),
        ("prod", {"network": {"max_azs": 4}}, "network.max_azs must be 2 or 3"),
        ("prod", {"emr": {"executor_cores": 3}}, "emr.executor_cores must be one of"),
        ("dev", {"emr": {"driver_memory_gb": 0}}, "emr.driver_memory_gb must be >= 1"),
        (
            "dev",
            {"pipeline": {"bronze_max_offsets_per_trigger": 0}},
            "bronze_max_offsets_per_trigger must be >= 1",
        ),
    ],
)
def test_bad_configuration_is_rejected_with_a_clear_message(env: str, overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_config(env, overrides)


def test_all_errors_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_config("dev", {"kafka": {"partitions": 0}, "pipeline": {"bronze_trigger_seconds": 0}})
    assert "kafka.partitions" in str(excinfo.value) and "bronze_trigger_seconds" in str(excinfo.value)


def test_domain_map_regions_and_languages() -> None:
    assert region_of("de.wikipedia.org") == "europe"
    assert language_of("de.wikipedia.org") == "de"
    assert region_of("ca.wikipedia.org") == UNKNOWN_REGION
    assert language_of("ca.wikipedia.org") == "ca"
    assert language_of("zh-min-nan.wikipedia.org") == "zh-min-nan"
    assert language_of("www.mediawiki.org") == "unknown"
    assert language_of(None) == "unknown" and region_of(None) == UNKNOWN_REGION
    assert {info.region for info in DOMAINS.values()} | {UNKNOWN_REGION} == set(REGIONS)


def test_each_environment_chooses_its_dq_engine_and_the_gate_job_follows_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from spark_jobs.dq_gate import engine_name, parse_args
    from wikistream import config as config_module

    assert {env: load_config(env).dq.engine for env in ("local", "dev", "staging", "prod")} == {
        "local": "spark",
        "dev": "spark",
        "staging": "spark",
        "prod": "spark",
    }
    emr = [
        "--target",
        "emr",
        "--table-bucket-arn",
        "arn:aws:s3tables:eu-west-1:1:bucket/b",
        "--region",
        "eu-west-1",
    ]
    # The gate job resolves the engine from its --env (what the state machine passes) ...
    overrides = {**config_module._ENV_OVERRIDES, "staging": {"dq": {"engine": "deequ"}}}
    monkeypatch.setattr(config_module, "_ENV_OVERRIDES", overrides)
    assert engine_name(parse_args(["--layer", "bronze", "--env", "staging", *emr])) == "deequ"
    assert engine_name(parse_args(["--layer", "bronze", "--env", "prod", *emr])) == "spark"
    # ... and an explicit --engine wins over the environment.
    assert (
        engine_name(parse_args(["--layer", "gold", "--env", "staging", "--engine", "spark", *emr])) == "spark"
    )
