"""Where the producer keeps its resume position (the last delivered SSE event id).

Locally a JSON file written atomically (temp file in the same directory, fsync, then
``os.replace``), so a crash leaves either the old or the new position, never a torn
file. On AWS an S3 object (one PUT per save; S3 PUTs are atomic and strongly
consistent for read-after-write), so a replacement ECS task resumes where the last
one stopped.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol
from urllib.parse import unquote, urlsplit

from botocore.exceptions import ClientError


@dataclass(frozen=True)
class StreamState:
    """The persisted position: the SSE id of the last event delivered (or filtered)."""

    last_event_id: Optional[str]
    updated_at: Optional[str] = None

    def to_json(self) -> str:
        return json.dumps({"last_event_id": self.last_event_id, "updated_at": self.updated_at})

    @staticmethod
    def from_json(text: str) -> StreamState:
        data = json.loads(text)
        return StreamState(data.get("last_event_id"), data.get("updated_at"))


class StateAccessError(RuntimeError):
    """The state object cannot be read for lack of permission (never "no state yet")."""


class StateStore(Protocol):
    def load(self) -> StreamState: ...

    def save(self, state: StreamState) -> None: ...


class FileStateStore:
    """A JSON file replaced atomically on every save."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> StreamState:
        if not self.path.exists():
            return StreamState(None)
        return StreamState.from_json(self.path.read_text(encoding="utf-8"))

    def save(self, state: StreamState) -> None:
        write_atomically(self.path, state.to_json())


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a same-directory temp file + fsync + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class S3StateStore:
    """One S3 object holding the state JSON."""

    def __init__(self, bucket: str, key: str, client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.bucket = bucket
        self.key = key
        self.client = client

    def load(self) -> StreamState:
        """The saved state, or an empty one when the object does not exist (first start).

        Absence is asked of ``ListObjectsV2`` with the key as prefix, not inferred from
        ``GetObject``: S3 reports a missing key as 404 only to callers that may list the
        bucket and as 403 AccessDenied to the rest, and a 403 must stay an error (a real
        permission problem would otherwise silently restart the stream from "now", a
        gap). The task role may list exactly this prefix
        (stacks/constructs/producer_service.py).
        """
        try:
            listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.key, MaxKeys=1)
            if not any(obj.get("Key") == self.key for obj in listed.get("Contents", [])):
                return StreamState(None)
            body = self.client.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return StreamState(None)  # deleted between the listing and the read
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("AccessDenied", "403"):
                raise StateAccessError(
                    f"access denied reading s3://{self.bucket}/{self.key}: the producer's role "
                    "needs s3:ListBucket (prefix = the key) and s3:GetObject on it"
                ) from exc
            raise
        return StreamState.from_json(body.decode("utf-8"))

    def save(self, state: StreamState) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.key,
            Body=state.to_json().encode("utf-8"),
            ContentType="application/json",
        )


def state_store_for(uri: str, s3_client: Any = None) -> StateStore:
    """``file:///abs/path`` -> :class:`FileStateStore`; ``s3://bucket/key`` -> :class:`S3StateStore`."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return FileStateStore(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        return S3StateStore(parts.netloc, parts.path.lstrip("/"), s3_client)
    raise ValueError(f"unsupported state URI {uri!r}")
