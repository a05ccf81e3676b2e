"""API keys (SPEC §4.1): ``ssea_`` followed by 32 lowercase hex digits.

Only the SHA-256 of a key is stored. A key is looked up by that hash, so the lookup's
timing depends on the hash, never on how much of a stored key a guess got right.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

_KEY = re.compile(r"^ssea_[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A freshly made key: the plaintext, shown once, and what is stored."""

    plaintext: str
    key_hash: str
    prefix: str


def hash_api_key(key: str) -> str:
    """The hex SHA-256 under which a key is stored."""
    return hashlib.sha256(key.encode()).hexdigest()


def is_well_formed(key: str) -> bool:
    return _KEY.fullmatch(key) is not None


def key_prefix(key: str) -> str:
    """The part of a key that may be shown to identify it (``ssea_1a2b``)."""
    return key[:9]


def generate_api_key() -> NewApiKey:
    """Make a new random key."""
    plaintext = "ssea_" + secrets.token_hex(16)
    return NewApiKey(plaintext, hash_api_key(plaintext), key_prefix(plaintext))
