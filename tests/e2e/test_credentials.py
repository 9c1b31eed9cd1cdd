"""Credentials on the bus and signing-key removal, against the running stack.

The raw records of the auth request topic and of the gateway's reply topic are read while a user
registers, logs in, refreshes and logs out: neither the password nor any issued token appears in
them. A signing key removed from ``AUTH_SIGNING_KEYS`` stops verifying at the gateway within its
key-cache TTL (``GATEWAY_JWKS_TTL_S``, short in the e2e stack).
"""

import asyncio
import base64
import secrets
from collections.abc import Iterator

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from tests.e2e.test_auth import bearer, forge
from tests.polling import wait_for
from tradelab_contracts.topics import AUTH_REQUESTS, SHORT_RETENTION_MS, is_reply_topic
from tradelab_devstack.services import ServiceProcess, wait_until_ready
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e
PASSWORD = f"correct horse {secrets.token_hex(8)}"


async def _bus_partitions(bootstrap: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t == AUTH_REQUESTS or is_reply_topic(t)]
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    return [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]


async def _end_offsets(
    bootstrap: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return ends
    finally:
        await consumer.stop()


async def _raw_records(
    bootstrap: str, start: dict[TopicPartition, int], end: dict[TopicPartition, int]
) -> list[bytes]:
    """Every record between ``start`` and ``end``: key, value and headers, as raw bytes."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    raw: list[bytes] = []
    try:
        wanted = [tp for tp in end if end[tp] > start.get(tp, 0)]
        consumer.assign(wanted)
        for tp in wanted:
            consumer.seek(tp, start.get(tp, 0))
        async with asyncio.timeout(30):
            while [tp for tp in wanted if await consumer.position(tp) < end[tp]]:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for r in records:
                        if r.offset < end[TopicPartition(r.topic, r.partition)]:
                            headers = b"".join(k.encode() + v for k, v in r.headers)
                            raw.append((r.key or b"") + (r.value or b"") + headers)
    finally:
        await consumer.stop()
    return raw


def _session(gateway: httpx.Client) -> list[str]:
    """Register, log in, refresh and log out one user; return every secret that was used."""
    email = f"sealed-{secrets.token_hex(4)}@example.com"
    credentials = {"email": email, "password": PASSWORD}
    registered = gateway.post("/api/v1/auth/register", json=credentials)
    assert registered.status_code == 201, registered.text
    login = gateway.post("/api/v1/auth/login", json=credentials)
    assert login.status_code == 200, login.text
    refreshed = gateway.post(
        "/api/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    logout = gateway.post(
        "/api/v1/auth/logout", json={"refresh_token": refreshed.json()["refresh_token"]}
    )
    assert logout.status_code == 204
    issued = [registered.json(), login.json(), refreshed.json()]
    return [PASSWORD] + [t[k] for t in issued for k in ("access_token", "refresh_token")]


def test_passwords_and_tokens_never_cross_the_bus_in_clear(
    stack: Stack, gateway: httpx.Client
) -> None:
    bootstrap = stack.kafka_bootstrap
    partitions = asyncio.run(_bus_partitions(bootstrap))
    assert any(tp.topic == AUTH_REQUESTS for tp in partitions)
    assert any(is_reply_topic(tp.topic) for tp in partitions)
    before = asyncio.run(_end_offsets(bootstrap, partitions))
    used = _session(gateway)
    after = asyncio.run(_end_offsets(bootstrap, partitions))
    raw = asyncio.run(_raw_records(bootstrap, before, after))
    bus = b"\n".join(raw)
    assert len(raw) >= 8  # four requests and their four replies at least
    assert b'"ciphertext"' in bus  # the secrets did travel, sealed
    for secret in used:
        for form in (secret.encode(), base64.b64encode(secret.encode())):
            assert form not in bus


def test_auth_topics_are_created_with_short_retention(stack: Stack) -> None:
    async def retention() -> dict[str, str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
        await admin.start()
        try:
            [response] = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, AUTH_REQUESTS)]
            )
        finally:
            await admin.close()
        [resource] = response.resources
        return {entry[0]: entry[1] for entry in resource[4]}

    configs = asyncio.run(retention())
    assert configs["retention.ms"] == str(SHORT_RETENTION_MS)
    assert int(configs["segment.ms"]) <= SHORT_RETENTION_MS


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


def _restart(auth: ServiceProcess, signing_keys: str) -> None:
    auth.stop()
    auth.env = {**auth.env, "AUTH_SIGNING_KEYS": signing_keys}
    auth.start()
    wait_until_ready([auth], 120)


@pytest.fixture
def extra_key(stack: Stack, signing_key: Ed25519PrivateKey) -> Iterator[Ed25519PrivateKey]:
    """A second signing key published by auth (after the session's key, which still signs);
    auth runs with the session's key alone again when the test ends."""
    auth = stack.processes["auth"]
    extra = Ed25519PrivateKey.generate()
    _restart(auth, _pem(signing_key) + _pem(extra))
    try:
        yield extra
    finally:
        if auth.env["AUTH_SIGNING_KEYS"] != _pem(signing_key):
            _restart(auth, _pem(signing_key))


def _kid_of(gateway: httpx.Client, key: Ed25519PrivateKey) -> str | None:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    keys = gateway.get("/.well-known/jwks.json").json().get("keys", [])
    return next((k["kid"] for k in keys if k.get("x") == x), None)


def test_a_removed_signing_key_is_refused_after_the_gateway_cache_ttl(
    stack: Stack,
    gateway: httpx.Client,
    signing_key: Ed25519PrivateKey,
    extra_key: Ed25519PrivateKey,
) -> None:
    user = gateway.post(
        "/api/v1/auth/register",
        json={"email": f"rotate-{secrets.token_hex(4)}@example.com", "password": PASSWORD},
    ).json()["user"]["id"]
    # Generous deadlines: each wait also covers a restarted auth rejoining its consumer group,
    # which takes long on a loaded machine; the gateway's own part is GATEWAY_JWKS_TTL_S (2 s).
    kid = wait_for(lambda: _kid_of(gateway, extra_key), 180, "the extra key is published")
    current_kid = _kid_of(gateway, signing_key)
    assert current_kid is not None
    old_token, current_token = (
        forge(extra_key, kid, sub=user),
        forge(signing_key, current_kid, sub=user),
    )

    def me(token: str) -> int:
        return gateway.get("/api/v1/auth/me", headers=bearer(token)).status_code

    assert me(old_token) == 200
    _restart(stack.processes["auth"], _pem(signing_key))  # the extra key is removed
    wait_for(lambda: me(old_token) == 401 or None, 180, "the removed key is refused")
    assert me(current_token) == 200
