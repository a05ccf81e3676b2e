"""Session JWTs and plugin SSO tokens as pure functions: every refusal has a reason."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from ssea_core.auth.records import TenantAuth
from ssea_core.auth.sessions import mint_session, verify_session
from ssea_core.auth.sso import check_public_key, verify_sso_token
from ssea_core.errors import (
    AuthenticationError,
    DisallowedAlgorithmError,
    ExpiredCredentialError,
    InvalidCredentialError,
    InvalidIssuerError,
    InvalidSignatureError,
    NotYetValidError,
    TokenTooLongLivedError,
)
from tests.auth_support import forged, plugin_claims, signed
from tests.log_guard import remember

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
KEY = secrets.token_bytes(32)
OLD_KEY = secrets.token_bytes(32)
TENANT = uuid4()
LEEWAY = 30


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def public_pem(key: Any) -> str:
    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


def session_claims(**changes: Any) -> dict[str, Any]:
    issued = int(NOW.timestamp())
    claims = {
        "sub": "42",
        "tenant_id": str(TENANT),
        "role": "teacher",
        "moodle_user_id": "42",
        "course_ids": ["c1"],
        "iat": issued,
        "exp": issued + 3600,
        "iss": "ssea",
        "jti": "j1",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def verify(token: str, *, keys: list[bytes] | None = None, at: datetime = NOW) -> Any:
    return verify_session(
        token, keys=keys or [KEY], issuer="ssea", now=at, leeway=LEEWAY
    )


# -- session tokens -------------------------------------------------------------------


def test_a_minted_session_verifies_with_every_claim() -> None:
    session = mint_session(
        keys=[KEY],
        issuer="ssea",
        ttl=timedelta(hours=1),
        now=NOW,
        tenant_id=TENANT,
        role="teacher",
        moodle_user_id="42",
        course_ids=["c2", "c1"],
    )
    remember(session.token)

    claims = verify(session.token)

    assert session.expires_at == NOW + timedelta(hours=1)
    assert (claims.tenant_id, claims.role, claims.moodle_user_id) == (
        TENANT,
        "teacher",
        "42",
    )
    assert claims.course_ids == ["c1", "c2"]
    assert (claims.iss, claims.sub) == ("ssea", "42")
    assert claims.exp - claims.iat == 3600
    assert len(claims.jti) == 32
    assert "token" not in repr(session).lower().replace("issuedsession", "")


def test_the_first_secret_signs_and_every_secret_verifies() -> None:
    token = signed(session_claims(), OLD_KEY)

    assert verify(token, keys=[KEY, OLD_KEY]).jti == "j1"
    with pytest.raises(InvalidSignatureError):
        verify(token, keys=[KEY])


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ({"alg": "none", "typ": "JWT"}, DisallowedAlgorithmError),
        ({"alg": "HS512", "typ": "JWT"}, DisallowedAlgorithmError),
        ({"alg": "RS256", "typ": "JWT"}, DisallowedAlgorithmError),
        ({"typ": "JWT"}, DisallowedAlgorithmError),
    ],
)
def test_only_hs256_is_accepted(header: dict[str, Any], expected: type) -> None:
    token = forged(session_claims(), KEY, header)

    with pytest.raises(expected):
        verify(token)


def test_an_unsigned_alg_none_token_is_refused() -> None:
    token = signed(session_claims(), None, algorithm="none")

    with pytest.raises(DisallowedAlgorithmError):
        verify(token)


def test_an_rs256_token_where_hs256_is_expected_is_refused(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    token = signed(session_claims(), rsa_key, algorithm="RS256")

    with pytest.raises(DisallowedAlgorithmError):
        verify(token)


def test_a_tampered_payload_is_refused() -> None:
    header, _payload, signature = signed(session_claims(), KEY).split(".")
    other = signed(session_claims(role="admin"), OLD_KEY).split(".")[1]

    with pytest.raises(InvalidSignatureError):
        verify(f"{header}.{other}.{signature}")


@pytest.mark.parametrize(
    ("changes", "at", "expected"),
    [
        ({}, NOW + timedelta(hours=1, seconds=LEEWAY), ExpiredCredentialError),
        ({"iat": int(NOW.timestamp()) + 120}, NOW, NotYetValidError),
        ({"nbf": int(NOW.timestamp()) + 120}, NOW, NotYetValidError),
        ({"iss": "someone-else"}, NOW, InvalidIssuerError),
        ({"iss": None}, NOW, InvalidCredentialError),
        ({"exp": None}, NOW, InvalidCredentialError),
        ({"iat": None}, NOW, InvalidCredentialError),
        ({"jti": None}, NOW, InvalidCredentialError),
        ({"role": "dean"}, NOW, InvalidCredentialError),
        ({"moodle_user_id": None}, NOW, InvalidCredentialError),
        ({"tenant_id": "not-a-uuid"}, NOW, InvalidCredentialError),
        (
            {"exp": int(NOW.timestamp()) - 10, "iat": int(NOW.timestamp())},
            NOW,
            InvalidCredentialError,
        ),
    ],
)
def test_claims_are_checked(
    changes: dict[str, Any], at: datetime, expected: type
) -> None:
    token = signed(session_claims(**changes), KEY)

    with pytest.raises(expected):
        verify(token, at=at)


def test_clock_skew_within_the_leeway_is_tolerated() -> None:
    token = signed(session_claims(iat=int(NOW.timestamp()) + LEEWAY), KEY)

    assert verify(token).jti == "j1"
    assert verify(signed(session_claims(), KEY), at=NOW + timedelta(seconds=3620))


@pytest.mark.parametrize(
    "garbage", ["", "abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "🙂"]
)
def test_garbled_tokens_are_401(garbage: str) -> None:
    with pytest.raises(AuthenticationError):
        verify(garbage)


# -- plugin SSO tokens ----------------------------------------------------------------


def shared(*secrets_: bytes) -> TenantAuth:
    return TenantAuth(TENANT, True, sso_secrets=secrets_ or (KEY,))


def keyed(pem: str, algorithm: Any) -> TenantAuth:
    return TenantAuth(
        TENANT,
        True,
        sso_secrets=(KEY,),
        sso_public_key=pem,
        sso_key_algorithm=algorithm,
    )


def verify_sso(token: str, tenant: TenantAuth) -> Any:
    return verify_sso_token(token, tenant, now=NOW, leeway=LEEWAY)


def test_an_hs256_plugin_token_verifies_with_the_shared_secret() -> None:
    token = signed(plugin_claims(TENANT, NOW, user=7, role="teacher"), KEY)

    claims = verify_sso(token, shared())

    assert (claims.moodle_user_id, claims.role) == ("7", "teacher")


def test_the_previous_shared_secret_verifies_during_its_grace() -> None:
    token = signed(plugin_claims(TENANT, NOW), OLD_KEY)

    assert verify_sso(token, shared(KEY, OLD_KEY)).tenant_id == TENANT
    with pytest.raises(InvalidSignatureError):
        verify_sso(token, shared(KEY))


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA"])
def test_a_tenant_public_key_verifies_its_algorithm(
    algorithm: str, rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    private = rsa_key if algorithm == "RS256" else ed_key
    token = signed(plugin_claims(TENANT, NOW), private, algorithm=algorithm)

    claims = verify_sso(token, keyed(public_pem(private), algorithm))

    assert claims.tenant_id == TENANT


def test_hs256_signed_with_the_public_key_pem_is_refused(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    # The classic confusion: the attacker knows the public key and uses it as an
    # HMAC secret, hoping the verifier feeds the same PEM to HS256.
    pem = public_pem(rsa_key)
    token = forged(plugin_claims(TENANT, NOW), pem.encode(), {"alg": "HS256"})

    with pytest.raises(DisallowedAlgorithmError):
        verify_sso(token, keyed(pem, "RS256"))


def test_a_tenant_with_a_public_key_refuses_its_shared_secret(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    token = signed(plugin_claims(TENANT, NOW), KEY)

    with pytest.raises(DisallowedAlgorithmError):
        verify_sso(token, keyed(public_pem(rsa_key), "RS256"))


def test_an_rs256_plugin_token_where_hs256_is_expected_is_refused(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    token = signed(plugin_claims(TENANT, NOW), rsa_key, algorithm="RS256")

    with pytest.raises(DisallowedAlgorithmError):
        verify_sso(token, shared())


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        (plugin_claims(TENANT, NOW, lifetime=301), TokenTooLongLivedError),
        (plugin_claims(TENANT, NOW, lifetime=300), None),
        (plugin_claims(TENANT, NOW - timedelta(minutes=10)), ExpiredCredentialError),
        (plugin_claims(TENANT, NOW + timedelta(minutes=2)), NotYetValidError),
        (plugin_claims(uuid4(), NOW), InvalidCredentialError),
        ({**plugin_claims(TENANT, NOW), "role": "root"}, InvalidCredentialError),
    ],
)
def test_plugin_token_claims_are_checked(
    claims: dict[str, Any], expected: type | None
) -> None:
    token = signed(claims, KEY)

    if expected is None:
        assert verify_sso(token, shared()).jti == claims["jti"]
    else:
        with pytest.raises(expected):
            verify_sso(token, shared())


@pytest.mark.parametrize(
    "missing", ["tenant_id", "moodle_user_id", "role", "iat", "exp", "jti"]
)
def test_every_plugin_claim_is_required(missing: str) -> None:
    claims = plugin_claims(TENANT, NOW)
    del claims[missing]

    with pytest.raises(InvalidCredentialError):
        verify_sso(signed(claims, KEY), shared())


def test_public_keys_are_checked_against_their_algorithm(
    rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    check_public_key(public_pem(rsa_key), "RS256")
    check_public_key(public_pem(ed_key), "EdDSA")
    # A weak key on purpose: check_public_key must refuse it.
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    for pem, algorithm, reason in (
        (public_pem(ed_key), "RS256", "RSA public key"),
        (public_pem(rsa_key), "EdDSA", "Ed25519 public key"),
        (public_pem(small), "RS256", "2048 bits"),
        ("not a key", "RS256", "not a PEM public key"),
    ):
        with pytest.raises(ValueError, match=reason):
            check_public_key(pem, algorithm)  # type: ignore[arg-type]
