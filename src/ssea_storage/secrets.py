"""Tenant secrets at rest: Fernet tokens under an operator-held master key."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ssea_core.errors import MisconfiguredError

logger = logging.getLogger(__name__)


class SecretBox:
    """Encrypts and decrypts tenant secrets; the first key encrypts, all decrypt."""

    def __init__(self, *keys: str | bytes) -> None:
        if not keys:
            raise MisconfiguredError("No master key: set SSEA_MASTER_KEY.")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except (ValueError, TypeError) as exc:
            raise MisconfiguredError(
                "SSEA_MASTER_KEY is not a Fernet key (32 url-safe base64 bytes); "
                "make one with `ssea keys master`."
            ) from exc

    def seal(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def open(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise MisconfiguredError(
                "A tenant secret cannot be decrypted with the configured master key."
            ) from exc


def new_master_key() -> str:
    return Fernet.generate_key().decode()


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
