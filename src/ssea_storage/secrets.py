"""Tenant secrets at rest: Fernet tokens under an operator-held master key.

``cryptography`` is imported on the first seal or open, not before: a store opens and
serves API keys, ingestion and reads without it (Pyodide on PyPI has no wheel of it),
and only what touches a tenant secret (tenant creation, secret rotation, SSO, viewer
signatures) needs it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from ssea_core.errors import MisconfiguredError

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

#: A Fernet key is 32 bytes, url-safe base64.
_KEY_BYTES = 32

logger = logging.getLogger(__name__)


class SecretBox:
    """Encrypts and decrypts tenant secrets; the first key encrypts, all decrypt."""

    def __init__(self, *keys: str | bytes) -> None:
        if not keys:
            raise MisconfiguredError("No master key: set SSEA_MASTER_KEY.")
        for key in keys:
            _check_key(key)
        self._keys = keys
        self._cached: MultiFernet | None = None

    @property
    def _fernet(self) -> MultiFernet:
        if self._cached is None:
            from cryptography.fernet import Fernet, MultiFernet

            self._cached = MultiFernet([Fernet(key) for key in self._keys])
        return self._cached

    def seal(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def open(self, token: bytes) -> bytes:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise MisconfiguredError(
                "A tenant secret cannot be decrypted with the configured master key."
            ) from exc


def _check_key(key: str | bytes) -> None:
    """Raise :class:`MisconfiguredError` unless ``key`` is a Fernet key."""
    try:
        raw = base64.urlsafe_b64decode(key)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise _not_a_key() from exc
    if len(raw) != _KEY_BYTES:
        raise _not_a_key()


def _not_a_key() -> MisconfiguredError:
    return MisconfiguredError(
        "SSEA_MASTER_KEY is not a Fernet key (32 url-safe base64 bytes); "
        "make one with `ssea keys master`."
    )


def new_master_key() -> str:
    """A fresh master key (a Fernet key: 32 random bytes, url-safe base64)."""
    return base64.urlsafe_b64encode(os.urandom(_KEY_BYTES)).decode()


def new_secret() -> bytes:
    """A fresh random tenant secret (shared SSO or viewer secret, IP salt)."""
    return secrets.token_urlsafe(32).encode()


def load_or_create_key_file(path: Path) -> str:
    """Read the master key from ``path``, creating it (mode 0600) when absent."""
    if path.exists():
        return path.read_text().strip()
    key = new_master_key()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    logger.warning("created a new master key file at %s; keep it safe", path)
    return key
