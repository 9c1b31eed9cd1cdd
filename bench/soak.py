"""Soak: mixed jobs for a while with random SIGKILLs of services; nothing may be lost.

It starts a throwaway PostgreSQL cluster, a Tansu broker and the five services plus a second
engine replica on free ports (short leases and sweeps, paced backtests so kills land mid-job),
registers a few users, uploads GOOG for each, then for ``--minutes`` submits backtests (with
random parameters and fees, some cancelled at once) and Monte Carlo studies, and every
``--kill-every`` seconds SIGKILLs a random engine, datasets or analytics process and starts it
again. At the end it stops submitting and waits up to ``--drain`` seconds for every job to end.

Printed: submitted / completed / failed (with reasons) / cancelled / lost per job kind, where
lost is a job still queued or running after the drain, or unknown to the engine; the number of
completed backtests without an analysis; the kills. The run fails (exit 1) if anything is lost.

Run: ``make soak`` (10 minutes) or ``uv run python bench/soak.py --minutes 2`` for a short one.
"""

import argparse
import random
import secrets
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import httpx

from tradelab_devstack.ports import free_port
from tradelab_devstack.services import ServiceProcess, wait_until_ready
from tradelab_devstack.stack import Stack, throwaway_stack

PASSWORD = "soak password 1234"  # noqa: S105 - a throwaway account on a throwaway stack
GOOG = files("backtesting.test") / "GOOG.csv"
READY_S = 600
FINAL = {"completed", "failed", "cancelled"}
ENV = {
    "ENGINE_CHUNK_BARS": "500",
    "ENGINE_CHUNK_PAUSE_S": "0.05",  # GOOG takes ~0.3 s: kills land mid-job
    "ENGINE_LEASE_S": "4",
    "ENGINE_SWEEP_INTERVAL_S": "1",
    "ENGINE_REDISPATCH_AFTER_S": "20",
    "RETRY_FIRST_DELAY_S": "0.2",
    # The soak measures loss under kills, not quotas or rate limits: a backlog that builds up
    # while the engines are down must not be refused.
    "ENGINE_QUOTA_BACKTESTS": "100000",
    "ENGINE_QUOTA_OPTIMIZATIONS": "10000",
    "ENGINE_QUOTA_MONTE_CARLO": "10000",
    "GATEWAY_RATE_LIMIT_JOBS_PER_USER": "100000/minute",
}
KILLABLE = ("engine", "engine-b", "datasets", "analytics")


@dataclass
class Tally:
    """Every job submitted, by kind and id, with its owner's token."""

    jobs: dict[str, dict[str, str]] = field(default_factory=lambda: {"backtests": {}, "mc": {}})
    kills: Counter[str] = field(default_factory=Counter)
    refused: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


def register(client: httpx.Client) -> str:
    email = f"soak-{secrets.token_hex(6)}@example.com"
    response = client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def upload(client: httpx.Client, token: str, deadline_s: float = 120) -> str:
    created = client.post(
        "/api/v1/datasets",
        headers=headers(token),
        files={"file": ("GOOG.csv", GOOG.read_bytes(), "text/csv")},
    )
    created.raise_for_status()
    dataset: str = created.json()["id"]
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if (
            client.get(f"/api/v1/datasets/{dataset}", headers=headers(token)).json().get("status")
            == "ready"
        ):
            return dataset
        time.sleep(0.5)
    msg = "dataset not ready"
    raise RuntimeError(msg)


def submit_one(
    client: httpx.Client, token: str, dataset: str, tally: Tally, rng: random.Random
) -> None:
    """A backtest (sometimes cancelled at once, sometimes resampled by a study)."""
    fast = rng.randint(3, 30)
    body = {
        "dataset_id": dataset,
        "strategy": "sma_cross",
        "parameters": {"fast": fast, "slow": fast + rng.randint(5, 60)},
        "options": {"fee_rate": rng.choice([0.0, 0.0005, 0.001])},
    }
    response = client.post("/api/v1/backtests", headers=headers(token), json=body)
    if response.status_code != 202:
        tally.refused[response.status_code] += 1
        return
    run_id = response.json()["id"]
    tally.jobs["backtests"][run_id] = token
    if rng.random() < 0.1:
        client.post(f"/api/v1/backtests/{run_id}/cancel", headers=headers(token))
    if rng.random() < 0.3:
        study = {
            "method": "gbm_paths",
            "dataset_id": dataset,
            "strategy": "sma_cross",
            "parameters": {"fast": 10, "slow": 30},
            "options": {"fee_rate": 0.001},
            "n_simulations": rng.choice([50, 100]),
            "seed": rng.randint(0, 1000),
        }
        response = client.post("/api/v1/monte-carlo", headers=headers(token), json=study)
        if response.status_code == 202:
            tally.jobs["mc"][response.json()["id"]] = token
        else:
            tally.refused[response.status_code] += 1


