"""The Cloudflare Python Workers adapter: serve :class:`~ssea_core.app.SseaApp` from
a ``WorkerEntrypoint``.

It only translates: the Workers request (method, URL, headers, body) becomes a
:class:`~ssea_core.http.Request`, the core's :class:`~ssea_core.http.Response` a
Workers ``Response``. Invariants:

- Importing this module, or calling :func:`make_entrypoint` at an entry module's top
  level, does no I/O and draws no randomness (Workers forbids both there); the
  ``workers`` SDK and Pyodide are imported only when an entrypoint is made or served.
- The store opens on the first request, from the entrypoint's ``env``: the D1
  binding ``DB`` (:class:`~ssea_storage.d1.D1Store`, run inline: Workers has no
  threads), the R2 binding ``ARTIFACTS`` when there is one, settings from ``SSEA_*``
  vars and secrets. While it cannot open, requests get 503 envelopes.
- A body over ``max_body_bytes`` is a 413 envelope, refused on its declared length
  before it is read.

Workers has no lifespan, so nothing runs in the background: a Cron Trigger's
``scheduled`` runs the pending report jobs. A streamed core response (a report
download) is read whole before it is answered.
"""

from __future__ import annotations

import importlib
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import anyio
from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
)

from ssea_core.app import SseaApp, render_error
from ssea_core.artifacts import ArtifactStore, LocalUrlSigner
from ssea_core.clock import Clock
from ssea_core.errors import MisconfiguredError, PayloadTooLargeError, SseaError
from ssea_core.http import Request, Response
from ssea_core.protocols import Store
from ssea_core.settings import Settings
from ssea_storage.jsbridge import JsBridge, as_bytes, pyodide_bridge

logger = logging.getLogger(__name__)

#: Statuses whose response may not have a body (the Fetch standard).
_NULL_BODY = frozenset({101, 204, 205, 304})
_TRUE = frozenset({"1", "true", "yes", "on"})


class _Bindings(EnvSettingsSource):
    """``SSEA_*`` values read from the Worker's env instead of ``os.environ``."""

    def __init__(
        self, settings_cls: type[BaseSettings], values: dict[str, str]
    ) -> None:
        self._values = values
        super().__init__(settings_cls)

    def _load_env_vars(self) -> dict[str, str]:
        return self._values


def settings_from_env(env: Any, bridge: JsBridge) -> Settings:
    """Settings from a Worker's vars and secrets, parsed as ``SSEA_*`` variables are.

    Raises :class:`MisconfiguredError` naming the fields that are not valid.
    """
    values: dict[str, str] = {}
    for field in Settings.model_fields:
        value = getattr(env, f"SSEA_{field.upper()}", None)
        if value is not None:
            text = value if isinstance(value, str) else json.dumps(bridge.to_py(value))
            values[f"ssea_{field}"] = text

    class WorkerSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, _Bindings(settings_cls, values))

    try:
        return WorkerSettings()
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
        raise MisconfiguredError(
            f"These SSEA_* vars or secrets are not valid: {', '.join(fields)}."
        ) from exc


