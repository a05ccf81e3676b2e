"""The JWT checks that session tokens and the plugin's SSO tokens share.

Invariants:
- The algorithm is decided by the verifier, never by the token: a header that names
  another algorithm than the one expected (``none`` included) is refused before any
  key is tried, and PyJWT is told to accept only that algorithm as well.
- Every accepted key is tried; a key that does not verify never fails the request on
  its own, so a rotated secret keeps working during its grace period.
- Time claims are checked against the service's clock (not the machine's), with a
  small leeway: ``iat`` and ``nbf`` not in the future, ``exp`` not past and after
  ``iat``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jwt
from jwt.algorithms import AllowedPublicKeys

from ssea_core.errors import (
    DisallowedAlgorithmError,
    ExpiredCredentialError,
    InvalidCredentialError,
    InvalidIssuerError,
    InvalidSignatureError,
    MisconfiguredError,
    NotYetValidError,
    TokenTooLongLivedError,
)

Key = bytes | str | AllowedPublicKeys
#: PyJWT checks only signatures, presence and issuer; times are ours (our clock).
_PYJWT_OPTIONS: dict[str, Any] = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
    "verify_aud": False,
    "enforce_minimum_key_length": True,
}


def header_algorithm(token: str) -> str:
    """The ``alg`` a token's header names; raises 401 when it is not a JWT."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidCredentialError("The token is not a well-formed JWT.") from exc
    algorithm = header.get("alg")
    return algorithm if isinstance(algorithm, str) else ""


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a token *without* verifying it: only to choose the keys."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, options={"verify_signature": False}, algorithms=None
        )
    except jwt.PyJWTError as exc:
        raise InvalidCredentialError("The token is not a well-formed JWT.") from exc
    return claims


def decode_verified(
    token: str,
    keys: Sequence[Key],
    algorithm: str,
    *,
    required: Sequence[str],
    issuer: str | None = None,
) -> dict[str, Any]:
    """The claims of ``token`` once one of ``keys`` verifies it with ``algorithm``.

    Raises :class:`DisallowedAlgorithmError` when the header names another algorithm,
    :class:`InvalidSignatureError` when no key verifies it, and other subclasses of
    :class:`AuthenticationError` for a malformed token, a missing claim or another
    issuer.
    """
    if header_algorithm(token) != algorithm:
        raise DisallowedAlgorithmError(
            f"The token must be signed with {algorithm}; its header names another "
            "algorithm."
        )
    for key in keys:
        try:
            return _decode(token, key, algorithm, required, issuer)
        except jwt.InvalidSignatureError:
            continue
    raise InvalidSignatureError("The token's signature does not verify.")


def _decode(
    token: str, key: Key, algorithm: str, required: Sequence[str], issuer: str | None
) -> dict[str, Any]:
    options = {**_PYJWT_OPTIONS, "require": list(required)}
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=issuer,
            options=options,  # type: ignore[arg-type]
        )
    except jwt.InvalidSignatureError:
        raise
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidCredentialError(
            f"The token lacks the claim '{exc.claim}'."
        ) from exc
    except jwt.InvalidIssuerError as exc:
        raise InvalidIssuerError from exc
    except jwt.InvalidAlgorithmError as exc:
        raise DisallowedAlgorithmError from exc
    except jwt.InvalidKeyError as exc:
        raise MisconfiguredError("A verification key is unusable.") from exc
    except jwt.PyJWTError as exc:
        raise InvalidCredentialError("The token is not valid.") from exc
    return claims


def check_times(
    claims: Mapping[str, Any],
    now: int,
    leeway: int,
    *,
    max_lifetime: int | None = None,
) -> None:
    """Check ``iat``, ``nbf`` and ``exp`` (Unix seconds) against ``now``.

    Raises :class:`NotYetValidError`, :class:`ExpiredCredentialError`,
    :class:`TokenTooLongLivedError` or :class:`InvalidCredentialError`.
    """
    iat, exp = _seconds(claims, "iat"), _seconds(claims, "exp")
    nbf = _seconds(claims, "nbf") if "nbf" in claims else None
    if iat > now + leeway or (nbf is not None and nbf > now + leeway):
        raise NotYetValidError("The token is not valid yet (iat or nbf in the future).")
    if exp <= now - leeway:
        raise ExpiredCredentialError("The token has expired.")
    if exp <= iat:
        raise InvalidCredentialError("The token's exp is not after its iat.")
    if max_lifetime is not None and exp - iat > max_lifetime:
        raise TokenTooLongLivedError(
            f"The token lives {exp - iat} s; at most {max_lifetime} s are allowed."
        )


def _seconds(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCredentialError(f"The claim '{name}' must be Unix seconds.")
    return int(value)
