"""Fair scheduling: user B's one backtest with and without user A's backlog of 200.

It starts a throwaway PostgreSQL cluster, a Tansu broker and the five services (one engine
replica, so one backtest runs at a time) on free ports, registers users A and B and uploads a
seeded random walk of ``--bars`` one-minute bars for each (a seed each: no run of B's is
answered from the result cache with one of A's). Every backtest is ``sma_cross`` with
parameters of its own (so none is answered from the result cache).

1. Warm-up: one backtest of B's.
2. Alone: B submits one backtest, ``--repeat`` times; B's wait is the time from the POST
   (answered 202) to the ``completed`` status on the client (polling the gateway every 50 ms).
3. Behind a backlog: A submits ``--backlog`` backtests (200, eight at a time), then B submits
   one; B's wait as above, how many of A's were still waiting when B's completed, and how many
   of A's started between B's submission and B's start. A's backlog is then drained.

The job duration is the median of A's runs' own ``started_at`` -> ``finished_at``. Printed: B's
wait alone and behind the backlog (best and median), the ratio, the wait behind the backlog in
job durations, and what first-in-first-out would have made B wait (the backlog's drain time).

Run: ``TRADELAB_STATE_DIR=/tmp/bench-fairness uv run python bench/fairness.py
[--bars 500000] [--backlog 200] [--repeat 2]`` (``make bench-fairness``).
"""

import argparse
import secrets
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
from minute_bars import minute_bars_csv

from tradelab_devstack.stack import throwaway_stack

PASSWORD = "bench password 1234"  # noqa: S105 - a throwaway account on a throwaway stack
READY_S = 600  # the JIT takes over a minute when the numba cache is empty
DONE = {"completed", "failed", "cancelled"}
SUBMITTERS = 8
"""A's backlog is submitted this many at a time, so it is queued before the engine drains it."""


