"""Load test of the live job events: many WebSocket clients on one gateway while jobs run.

Starts its own stack (PostgreSQL, the Tansu broker, the five services; or uses ``--gateway URL``
of a running one), registers ``--users`` users, each uploading a synthetic 1-minute dataset, and
opens ``--clients`` sockets on ``/api/v1/ws`` spread evenly over the users (every socket of a user
receives every event of that user's jobs). Then each user submits ``--jobs`` backtests at once.
Each client answers pings and records every event with its receipt time.

Prints the delivery latency, from the engine creating the event (``occurred_at``) to the client
receiving it, as p50 / p99 / max for progress and for final events, how many events were
delivered, and the number of lost final events: a (socket, job) pair whose socket never got the
job's ``completed`` / ``failed`` / ``cancelled``. That number must be 0.

When it starts its own stack, the engine is paced (``ENGINE_CHUNK_BARS=5000``,
``ENGINE_CHUNK_PAUSE_S=0.05``) so each job runs about a second and publishes progress; without
that a 100,000-bar backtest ends in ~0.1 s and only final events would be measured.

Run: ``uv run python bench/ws_load.py [--clients 1000] [--users 10] [--jobs 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import resource
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

FINAL = {"completed", "failed", "cancelled"}
PACING = {"ENGINE_CHUNK_BARS": "5000", "ENGINE_CHUNK_PAUSE_S": "0.05"}


def raise_open_files_limit() -> int:
    """Lift the soft limit on open files to the hard one (1,000 sockets need more than 1,024
    descriptors with everything else); children started afterwards inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def dataset_csv(bars: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, bars)))
    open_ = np.concatenate(([100.0], close[:-1]))
    times = np.datetime64("2024-01-02T00:00") + np.arange(bars).astype("timedelta64[m]")
    out = io.StringIO()
    out.write("timestamp,open,high,low,close,volume\n")
    for t, o, c in zip(times, open_, close, strict=True):
        out.write(f"{t}Z,{o:.5f},{max(o, c) * 1.0003:.5f},{min(o, c) * 0.9997:.5f},{c:.5f},100\n")
    return out.getvalue().encode()


@dataclass
class Received:
    """What one client saw."""

    user: int
    events: list[tuple[str, str, int, float]] = field(default_factory=list)
    """(run_id, type, sequence, latency in seconds)"""
    closed_early: bool = False
    close: str = ""


@dataclass
class User:
    token: str
    dataset_id: str = ""
    run_ids: list[str] = field(default_factory=list)


async def register_user(http: httpx.AsyncClient, index: int) -> User:
    email = f"load-{index}-{uuid.uuid4().hex[:6]}@example.com"
    response = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": "load test password"}
    )
    response.raise_for_status()
    return User(token=response.json()["access_token"])


async def upload(http: httpx.AsyncClient, user: User, csv: bytes) -> None:
    headers = {"Authorization": f"Bearer {user.token}"}
    response = await http.post(
        "/api/v1/datasets", headers=headers, files={"file": ("bars.csv", csv, "text/csv")}
    )
    response.raise_for_status()
    dataset_id = response.json()["id"]
    for _ in range(600):
        status = (await http.get(f"/api/v1/datasets/{dataset_id}", headers=headers)).json()
        if status["status"] == "ready":
            user.dataset_id = dataset_id
            return
        if status["status"] == "failed":
            raise RuntimeError(status)
        await asyncio.sleep(0.2)
    raise TimeoutError("dataset not ingested")


async def submit(http: httpx.AsyncClient, user: User, fast: int) -> None:
    body = {
        "dataset_id": user.dataset_id,
        "strategy": "sma_cross",
        "parameters": {"fast": fast, "slow": 120},
    }
    headers = {"Authorization": f"Bearer {user.token}"}
    for _ in range(5):  # a busy engine answers 503 with Retry-After: retry like a client would
        response = await http.post("/api/v1/backtests", headers=headers, json=body)
        if response.status_code != httpx.codes.SERVICE_UNAVAILABLE:
            break
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
    response.raise_for_status()
    user.run_ids.append(response.json()["id"])


async def open_client(url: str, token: str) -> ClientConnection:
    protocols = [Subprotocol("tradelab.v1"), Subprotocol(f"bearer.{token}")]
    socket = await connect(url, subprotocols=protocols, open_timeout=60, max_queue=None)
    ready = json.loads(await socket.recv())
    if ready["type"] != "ready":
        raise RuntimeError(ready)
    return socket


