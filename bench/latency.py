"""Pipeline latency through the gateway, with a per-stage breakdown.

It starts a throwaway stack (PostgreSQL cluster, Tansu broker, Redis, the five services on free
ports), registers a user, opens the user's WebSocket (``/api/v1/ws``) and measures, ``--runs``
times each after one warm-up (medians and p90):

- **upload -> ready**: a fresh 5,000-row hourly CSV (a seed of its own, so no upload is a
  duplicate) from the POST until a ``GET /datasets/{id}`` says ``ready`` (polled back to back:
  datasets have no WebSocket event);
- **submit -> completed**: ``sma_cross`` on that 5,000-bar dataset (parameters of its own, so
  the engine's result cache answers none) from the POST until the ``completed`` event arrives on
  the WebSocket;
- **completed -> analysis**: from that event until the run's ``analysis.ready`` event arrives on
  the same WebSocket; the breakdown also gives the server-side figure, ``completed`` published
  -> ``report.ready`` published (after the analysis committed), and the gateway's share,
  ``report.ready`` published -> ``analysis.ready`` on the socket;
- **quick backtest**: ``POST /backtests/quick`` with the same 5,000 rows, answered in the request;
- **grid**: the 1,590-combination ``sma_cross`` grid (fast 5..50 x slow 20..200 step 5, fast <
  slow) over 100,000 one-minute bars, POST -> ``completed`` on the WebSocket, against the same
  sweep in-process (``domain.sweep.sweep`` as ``bench/sweep.py`` calls it) in this process on
  the same bars, ``--grid-runs`` times each; the ratio of the medians.

The breakdown splits each figure into stages with the times the system records: the jobs'
``created_at``/``started_at``/``finished_at``, the analysis' ``created_at`` (taken when its
computation ends), and when each event was published (the Kafka record's timestamp, read by an
observer that reads the topics without joining a group), all on this machine's clock.

Run: ``TRADELAB_STATE_DIR=/tmp/bench-latency uv run python bench/latency.py [--runs 9]``
(``make bench-latency``).
"""

import argparse
import asyncio
import contextlib
import io
import json
import math
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import numpy as np
import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from minute_bars import bars_csv, minute_bars_csv
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tradelab_contracts import topics
from tradelab_devstack.stack import throwaway_stack

PASSWORD = "bench password 1234"  # noqa: S105 - a throwaway account on a throwaway stack
ROWS, GRID_BARS = 5_000, 100_000
GRID_SPACE = {
    "fast": {"start": 5, "stop": 50, "step": 1},
    "slow": {"start": 20, "stop": 200, "step": 5},
}
GRID = [(f, s) for s in range(20, 201, 5) for f in range(5, 51) if f < s]
FEE_RATE = 0.0001
OBSERVED = {  # topic -> the field naming what the event is about
    topics.DATASET_UPLOADED: "dataset_id",
    topics.DATASET_INGESTED: "dataset_id",
    topics.BACKTEST_REQUESTED: "run_id",
    topics.BACKTEST_COMPLETED: "run_id",
    topics.REPORT_READY: "run_id",
    topics.OPTIMIZATION_CHUNK_REQUESTED: "optimization_id",
    topics.OPTIMIZATION_COMPLETED: "optimization_id",
}


def hourly_csv(n: int, seed: int) -> bytes:
    """A seeded random walk of ``n`` hourly bars as CSV."""
    return bars_csv(n, seed, "h")


def at(timestamp: str) -> float:
    """An ISO timestamp of the API as seconds since the epoch."""
    return datetime.fromisoformat(timestamp).timestamp()


