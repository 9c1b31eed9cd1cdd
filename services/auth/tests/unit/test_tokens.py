from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tradelab_auth.domain.keys import KeyRing, SigningKey
from tradelab_auth.domain.tokens import TokenPolicy, issue_access_token

T0 = datetime(2026, 11, 23, 12, 0, 30, 750000, tzinfo=UTC)
POLICY = TokenPolicy("tradelab-auth", "tradelab-api", timedelta(minutes=15))
USER = uuid4()


def verify_with_jwks(
    token: str, jwks: list[dict[str, str]], options: jwt.types.Options | None = None
) -> dict[str, Any]:
    """Verify ``token`` the way a gateway does: pick the JWK named by ``kid``."""
    kid = jwt.get_unverified_header(token)["kid"]
    [jwk] = [k for k in jwks if k["kid"] == kid]
    claims: dict[str, Any] = jwt.decode(
        token,
        jwt.PyJWK(jwk).key,
        algorithms=["EdDSA"],
        audience=POLICY.audience,
        issuer=POLICY.issuer,
        options=options,
    )
    return claims


def test_token_header_names_the_signing_key_and_algorithm() -> None:
    ring = KeyRing.generate()
    token = issue_access_token(ring, POLICY, USER, "ann@example.org", T0)
    assert jwt.get_unverified_header(token) == {
        "alg": "EdDSA",
        "typ": "JWT",
        "kid": ring.signing_key.kid,
    }


def test_token_verifies_with_the_published_jwk_and_carries_every_claim() -> None:
    ring = KeyRing.generate()
    token = issue_access_token(ring, POLICY, USER, "ann@example.org", T0, jti="abc123")
    claims = verify_with_jwks(token, ring.jwks(), {"verify_exp": False, "verify_iat": False})
    assert claims == {
        "iss": "tradelab-auth",
        "aud": "tradelab-api",
        "sub": str(USER),
        "email": "ann@example.org",
        "role": "user",
        "iat": int(T0.timestamp()),
        "exp": int(T0.timestamp()) + 900,
        "jti": "abc123",
    }


def test_expiry_is_issue_time_plus_the_configured_lifetime() -> None:
    policy = TokenPolicy("iss", "aud", timedelta(seconds=42))
    token = issue_access_token(KeyRing.generate(), policy, USER, "a@b.c", T0)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 42
    assert claims["iat"] == int(T0.timestamp())


def test_token_ids_are_random_hex_by_default() -> None:
    ring = KeyRing.generate()
    jtis = {
        jwt.decode(
            issue_access_token(ring, POLICY, USER, "a@b.c", T0), options={"verify_signature": False}
        )["jti"]
        for _ in range(20)
    }
    assert len(jtis) == 20
    assert all(len(j) == 32 and int(j, 16) >= 0 for j in jtis)


def test_token_issued_now_passes_full_verification_including_expiry() -> None:
    ring = KeyRing.generate()
    token = issue_access_token(ring, POLICY, USER, "a@b.c", datetime.now(UTC))
    assert verify_with_jwks(token, ring.jwks())["sub"] == str(USER)


def test_token_expired_by_the_clock_is_refused() -> None:
    ring = KeyRing.generate()
    issued = datetime.now(UTC) - timedelta(minutes=16)
    token = issue_access_token(ring, POLICY, USER, "a@b.c", issued)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify_with_jwks(token, ring.jwks())


def test_after_rotation_tokens_of_the_old_key_still_verify_against_the_published_set() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    before = KeyRing((SigningKey.of(old),))
    after = KeyRing((SigningKey.of(new), SigningKey.of(old)))
    old_token = issue_access_token(before, POLICY, USER, "a@b.c", datetime.now(UTC))
    new_token = issue_access_token(after, POLICY, USER, "a@b.c", datetime.now(UTC))
    assert jwt.get_unverified_header(new_token)["kid"] == SigningKey.of(new).kid
    assert verify_with_jwks(old_token, after.jwks())["sub"] == str(USER)
    assert verify_with_jwks(new_token, after.jwks())["sub"] == str(USER)
