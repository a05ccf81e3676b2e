"""Branding (SPEC §8): how a tenant's dashboard presents itself, and Host lookups.

Invariants:
- ``primary_color`` is ``#rgb`` or ``#rrggbb`` and stored lowercase; ``logo_url`` is an
  ``https`` URL without user information; ``product_name`` is 1 to 100 printable
  characters.
- ``custom_domain`` is a lowercase host name without scheme, port or trailing dot, and
  belongs to at most one tenant (a second tenant asking for it gets a 409).
- The public lookup takes the request's Host, drops the port and ignores case; only
  active tenants are found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import BaseModel, ConfigDict, field_validator

_COLOR = re.compile(r"^#(?:[0-9a-f]{3}|[0-9a-f]{6})$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_URL_CHARS = 2048
MAX_DOMAIN_CHARS = 253
MAX_PRODUCT_NAME_CHARS = 100


@dataclass(frozen=True, slots=True)
class Branding:
    """A tenant's branding; None where nothing is set."""

    tenant_id: UUID
    logo_url: str | None = None
    primary_color: str | None = None
    product_name: str | None = None
    custom_domain: str | None = None

    def public(self) -> dict[str, Any]:
        """What ``GET /v1/branding`` shows anyone (the seed page's fields)."""
        return {
            "logo_url": self.logo_url,
            "primary_color": self.primary_color,
            "product_name": self.product_name,
        }

    def private(self) -> dict[str, Any]:
        """What the tenant's own callers see: the public fields and the domain."""
        return {**self.public(), "custom_domain": self.custom_domain}


class BrandingIn(BaseModel):
    """The body of ``PUT …/branding``: fields sent are set (null clears one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    logo_url: str | None = None
    primary_color: str | None = None
    product_name: str | None = None
    custom_domain: str | None = None

    @field_validator("logo_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        return None if value is None else https_url(value)

    @field_validator("primary_color")
    @classmethod
    def _color(cls, value: str | None) -> str | None:
        if value is None:
            return None
        color = value.strip().lower()
        if not _COLOR.fullmatch(color):
            raise ValueError("must be a colour #rgb or #rrggbb, e.g. #4f46e5")
        return color

    @field_validator("product_name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = value.strip()
        if not name or len(name) > MAX_PRODUCT_NAME_CHARS or _CONTROL.search(name):
            raise ValueError(
                f"must be 1 to {MAX_PRODUCT_NAME_CHARS} printable characters"
            )
        return name

    @field_validator("custom_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return None if value is None else domain_name(value)

    def changes(self) -> dict[str, str | None]:
        """Only the fields the body named, with their new values."""
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}


def https_url(value: str) -> str:
    """``value`` if it is an https URL with a host; ``ValueError`` otherwise."""
    url = value.strip()
    if len(url) > MAX_URL_CHARS or _CONTROL.search(url) or " " in url:
        raise ValueError(f"must be an https URL of at most {MAX_URL_CHARS} characters")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        raise ValueError("must be an https URL with a host and no user information")
    return url


def domain_name(value: str) -> str:
    """A host name, lowercased, without a trailing dot; ``ValueError`` otherwise."""
    name = value.strip().lower().removesuffix(".")
    labels = name.split(".")
    if (
        len(name) > MAX_DOMAIN_CHARS
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
    ):
        raise ValueError(
            "must be a host name such as analytics.example.edu (no scheme, no port)"
        )
    return name


def host_name(host: str | None) -> str | None:
    """The host name of a Host header: no port, lowercase; None when unusable."""
    if not host:
        return None
    text = host.strip().lower()
    if text.startswith("["):  # an IPv6 literal is never a custom domain
        return None
    name = text.rsplit(":", 1)[0] if ":" in text else text
    try:
        return domain_name(name)
    except ValueError:
        return None


def origin(value: str) -> str:
    """An https origin (scheme and host, optional port) for a tenant's Moodle."""
    parts = urlsplit(https_url(value))
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("must be an origin: https://host[:port] without a path")
    return f"https://{parts.netloc.lower()}"
