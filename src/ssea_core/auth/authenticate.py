"""Turn a request's credential into a :class:`Principal`, or refuse it (401)."""

from __future__ import annotations

import logging
from datetime import timedelta

from ssea_core.auth.api_keys import hash_api_key, is_well_formed
from ssea_core.auth.principal import Principal
from ssea_core.clock import Clock
from ssea_core.errors import (
    ExpiredCredentialError,
    InvalidCredentialError,
    MissingCredentialError,
    RevokedCredentialError,
)
from ssea_core.http import Request
from ssea_core.protocols import Store

logger = logging.getLogger(__name__)

API_KEY_HEADER = "x-ssea-key"
#: Last use is recorded at most this often per key, so reads stay free of writes.
LAST_USE_RESOLUTION = timedelta(minutes=1)


async def authenticate_api_key(
    request: Request, store: Store, clock: Clock
) -> Principal:
    """Resolve ``X-SSEA-Key``; an API key acts as its tenant's admin (SPEC §4.4).

    Raises a subclass of :class:`AuthenticationError` for a missing, malformed,
    unknown, revoked or expired key, or a key of an inactive tenant.
    """
    operator = store.operator
    key = (request.header(API_KEY_HEADER) or "").strip()
    if not key:
        raise MissingCredentialError
    if not is_well_formed(key):
        logger.info("api key refused: malformed")
        raise InvalidCredentialError("The API key is not of the form ssea_<32 hex>.")

    record = await operator.find_api_key(hash_api_key(key))
    if record is None:
        logger.info("api key refused: unknown key")
        raise InvalidCredentialError("The API key is not known.")
    if not record.active or record.revoked_at is not None:
        logger.info("api key refused: revoked key_id=%s", record.key_id)
        raise RevokedCredentialError
    now = clock.now()
    if record.expires_at is not None and record.expires_at <= now:
        logger.info("api key refused: expired key_id=%s", record.key_id)
        raise ExpiredCredentialError("The API key has expired.")

    tenant = await operator.get_tenant(record.tenant_id)
    if tenant is None or not tenant.active:
        logger.info("api key refused: inactive tenant key_id=%s", record.key_id)
        raise InvalidCredentialError("The API key's tenant is not active.")

    if record.last_used_at is None or now - record.last_used_at >= LAST_USE_RESOLUTION:
        await store.for_tenant(record.tenant_id).touch_api_key(record.key_id, now=now)
    return Principal(
        tenant_id=record.tenant_id,
        role="admin",
        credential="api_key",
        credential_id=record.key_id,
    )
