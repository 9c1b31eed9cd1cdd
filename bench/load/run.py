"""Load test (``make load``): the Locust scenario of ``locustfile.py`` against a running stack.

Uses the gateway at ``LOAD_GATEWAY_URL`` (``make up``'s, http://127.0.0.1:8000) when it answers;
otherwise (or with ``LOAD_OWN_STACK=1``) starts a throwaway stack of its own (PostgreSQL cluster,
Tansu broker, Redis, the five services on free ports) with the settings an operator running a
load test would give (``OWN_STACK_ENV``). Then runs Locust headless: ``LOAD_USERS`` (50) users
spawned at ``LOAD_SPAWN_RATE`` (1) per second for ``LOAD_DURATION`` (``5m``), and prints the
total requests, throughput, p50/p95/p99 per endpoint, the job latencies (the light user's
backtest while the heavy user floods among them) and the errors with their reasons. Locust's CSV
statistics, the raw samples and the printed report are written to ``LOAD_OUT``
(``.tradelab/load``). Exits 1 when there was any error.

A running ``make up`` stack must be started with the two settings of ``OWN_STACK_ENV``:
``GATEWAY_TRUSTED_PROXIES='["127.0.0.1/32"]'`` (each simulated user registers from an
``X-Forwarded-For`` address of its own) and ``GATEWAY_RATE_LIMIT_JOBS_PER_USER=100000/minute``
(the heavy user submits more than the default 60 jobs a minute); its default quotas are enough.
"""

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from load_summary import Sample, report, summarise

from tradelab_devstack.stack import throwaway_stack

# What the other bench scripts upload (bench/minute_bars.py), beside this script's folder.
sys.path.append(str(Path(__file__).resolve().parents[1]))
from minute_bars import minute_bars_csv

HERE = Path(__file__).resolve().parent
OWN_STACK_ENV = {
    # The runner is the proxy in front of the gateway: every simulated user names an address of
    # its own, so the per-address registration and login limits count each user apart.
    "GATEWAY_TRUSTED_PROXIES": '["127.0.0.1/32"]',
    # The heavy user submits as fast as the gateway answers (its backlog stays under the default
    # quotas: 40 backtests of 50, 8 optimisations of 10); the default is 60 jobs a minute.
    "GATEWAY_RATE_LIMIT_JOBS_PER_USER": "100000/minute",
}
READY_S = 600  # the numba JIT takes over a minute when its cache is empty
WARM_UP_S = 300.0


def until(what: str, attempt: Callable[[], httpx.Response | None]) -> httpx.Response:
    """Repeat ``attempt`` every 0.2 s until it gives a response (503s are retried by it)."""
    deadline = time.monotonic() + WARM_UP_S
    while time.monotonic() < deadline:
        response = attempt()
        if response is not None:
            return response
        time.sleep(0.2)
    msg = f"warm-up: {what} not done in {WARM_UP_S:.0f} s"
    raise TimeoutError(msg)


