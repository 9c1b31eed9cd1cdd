"""What ``make load`` prints: requests, throughput, percentiles per endpoint, errors by reason.

Pure functions over the samples the Locust scenario records (``locustfile.py`` writes them to
``samples.json`` in ``LOAD_OUT``); no I/O here, so ``tests/bench/test_load_summary.py`` checks
them without a stack.
"""

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

LATENCY = "LATENCY"
"""Request type of the job latencies the scenario measures itself (submit -> completed): they
are reported in their own table, not counted as requests."""
TASK = "TASK"
"""Request type of a task that raised (a socket closed under it, say): an error, not a
request."""
LIGHT = "light user: backtest submit -> completed"
"""The light user's backtest latency, measured while the heavy user floods."""


@dataclass(frozen=True)
class Sample:
    """One request (or measured job latency) as the scenario recorded it."""

    method: str
    name: str
    """The route template (``/api/v1/backtests/{run_id}``), never a raw id."""
    ms: float
    error: str | None = None


@dataclass(frozen=True)
class Row:
    """Figures of one endpoint."""

    method: str
    name: str
    count: int
    errors: int
    p50: float
    p95: float
    p99: float
    max: float


@dataclass(frozen=True)
class Summary:
    """Everything the report prints."""

    requests: int
    seconds: float
    rows: list[Row]
    latencies: list[Row]
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def throughput(self) -> float:
        """Requests per second over the whole run."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_count(self) -> int:
        """Failed requests and failed jobs together."""
        return sum(self.errors.values())


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks (numpy's
    default method); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def failure_reason(status: int, body: str, transport_error: str | None = None) -> str:
    """A short reason for a failed response: the status and the problem's ``code`` (and the
    ``rate_limit`` of a 429), or the transport error when no response came."""
    if status == 0:
        return f"no response ({transport_error or 'connection error'})"
    try:
        problem = json.loads(body)
    except ValueError:
        return f"HTTP {status}"
    if not isinstance(problem, dict):
        return f"HTTP {status}"
    parts = [str(problem[key]) for key in ("code", "rate_limit") if problem.get(key)]
    return f"HTTP {status} {' '.join(parts)}".rstrip()


def _row(method: str, name: str, samples: list[Sample]) -> Row:
    times = [s.ms for s in samples]
    return Row(
        method=method,
        name=name,
        count=len(samples),
        errors=sum(s.error is not None for s in samples),
        p50=percentile(times, 50),
        p95=percentile(times, 95),
        p99=percentile(times, 99),
        max=max(times),
    )


def summarise(samples: Iterable[Sample], seconds: float) -> Summary:
    """Group the samples by endpoint (method and route template) and count the errors."""
    groups: dict[tuple[str, str], list[Sample]] = {}
    errors: Counter[str] = Counter()
    for sample in samples:
        groups.setdefault((sample.method, sample.name), []).append(sample)
        if sample.error is not None:
            errors[f"{sample.method} {sample.name}: {sample.error}"] += 1
    rows = [_row(m, n, s) for (m, n), s in sorted(groups.items()) if m not in {LATENCY, TASK}]
    latencies = [_row(m, n, s) for (m, n), s in sorted(groups.items()) if m == LATENCY]
    requests = sum(r.count for r in rows)
    return Summary(requests, seconds, rows, latencies, errors)


def _table(rows: list[Row], header: str) -> list[str]:
    width = max([len(header), *(len(f"{r.method} {r.name}") for r in rows)])
    lines = [
        f"| {header:<{width}} | {'count':>7} | {'errors':>6} | {'p50 ms':>8} | {'p95 ms':>8} "
        f"| {'p99 ms':>8} | {'max ms':>8} |",
        f"| {'-' * width} | {'-' * 6}: | {'-' * 5}: | {'-' * 7}: | {'-' * 7}: | {'-' * 7}: "
        f"| {'-' * 7}: |",
    ]
    for r in rows:
        label = r.name if r.method == LATENCY else f"{r.method} {r.name}"
        lines.append(
            f"| {label:<{width}} | {r.count:>7,} | {r.errors:>6,} | {r.p50:>8.0f} | {r.p95:>8.0f} "
            f"| {r.p99:>8.0f} | {r.max:>8.0f} |"
        )
    return lines


def report(summary: Summary) -> str:
    """The printed report: totals, the endpoint table, the job latencies, the errors."""
    lines = [
        f"requests: {summary.requests:,} in {summary.seconds:.0f} s, "
        f"throughput {summary.throughput:.1f} req/s, errors: {summary.error_count}",
        "",
        *_table(summary.rows, "endpoint"),
    ]
    if summary.latencies:
        lines += ["", *_table(summary.latencies, "job latency (submit -> completed)")]
    light = next((r for r in summary.latencies if r.name == LIGHT), None)
    if light is not None:
        lines += [
            "",
            f"light user's backtest while the heavy user floods: p50 {light.p50:.0f} ms, "
            f"p95 {light.p95:.0f} ms, p99 {light.p99:.0f} ms ({light.count} backtests)",
        ]
    lines += ["", f"errors: {summary.error_count}"]
    lines += [f"  {n:>6} x {reason}" for reason, n in summary.errors.most_common()]
    return "\n".join(lines)