class User:
    """A registered user's client on the gateway, with a dataset of their own."""

    def __init__(self, base_url: str, bars: int, seed: int) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=60)
        email = f"bench-{secrets.token_hex(4)}@example.com"
        registered = self.client.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
        )
        registered.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {registered.json()['access_token']}"
        files = {"file": ("minutes.csv", minute_bars_csv(bars, seed), "text/csv")}
        created = self.client.post("/api/v1/datasets", files=files)
        created.raise_for_status()
        self.dataset_id: str = created.json()["id"]
        self.get(f"/api/v1/datasets/{self.dataset_id}", {"ready"}, 300)
        self.submitted = 0
        self.lock = threading.Lock()

    def get(self, url: str, done: set[str], deadline_s: float) -> dict[str, Any]:
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
            time.sleep(0.05)
        msg = f"{url} not finished after {deadline_s:.0f} s"
        raise TimeoutError(msg)

    def submit(self) -> str:
        """Submit a backtest with parameters no earlier one of this user had; return its id."""
        with self.lock:
            n = self.submitted
            self.submitted += 1
        body = {
            "dataset_id": self.dataset_id,
            "strategy": "sma_cross",
            "parameters": {"fast": 2 + n % 20, "slow": 30 + n // 20},
        }
        created = self.client.post("/api/v1/backtests", json=body)
        if created.status_code != httpx.codes.ACCEPTED:
            sys.exit(f"submission refused: {created.status_code} {created.text}")
        run_id: str = created.json()["id"]
        return run_id

    def wait(self, run_id: str) -> dict[str, Any]:
        """Wait for a run to end; exit unless it completed."""
        run = self.get(f"/api/v1/backtests/{run_id}", DONE, 3600)
        if run["status"] != "completed":
            sys.exit(f"backtest ended {run['status']}: {run.get('failure_message')}")
        return run

    def timed(self) -> tuple[float, dict[str, Any]]:
        """Submit one backtest and wait for it; return the wait (POST -> completed seen) and the
        run."""
        start = time.perf_counter()
        run = self.wait(self.submit())
        return time.perf_counter() - start, run

    def still_waiting(self, run_ids: list[str]) -> int:
        """How many of ``run_ids`` are not finished."""
        return sum(
            self.client.get(f"/api/v1/backtests/{i}").json()["status"] not in DONE for i in run_ids
        )


def at(timestamp: str) -> datetime:
    """An ISO timestamp of the API."""
    return datetime.fromisoformat(timestamp)


def seconds(run: dict[str, Any]) -> float:
    """A run's own duration, ``started_at`` -> ``finished_at``."""
    return (at(run["finished_at"]) - at(run["started_at"])).total_seconds()


def bench(base_url: str, args: argparse.Namespace) -> None:
    """Measure B's wait alone and behind A's backlog; print the figures."""
    # Bars of their own (another seed), so no run of B's is answered from a result of A's.
    a, b = User(base_url, args.bars, seed=11), User(base_url, args.bars, seed=12)
    b.timed()  # warm-up
    alone = [b.timed()[0] for _ in range(args.repeat)]
    print(f"B alone: {', '.join(f'{s:.3f}' for s in alone)} s", flush=True)
    behind, left = [], []
    durations: list[float] = []
    drains: list[float] = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        with ThreadPoolExecutor(SUBMITTERS) as pool:
            backlog = list(pool.map(lambda _: a.submit(), range(args.backlog)))
        submitted = time.perf_counter() - started
        wait, mine = b.timed()
        behind.append(wait)
        left.append(a.still_waiting(backlog))
        runs = [a.wait(i) for i in backlog]
        drains.append(time.perf_counter() - started)
        durations.extend(seconds(r) for r in runs)
        submitted_b, started_b = at(mine["created_at"]), at(mine["started_at"])
        ahead = sum(submitted_b <= at(r["started_at"]) < started_b for r in runs)
        print(
            f"B behind {args.backlog}: {wait:.3f} s ({left[-1]} of A's still waiting then;"
            f" {ahead} of A's started between B's submission and B's start; A's submitted in"
            f" {submitted:.1f} s, drained in {drains[-1]:.1f} s)",
            flush=True,
        )
    report(args, alone, behind, left, statistics.median(durations), statistics.median(drains))


def report(
    args: argparse.Namespace,
    alone: list[float],
    behind: list[float],
    left: list[int],
    job_s: float,
    drain_s: float,
) -> None:
    """Print the summary figures."""
    alone_m, behind_m = statistics.median(alone), statistics.median(behind)
    print(f"\njob duration (median of A's runs, started -> finished): {job_s:.3f} s")
    print(f"B's wait alone:           best {min(alone):.3f} s, median {alone_m:.3f} s")
    print(f"B's wait behind {args.backlog}:      best {min(behind):.3f} s, median {behind_m:.3f} s")
    print(f"ratio behind / alone (medians): {behind_m / alone_m:.2f}x")
    print(f"B's wait behind the backlog in job durations: {behind_m / job_s:.1f}")
    print(f"A's runs still waiting when B's completed: {', '.join(map(str, left))}")
    print(f"first-in-first-out would make B wait about A's drain time: {drain_s:.1f} s")


def main() -> None:
    """Parse arguments, start the stack, run the benchmark, stop everything."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bars", type=int, default=500_000, help="one-minute bars (500,000)")
    parser.add_argument("--backlog", type=int, default=200, help="A's queued backtests (200)")
    parser.add_argument("--repeat", type=int, default=2, help="measurements of each case (2)")
    args = parser.parse_args()
    print(f"command: {' '.join(sys.argv)}")
    env = {
        "NUMBA_NUM_THREADS": "1",
        # A's backlog is larger than the defaults let one user hold or submit in a minute
        # (ENGINE_QUOTA_BACKTESTS 50, GATEWAY_RATE_LIMIT_JOBS_PER_USER 60/minute): lifted, since
        # fairness must hold for whatever backlog an operator allows.
        "ENGINE_QUOTA_BACKTESTS": str(max(50, 2 * args.backlog)),
        "GATEWAY_RATE_LIMIT_JOBS_PER_USER": f"{max(60, 4 * args.backlog)}/minute",
        "GATEWAY_RATE_LIMIT_REGISTRATION_PER_ADDRESS": "1000/minute",  # two users per case
    }
    with throwaway_stack("fairness", env, ready_deadline_s=READY_S) as (_, stack):
        bench(stack.gateway_url, args)


if __name__ == "__main__":
    main()