async def listen(socket: ClientConnection, received: Received, stop: asyncio.Event) -> None:
    """Record every job event until ``stop``; answer pings."""
    try:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(socket.recv(), 0.5)
            except TimeoutError:
                continue
            now = time.time()
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "ping":
                await socket.send('{"type":"pong"}')
            elif "run_id" in message and "occurred_at" in message:
                sent = datetime.fromisoformat(message["occurred_at"]).timestamp()
                received.events.append((message["run_id"], kind, message["sequence"], now - sent))
    except ConnectionClosed as closed:
        received.closed_early = True
        got = closed.rcvd
        received.close = f"{got.code} {got.reason}" if got else "no close frame"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run(gateway: str, clients: int, users: int, jobs: int, bars: int) -> int:
    ws_url = gateway.replace("http://", "ws://", 1) + "/api/v1/ws"
    # Idle connections are dropped after 2 s, before uvicorn closes them (5 s): reusing one the
    # server is closing fails the request with ReadError (it did, after the socket burst).
    limits = httpx.Limits(keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=gateway, timeout=120, limits=limits) as http:
        started = time.monotonic()
        people = [await register_user(http, i) for i in range(users)]
        csv = dataset_csv(bars, seed=1)
        await asyncio.gather(*(upload(http, u, csv) for u in people))
        print(
            f"{users} users registered, {bars:,}-bar datasets ready in "
            f"{time.monotonic() - started:.1f} s",
            flush=True,
        )

        started = time.monotonic()
        sockets: list[tuple[int, ClientConnection]] = []
        for batch in range(0, clients, 100):  # open in batches: a gentle ramp, not a SYN flood
            opened = await asyncio.gather(
                *(
                    open_client(ws_url, people[i % users].token)
                    for i in range(batch, min(batch + 100, clients))
                )
            )
            sockets.extend((batch + k, s) for k, s in enumerate(opened))
        print(f"{len(sockets)} sockets open in {time.monotonic() - started:.1f} s", flush=True)

        stop = asyncio.Event()
        seen = [Received(user=i % users) for i, _ in sockets]
        listeners = [
            asyncio.create_task(listen(s, r, stop)) for (_, s), r in zip(sockets, seen, strict=True)
        ]
        await asyncio.sleep(1)
        started = time.monotonic()
        await asyncio.gather(*(submit(http, u, 5 + j) for u in people for j in range(jobs)))
        expected = {(i, run_id) for i, r in enumerate(seen) for run_id in people[r.user].run_ids}

        def finals() -> set[tuple[int, str]]:
            return {(i, e[0]) for i, r in enumerate(seen) for e in r.events if e[1] in FINAL}

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not expected <= finals():  # noqa: ASYNC110 (polls derived state)
            await asyncio.sleep(0.5)
        elapsed = time.monotonic() - started
        await asyncio.sleep(1)  # late duplicates, if any, would show now
        stop.set()
        await asyncio.gather(*listeners)
        for _, socket in sockets:
            with contextlib.suppress(Exception):
                await socket.close()

    lost = len(expected - finals())
    progress = [e[3] for r in seen for e in r.events if e[1] == "progress"]
    final = [e[3] for r in seen for e in r.events if e[1] in FINAL]
    duplicates = sum(len(r.events) - len({(e[0], e[2]) for e in r.events}) for r in seen)
    print(
        f"{users * jobs} jobs ({jobs} per user) ran in {elapsed:.1f} s; "
        f"{len(progress) + len(final):,} events delivered to {len(sockets)} sockets"
    )
    print(f"{'kind':<10}{'count':>9}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, values in (("progress", progress), ("final", final)):
        if values:
            print(
                f"{name:<10}{len(values):>9,}{percentile(values, 0.5) * 1e3:>10.1f}"
                f"{percentile(values, 0.99) * 1e3:>10.1f}{max(values) * 1e3:>10.1f}"
            )
    print(f"lost final events: {lost} (of {len(expected):,} expected)")
    print(
        f"duplicate events: {duplicates}; sockets closed early: {sum(r.closed_early for r in seen)}"
    )
    reasons = Counter(r.close for r in seen if r.closed_early)
    if reasons:
        print(f"close codes of sockets closed early: {dict(reasons.most_common(5))}")
    if progress:
        print(
            f"progress events per socket and job: "
            f"{statistics.mean([len(progress) / max(1, len(expected))]):.2f}"
        )
    return 1 if lost else 0


@contextlib.contextmanager
def own_stack() -> Iterator[str]:
    """Start the whole stack with a paced engine; yield the gateway URL."""
    from tradelab_devstack.ports import free_port
    from tradelab_devstack.stack import running_stack

    os.environ.update(PACING)
    os.environ.setdefault("TRADELAB_STATE_DIR", os.path.join(os.getcwd(), ".tradelab", "ws-load"))
    ports = {name: free_port() for name in ("gateway", "auth", "datasets", "engine", "analytics")}
    with running_stack(database=f"ws_load_{uuid.uuid4().hex[:6]}", ports=ports) as (_, stack):
        yield stack.gateway_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=3, help="backtests per user")
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--gateway", help="use this running gateway instead of a new stack")
    args = parser.parse_args()
    limit = raise_open_files_limit()
    print(f"open files limit {limit}; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    if args.gateway:
        code = asyncio.run(run(args.gateway, args.clients, args.users, args.jobs, args.bars))
    else:
        with own_stack() as gateway:
            code = asyncio.run(run(gateway, args.clients, args.users, args.jobs, args.bars))
    sys.exit(code)


if __name__ == "__main__":
    main()
