"""Artifacts over fsspec (SPEC §7): a local folder by default, S3 or Cloudflare R2.

fsspec and s3fs are blocking, so every call runs in a worker thread through
:func:`_blocking`, the one bridge of this module; their errors become ssea errors
there. A local artifact is written to a hidden ``.part`` file beside its place and
renamed in when complete; an S3 artifact becomes visible when its upload completes,
and a failed upload is aborted. Signed URLs are S3 presigned URLs (SigV4) for S3 and
R2, and service-signed links (``ssea_core.artifacts.LocalUrlSigner``) for a folder.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal, TypeVar
from uuid import UUID

import anyio
import fsspec
from fsspec.core import split_protocol
from pydantic import BaseModel, ConfigDict, SecretStr

from ssea_core.artifacts import (
    DEFAULT_CHUNK_SIZE,
    ArtifactNotFoundError,
    ArtifactStoreUnavailableError,
    LocalUrlSigner,
    SignedUrl,
    check_lifetime,
    tenant_path,
)
from ssea_core.clock import Clock, SystemClock
from ssea_core.errors import MisconfiguredError
from ssea_core.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_ARTIFACT_URL = "file://./ssea-artifacts"
#: Upload part size: bounds a writer's memory; S3 wants at least 5 MiB per part.
UPLOAD_PART_BYTES = 8 * 1024 * 1024
_LOCAL = frozenset({None, "file", "local"})
_S3 = frozenset({"s3", "s3a", "r2"})
_MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError)
_PART_NAME = re.compile(r"\..+\.[0-9a-f]{16}\.part")


def _dependency_errors() -> tuple[type[BaseException], ...]:
    """OSError, and botocore's roots when the s3 extra is installed."""
    try:
        found = importlib.import_module("botocore.exceptions")
    except ImportError:
        return (OSError,)
    return (OSError, found.BotoCoreError, found.ClientError)


class S3Options(BaseModel):
    """How to reach an S3-compatible store (AWS S3, Cloudflare R2, MinIO…).

    For R2: ``endpoint_url="https://<account id>.r2.cloudflarestorage.com"`` and
    region ``auto`` (the default for ``r2://`` URLs). Requests are signed with SigV4.
    Credentials left unset come from the usual AWS sources (environment, profile).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    addressing_style: Literal["auto", "virtual", "path"] = "auto"

    def filesystem_options(self, protocol: str) -> dict[str, Any]:
        """Keyword arguments for ``s3fs.S3FileSystem``."""
        region = self.region or ("auto" if protocol == "r2" else None)
        return {
            "endpoint_url": self.endpoint_url,
            "key": self.access_key_id,
            "secret": _reveal(self.secret_access_key),
            "token": _reveal(self.session_token),
            "client_kwargs": {"region_name": region} if region else {},
            "config_kwargs": {
                "signature_version": "s3v4",
                "s3": {"addressing_style": self.addressing_style},
            },
            # R2 needs equal part sizes; it is harmless on S3.
            "fixed_upload_size": True,
            "use_listings_cache": False,
            "skip_instance_cache": True,
        }


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


async def _blocking(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking fsspec call in a worker thread; map its errors to ssea's."""
    try:
        return await anyio.to_thread.run_sync(partial(function, *args, **kwargs))
    except _MISSING as exc:
        raise ArtifactNotFoundError from exc
    except _dependency_errors() as exc:
        logger.warning("artifact storage call failed: %s", type(exc).__name__)
        raise ArtifactStoreUnavailableError from exc


class _FileWriter:
    """An open fsspec file; each chunk is written in a worker thread."""

    def __init__(self, file: Any) -> None:
        self._file = file

    async def write(self, chunk: bytes) -> None:
        await _blocking(self._file.write, chunk)