class Observer:
    """When each event of interest was published (its record timestamp), by entity id."""

    def __init__(self, bootstrap: str) -> None:
        self.published: dict[tuple[str, str], list[float]] = defaultdict(list)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read every partition of the observed topics from their ends (no group to join)."""
        await self._consumer.start()
        partitions = [
            TopicPartition(topic, p)
            for topic in OBSERVED
            for p in sorted(self._consumer.partitions_for_topic(topic) or [])
        ]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for record in self._consumer:
            body = json.loads(record.value or b"{}")
            entity = str(body.get(OBSERVED[record.topic], ""))
            self.published[(record.topic, entity)].append(record.timestamp / 1000)

    def first(self, topic: str, entity: str) -> float:
        """When the first event of ``topic`` about ``entity`` was published (nan if none)."""
        times = self.published.get((topic, entity))
        return min(times) if times else float("nan")

    def last(self, topic: str, entity: str) -> float:
        """When the last event of ``topic`` about ``entity`` was published (nan if none)."""
        times = self.published.get((topic, entity))
        return max(times) if times else float("nan")

    async def settle(self, topic: str, entity: str, deadline_s: float = 5.0) -> None:
        """Wait until an event of ``topic`` about ``entity`` has been read."""
        end = time.monotonic() + deadline_s
        while (topic, entity) not in self.published and time.monotonic() < end:  # noqa: ASYNC110 - filled by another task per record
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
        await self._consumer.stop()


class Client:
    """One user on the gateway: REST calls and the job events of its WebSocket."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=120)
        self.ws_url = base_url.replace("http://", "ws://", 1) + "/api/v1/ws"
        self.events: dict[tuple[str, str], asyncio.Future[float]] = {}
        self._socket: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Register, then open the WebSocket."""
        email = f"latency-{secrets.token_hex(4)}@example.com"
        registered = await self.http.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
        )
        registered.raise_for_status()
        token = registered.json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"
        protocols = [Subprotocol("tradelab.v1"), Subprotocol(f"bearer.{token}")]
        self._socket = await connect(self.ws_url, subprotocols=protocols, max_queue=None)
        ready = json.loads(await self._socket.recv())
        if ready["type"] != "ready":
            raise RuntimeError(ready)
        self._task = asyncio.create_task(self._listen(self._socket))

    def _future(self, run_id: str, kind: str) -> asyncio.Future[float]:
        return self.events.setdefault((run_id, kind), asyncio.get_running_loop().create_future())

    async def _listen(self, socket: ClientConnection) -> None:
        async for raw in socket:
            now = time.time()
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "ping":
                await socket.send('{"type":"pong"}')
            elif kind in {"analysis.ready", "analysis.failed"}:
                future = self._future(message["run_id"], "analysis")
                if not future.done():
                    if kind == "analysis.ready":
                        future.set_result(now)
                    else:
                        future.set_exception(RuntimeError(message))
            elif kind in {"completed", "failed", "cancelled"}:
                future = self._future(message["run_id"], "end")
                if not future.done():
                    if kind != "completed":
                        future.set_exception(RuntimeError(message))
                    else:
                        future.set_result(now)

    async def ended(self, run_id: str, deadline_s: float = 600) -> float:
        """When the job's ``completed`` event arrived on the socket (client clock)."""
        return await asyncio.wait_for(self._future(run_id, "end"), deadline_s)

    async def analysed(self, run_id: str, deadline_s: float = 120) -> float:
        """When the run's ``analysis.ready`` event arrived on the socket (client clock)."""
        return await asyncio.wait_for(self._future(run_id, "analysis"), deadline_s)

    async def submit(self, url: str, body: dict[str, Any]) -> tuple[str, float, float, float]:
        """POST a job and wait for its end on the socket: its id, when the POST was sent, when
        it was answered and when ``completed`` arrived (client clock)."""
        sent = time.time()
        created = await self.http.post(url, json=body)
        if created.status_code != httpx.codes.ACCEPTED:
            sys.exit(f"{url} refused: {created.status_code} {created.text}")
        answered = time.time()
        job_id: str = created.json()["id"]
        return job_id, sent, answered, await self.ended(job_id)

    async def poll(self, url: str, done: Callable[[httpx.Response], bool]) -> float:
        """GET ``url`` back to back until ``done``; when the answer that was came (client clock)."""
        end = time.monotonic() + 120
        while time.monotonic() < end:
            response = await self.http.get(url)
            if done(response):
                return time.time()
            await asyncio.sleep(0.002)
        msg = f"{url} not done in time"
        raise TimeoutError(msg)

    async def stop(self) -> None:
        """Close the socket and the client."""
        if self._socket is not None:
            await self._socket.close()
        if self._task is not None:
            self._task.cancel()
        await self.http.aclose()


Stages = dict[str, float]


