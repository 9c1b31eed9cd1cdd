"""Login latency through the gateway and argon2id hashing time, on a live local stack.

Run: ``uv run python bench/auth.py [--logins 200] [--clients 8]``. It starts PostgreSQL (the local
server, or a throwaway cluster), a Tansu broker and the five services on free ports, registers a
user, then measures ``POST /api/v1/auth/login`` end to end (gateway -> Kafka -> auth -> argon2id
verify -> PostgreSQL -> Kafka -> gateway), first one request at a time, then from several clients
at once. The argon2id figures use the auth service's default parameters.
"""

import argparse
import asyncio
import secrets
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tradelab_auth.domain.hashing import HashingParams, PasswordHashing
from tradelab_auth.settings import AuthSettings
from tradelab_contracts.topics import ALL_TOPICS
from tradelab_devstack.kafka import kafka_broker
from tradelab_devstack.ports import free_port
from tradelab_devstack.postgres import create_database, drop_database, postgres_server
from tradelab_devstack.redis import redis_server
from tradelab_devstack.services import SERVICES
from tradelab_devstack.stack import create_topics, running_services

PASSWORD = "bench password 1234"  # noqa: S105 - a throwaway account on a throwaway stack


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def argon2_times(rounds: int = 20) -> tuple[float, float]:
    """Median seconds to hash and to verify with the auth service's default parameters."""
    defaults = AuthSettings()
    hashing = PasswordHashing(
        HashingParams(
            time_cost=defaults.argon2_time_cost,
            memory_cost=defaults.argon2_memory_cost,
            parallelism=defaults.argon2_parallelism,
        )
    )
    hashes, verifies, stored = [], [], hashing.hash(PASSWORD)
    for _ in range(rounds):
        start = time.perf_counter()
        hashing.hash(PASSWORD)
        hashes.append(time.perf_counter() - start)
        start = time.perf_counter()
        hashing.verify(stored, PASSWORD)
        verifies.append(time.perf_counter() - start)
    return statistics.median(hashes), statistics.median(verifies)


def timed_logins(base: str, email: str, count: int) -> list[float]:
    """Log in ``count`` times on one connection; return each latency in seconds."""
    latencies = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(count):
            start = time.perf_counter()
            response = client.post(
                "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
            )
            latencies.append(time.perf_counter() - start)
            response.raise_for_status()
    return latencies


def timed_requests(base: str, path: str, headers: dict[str, str], count: int) -> list[float]:
    """GET ``path`` ``count`` times; return each latency in seconds."""
    latencies = []
    with httpx.Client(base_url=base, timeout=30, headers=headers) as client:
        for _ in range(count):
            start = time.perf_counter()
            client.get(path).raise_for_status()
            latencies.append(time.perf_counter() - start)
    return latencies


def report(label: str, latencies: list[float], wall_s: float) -> None:
    """Print one row of the latency table."""
    print(
        f"{label:<28} {len(latencies):>6} {percentile(latencies, 0.5) * 1e3:>9.1f} "
        f"{percentile(latencies, 0.99) * 1e3:>9.1f} {len(latencies) / wall_s:>10.1f}"
    )


def run(logins: int, clients: int) -> None:
    """Start the stack, measure, stop it."""
    hash_s, verify_s = argon2_times()
    print(
        f"argon2id (t=3, m=64 MiB, p=1): hash {hash_s * 1e3:.1f} ms, verify {verify_s * 1e3:.1f} ms"
    )
    database = f"bench_{secrets.token_hex(4)}"
    with (
        postgres_server(allow_docker=False, prefer_local=True, cluster_name="postgres-bench") as pg,
        kafka_broker(allow_docker=False) as kafka,
        redis_server() as redis,
    ):
        asyncio.run(create_database(pg, database))
        asyncio.run(create_topics(kafka.bootstrap, ALL_TOPICS))
        ports = {name: free_port() for name in SERVICES}
        # Every login comes from 127.0.0.1: the per-address login limit would stop the bench.
        env = {
            "GATEWAY_RATE_LIMIT_LOGIN_PER_ADDRESS": "1000000/minute",
            "GATEWAY_RATE_LIMIT_PREFIX": database,
        }
        try:
            with running_services(
                pg.sqlalchemy_url(database),
                kafka.bootstrap,
                ports=ports,
                extra_env=env,
                redis_url=redis.url,
            ) as stack:
                measure(stack.gateway_url, logins, clients)
        finally:
            asyncio.run(drop_database(pg, database))


def measure(base: str, logins: int, clients: int) -> None:
    """Register a user, warm up, then time sequential and concurrent logins."""
    email = f"bench-{secrets.token_hex(4)}@example.com"
    httpx.post(
        f"{base}/api/v1/auth/register", json={"email": email, "password": PASSWORD}, timeout=30
    ).raise_for_status()
    timed_logins(base, email, 5)  # warm-up: connections, the gateway's key cache
    print(f"\n{'request':<28} {'n':>6} {'p50 ms':>9} {'p99 ms':>9} {'per s':>10}")
    start = time.perf_counter()
    sequential = timed_logins(base, email, logins)
    report("login, 1 client", sequential, time.perf_counter() - start)
    per_client = max(1, logins // clients)
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        batches = list(pool.map(lambda _: timed_logins(base, email, per_client), range(clients)))
    wall = time.perf_counter() - start
    report(f"login, {clients} clients", [x for b in batches for x in b], wall)
    token = httpx.post(
        f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
    ).json()["access_token"]
    start = time.perf_counter()
    me = timed_requests(base, "/api/v1/auth/me", {"Authorization": f"Bearer {token}"}, logins)
    report("GET /auth/me (no argon2)", me, time.perf_counter() - start)


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    run(args.logins, args.clients)


if __name__ == "__main__":
    main()