class SseaWorker:
    """What a Worker's ``fetch`` delegates to: one lazily opened :class:`SseaApp`.

    Every argument is optional: ``settings`` (else from ``env``), ``store`` and
    ``artifacts`` (else from the bindings named ``database`` and ``artifact_bucket``),
    ``migrate`` (upgrade the D1 schema on first use; else only checked, unless the
    var ``SSEA_D1_MIGRATE`` is true), ``clock`` and ``bridge`` (tests).
    """

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        store: Store | None = None,
        artifacts: ArtifactStore | None = None,
        clock: Clock | None = None,
        database: str = "DB",
        artifact_bucket: str = "ARTIFACTS",
        migrate: bool | None = None,
        bridge: JsBridge | None = None,
    ) -> None:
        self.settings = settings
        self._store = store
        self._artifacts = artifacts
        self._clock = clock
        self._database = database
        self._artifact_bucket = artifact_bucket
        self._migrate = migrate
        self._bridge = bridge
        self._core: SseaApp | None = None
        self._lock: anyio.Lock | None = None

    @property
    def bridge(self) -> JsBridge:
        if self._bridge is None:
            self._bridge = pyodide_bridge()
        return self._bridge

    async def fetch(self, request: Any, env: Any, response_type: Any) -> Any:
        """Serve one request; answer a ``response_type`` (``workers.Response``)."""
        raw = getattr(request, "js_object", request)
        try:
            try:
                core = await self.core(env)
                ours = await _request(raw, core.services.settings.max_body_bytes)
            except SseaError as error:
                ours = await _request(raw, None, read=False)
                return self._answer(response_type, self._error(ours, error))
            answer = await core.handle(ours)
            answer.body = await answer.read_body()
            return self._answer(response_type, answer)
        except Exception:
            logger.exception("unhandled error in the Workers adapter")
            return self._answer(response_type, Response.from_error(SseaError()))

    async def scheduled(self, env: Any, *, max_jobs: int = 5) -> int:
        """A Cron Trigger's tick: run up to ``max_jobs`` pending report jobs, then
        expire old artifacts; how many jobs ran."""
        from ssea_core.reports.worker import ReportWorker

        core = await self.core(env)
        if core.services.artifacts is None:
            return 0
        worker, ran = ReportWorker(core.services), 0
        while ran < max_jobs and await worker.run_one() is not None:
            ran += 1
        await worker.sweep()
        return ran

    async def core(self, env: Any) -> SseaApp:
        """The core application, opened from ``env`` on first use.

        Raises :class:`MisconfiguredError` while it cannot be opened; a later call
        tries again.
        """
        if self._core is None:
            self._lock = self._lock or anyio.Lock()
            async with self._lock:
                if self._core is None:
                    self._core = await self._open(env)
        return self._core

    async def _open(self, env: Any) -> SseaApp:
        self.settings = self.settings or settings_from_env(env, self.bridge)
        store = self._store or await self._open_store(env, self.settings)
        artifacts = self._artifacts or self._artifact_store(env, self.settings)
        return SseaApp(store, self.settings, clock=self._clock, artifacts=artifacts)

    async def _open_store(self, env: Any, settings: Settings) -> Store:
        from ssea_storage.d1 import open_d1_store

        database = getattr(env, self._database, None)
        if database is None:
            raise MisconfiguredError(
                f"No D1 binding named {self._database}: add a [[d1_databases]] "
                f'binding = "{self._database}" to wrangler.toml.'
            )
        migrate = self._migrate
        if migrate is None:
            migrate = str(getattr(env, "SSEA_D1_MIGRATE", "")).lower() in _TRUE
        store = await open_d1_store(
            database, settings, migrate=migrate, bridge=self.bridge
        )
        logger.info("store opened on D1 binding %s", self._database)
        return store

    def _artifact_store(self, env: Any, settings: Settings) -> ArtifactStore | None:
        from ssea_storage.r2 import R2ArtifactStore

        bucket = getattr(env, self._artifact_bucket, None)
        if bucket is None:
            return None
        secret = settings.artifact_signing_secret
        signer = None
        if secret is not None:
            signer = LocalUrlSigner(
                secret.get_secret_value(),
                base_url=settings.artifact_public_base_url or "",
                clock=self._clock,
            )
        return R2ArtifactStore(bucket, signer=signer, bridge=self.bridge)

    def _error(self, request: Request, error: SseaError) -> Response:
        # Errors before the core serves still get its security and CORS headers.
        return render_error(request, error, self.settings or Settings.model_construct())

    def _answer(self, response_type: Any, response: Response) -> Any:
        body: Any = None
        if response.body and response.status not in _NULL_BODY:
            body = self.bridge.buffer(response.body)
        return response_type(body, status=response.status, headers=response.headers)


async def _request(raw: Any, limit: int | None, *, read: bool = True) -> Request:
    """The core's request for a JS ``Request``; its body read unless ``read`` is off.

    Raises :class:`PayloadTooLargeError` past ``limit`` bytes.
    """
    method = str(raw.method).upper()
    headers = [(str(name), str(value)) for name, value in raw.headers]
    declared = next((v for n, v in headers if n.lower() == "content-length"), None)
    if limit is not None and declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"The body exceeds {limit} bytes.")
    body = b""
    if read and method not in ("GET", "HEAD"):
        body = as_bytes(await raw.arrayBuffer())
        if limit is not None and len(body) > limit:
            raise PayloadTooLargeError(f"The body exceeds {limit} bytes.")
    url = urlsplit(str(raw.url))
    client = next((v for n, v in headers if n.lower() == "cf-connecting-ip"), None)
    return Request.build(
        method,
        url.path,  # percent-encoded, as the router wants it
        query_string=url.query,
        headers=headers,
        body=body,
        client=client,
    )


def make_entrypoint(**options: Any) -> type[Any]:
    """The ``Default`` class for a Python Worker's entry module.

    ``Default = make_entrypoint()`` at the top of ``entry.py``; ``options`` are those
    of :class:`SseaWorker`. Its ``fetch`` serves every request with one
    :class:`SseaWorker`. Raises ``ImportError`` outside Workers (no ``workers`` SDK).
    """
    sdk = importlib.import_module("workers")
    worker = SseaWorker(**options)
    response_type = sdk.Response

    class Default(sdk.WorkerEntrypoint):  # type: ignore[misc,name-defined]
        ssea = worker

        async def fetch(self, request: Any) -> Any:
            return await worker.fetch(request, self.env, response_type)

        async def scheduled(self, controller: Any, *args: Any) -> None:
            await worker.scheduled(self.env)

    return Default
