"""One grid optimisation on one engine replica, then on two: wall time, speed-up, chunks per worker.

It starts a throwaway PostgreSQL cluster, a Tansu broker and the five services on free ports,
registers a user and uploads a seeded random walk of ``--bars`` one-minute bars. The grid is
``sma_cross``, fast 5..50 step 1 by slow 20..200 step 5 with fast < slow (1,590 combinations),
objective Sharpe, split into chunks of ``--chunk-size`` combinations (the unit the replicas of
the ``engine-chunks`` consumer group share). Every engine runs with ``NUMBA_NUM_THREADS=1``, so
one replica is one process on one core and two replicas are two processes.

Order: a small warm-up optimisation, ``--repeat`` submissions of the grid on one replica; then a
second replica (``engine-b``) is started, given a few seconds to join the group, warmed up and
the grid submitted ``--repeat`` times again. Each submission is timed from the POST (answered
202) to the ``completed`` status on the client (polling the gateway) and by the optimisation's own
``created_at``/``finished_at``; ``started_at`` is when the first chunk was stored. The best of
each configuration is compared. The chunks each worker stored come from
``engine.optimization_chunks``.

Run: ``TRADELAB_STATE_DIR=/tmp/bench-replicas uv run python bench/replicas.py
[--bars 100000] [--repeat 2] [--chunk-size 50] [--quick]`` (``--quick``: 20,000 bars and a
small grid, a smoke run).
"""

import argparse
import asyncio
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import httpx
from minute_bars import minute_bars_csv

from tradelab_devstack.ports import free_port
from tradelab_devstack.services import ServiceProcess, wait_until_ready
from tradelab_devstack.stack import Stack, throwaway_stack

PASSWORD = "bench password 1234"  # noqa: S105 - a throwaway account on a throwaway stack
READY_S = 600  # the JIT takes over a minute when the numba cache is empty
SETTLE_S = 8.0  # the e2e test waits 6 s for a new replica to join the chunk group
GRID = {"fast": {"start": 5, "stop": 50, "step": 1}, "slow": {"start": 20, "stop": 200, "step": 5}}
QUICK_GRID = {
    "fast": {"start": 5, "stop": 25, "step": 1},
    "slow": {"start": 30, "stop": 90, "step": 10},
}
WARM_UP_GRID = {
    "fast": {"start": 5, "stop": 9, "step": 1},
    "slow": {"start": 30, "stop": 40, "step": 10},
}


HEADER = (
    f"{'replicas':>8} {'combos':>7} {'chunks':>6} {'wall s':>8} {'server s':>9} {'stored s':>9}"
    f" {'combos/s':>9}  chunks per worker"
)


@dataclass(frozen=True)
class Run:
    """One completed optimisation."""

    replicas: int
    total: int
    chunks: int
    wall_s: float
    server_s: float  # created_at -> finished_at
    stored_s: float  # started_at (first chunk stored) -> finished_at
    workers: dict[str, int]


