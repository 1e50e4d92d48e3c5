"""The producer's S3 resume state on its first start, as S3 answers a role that may not
see absence through GetObject (issue 15, defect 1)."""

from __future__ import annotations

from typing import Any, Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from producer.state import StateAccessError, StreamState, state_store_for

BUCKET = "artifacts"
KEY = "producer/state.json"


def _access_denied(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, operation)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_first_start_without_a_state_object_starts_empty_when_s3_answers_403(s3: Any) -> None:
    # Given S3 as it answers GetObject of a missing key to a caller whose GetObject grant
    # does not let it learn absence: 403 AccessDenied, not 404 NoSuchKey (moto says 404).
    def forbid_missing(params: dict, **_: Any) -> None:
        listed = s3.list_objects_v2(Bucket=params["Bucket"], Prefix=params["Key"]).get("Contents", [])
        if not listed:
            raise _access_denied("GetObject")

    s3.meta.events.register("provide-client-params.s3.GetObject", forbid_missing)
    store = state_store_for(f"s3://{BUCKET}/{KEY}", s3_client=s3)
    # When the producer starts for the first time, then it starts from "now", not a crash.
    assert store.load() == StreamState(None)
    # And once saved, the state is read back.
    store.save(StreamState("41", "2026-12-04T00:00:00Z"))
    assert store.load() == StreamState("41", "2026-12-04T00:00:00Z")


def test_access_denied_is_an_error_that_names_the_missing_grant(s3: Any) -> None:
    # Given a role that may not list the state prefix (a real permission problem)
    def forbid(**_: Any) -> None:
        raise _access_denied("ListObjectsV2")

    s3.meta.events.register("provide-client-params.s3.ListObjectsV2", forbid)
    store = state_store_for(f"s3://{BUCKET}/{KEY}", s3_client=s3)
    # Then loading fails loudly instead of silently restarting the stream from "now" (a gap)
    with pytest.raises(StateAccessError, match="s3:ListBucket"):
        store.load()
