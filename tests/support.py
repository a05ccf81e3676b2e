"""Test helpers shared by every suite: an in-process API client."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ssea_core.app import SseaApp
from ssea_core.http import Request


@dataclass
class Answer:
    """What a test sees of a response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ApiClient:
    """Calls the core app in-process; adapters get clients of the same shape."""

    def __init__(self, app: SseaApp, headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.headers = dict(headers or {})

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Answer:
        from urllib.parse import urlencode

        body = content if content is not None else b""
        if json_body is not None:
            body = json.dumps(json_body).encode()
        merged = {**self.headers, **(headers or {})}
        request = Request.build(
            method,
            path,
            query_string=urlencode(params or {}, doseq=True),
            headers=merged,
            body=body,
        )
        response = await self.app.handle(request)
        return Answer(
            response.status,
            {name.lower(): value for name, value in response.headers},
            await response.read_body(),
        )

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("POST", path, **kwargs)
