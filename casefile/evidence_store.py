"""Where evidence files are kept: content-addressed by SHA-256, on local disk or in an S3-compatible store.

A file's place in the store is derived only from the hex digest of its bytes, never from the name its
uploader gave (which is shown to people, never used as a path or key), so no upload can choose where it
lands. Storing the same bytes twice keeps one object. Every read checks the bytes against their digest,
so a file that was changed or damaged in the store is refused, not shown as evidence.

Settings (environment variables, read by EvidenceSettings.from_env):

- ASB_EVIDENCE_STORE: ``local`` (the default) or ``s3``.
- ASB_EVIDENCE_DIR: the local folder (default: ``evidence`` in the state folder, ASB_STATE_DIR).
- ASB_EVIDENCE_S3_BUCKET, ASB_EVIDENCE_S3_ENDPOINT_URL (for MinIO, Ceph and the like; unset for AWS),
  ASB_EVIDENCE_S3_REGION, ASB_EVIDENCE_S3_PREFIX (default ``evidence/``), and optionally
  ASB_EVIDENCE_S3_ACCESS_KEY_ID / ASB_EVIDENCE_S3_SECRET_ACCESS_KEY (otherwise the usual AWS chain:
  AWS_ACCESS_KEY_ID, an instance role...).
- ASB_EVIDENCE_MAX_BYTES: the largest file accepted (default 25 MiB).
- ASB_EVIDENCE_MEDIA_TYPES: a comma-separated allow-list, narrower than casefile/sniff.py TYPES (default: all).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

from casefile.sniff import TYPES

DIGEST = re.compile(r"^[0-9a-f]{64}$")
MiB = 1024 * 1024
DEFAULT_MAX_BYTES = 25 * MiB
#: No deployment may accept more in one file: the service holds a file in memory while it checks it.
MAX_MAX_BYTES = 512 * MiB


class ObjectMissing(LookupError):
    """No object with this digest in the store."""


class ObjectCorrupt(RuntimeError):
    """The store's bytes for a digest no longer hash to it: changed or damaged where they are kept."""


class EvidenceConfigError(ValueError):
    """An evidence setting that cannot be used; the message names the setting."""


def digest_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def check_digest(digest: str) -> str:
    """A digest is 64 lower-case hex characters; anything else never reaches a path or a key."""
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise ValueError("not a SHA-256 digest (64 lower-case hex characters)")
    return digest


def _verified(digest: str, content: bytes) -> bytes:
    if digest_of(content) != digest:
        raise ObjectCorrupt(f"stored object {digest} does not match its digest")
    return content


@dataclass(frozen=True)
class StoredObject:
    digest: str
    modified: datetime


class EvidenceStore(Protocol):
    """Content-addressed storage of evidence files. Every method takes or returns a hex SHA-256 digest."""

    def put(self, content: bytes) -> str:
        """Store `content` (again, harmlessly, if it is there already) and return its digest."""
        ...

    def get(self, digest: str) -> bytes:
        """The bytes stored under `digest`, checked against it (ObjectMissing, ObjectCorrupt)."""
        ...

    def delete(self, digest: str) -> None:
        """Remove the object; removing one that is not there is not an error."""
        ...

    def exists(self, digest: str) -> bool: ...

    def stored(self) -> Iterator[StoredObject]:
        """Every object in the store, for the sweep that removes objects no row knows (a crash between
        storing a file and committing its row leaves one)."""
        ...