def warm_up(url: str) -> None:
    """One user's registration, upload, backtest, analysis and grid before the clock starts.

    A stack just started has consumers still waiting for their partitions (auth's first
    answers take seconds) and kernels not yet compiled: the load test measures the platform
    warm, as a user meets it.
    """
    address = "10." + ".".join(str(secrets.randbelow(256)) for _ in range(3))
    client = httpx.Client(base_url=url, timeout=60, headers={"X-Forwarded-For": address})
    credentials = {"email": f"warm-up-{secrets.token_hex(6)}@example.com", "password": "x" * 20}

    def accepted(method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        response = client.request(method, path, **kwargs)
        if response.status_code == httpx.codes.SERVICE_UNAVAILABLE:
            return None
        response.raise_for_status()
        return response

    def status(path: str, wanted: str) -> Callable[[], httpx.Response | None]:
        def attempt() -> httpx.Response | None:
            response = client.get(path)
            ok = response.status_code == httpx.codes.OK
            return response if ok and response.json().get("status", wanted) == wanted else None

        return attempt

    started = time.monotonic()
    token = until("register", lambda: accepted("POST", "/api/v1/auth/register", json=credentials))
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    files = {"file": ("bars.csv", minute_bars_csv(5000, 1), "text/csv")}
    dataset = until("upload", lambda: accepted("POST", "/api/v1/datasets", files=files)).json()
    until("ingest", status(f"/api/v1/datasets/{dataset['id']}", "ready"))
    body = {"dataset_id": dataset["id"], "strategy": "sma_cross"}
    run = until("backtest", lambda: accepted("POST", "/api/v1/backtests", json=body)).json()
    until("backtest run", status(f"/api/v1/backtests/{run['id']}", "completed"))
    until("analysis", status(f"/api/v1/analytics/{run['id']}", "completed"))
    grid = {
        **body,
        "parameter_space": {
            "fast": {"start": 5, "stop": 10, "step": 5},
            "slow": {"start": 30, "stop": 40, "step": 10},
        },
        "objective": {"metric": "sharpe", "direction": "maximize"},
    }
    opt = until("grid", lambda: accepted("POST", "/api/v1/optimizations", json=grid)).json()
    until("grid run", status(f"/api/v1/optimizations/{opt['id']}", "completed"))
    print(f"warmed up in {time.monotonic() - started:.1f} s", flush=True)


def answers(url: str) -> bool:
    """Whether a gateway answers its health route at ``url``."""
    try:
        return httpx.get(f"{url}/api/v1/system/health", timeout=3).status_code == httpx.codes.OK
    except httpx.HTTPError:
        return False


@contextmanager
def gateway() -> Iterator[str]:
    """The gateway to load: the running one at ``LOAD_GATEWAY_URL``, else one started here."""
    url = os.environ.get("LOAD_GATEWAY_URL", "http://127.0.0.1:8000").rstrip("/")
    if os.environ.get("LOAD_OWN_STACK") != "1" and answers(url):
        print(f"loading the running gateway at {url}", flush=True)
        yield url
        return
    print(f"starting a stack of its own with {OWN_STACK_ENV}", flush=True)
    with throwaway_stack("load", OWN_STACK_ENV, ready_deadline_s=READY_S) as (_, stack):
        print(f"stack ready in {stack.startup_s:.1f} s at {stack.gateway_url}", flush=True)
        yield stack.gateway_url


def locust(url: str, out: Path) -> int:
    """Run the scenario headless; Locust's exit status."""
    users = os.environ.get("LOAD_USERS", "50")
    command = [
        sys.executable, "-m", "locust", "--locustfile", str(HERE / "locustfile.py"),
        "--headless", "--host", url, "--users", users,
        "--spawn-rate", os.environ.get("LOAD_SPAWN_RATE", "1"),
        "--run-time", os.environ.get("LOAD_DURATION", "5m"),
        "--stop-timeout", "30", "--only-summary", "--csv", str(out / "locust"),
    ]  # fmt: skip
    print(" ".join(command[1:]), flush=True)
    path = os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "LOAD_OUT": str(out), "PYTHONPATH": path}
    return subprocess.run(command, env=env, check=False).returncode  # noqa: S603 - our own argv


def main() -> None:
    """Load the gateway, print the report, exit 1 on any error."""
    out = Path(os.environ.get("LOAD_OUT", ".tradelab/load")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "samples.json").unlink(missing_ok=True)
    with gateway() as url:
        warm_up(url)
        status = locust(url, out)
    recorded = out / "samples.json"
    if not recorded.exists():
        sys.exit(f"Locust (exit {status}) recorded no samples")
    data = json.loads(recorded.read_text())
    summary = summarise((Sample(*s) for s in data["samples"]), data["seconds"])
    text = report(summary)
    (out / "report.txt").write_text(text + "\n")
    print(f"\n{text}\n\nLocust CSV statistics, samples and this report: {out}")
    sys.exit(1 if summary.error_count or status not in (0, 1) else 0)


if __name__ == "__main__":
    main()