class FsspecArtifactStore:
    """An :class:`ssea_core.artifacts.ArtifactStore` over fsspec.

    ``url``: ``file://./ssea-artifacts`` (default; relative to the working directory
    when the store is made), an absolute path, ``s3://bucket/prefix`` or
    ``r2://bucket/prefix`` (S3 through s3fs with R2 defaults; give the endpoint).
    ``signing_secret`` (32 bytes or more) signs local download links; without it a
    local store answers no signed URL and the service streams artifacts inline.
    ``public_base_url`` goes in front of local links (else they are paths).
    """

    def __init__(
        self,
        url: str = DEFAULT_ARTIFACT_URL,
        *,
        signing_secret: str | bytes | None = None,
        public_base_url: str | None = None,
        s3_options: S3Options | None = None,
        clock: Clock | None = None,
    ) -> None:
        protocol, path = split_protocol(url)
        self._clock = clock or SystemClock()
        self._local = protocol in _LOCAL
        if self._local:
            self._fs = fsspec.filesystem("file")
            self._root = os.path.abspath(path)
        elif protocol in _S3:
            self._fs = _s3_filesystem(protocol, s3_options or S3Options())
            self._root = path.strip("/")
        else:
            raise MisconfiguredError(
                f"Artifact URL scheme '{protocol}://' is not supported; use a folder "
                "(file://…), s3://bucket/prefix or r2://bucket/prefix."
            )
        self._signer = _local_signer(
            self._local, signing_secret, public_base_url, self._clock
        )

    def _path(self, tenant_id: UUID, key: str) -> str:
        return f"{self._root}/{tenant_path(tenant_id, key)}"

    @asynccontextmanager
    async def open_writer(
        self, tenant_id: UUID, key: str, content_type: str
    ) -> AsyncIterator[_FileWriter]:
        final = self._path(tenant_id, key)
        target = _part_path(final) if self._local else final
        file = await self._open_for_writing(target, content_type)
        try:
            yield _FileWriter(file)
            await _blocking(file.close)
            if self._local:
                await _blocking(os.replace, target, final)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._abandon, file, target)
            raise
        logger.debug("artifact stored tenant=%s key=%s", tenant_id, key)

    async def _open_for_writing(self, path: str, content_type: str) -> Any:
        if self._local:
            await _blocking(os.makedirs, os.path.dirname(path), exist_ok=True)
            return await _blocking(self._fs.open, path, "wb")
        return await _blocking(
            self._fs.open,
            path,
            "wb",
            block_size=UPLOAD_PART_BYTES,
            ContentType=content_type,
        )

    def _abandon(self, file: Any, path: str) -> None:
        # Best effort: the block already failed, and that error is the one to see.
        try:
            if self._local:
                file.close()
                if os.path.exists(path):
                    os.remove(path)
            else:
                file.discard()
                file.closed = True
        except Exception:
            logger.warning("could not clean up a failed artifact write", exc_info=True)

    async def read(
        self, tenant_id: UUID, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        path = self._path(tenant_id, key)
        await self._info(path)
        options = {} if self._local else {"block_size": max(chunk_size, 1 << 20)}
        file = await _blocking(self._fs.open, path, "rb", **options)
        try:
            while chunk := await _blocking(file.read, chunk_size):
                yield chunk
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(file.close)

    async def delete(self, tenant_id: UUID, key: str) -> bool:
        path = self._path(tenant_id, key)
        if not await self._is_file(path):
            return False
        await _blocking(self._fs.rm_file, path)
        logger.debug("artifact deleted tenant=%s key=%s", tenant_id, key)
        return True

    async def exists(self, tenant_id: UUID, key: str) -> bool:
        return await self._is_file(self._path(tenant_id, key))

    async def size(self, tenant_id: UUID, key: str) -> int:
        info = await self._info(self._path(tenant_id, key))
        return int(info["size"])

    async def signed_url(
        self, tenant_id: UUID, key: str, expires_in: timedelta
    ) -> SignedUrl | None:
        seconds = check_lifetime(expires_in)
        path = self._path(tenant_id, key)
        await self._info(path)
        if self._local:
            return (
                self._signer.sign(tenant_id, key, expires_in) if self._signer else None
            )
        expires_at = self._clock.now() + timedelta(seconds=seconds)
        url = await _blocking(self._fs.sign, path, expiration=seconds)
        return SignedUrl(str(url), expires_at)

    async def sweep_partial(self, older_than: datetime) -> int:
        """Remove a folder's ``.part`` files untouched since ``older_than`` (left by
        writers that died); how many. S3 and R2 keep no partial objects: an
        unfinished multipart upload is invisible, and a bucket lifecycle rule
        (AbortIncompleteMultipartUpload) removes its parts."""
        if not self._local:
            return 0
        removed = await _blocking(_stale_parts, self._root, older_than.timestamp())
        if removed:
            logger.info("removed %d stale partial artifact files", removed)
        return removed

    async def _info(self, path: str) -> dict[str, Any]:
        info: dict[str, Any] = await _blocking(self._fs.info, path)
        if info.get("type") != "file":
            raise ArtifactNotFoundError
        return info

    async def _is_file(self, path: str) -> bool:
        try:
            await self._info(path)
        except ArtifactNotFoundError:
            return False
        return True


def _part_path(final: str) -> str:
    # A dot-prefixed name: no valid key can name it (ssea_core.artifacts.check_key).
    # A process killed mid-write leaves it behind: sweep_partial removes it later.
    folder, name = os.path.split(final)
    return os.path.join(folder, f".{name}.{secrets.token_hex(8)}.part")


def _stale_parts(root: str, cutoff: float) -> int:
    """Remove ``.part`` files under ``root`` last modified before ``cutoff``."""
    removed = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            if not _PART_NAME.fullmatch(name):
                continue
            path = os.path.join(folder, name)
            try:
                if os.stat(path).st_mtime < cutoff:
                    os.remove(path)
                    removed += 1
            except FileNotFoundError:
                continue  # its writer finished or gave up meanwhile
    return removed


def _s3_filesystem(protocol: str, options: S3Options) -> Any:
    try:
        return fsspec.filesystem("s3", **options.filesystem_options(protocol))
    except ImportError as exc:
        raise MisconfiguredError(
            "S3 and R2 artifact storage need s3fs: pip install 'ssea[s3]'."
        ) from exc


def _local_signer(
    local: bool,
    secret: str | bytes | None,
    base_url: str | None,
    clock: Clock,
) -> LocalUrlSigner | None:
    if not local or secret is None:
        return None
    return LocalUrlSigner(secret, base_url=base_url or "", clock=clock)


def artifact_store_from_settings(
    settings: Settings, *, clock: Clock | None = None
) -> FsspecArtifactStore:
    """The artifact store the ``SSEA_ARTIFACT_*`` settings describe."""
    secret = settings.artifact_signing_secret
    options = S3Options(
        endpoint_url=settings.artifact_s3_endpoint_url,
        region=settings.artifact_s3_region,
        access_key_id=settings.artifact_s3_access_key_id,
        secret_access_key=settings.artifact_s3_secret_access_key,
        session_token=settings.artifact_s3_session_token,
        addressing_style=settings.artifact_s3_addressing_style,
    )
    return FsspecArtifactStore(
        settings.artifact_url,
        signing_secret=secret.get_secret_value() if secret is not None else None,
        public_base_url=settings.artifact_public_base_url,
        s3_options=options,
        clock=clock,
    )
