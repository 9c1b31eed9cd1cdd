"""Access tokens are verified locally; every forgery and misuse is refused."""

import base64
import hmac
import json
import time
from hashlib import sha256
from typing import Any
from uuid import uuid4

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tradelab_gateway.security.tokens import InvalidTokenError, key_id, verify

ISSUER, AUDIENCE, KID = "tradelab-auth", "tradelab-api", "key-1"
PRIVATE = Ed25519PrivateKey.generate()
PUBLIC_RAW = PRIVATE.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
JWK = {
    "kty": "OKP",
    "crv": "Ed25519",
    "x": base64.urlsafe_b64encode(PUBLIC_RAW).rstrip(b"=").decode(),
    "kid": KID,
    "alg": "EdDSA",
    "use": "sig",
}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid4()),
        "email": "ada@example.com",
        "iat": now,
        "exp": now + 900,
        "jti": uuid4().hex,
    }
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


def sign(payload: dict[str, Any], kid: str = KID) -> str:
    return jwt.encode(payload, PRIVATE, algorithm="EdDSA", headers={"kid": kid})


def check(token: str) -> None:
    verify(token, JWK, issuer=ISSUER, audience=AUDIENCE)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_valid_token_yields_its_user() -> None:
    payload = claims()
    principal = verify(sign(payload), JWK, issuer=ISSUER, audience=AUDIENCE)
    assert str(principal.user_id) == payload["sub"]
    assert principal.email == "ada@example.com"
    assert principal.token_id == payload["jti"]


def test_expired_token_is_refused() -> None:
    past = int(time.time()) - 3600
    with pytest.raises(InvalidTokenError, match="expired"):
        check(sign(claims(iat=past - 900, exp=past)))


def test_tampered_payload_is_refused() -> None:
    header, _, signature = sign(claims()).split(".")
    forged = f"{header}.{b64(claims(sub=str(uuid4())))}.{signature}"
    with pytest.raises(InvalidTokenError):
        check(forged)


@pytest.mark.parametrize(("field", "value"), [("aud", "someone-else"), ("iss", "evil-issuer")])
def test_token_for_another_audience_or_from_another_issuer_is_refused(
    field: str, value: str
) -> None:
    with pytest.raises(InvalidTokenError):
        check(sign(claims(**{field: value})))


@pytest.mark.parametrize("missing", ["exp", "sub", "jti", "iat", "aud", "iss"])
def test_token_without_a_required_claim_is_refused(missing: str) -> None:
    payload = claims()
    del payload[missing]
    with pytest.raises(InvalidTokenError):
        check(sign(payload))


def test_unsigned_alg_none_token_is_refused_before_any_key_lookup() -> None:
    token = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': KID})}.{b64(claims())}."
    with pytest.raises(InvalidTokenError, match="algorithm"):
        key_id(token)
    with pytest.raises(InvalidTokenError):
        check(token)


def test_hs256_token_signed_with_the_public_key_is_refused() -> None:
    # The classic confusion attack: use the published public key as an HMAC secret.
    header = {"alg": "HS256", "typ": "JWT", "kid": KID}
    signing_input = f"{b64(header)}.{b64(claims())}".encode()
    mac = hmac.new(JWK["x"].encode(), signing_input, sha256).digest()
    token = f"{signing_input.decode()}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(InvalidTokenError, match="algorithm"):
        key_id(token)
    with pytest.raises(InvalidTokenError):
        check(token)


def test_token_signed_by_another_key_is_refused() -> None:
    other = Ed25519PrivateKey.generate()
    token = jwt.encode(claims(), other, algorithm="EdDSA", headers={"kid": KID})
    with pytest.raises(InvalidTokenError):
        check(token)


def test_key_id_is_read_from_the_header() -> None:
    assert key_id(sign(claims(), kid="rotated-2")) == "rotated-2"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b", "a.b.c.d"])
def test_malformed_token_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidTokenError):
        key_id(garbage)
