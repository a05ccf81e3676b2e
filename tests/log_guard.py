"""Every log line of the test run, and the secrets that must never appear in one.

Tests record each secret they make or receive (API keys, JWTs, viewer signatures,
tenant secrets) with :func:`remember`; the session fixture in ``conftest.py`` collects
every record the root logger sees at DEBUG and, at the end, checks that none holds a
remembered secret or anything shaped like an API key or a JWT.
"""

from __future__ import annotations

import logging
import re
import threading

#: ``ssea_`` keys and three-part JWTs (header and payload both JSON, so ``eyJ``).
PATTERNS = (
    re.compile(r"ssea_[0-9a-f]{32}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
)
#: Shorter strings are not secrets worth searching for (and would match by chance).
MIN_SECRET_CHARS = 12

_SECRETS: set[str] = set()
_LOCK = threading.Lock()


def remember(*secrets: str | bytes) -> None:
    """Record secrets that no log line may contain."""
    with _LOCK:
        for secret in secrets:
            text = secret.decode() if isinstance(secret, bytes) else secret
            if len(text) >= MIN_SECRET_CHARS:
                _SECRETS.add(text)


def remembered() -> frozenset[str]:
    with _LOCK:
        return frozenset(_SECRETS)


class LogCollector(logging.Handler):
    """Keeps the formatted text of every record, with its traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot format is not our concern here
            self.lines.append(f"{record.name} unformattable: {record.msg!r}")


def leaks(lines: list[str], secrets: frozenset[str]) -> list[str]:
    """The lines that contain a secret or something shaped like one."""
    found = []
    for line in lines:
        if any(secret in line for secret in secrets) or any(
            pattern.search(line) for pattern in PATTERNS
        ):
            found.append(line)
    return found


def redacted(line: str, secrets: frozenset[str]) -> str:
    """A line with every secret and credential shape replaced, safe to print."""
    for secret in secrets:
        line = line.replace(secret, "<secret>")
    for pattern in PATTERNS:
        line = pattern.sub("<credential>", line)
    return line