def _ready(response: httpx.Response) -> bool:
    if response.status_code != httpx.codes.OK:
        return False
    status = response.json()["status"]
    if status == "rejected":
        raise RuntimeError(response.text)
    return bool(status == "ready")


async def upload(client: Client, observer: Observer, seed: int) -> tuple[str, Stages]:
    """Upload a fresh 5,000-row CSV and wait until it is ready; the dataset id and stages."""
    files = {"file": (f"eurusd-{seed}.csv", hourly_csv(ROWS, seed), "text/csv")}
    t0 = time.time()
    created = await client.http.post("/api/v1/datasets", files=files)
    created.raise_for_status()
    t1 = time.time()
    dataset_id = created.json()["id"]
    t_ready = await client.poll(f"/api/v1/datasets/{dataset_id}", _ready)
    await observer.settle(topics.DATASET_INGESTED, dataset_id)
    uploaded = observer.first(topics.DATASET_UPLOADED, dataset_id)
    ingested = observer.first(topics.DATASET_INGESTED, dataset_id)
    return dataset_id, {
        "total": t_ready - t0,
        "POST answered (upload, quota + register RPCs)": t1 - t0,
        "POST -> dataset.uploaded published (relay)": uploaded - t0,
        "uploaded -> ingested published (pickup, ingest, relay)": ingested - uploaded,
        "ingested published -> client sees ready (poll)": t_ready - ingested,
    }


