"""Artifact storage for report exports (SPEC §7), and signed local download links.

Invariants:
- Every artifact lives under its tenant: a store addresses ``(tenant_id, key)``, never
  a bare path. Keys are relative paths of plain segments (letters, digits, ``.``,
  ``_``, ``-``; no segment starts with a dot), so no key can climb out of its tenant
  (``..``), name an absolute path or reach a temporary file. Another tenant's key is
  simply not found.
- A writer makes its artifact visible only when its block ends without an error: a
  failed export leaves nothing half-written behind under the key.
- A local download link is ``/v1/artifacts/{tenant_id}/{key}?expires=…&signature=…``;
  the signature is the lowercase hex HMAC-SHA256, under the service's signing
  secret, of ``ssea-artifact-v1``, the tenant id, the key and the expiry (Unix
  seconds), one per line. It is checked in constant time, before the expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

from ssea_core.clock import Clock, SystemClock
from ssea_core.errors import (
    BadRequestError,
    ForbiddenError,
    MisconfiguredError,
    NotFoundError,
)

#: Where the service serves local artifacts (``ssea_core.api.reports``).
LOCAL_DOWNLOAD_PREFIX = "/v1/artifacts"
#: The longest a signed URL may live: S3's SigV4 limit, kept for local links too.
MAX_SIGNED_URL_LIFETIME = timedelta(days=7)
DEFAULT_CHUNK_SIZE = 64 * 1024
_SIGNATURE_CONTEXT = "ssea-artifact-v1"
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
_MAX_KEY_LENGTH = 512
_MAX_SEGMENTS = 8
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")


class ArtifactNotFoundError(NotFoundError):
    """No artifact under this key in the tenant (another tenant's key included)."""

    default_message = "No such artifact."


class InvalidArtifactKeyError(BadRequestError):
    """A key that is not a relative path of plain segments."""

    code = "INVALID_ARTIFACT_KEY"
    default_message = "The artifact key is not valid."


class InvalidDownloadLinkError(ForbiddenError):
    """A local download link whose signature does not verify (403, as S3 answers)."""

    code = "INVALID_DOWNLOAD_LINK"
    default_message = "The download link is not valid."


class ExpiredDownloadLinkError(InvalidDownloadLinkError):
    """A correctly signed local download link past its expiry."""

    code = "DOWNLOAD_LINK_EXPIRED"
    default_message = "The download link has expired; ask for a new one."


class ArtifactStoreUnavailableError(MisconfiguredError):
    """The object storage failed or refused us (credentials, bucket, network)."""

    code = "ARTIFACT_STORE_UNAVAILABLE"
    default_message = "The artifact storage is unavailable."


@dataclass(frozen=True, slots=True)
class SignedUrl:
    """A URL that downloads one artifact without other credentials, until expiry."""

    url: str
    expires_at: datetime


class ArtifactWriter(Protocol):
    """The open end of an artifact being written; chunks are appended in order."""

    async def write(self, chunk: bytes) -> None:
        """Append ``chunk`` to the artifact."""
        ...


class ArtifactStore(Protocol):
    """Object storage for artifacts, addressed by tenant and key.

    Implementations: :class:`MemoryArtifactStore` here (tests, examples) and
    ``ssea_storage.artifacts.FsspecArtifactStore`` (a local folder, S3, R2).
    """

    def open_writer(
        self, tenant_id: UUID, key: str, content_type: str
    ) -> AbstractAsyncContextManager[ArtifactWriter]:
        """Write an artifact in chunks: ``async with store.open_writer(...) as w``.

        The artifact replaces any under the same key when the block ends without an
        error; when the block raises, nothing is stored. Raises
        :class:`InvalidArtifactKeyError` for a bad key.
        """
        ...

    def read(
        self, tenant_id: UUID, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        """Stream the artifact's bytes; the first iteration raises
        :class:`ArtifactNotFoundError` when there is none."""
        ...

    async def delete(self, tenant_id: UUID, key: str) -> bool:
        """Delete the artifact; False when there was none."""
        ...

    async def exists(self, tenant_id: UUID, key: str) -> bool:
        """Whether the tenant has an artifact under this key."""
        ...

    async def size(self, tenant_id: UUID, key: str) -> int:
        """The artifact's size in bytes; raises :class:`ArtifactNotFoundError`."""
        ...

    async def signed_url(
        self, tenant_id: UUID, key: str, expires_in: timedelta
    ) -> SignedUrl | None:
        """A download URL valid for ``expires_in``, or None when this store cannot
        sign (the service then streams the artifact inline).

        Raises :class:`ArtifactNotFoundError` when there is no such artifact and
        ``ValueError`` when ``expires_in`` is not between 1 s and 7 days.
        """
        ...

    async def sweep_partial(self, older_than: datetime) -> int:
        """Delete what writers that died left behind, untouched since ``older_than``
        (a folder's ``.part`` files); how many. Stores with nothing to sweep
        answer 0."""
        ...


def check_key(key: str) -> str:
    """``key`` when it is a valid artifact key, else :class:`InvalidArtifactKeyError`.

    Valid: 1 to 8 segments joined by ``/``, each 1 to 128 of ``A-Z a-z 0-9 . _ -``
    not starting with a dot; at most 512 characters in all.
    """
    segments = key.split("/")
    if (
        len(key) > _MAX_KEY_LENGTH
        or len(segments) > _MAX_SEGMENTS
        or not all(_SEGMENT.fullmatch(segment) for segment in segments)
    ):
        raise InvalidArtifactKeyError(
            "An artifact key is a relative path of 1 to 8 segments of letters, "
            "digits, '.', '_' and '-', none starting with a dot."
        )
    return key


def tenant_path(tenant_id: UUID, key: str) -> str:
    """The store-relative path of an artifact: ``{tenant_id}/{key}``."""
    return f"{UUID(str(tenant_id))}/{check_key(key)}"


def check_lifetime(expires_in: timedelta) -> int:
    """``expires_in`` in whole seconds; ``ValueError`` outside 1 s to 7 days."""
    seconds = int(expires_in.total_seconds())
    if not 1 <= seconds <= MAX_SIGNED_URL_LIFETIME.total_seconds():
        raise ValueError(
            f"a signed URL lives 1 s to 7 days; {expires_in} was asked for"
        )
    return seconds


# -- signed local download links -------------------------------------------------------


def _secret_bytes(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    if len(raw) < 32:
        raise ValueError("the artifact signing secret needs at least 32 bytes")
    return raw


def local_signature(
    secret: str | bytes, tenant_id: UUID, key: str, expires: int
) -> str:
    """The hex HMAC-SHA256 that signs a local download link (module docstring)."""
    message = "\n".join([_SIGNATURE_CONTEXT, str(tenant_id), key, str(expires)])
    digest = hmac.new(_secret_bytes(secret), message.encode(), hashlib.sha256)
    return digest.hexdigest()


def local_download_path(tenant_id: UUID, key: str) -> str:
    """``/v1/artifacts/{tenant_id}/{key}``: where the service serves the artifact."""
    return f"{LOCAL_DOWNLOAD_PREFIX}/{tenant_path(tenant_id, key)}"


def verify_local_signature(
    secret: str | bytes,
    tenant_id: UUID,
    key: str,
    expires: str | int,
    signature: str,
    *,
    now: datetime,
) -> None:
    """Check a local download link's ``expires`` and ``signature`` query values.

    Raises :class:`InvalidDownloadLinkError` when the key, the expiry or the
    signature is malformed or does not verify (compared in constant time), and
    :class:`ExpiredDownloadLinkError` when it verifies but ``now`` is at or past the
    expiry. Returns None when the link is good.
    """
    try:
        check_key(key)
        moment = int(expires)
    except (InvalidArtifactKeyError, ValueError) as exc:
        raise InvalidDownloadLinkError from exc
    expected = local_signature(secret, tenant_id, key, moment)
    given = signature if _HEX_SIGNATURE.fullmatch(signature) else "0" * 64
    if not hmac.compare_digest(expected, given):
        raise InvalidDownloadLinkError
    if now.timestamp() >= moment:
        raise ExpiredDownloadLinkError


class LocalUrlSigner:
    """Signs local download links; ``base_url`` ("" for a path) goes in front."""

    def __init__(
        self, secret: str | bytes, *, base_url: str = "", clock: Clock | None = None
    ) -> None:
        self._secret = _secret_bytes(secret)
        self._base_url = base_url.rstrip("/")
        self._clock = clock or SystemClock()

    def sign(self, tenant_id: UUID, key: str, expires_in: timedelta) -> SignedUrl:
        """A link to the artifact valid for ``expires_in`` from the clock's now."""
        seconds = check_lifetime(expires_in)
        expires = int(self._clock.now().timestamp()) + seconds
        signature = local_signature(self._secret, tenant_id, key, expires)
        path = local_download_path(tenant_id, key)
        url = f"{self._base_url}{path}?expires={expires}&signature={signature}"
        return SignedUrl(url, datetime.fromtimestamp(expires, UTC))

    def verify(
        self, tenant_id: UUID, key: str, expires: str | int, signature: str
    ) -> None:
        """:func:`verify_local_signature` with this signer's secret and clock."""
        verify_local_signature(
            self._secret, tenant_id, key, expires, signature, now=self._clock.now()
        )


# -- in memory ------------------------------------------------------------------------


class _MemoryWriter:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    async def write(self, chunk: bytes) -> None:
        self.parts.append(bytes(chunk))


class MemoryArtifactStore:
    """An :class:`ArtifactStore` in a dict, for tests and examples.

    With a ``signer`` it hands out local download links, like a local folder does;
    without one ``signed_url`` answers None (stream inline).
    """

    def __init__(self, signer: LocalUrlSigner | None = None) -> None:
        self._signer = signer
        self._blobs: dict[str, tuple[bytes, str]] = {}

    @asynccontextmanager
    async def open_writer(
        self, tenant_id: UUID, key: str, content_type: str
    ) -> AsyncIterator[ArtifactWriter]:
        path = tenant_path(tenant_id, key)
        writer = _MemoryWriter()
        yield writer
        self._blobs[path] = (b"".join(writer.parts), content_type)

    async def read(
        self, tenant_id: UUID, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        data = self._get(tenant_id, key)[0]
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    async def delete(self, tenant_id: UUID, key: str) -> bool:
        return self._blobs.pop(tenant_path(tenant_id, key), None) is not None

    async def exists(self, tenant_id: UUID, key: str) -> bool:
        return tenant_path(tenant_id, key) in self._blobs

    async def size(self, tenant_id: UUID, key: str) -> int:
        return len(self._get(tenant_id, key)[0])

    async def signed_url(
        self, tenant_id: UUID, key: str, expires_in: timedelta
    ) -> SignedUrl | None:
        self._get(tenant_id, key)
        check_lifetime(expires_in)
        if self._signer is None:
            return None
        return self._signer.sign(tenant_id, key, expires_in)

    async def sweep_partial(self, older_than: datetime) -> int:
        return 0  # a failed write never stores anything here

    def content_type(self, tenant_id: UUID, key: str) -> str:
        """The content type the artifact was written with."""
        return self._get(tenant_id, key)[1]

    def _get(self, tenant_id: UUID, key: str) -> tuple[bytes, str]:
        found = self._blobs.get(tenant_path(tenant_id, key))
        if found is None:
            raise ArtifactNotFoundError
        return found