class LocalEvidenceStore:
    """Files under `root`, at ab/cd/abcd... (the digest's first two byte pairs fan the folder out)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        check_digest(digest)
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, content: bytes) -> str:
        digest = digest_of(content)
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = target.with_name(f".{digest}.{uuid.uuid4().hex}.partial")
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, target)  # whole or not at all; a second put of the same bytes is harmless
        finally:
            partial.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return digest

    def get(self, digest: str) -> bytes:
        try:
            content = self.path(digest).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(f"no stored object {digest}") from None
        return _verified(digest, content)

    def delete(self, digest: str) -> None:
        path = self.path(digest)
        path.unlink(missing_ok=True)
        _fsync_dir(path.parent)

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def stored(self) -> Iterator[StoredObject]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*")):
            if DIGEST.fullmatch(path.name) and path.name[:4] == path.parent.parent.name + path.parent.name:
                yield StoredObject(path.name, datetime.fromtimestamp(path.stat().st_mtime, UTC))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3EvidenceStore:
    """Objects in an S3-compatible bucket under `prefix`ab/abcd..., sent with their SHA-256 checksum so
    the server refuses bytes damaged on the way, and stored as opaque octets (never a sender's type)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "evidence/") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def key(self, digest: str) -> str:
        check_digest(digest)
        return f"{self.prefix}{digest[:2]}/{digest}"

    def put(self, content: bytes) -> str:
        digest = digest_of(content)
        self.client.put_object(
            Bucket=self.bucket, Key=self.key(digest), Body=content, ContentType="application/octet-stream",
            ChecksumSHA256=base64.b64encode(bytes.fromhex(digest)).decode("ascii"),
        )
        return digest

    def get(self, digest: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(digest))
        except self.client.exceptions.NoSuchKey:
            raise ObjectMissing(f"no stored object {digest}") from None
        content: bytes = answer["Body"].read()
        return _verified(digest, content)

    def delete(self, digest: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(digest))

    def exists(self, digest: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(digest))
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return False
            raise
        return True

    def stored(self) -> Iterator[StoredObject]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", []):
                name = item["Key"][len(self.prefix):]
                fan, _, digest = name.partition("/")
                if DIGEST.fullmatch(digest) and fan == digest[:2]:
                    yield StoredObject(digest, item["LastModified"])


@dataclass(frozen=True)
class EvidenceSettings:
    """What a deployment decides about evidence files: where they are kept and what is accepted."""

    backend: Literal["local", "s3"] = "local"
    local_dir: Path = Path(".asb/evidence")
    max_bytes: int = DEFAULT_MAX_BYTES
    media_types: frozenset[str] = field(default_factory=lambda: frozenset(TYPES))
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_prefix: str = "evidence/"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = field(default=None, repr=False)

    def check(self) -> None:
        if self.backend not in ("local", "s3"):
            raise EvidenceConfigError(f"ASB_EVIDENCE_STORE must be local or s3, not {self.backend!r}")
        if not 1 <= self.max_bytes <= MAX_MAX_BYTES:
            raise EvidenceConfigError(f"ASB_EVIDENCE_MAX_BYTES must be between 1 and {MAX_MAX_BYTES}")
        unknown = sorted(self.media_types - set(TYPES))
        if unknown:
            raise EvidenceConfigError(
                f"ASB_EVIDENCE_MEDIA_TYPES: {', '.join(unknown)} cannot be checked against a file's bytes; "
                f"choose from {', '.join(sorted(TYPES))}")
        if not self.media_types:
            raise EvidenceConfigError("ASB_EVIDENCE_MEDIA_TYPES allows nothing")
        if self.backend == "s3" and not self.s3_bucket:
            raise EvidenceConfigError("ASB_EVIDENCE_STORE is s3 but ASB_EVIDENCE_S3_BUCKET is not set")
        if self.s3_prefix and not re.fullmatch(r"([A-Za-z0-9_-][A-Za-z0-9._-]*/)+", self.s3_prefix):
            raise EvidenceConfigError("ASB_EVIDENCE_S3_PREFIX must be folder names ending in /, e.g. evidence/")
        if bool(self.s3_access_key_id) != bool(self.s3_secret_access_key):
            raise EvidenceConfigError("set both ASB_EVIDENCE_S3_ACCESS_KEY_ID and ASB_EVIDENCE_S3_SECRET_ACCESS_KEY, "
                                      "or neither")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EvidenceSettings:
        env = os.environ if env is None else env
        state = Path(env.get("ASB_STATE_DIR", ".asb")).resolve()
        types = env.get("ASB_EVIDENCE_MEDIA_TYPES", "").strip()
        raw_max = env.get("ASB_EVIDENCE_MAX_BYTES", "").strip()
        try:
            max_bytes = int(raw_max) if raw_max else DEFAULT_MAX_BYTES
        except ValueError:
            raise EvidenceConfigError(f"ASB_EVIDENCE_MAX_BYTES must be a whole number of bytes, not {raw_max!r}") \
                from None
        settings = cls(
            backend=env.get("ASB_EVIDENCE_STORE", "local").strip().lower() or "local",  # type: ignore[arg-type]
            local_dir=Path(env["ASB_EVIDENCE_DIR"]).resolve() if env.get("ASB_EVIDENCE_DIR") else state / "evidence",
            max_bytes=max_bytes,
            media_types=(frozenset(t.strip().lower() for t in types.split(",") if t.strip()) if types
                         else frozenset(TYPES)),
            s3_bucket=env.get("ASB_EVIDENCE_S3_BUCKET") or None,
            s3_endpoint_url=env.get("ASB_EVIDENCE_S3_ENDPOINT_URL") or None,
            s3_region=env.get("ASB_EVIDENCE_S3_REGION") or None,
            s3_prefix=env.get("ASB_EVIDENCE_S3_PREFIX", "evidence/"),
            s3_access_key_id=env.get("ASB_EVIDENCE_S3_ACCESS_KEY_ID") or None,
            s3_secret_access_key=env.get("ASB_EVIDENCE_S3_SECRET_ACCESS_KEY") or None,
        )
        settings.check()
        return settings


def open_store(settings: EvidenceSettings) -> EvidenceStore:
    """The store these settings name (one client per distinct settings, reused)."""
    settings.check()
    return _open_store(settings)


@lru_cache(maxsize=8)
def _open_store(settings: EvidenceSettings) -> EvidenceStore:
    if settings.backend == "local":
        return LocalEvidenceStore(settings.local_dir)
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id, aws_secret_access_key=settings.s3_secret_access_key,
        # Path-style addressing works with every S3-compatible server (MinIO, Ceph), not only AWS.
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}),
    )
    assert settings.s3_bucket is not None  # check() refuses s3 without a bucket
    return S3EvidenceStore(client, settings.s3_bucket, settings.s3_prefix)


def default_store() -> EvidenceStore:
    """The store this deployment's environment names."""
    return open_store(EvidenceSettings.from_env())
