"""Rate limits (SPEC §9) on the ``limits`` library, without any web framework.

Invariants:
- A credential's calls count in one window per rate group (``ingest``, ``default``);
  public routes count per client address, and so do failed authentications, in a
  bucket of their own, so guessing keys is limited without starving public routes.
- In memory by default (one process). With ``SSEA_RATE_LIMIT_STORAGE=redis://…``
  every instance that uses the same server shares each count.
- A storage that fails lets requests through (logged at WARNING): losing the shared
  counter must not take the API down.
- Windows follow the wall clock of the process (``limits`` has no injectable clock);
  ``X-RateLimit-Reset`` is the number of seconds until the window resets.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.aio.strategies import (
    RateLimiter as LimitsStrategy,
)
from limits.errors import ConfigurationError, StorageError
from limits.storage import storage_from_string

from ssea_core.errors import MisconfiguredError
from ssea_core.settings import RateLimitStrategy, Settings

logger = logging.getLogger(__name__)

_STRATEGIES: dict[RateLimitStrategy, type[LimitsStrategy]] = {
    "fixed-window": FixedWindowRateLimiter,
    "moving-window": MovingWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
}
KEY_PREFIX = "ssea"


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """Where one key stands after a call was counted."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: int

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers of an answer."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_after),
        }


class RateLimiter(Protocol):
    """Counts calls per key against a rate such as ``600/minute``."""

    async def hit(self, key: str, rate: str) -> RateLimitState | None:
        """Count one call; None when nothing is limited (disabled, storage down)."""
        ...

    async def aclose(self) -> None: ...


class NoRateLimiter:
    """A limiter that limits nothing (``SSEA_RATE_LIMIT_ENABLED=false``)."""

    async def hit(self, key: str, rate: str) -> RateLimitState | None:
        return None

    async def aclose(self) -> None:
        return None


@lru_cache(maxsize=32)
def _item(rate: str) -> RateLimitItem:
    return parse(rate)


#: Seconds to wait for Redis: a slow limiter must not hold every request.
REDIS_TIMEOUT_SECONDS = 1.0


def storage_uri(url: str) -> tuple[str, dict[str, str | float]]:
    """The async ``limits`` storage URI for a configured URL, and its options."""
    if url.startswith("async+"):
        return url, {}
    if url.startswith(("redis://", "rediss://", "redis+unix://")):
        return "async+" + url, {
            "implementation": "redispy",
            "socket_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
        }
    return "async+" + url, {}


class LimitsRateLimiter:
    """A :class:`RateLimiter` over a ``limits`` async storage and strategy.

    The storage is made on first use, inside the running event loop.
    """

    def __init__(self, url: str, strategy: RateLimitStrategy = "fixed-window") -> None:
        self._url = url
        self._strategy_type = _STRATEGIES[strategy]
        self._storage: Storage | None = None
        self._strategy: LimitsStrategy | None = None

    def _limiter(self) -> LimitsStrategy:
        if self._strategy is None:
            uri, options = storage_uri(self._url)
            try:
                storage = storage_from_string(uri, wrap_exceptions=True, **options)
            except ConfigurationError as exc:
                raise MisconfiguredError(
                    "SSEA_RATE_LIMIT_STORAGE is unusable; for redis:// install "
                    '"ssea[redis]".'
                ) from exc
            if not isinstance(storage, Storage):
                raise MisconfiguredError("SSEA_RATE_LIMIT_STORAGE is not async.")
            self._storage = storage
            self._strategy = self._strategy_type(storage)
        return self._strategy

    async def hit(self, key: str, rate: str) -> RateLimitState | None:
        item = _item(rate)
        limiter = self._limiter()
        try:
            allowed = await limiter.hit(item, KEY_PREFIX, key)
            stats = await limiter.get_window_stats(item, KEY_PREFIX, key)
        except (StorageError, OSError) as exc:
            # Only the kind: a storage error's text may carry its URL and password.
            logger.warning(
                "rate limit storage failed (%s); not limiting", type(exc).__name__
            )
            return None
        reset_after = max(0, math.ceil(stats.reset_time - time.time()))
        return RateLimitState(allowed, item.amount, stats.remaining, reset_after)

    async def aclose(self) -> None:
        """Close the storage's connections (Redis); the limiter reopens on use."""
        storage, self._storage, self._strategy = self._storage, None, None
        client = getattr(getattr(storage, "bridge", None), "storage", None)
        close = getattr(client, "aclose", None)
        if close is not None:
            await close()


def rate_limiter_from_settings(settings: Settings) -> RateLimiter:
    """The limiter the settings describe."""
    if not settings.rate_limit_enabled:
        return NoRateLimiter()
    return LimitsRateLimiter(settings.rate_limit_storage, settings.rate_limit_strategy)
