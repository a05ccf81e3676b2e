"""Artifacts in a Cloudflare R2 bucket, through its Workers binding (``env.ARTIFACTS``).

An :class:`~ssea_core.artifacts.ArtifactStore` for Python Workers, where the
S3 client of ``ssea_storage.artifacts`` cannot run. Invariants:

- Objects are named ``{prefix}{tenant_id}/{key}`` (``ssea_core.artifacts.tenant_path``),
  so no tenant reaches another's artifacts.
- A writer buffers up to one part: a small artifact is one ``put`` when its block
  ends; a larger one is a multipart upload of equal parts, completed when the block
  ends and aborted when it raises, so a failed export leaves nothing under its key.
- A binding cannot presign URLs: with a ``signer`` the store hands out the service's
  own signed links (``/v1/artifacts/…``), else None and the service streams inline.
- R2's failures become :class:`~ssea_core.artifacts.ArtifactStoreUnavailableError`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from ssea_core.artifacts import (
    DEFAULT_CHUNK_SIZE,
    ArtifactNotFoundError,
    ArtifactStoreUnavailableError,
    LocalUrlSigner,
    SignedUrl,
    check_lifetime,
    tenant_path,
)
from ssea_storage.jsbridge import JsBridge, as_bytes, pyodide_bridge

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: Size of each part of a multipart upload; R2 wants equal parts of 5 MiB or more.
PART_BYTES = 8 * 1024 * 1024


async def _call(awaitable: Awaitable[T]) -> T:
    try:
        return await awaitable
    except Exception as exc:
        logger.warning("R2 call failed: %s", type(exc).__name__)
        raise ArtifactStoreUnavailableError from exc


class _R2Writer:
    """Collects chunks; sends each full part as soon as it has one."""

    def __init__(self, store: R2ArtifactStore, path: str, content_type: str) -> None:
        self._store = store
        self._path = path
        self._content_type = content_type
        self._buffer = bytearray()
        self._upload: Any = None
        self._parts: list[Any] = []

    async def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        size = self._store.part_bytes
        while len(self._buffer) > size:  # the last part is sent by finish()
            part, self._buffer = bytes(self._buffer[:size]), self._buffer[size:]
            await self._send_part(part)

    async def finish(self) -> None:
        bridge, bucket = self._store.bridge, self._store.bucket
        if self._upload is None:
            options = bridge.record(self._store.options(self._content_type))
            await _call(
                bucket.put(self._path, bridge.blob(bytes(self._buffer)), options)
            )
            return
        await self._send_part(bytes(self._buffer))
        await _call(self._upload.complete(bridge.array(self._parts)))

    async def abandon(self) -> None:
        if self._upload is not None:
            await _call(self._upload.abort())

    async def _send_part(self, part: bytes) -> None:
        bridge = self._store.bridge
        if self._upload is None:
            options = bridge.record(self._store.options(self._content_type))
            upload = self._store.bucket.createMultipartUpload(self._path, options)
            self._upload = await _call(upload)
        number = len(self._parts) + 1
        sent = await _call(self._upload.uploadPart(number, bridge.blob(part)))
        self._parts.append(sent)


class R2ArtifactStore:
    """An :class:`~ssea_core.artifacts.ArtifactStore` over an R2 bucket binding.

    ``prefix`` goes before every object name (e.g. ``"ssea/"``); ``signer`` signs
    local download links; ``bridge`` is the Pyodide one unless given (tests).
    """

    def __init__(
        self,
        bucket: Any,
        *,
        prefix: str = "",
        signer: LocalUrlSigner | None = None,
        bridge: JsBridge | None = None,
        part_bytes: int = PART_BYTES,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.signer = signer
        self.part_bytes = part_bytes
        self._bridge = bridge

    @property
    def bridge(self) -> JsBridge:
        if self._bridge is None:
            self._bridge = pyodide_bridge()
        return self._bridge

    @staticmethod
    def options(content_type: str) -> dict[str, Any]:
        return {"httpMetadata": {"contentType": content_type}}

    def _path(self, tenant_id: UUID, key: str) -> str:
        return self.prefix + tenant_path(tenant_id, key)

    @asynccontextmanager
    async def open_writer(
        self, tenant_id: UUID, key: str, content_type: str
    ) -> AsyncIterator[_R2Writer]:
        writer = _R2Writer(self, self._path(tenant_id, key), content_type)
        try:
            yield writer
            await writer.finish()
        except BaseException:
            try:
                await writer.abandon()
            except ArtifactStoreUnavailableError:
                logger.warning("could not abort a failed R2 upload", exc_info=True)
            raise
        logger.debug("artifact stored tenant=%s key=%s", tenant_id, key)

    async def read(
        self, tenant_id: UUID, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        found = self.bridge.to_py(
            await _call(self.bucket.get(self._path(tenant_id, key)))
        )
        if found is None:
            raise ArtifactNotFoundError
        data = as_bytes(await _call(found.arrayBuffer()))
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    async def delete(self, tenant_id: UUID, key: str) -> bool:
        path = self._path(tenant_id, key)
        if await self._head(path) is None:
            return False
        await _call(self.bucket.delete(path))
        logger.debug("artifact deleted tenant=%s key=%s", tenant_id, key)
        return True

    async def exists(self, tenant_id: UUID, key: str) -> bool:
        return await self._head(self._path(tenant_id, key)) is not None

    async def size(self, tenant_id: UUID, key: str) -> int:
        found = await self._head(self._path(tenant_id, key))
        if found is None:
            raise ArtifactNotFoundError
        return int(found.size)

    async def signed_url(
        self, tenant_id: UUID, key: str, expires_in: timedelta
    ) -> SignedUrl | None:
        check_lifetime(expires_in)
        if not await self.exists(tenant_id, key):
            raise ArtifactNotFoundError
        if self.signer is None:
            return None
        return self.signer.sign(tenant_id, key, expires_in)

    async def sweep_partial(self, older_than: datetime) -> int:
        """0: a failed writer aborts its upload; a bucket lifecycle rule removes
        the parts of an upload whose Worker died."""
        return 0

    async def _head(self, path: str) -> Any:
        return self.bridge.to_py(await _call(self.bucket.head(path)))