def kill_one(processes: dict[str, ServiceProcess], tally: Tally, rng: random.Random) -> None:
    name = rng.choice(KILLABLE)
    proc = processes[name]
    proc.kill()
    tally.kills[name] += 1
    proc.start()  # as a supervisor would; readiness is not awaited: work continues meanwhile


def status_of(client: httpx.Client, kind: str, job_id: str, token: str) -> dict[str, Any] | None:
    path = "backtests" if kind == "backtests" else "monte-carlo"
    try:
        response = client.get(f"/api/v1/{path}/{job_id}", headers=headers(token))
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def drain(client: httpx.Client, tally: Tally, deadline_s: float) -> dict[str, dict[str, Any]]:
    """Wait until every job ended (or the deadline); the last state seen of each."""
    seen: dict[str, dict[str, Any]] = {}
    end = time.monotonic() + deadline_s
    while True:
        pending = 0
        for kind, jobs in tally.jobs.items():
            for job_id, token in jobs.items():
                if seen.get(job_id, {}).get("status") in FINAL:
                    continue
                state = status_of(client, kind, job_id, token)
                if state is not None:
                    seen[job_id] = state
                if state is None or state["status"] not in FINAL:
                    pending += 1
        if not pending or time.monotonic() > end:
            return seen
        time.sleep(2)


def report(client: httpx.Client, tally: Tally, seen: dict[str, dict[str, Any]]) -> int:
    lost_total = 0
    print(
        f"{'kind':<10} {'submitted':>9} {'completed':>9} {'failed':>7} {'cancelled':>9} {'lost':>5}"
    )
    for kind, jobs in tally.jobs.items():
        states = Counter(seen.get(j, {}).get("status", "unknown") for j in jobs)
        lost = len(jobs) - sum(states[s] for s in FINAL)
        lost_total += lost
        row = (len(jobs), states["completed"], states["failed"], states["cancelled"], lost)
        print(f"{kind:<10} " + " ".join(f"{n:>9}" for n in row))
        reasons = Counter(
            seen[j].get("failure_reason") for j in jobs if seen.get(j, {}).get("status") == "failed"
        )
        if reasons:
            print(f"  failed with reasons: {dict(reasons)}")
    unanalysed = 0
    for run_id, token in tally.jobs["backtests"].items():
        if seen.get(run_id, {}).get("status") != "completed":
            continue
        response = client.get(f"/api/v1/analytics/{run_id}", headers=headers(token))
        unanalysed += response.status_code != 200
    print(f"completed backtests without an analysis: {unanalysed}")
    print(f"kills: {dict(tally.kills)}; submissions refused: {dict(tally.refused)}")
    print(f"submission transport errors: {dict(tally.errors)}")
    return 1 if lost_total or unanalysed else 0


def soak(stack: Stack, args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible load pattern, not a secret
    tally = Tally()
    second = ServiceProcess("engine", free_port(), stack.processes["engine"].env, instance="b")
    second.start()
    wait_until_ready([second], READY_S)
    processes = {**stack.processes, "engine-b": second}
    try:
        with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
            users = [(token := register(client), upload(client, token)) for _ in range(args.users)]
            end = time.monotonic() + args.minutes * 60
            next_kill = time.monotonic() + args.kill_every
            while time.monotonic() < end:
                token, dataset = rng.choice(users)
                try:
                    submit_one(client, token, dataset, tally, rng)
                except httpx.HTTPError as exc:  # a dropped connection: counted, never hidden
                    tally.errors[type(exc).__name__] += 1
                if time.monotonic() > next_kill:
                    kill_one(processes, tally, rng)
                    next_kill += args.kill_every
                time.sleep(args.interval)
            for proc in processes.values():
                if not proc.running():
                    proc.start()
            wait_until_ready(list(processes.values()), READY_S)
            seen = drain(client, tally, args.drain)
            return report(client, tally, seen)
    finally:
        second.stop()


def main() -> None:
    """Parse arguments, start the stack, soak it, stop everything."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=3)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between submissions")
    parser.add_argument("--kill-every", type=float, default=45.0, help="seconds between kills")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds to wait at the end")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"command: {' '.join(sys.argv)}")
    with throwaway_stack("soak", ENV, ready_deadline_s=READY_S) as (_, stack):
        code = soak(stack, args)
    sys.exit(code)


if __name__ == "__main__":
    main()
