"""Kafka client settings: exact config for MSK IAM and local plaintext, and a real IAM token.

The token test signs with fake static credentials: the MSK signer presigns locally
(SigV4), so it runs offline and checks what MSK would verify — action, host, expiry.
"""

from __future__ import annotations

import base64
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from producer.settings import settings_from_env
from producer.sink import kafka_client_config

AWS = {
    "WIKISTREAM_ENV": "dev",
    "KAFKA_BOOTSTRAP": "b-1.msk.example:9098,b-2.msk.example:9098",
    "AWS_REGION": "eu-central-1",
    "STATE_URI": "s3://state-bucket/producer/state.json",
}

COMMON = {
    "enable.idempotence": True,
    "acks": "all",
    "max.in.flight.requests.per.connection": 5,
    "compression.type": "zstd",
    "linger.ms": 50,
    "batch.size": 1_000_000,
    "batch.num.messages": 10_000,
    "queue.buffering.max.messages": 50_000,
    "queue.buffering.max.kbytes": 32 * 1024,
    "message.timeout.ms": 120_000,
    "message.max.bytes": 1_000_000,  # max(1 MB, 512 KiB payload limit + 64 KiB)
}


def test_iam_config_is_sasl_ssl_oauthbearer() -> None:
    config = kafka_client_config(settings_from_env(AWS))
    oauth_cb = config.pop("oauth_cb")
    assert callable(oauth_cb)
    assert config == {
        **COMMON,
        "bootstrap.servers": "b-1.msk.example:9098,b-2.msk.example:9098",
        "client.id": "wikistream-producer-dev",
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "OAUTHBEARER",
    }


def test_local_config_is_plaintext_without_oauth() -> None:
    config = kafka_client_config(
        settings_from_env({"WIKISTREAM_ENV": "local", "KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    )
    assert config == {
        **COMMON,
        "bootstrap.servers": "127.0.0.1:1",
        "client.id": "wikistream-producer-local",
        "security.protocol": "PLAINTEXT",
    }


def test_oauth_cb_returns_a_signed_msk_connect_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example/secret/key/for/offline/signing/x")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    oauth_cb = kafka_client_config(settings_from_env(AWS))["oauth_cb"]

    token, expiry = oauth_cb("ignored librdkafka config string")

    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.netloc == "kafka.eu-central-1.amazonaws.com"
    assert query["Action"] == ["kafka-cluster:Connect"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Credential"][0].startswith("AKIAEXAMPLEEXAMPLE00/")
    assert "/eu-central-1/kafka-cluster/aws4_request" in query["X-Amz-Credential"][0]
    # librdkafka wants the expiry in seconds since the epoch, in the future.
    assert time.time() < expiry < time.time() + 3600