async def backtest(
    client: Client, observer: Observer, dataset_id: str, n: int
) -> tuple[str, float, Stages]:
    """Submit one sma_cross run and wait for ``completed`` on the WebSocket."""
    body = {
        "dataset_id": dataset_id,
        "strategy": "sma_cross",
        "parameters": {"fast": 5 + n % 40, "slow": 50 + n // 40},
        "options": {"fee_rate": FEE_RATE},
    }
    run_id, t0, t1, t_seen = await client.submit("/api/v1/backtests", body)
    run = (await client.http.get(f"/api/v1/backtests/{run_id}")).json()
    if run["cached"]:
        sys.exit("a run was answered from the result cache: parameters repeat")
    await observer.settle(topics.BACKTEST_COMPLETED, run_id)
    requested = observer.first(topics.BACKTEST_REQUESTED, run_id)
    completed = observer.first(topics.BACKTEST_COMPLETED, run_id)
    created_at, started, finished = (
        at(run[k]) for k in ("created_at", "started_at", "finished_at")
    )
    return (
        run_id,
        t_seen,
        {
            "total": t_seen - t0,
            "POST answered (dataset lookup, engine submit RPC)": t1 - t0,
            "created -> backtest.requested published (submit tx, relay)": requested - created_at,
            "created -> started (0: claimed in the submit tx; else relay, pickup)": started
            - created_at,
            "started -> finished (load bars, run, write results)": finished - started,
            "finished -> completed published (relay)": completed - finished,
            "completed published -> WebSocket event (gateway)": t_seen - completed,
        },
    )


async def analysis(client: Client, observer: Observer, run_id: str, t_seen: float) -> Stages:
    """Wait for the run's analysis; stages from the completed event on."""
    t_ok = await client.analysed(run_id)
    answer = await client.http.get(f"/api/v1/analytics/{run_id}")
    answer.raise_for_status()  # announced means readable
    body = answer.json()
    await observer.settle(topics.REPORT_READY, run_id)
    completed = observer.first(topics.BACKTEST_COMPLETED, run_id)
    computed = at(body["created_at"])
    ready = observer.first(topics.REPORT_READY, run_id)
    return {
        "total": t_ok - t_seen,
        "(completed published -> WebSocket event, before the total)": t_seen - completed,
        "completed published -> computed (pickup, read files, compute)": computed - completed,
        "computed -> report.ready published (store, relay)": ready - computed,
        "completed published -> report.ready published (stored: server side)": ready - completed,
        "report.ready published -> analysis.ready on the WebSocket (gateway)": t_ok - ready,
    }


async def quick(client: Client, csv: bytes, n: int) -> Stages:
    """One quick backtest round trip."""
    fields = {"strategy": "sma_cross", "parameters": json.dumps({"fast": 7 + n, "slow": 60})}
    files = {"file": ("eurusd.csv", csv, "text/csv")}
    t0 = time.time()
    response = await client.http.post("/api/v1/backtests/quick", files=files, data=fields)
    response.raise_for_status()
    return {"total": time.time() - t0}


async def grid(client: Client, observer: Observer, dataset_id: str, n: int) -> Stages:
    """The 1,590-combination grid through the API, POST -> completed on the WebSocket."""
    body = {
        "dataset_id": dataset_id,
        "strategy": "sma_cross",
        "parameter_space": GRID_SPACE,
        "constraints": [{"left": "fast", "op": "<", "right": "slow"}],
        "objective": {"metric": "sharpe", "direction": "maximize"},
        "options": {"fee_rate": FEE_RATE * (1 + n)},  # each run its own (no cached answer)
    }
    opt_id, t0, t1, t_seen = await client.submit("/api/v1/optimizations", body)
    info = (await client.http.get(f"/api/v1/optimizations/{opt_id}")).json()
    if info["evaluated"] != len(GRID):
        sys.exit(f"the grid evaluated {info['evaluated']} combinations, not {len(GRID)}")
    await observer.settle(topics.OPTIMIZATION_COMPLETED, opt_id)
    chunks = observer.published.get((topics.OPTIMIZATION_CHUNK_REQUESTED, opt_id), [])
    done = observer.first(topics.OPTIMIZATION_COMPLETED, opt_id)
    created_at = at(info["created_at"])
    return {
        "total": t_seen - t0,
        "POST answered (expand, store chunks)": t1 - t0,
        f"created -> first chunk published ({len(chunks)} chunks)": min(chunks) - created_at,
        "first -> last chunk published": max(chunks) - min(chunks),
        "first chunk published -> finished (chunks run, results written)": (
            at(info["finished_at"]) - min(chunks)
        ),
        "finished -> completed published (relay)": done - at(info["finished_at"]),
        "completed published -> WebSocket event (gateway)": t_seen - done,
    }


def in_process_sweep(csv: bytes, runs: int) -> list[float]:
    """The same grid with the engine's sweep in this process, on the same bars."""
    from tradelab_contracts.engine import EngineOptions
    from tradelab_engine.domain.bars import Bars
    from tradelab_engine.domain.sweep import compile_sweep_kernels, sweep

    compile_sweep_kernels()
    table = np.genfromtxt(io.BytesIO(csv), delimiter=",", skip_header=1, usecols=(1, 2, 3, 4))
    n = len(table)
    times = np.arange(n, dtype=np.int64) * 60 * 10**9
    open_, high, low, close = (np.ascontiguousarray(table[:, k]) for k in range(4))
    bars = Bars(times, open_, high, low, close, np.full(n, np.nan))
    combos = [{"fast": f, "slow": s} for f, s in GRID]
    options = EngineOptions(fee_rate=FEE_RATE)
    sweep(bars, "sma_cross", combos, options, "1m")  # warm
    elapsed = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sweep(bars, "sma_cross", combos, options, "1m")
        elapsed.append(time.perf_counter() - t0)
    return elapsed


def p(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(title: str, runs: list[Stages], target_ms: float | None = None) -> None:
    """Print the medians and p90 of each stage of ``runs``."""
    totals = [r["total"] for r in runs]
    target = ""
    if target_ms is not None:
        met = p(totals, 0.5) * 1000 <= target_ms
        target = f"   target p50 <= {target_ms:g} ms: {'met' if met else 'NOT met'}"
    print(
        f"\n{title}: p50 {p(totals, 0.5) * 1000:.0f} ms, p90 {p(totals, 0.9) * 1000:.0f} ms,"
        f" min {min(totals) * 1000:.0f} ms ({len(runs)} runs){target}"
    )
    for stage in runs[0]:
        if stage == "total":
            continue
        values = [r[stage] for r in runs if not math.isnan(r[stage])]
        if not values:  # no such event in any run (a run its submission claimed has no message)
            print(f"    {stage:<70}{'none':>8}{'none':>8}")
            continue
        print(f"    {stage:<70}{p(values, 0.5) * 1000:>8.1f}{p(values, 0.9) * 1000:>8.1f} ms")


async def bench(base_url: str, bootstrap: str, args: argparse.Namespace) -> None:
    """Measure every figure and print it."""
    observer = Observer(bootstrap)
    await observer.start()
    client = Client(base_url)
    await client.start()
    try:
        uploads, backtests, analyses, quicks = [], [], [], []
        dataset_id = ""
        for i in range(args.runs + 1):  # the first of each is the warm-up
            dataset_id, stages = await upload(client, observer, seed=1000 + i)
            run_id, t_seen, bt = await backtest(client, observer, dataset_id, i)
            an = await analysis(client, observer, run_id, t_seen)
            qk = await quick(client, hourly_csv(ROWS, 7), i)
            if i:
                uploads.append(stages)
                backtests.append(bt)
                analyses.append(an)
                quicks.append(qk)
        print("stage figures: p50 and p90 of each stage over the runs (stages need not add up)")
        report(f"upload -> ready, {ROWS:,}-row CSV", uploads, 150)
        report(f"submit -> completed, {ROWS:,} bars sma_cross", backtests, 60)
        report("completed -> analysis available", analyses, 100)
        report("quick backtest round trip", quicks)
        if args.grid_runs:
            await grid_figures(client, observer, args.grid_runs)
    finally:
        await client.stop()
        await observer.stop()


async def grid_figures(client: Client, observer: Observer, runs: int) -> None:
    """The grid through the API and in-process, same bars, then the ratio."""
    csv = minute_bars_csv(GRID_BARS, seed=42)
    files = {"file": ("minutes.csv", csv, "text/csv")}
    created = await client.http.post("/api/v1/datasets", files=files)
    created.raise_for_status()
    dataset_id = created.json()["id"]
    await client.poll(f"/api/v1/datasets/{dataset_id}", _ready)
    api = [await grid(client, observer, dataset_id, n) for n in range(runs + 1)][1:]
    local = await asyncio.to_thread(in_process_sweep, csv, runs)
    report(f"grid {len(GRID):,} combinations x {GRID_BARS:,} bars through the API", api)
    local_p50 = p(local, 0.5)
    print(f"    in-process sweep (domain.sweep.sweep, same bars): p50 {local_p50 * 1000:.0f} ms")
    ratio = p([r["total"] for r in api], 0.5) / local_p50
    print(
        f"    ratio API / in-process (p50s): {ratio:.2f}x   target <= 2x: "
        f"{'met' if ratio <= 2 else 'NOT met'}"
    )


def idle_cpu(seconds: float) -> None:
    """Print the CPU the idle stack (every process this one started) used over ``seconds``."""

    def used() -> dict[int, tuple[str, float]]:
        out = {}
        for proc in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                out[proc.pid] = (proc.name(), times.user + times.system)
        return out

    before = used()
    time.sleep(seconds)
    after = used()
    by_name: dict[str, float] = defaultdict(float)
    for pid, (name, cpu) in after.items():
        by_name[name] += cpu - before.get(pid, (name, cpu))[1]
    total = sum(by_name.values())
    parts = ", ".join(f"{name} {cpu / seconds:.1%}" for name, cpu in sorted(by_name.items()))
    print(f"idle stack CPU over {seconds:.0f} s: {total / seconds:.1%} of one core ({parts})")


def main() -> None:
    """Parse arguments, start the stack, run the benchmark, stop everything."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=9, help="measured runs of each, 0 skips (9)")
    parser.add_argument("--grid-runs", type=int, default=5, help="grid runs, 0 skips (5)")
    parser.add_argument("--idle-s", type=float, default=30, help="idle CPU window, 0 skips (30)")
    args = parser.parse_args()
    print(f"command: {' '.join(sys.argv)}")
    env = {
        "GATEWAY_RATE_LIMIT_JOBS_PER_USER": "1000/minute",
        "DATASETS_QUOTA_DATASETS": "1000",
    }
    with throwaway_stack("latency", env) as (_, stack):
        print(f"stack ready in {stack.startup_s:.1f} s", flush=True)
        if args.idle_s:
            time.sleep(5)  # start-up's last work (topic metadata, first heartbeats) settles
            idle_cpu(args.idle_s)
        if args.runs:
            asyncio.run(bench(stack.gateway_url, stack.kafka_bootstrap, args))


if __name__ == "__main__":
    main()