class Gateway:
    """A registered user's client on the gateway."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        email = f"bench-{secrets.token_hex(4)}@example.com"
        registered = self.client.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
        )
        registered.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {registered.json()['access_token']}"

    def poll(self, url: str, done: set[str], deadline_s: float, every_s: float) -> dict[str, Any]:
        """GET ``url`` until its status is in ``done`` (503s while busy are tolerated)."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            response = self.client.get(url)
            if response.status_code == httpx.codes.OK:
                body: dict[str, Any] = response.json()
                if body["status"] in done:
                    return body
            elif response.status_code != httpx.codes.SERVICE_UNAVAILABLE:
                response.raise_for_status()
            time.sleep(every_s)
        msg = f"{url} not finished after {deadline_s:.0f} s"
        raise TimeoutError(msg)

    def upload(self, content: bytes) -> str:
        """Upload a CSV and wait until it is ingested; return the dataset id."""
        files = {"file": ("minutes.csv", content, "text/csv")}
        created = self.client.post("/api/v1/datasets", files=files)
        created.raise_for_status()
        dataset_id: str = created.json()["id"]
        self.poll(f"/api/v1/datasets/{dataset_id}", {"ready"}, 300, 0.5)
        return dataset_id

    def optimise(self, dataset_id: str, grid: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """Submit a grid and wait for it; return the finished optimisation and the wall time."""
        body = {
            "dataset_id": dataset_id,
            "strategy": "sma_cross",
            "parameter_space": grid,
            "constraints": [{"left": "fast", "op": "<", "right": "slow"}],
            "objective": {"metric": "sharpe", "direction": "maximize"},
        }
        start = time.perf_counter()
        created = self.client.post("/api/v1/optimizations", json=body)
        if created.status_code != httpx.codes.ACCEPTED:
            sys.exit(f"submission refused: {created.status_code} {created.text}")
        url = f"/api/v1/optimizations/{created.json()['id']}"
        done = self.poll(url, {"completed", "failed", "cancelled"}, 1800, 0.1)
        wall = time.perf_counter() - start
        if done["status"] != "completed":
            sys.exit(f"optimisation ended {done['status']}: {done['failure_message']}")
        return done, wall


async def chunk_workers(dsn: str, optimization_id: str) -> dict[str, int]:
    """Chunks each engine worker stored for the optimisation."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT worker, count(*) FROM engine.optimization_chunks "
            "WHERE optimization_id = $1 AND done GROUP BY worker ORDER BY worker",
            optimization_id,
        )
    finally:
        await conn.close()
    return {str(r[0]): int(r[1]) for r in rows}


def seconds(a: str | None, b: str | None) -> float:
    """Seconds between two ISO timestamps (NaN when one is missing)."""
    if a is None or b is None:
        return float("nan")
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


def measure(
    gateway: Gateway, dsn: str, dataset_id: str, grid: dict[str, Any], replicas: int, repeat: int
) -> list[Run]:
    """Warm up, then submit the grid ``repeat`` times; print a row per run."""
    gateway.optimise(dataset_id, WARM_UP_GRID)
    runs = []
    for _ in range(repeat):
        done, wall = gateway.optimise(dataset_id, grid)
        run = Run(
            replicas,
            done["total"],
            done["chunks"],
            wall,
            seconds(done["created_at"], done["finished_at"]),
            seconds(done["started_at"], done["finished_at"]),
            asyncio.run(chunk_workers(dsn, done["id"])),
        )
        runs.append(run)
        workers = ", ".join(f"{w}: {n}" for w, n in run.workers.items())
        print(
            f"{replicas:>8} {run.total:>7} {run.chunks:>6} {run.wall_s:>8.2f} {run.server_s:>9.2f}"
            f" {run.stored_s:>9.2f} {run.total / run.wall_s:>9.1f}  {workers}",
            flush=True,
        )
    return runs


def compare(one: Run, two: Run) -> None:
    """Print the best of each configuration and the speed-up."""
    print("\nbest of each (client wall time, POST -> completed; server: created -> finished)")
    for run in (one, two):
        print(
            f"  {run.replicas} replica(s): {run.wall_s:.2f} s wall ({run.total / run.wall_s:,.1f}"
            f" combinations/s), {run.server_s:.2f} s server ({run.total / run.server_s:,.1f}/s)"
        )
    wall, server = one.wall_s / two.wall_s, one.server_s / two.server_s
    print(f"  speed-up one/two: {wall:.2f}x wall, {server:.2f}x server")
    if len(two.workers) < 2:
        print("  WARNING: one worker stored every chunk; the second replica took no part")


def bench(stack: Stack, dsn: str, args: argparse.Namespace) -> None:
    """Run the benchmark on a running stack through one gateway client."""
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        measure_both(stack, dsn, Gateway(client), args)


def measure_both(stack: Stack, dsn: str, gateway: Gateway, args: argparse.Namespace) -> None:
    """Upload the bars, measure one replica, start a second, measure again, stop it."""
    grid = QUICK_GRID if args.quick else GRID
    started = time.perf_counter()
    dataset_id = gateway.upload(minute_bars_csv(args.bars, seed=11))
    print(f"{args.bars:,} bars uploaded and ingested in {time.perf_counter() - started:.1f} s")
    print(f"\n{HEADER}")
    one = measure(gateway, dsn, dataset_id, grid, 1, args.repeat)
    first = stack.processes["engine"]
    second = ServiceProcess("engine", free_port(), first.env, instance="b")
    second.start()
    try:
        wait_until_ready([second], READY_S)
        time.sleep(SETTLE_S)  # both replicas in the chunk group before the chunks are published
        two = measure(gateway, dsn, dataset_id, grid, 2, args.repeat)
    finally:
        second.stop()
    compare(min(one, key=lambda r: r.wall_s), min(two, key=lambda r: r.wall_s))


def main() -> None:
    """Parse arguments, start the stack, run the benchmark, stop everything."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bars", type=int, default=None, help="one-minute bars (100,000)")
    parser.add_argument("--repeat", type=int, default=2, help="submissions per configuration")
    parser.add_argument("--chunk-size", type=int, default=None, help="combinations per chunk (50)")
    parser.add_argument(
        "--quick", action="store_true", help="20,000 bars, small grid, chunks of 20"
    )
    args = parser.parse_args()
    args.bars = args.bars or (20_000 if args.quick else 100_000)
    chunk_size = args.chunk_size or (20 if args.quick else 50)
    print(f"command: {' '.join(sys.argv)}")
    env = {
        "NUMBA_NUM_THREADS": "1",  # one core per replica for the kernel
        "ENGINE_OPTIMIZATION_CHUNK_SIZE": str(chunk_size),
        "GATEWAY_MAX_UPLOAD_BYTES": str(max(500 * 1024 * 1024, 100 * args.bars)),
    }
    with throwaway_stack("replicas", env, ready_deadline_s=READY_S) as (dsn, stack):
        bench(stack, dsn, args)


if __name__ == "__main__":
    main()
