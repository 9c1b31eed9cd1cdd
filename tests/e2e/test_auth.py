"""Accounts and tokens through the gateway, against the real auth service, broker and database."""

import base64
import hmac
import json
import secrets
import time
from hashlib import sha256
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.e2e.helpers import assert_rate_limited, forwarded_for
from tests.polling import wait_for
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"


def new_email() -> str:
    return f"user-{secrets.token_hex(4)}@example.com"


def register(gateway: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = gateway.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_register_login_and_me(gateway: httpx.Client) -> None:
    email = new_email()
    created = register(gateway, email.upper())  # stored normalised
    assert created["user"]["email"] == email
    assert created["token_type"] == "bearer"
    assert created["expires_in"] == 900

    login = gateway.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    me = gateway.get("/api/v1/auth/me", headers=bearer(login.json()["access_token"]))
    assert me.status_code == 200
    assert me.json() == created["user"]


def test_duplicate_email_is_a_conflict(gateway: httpx.Client) -> None:
    email = new_email()
    register(gateway, email)
    again = gateway.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["code"] == "email_taken"


@pytest.mark.parametrize("password", ["short", "x" * 129, "{email}"])
def test_weak_password_is_refused_with_a_field_message(
    gateway: httpx.Client, password: str
) -> None:
    email = new_email()
    response = gateway.post(
        "/api/v1/auth/register", json={"email": email, "password": password.format(email=email)}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == "password"
    assert "Traceback" not in response.text


def test_wrong_password_and_unknown_email_get_the_same_answer(gateway: httpx.Client) -> None:
    email = new_email()
    register(gateway, email)
    wrong = gateway.post("/api/v1/auth/login", json={"email": email, "password": "wrong" * 3})
    unknown = gateway.post(
        "/api/v1/auth/login", json={"email": new_email(), "password": "wrong" * 3}
    )
    assert wrong.status_code == unknown.status_code == 401
    wrong_body, unknown_body = wrong.json(), unknown.json()
    wrong_body.pop("instance"), unknown_body.pop("instance")
    assert wrong_body == unknown_body


def forge(key: Ed25519PrivateKey, kid: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": "tradelab-auth",
        "aud": "tradelab-api",
        "sub": str(uuid4()),
        "iat": now,
        "exp": now + 600,
        "jti": uuid4().hex,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_bad_tokens_are_all_refused(gateway: httpx.Client, signing_key: Ed25519PrivateKey) -> None:
    jwks = gateway.get("/.well-known/jwks.json").json()["keys"]
    kid = jwks[0]["kid"]
    me = register(gateway, new_email())
    user_id = me["user"]["id"]
    # Baseline: a token forged with the real key and correct claims is accepted, so each bad
    # token below fails for its one defect only.
    baseline = gateway.get("/api/v1/auth/me", headers=bearer(forge(signing_key, kid, sub=user_id)))
    assert baseline.status_code == 200

    good = me["access_token"]
    head, body, sig = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    tampered = f"{head}.{b64(json.dumps({**claims, 'sub': str(uuid4())}).encode())}.{sig}"
    none_header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    none_alg = f"{none_header}.{body}."
    hs_input = f"{b64(json.dumps({'alg': 'HS256', 'kid': kid}).encode())}.{body}"
    hs256 = f"{hs_input}.{b64(hmac.new(jwks[0]['x'].encode(), hs_input.encode(), sha256).digest())}"
    past = int(time.time()) - 3600
    bad_tokens = {
        "expired": forge(signing_key, kid, sub=user_id, iat=past - 600, exp=past),
        "tampered": tampered,
        "wrong audience": forge(signing_key, kid, sub=user_id, aud="another-api"),
        "wrong issuer": forge(signing_key, kid, sub=user_id, iss="evil"),
        "alg none": none_alg,
        "hs256 with public key": hs256,
        "unknown key": forge(Ed25519PrivateKey.generate(), "not-a-key", sub=user_id),
    }
    for name, token in bad_tokens.items():
        response = gateway.get("/api/v1/auth/me", headers=bearer(token))
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith("Bearer"), name
    assert gateway.get("/api/v1/auth/me").status_code == 401
    assert gateway.get("/api/v1/auth/me", headers=bearer(good)).status_code == 200


def test_refresh_rotates_and_replay_revokes_the_family(gateway: httpx.Client) -> None:
    first = register(gateway, new_email())["refresh_token"]
    rotated = gateway.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert rotated.status_code == 200
    second = rotated.json()["refresh_token"]
    assert second != first
    assert gateway.get("/api/v1/auth/me", headers=bearer(rotated.json()["access_token"])).is_success

    replay = gateway.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert replay.status_code == 401
    # The replay revoked the whole family, so the legitimate newer token is dead too.
    assert gateway.post("/api/v1/auth/refresh", json={"refresh_token": second}).status_code == 401


def test_logout_revokes_the_refresh_token(gateway: httpx.Client) -> None:
    token = register(gateway, new_email())["refresh_token"]
    assert gateway.post("/api/v1/auth/logout", json={"refresh_token": token}).status_code == 204
    assert gateway.post("/api/v1/auth/refresh", json={"refresh_token": token}).status_code == 401


def test_repeated_failures_from_one_address_are_throttled_with_retry_after(
    gateway: httpx.Client,
) -> None:
    email = new_email()
    register(gateway, email)
    attempt = {"email": email, "password": "not the password"}
    codes = [gateway.post("/api/v1/auth/login", json=attempt).status_code for _ in range(5)]
    assert codes == [401] * 5  # GATEWAY_RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS: 5/15 min
    throttled = gateway.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert_rate_limited(throttled, "login_failures_per_account_address")
    assert int(throttled.headers["retry-after"]) <= 15 * 60


def test_login_answers_503_while_auth_is_down_and_the_gateway_stays_up(
    stack: Stack, gateway: httpx.Client
) -> None:
    email = new_email()
    register(gateway, email)
    auth = stack.processes["auth"]
    auth.kill()
    try:
        started = time.monotonic()
        response = gateway.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert elapsed < 3 + 2  # GATEWAY_RPC_TIMEOUT_S in E2E_ENV, plus request overhead
        assert gateway.get("/healthz").status_code == 200
    finally:
        auth.start()
    login = {"email": email, "password": PASSWORD}
    # Each poll from an address of its own: the per-address attempt limit is not what this tests.
    wait_for(
        lambda: (
            gateway.post("/api/v1/auth/login", json=login, headers=forwarded_for()).is_success
            or None
        ),
        60,
        "login works again after auth restarted",
    )
