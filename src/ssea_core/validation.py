"""Turn pydantic errors into messages a client can act on."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import ErrorDetails


def describe_error(error: ErrorDetails, *, what: str = "field") -> str:
    location = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{what} '{location}': {error['msg']}"


def describe_errors(exc: ValidationError, *, what: str = "field") -> str:
    """One line naming each failing field and why, e.g. ``field 'user_id': ...``."""
    return "; ".join(describe_error(error, what=what) for error in exc.errors()) + "."
