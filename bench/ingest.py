"""Benchmark dataset ingestion against a bare ``polars.read_csv`` of the same file.

Generates a 1,000,000-row 1-minute OHLCV CSV (seeded random walk) in a temporary directory,
then times, each in fresh subprocesses so their peak memory is measured separately:

- ``read``:   ``polars.read_csv(path)`` with default options;
- ``ingest``: ``tradelab_datasets.domain.ingest_file(path)`` (sniff, read, validate,
  normalise, timeframe, quality report, content hash);

3 runs per process, in 3 processes per measurement alternating read / ingest (so that load from
other programs hits both alike), and prints the best and median wall time, the CPU time of the
least CPU-hungry run (all threads; less sensitive to a busy machine), their ratios, rows/s and
peak RSS (``resource.getrusage(...).ru_maxrss``, which includes the interpreter and imported
libraries; the ``baseline`` row shows that floor).

Run: ``uv run python bench/ingest.py [--rows N] [--repeat K] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl

SEED = 20240102
TARGET_RATIO = 2.0


def generate_csv(path: Path, rows: int) -> None:
    """Write ``rows`` 1-minute bars: a geometric random walk with consistent OHLC."""
    rng = np.random.default_rng(SEED)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0008, rows)))
    open_ = np.concatenate(([100.0], close[:-1]))
    wick = np.abs(rng.normal(0.0, 0.0004, (2, rows)))
    high = np.maximum(open_, close) * (1.0 + wick[0])
    low = np.minimum(open_, close) * (1.0 - wick[1])
    volume = rng.lognormal(6.0, 1.0, rows).round()
    start = pl.datetime(2023, 1, 2, 0, 0)
    times = pl.datetime_range(start, start + pl.duration(minutes=rows - 1), "1m", eager=True)
    frame = pl.DataFrame(
        {
            "timestamp": times.dt.strftime("%Y-%m-%dT%H:%M:%S"),
            "open": open_.round(4),
            "high": high.round(4),
            "low": low.round(4),
            "close": close.round(4),
            "volume": volume,
        }
    )
    frame.write_csv(path)


@dataclass(frozen=True)
class Measurement:
    """Wall and CPU times of the runs and the peak resident memory of the measuring processes."""

    kind: str
    times: list[float]
    cpu_times: list[float]
    peak_rss_mib: float

    @property
    def best(self) -> float:
        """Fastest run, wall seconds (0 for the baseline, which runs nothing)."""
        return min(self.times, default=0.0)

    @property
    def best_cpu(self) -> float:
        """CPU seconds (all threads) of the least CPU-hungry run."""
        return min(self.cpu_times, default=0.0)

    def merged(self, other: Measurement) -> Measurement:
        """Combine the runs of two processes measuring the same thing."""
        return Measurement(
            self.kind,
            self.times + other.times,
            self.cpu_times + other.cpu_times,
            max(self.peak_rss_mib, other.peak_rss_mib),
        )


def measure(kind: str, path: Path, repeat: int) -> Measurement:
    """Run one measurement in this process: ``baseline`` (imports only), ``read``, ``ingest``."""
    from tradelab_datasets.domain import ingest_file  # imported by all kinds: same RSS floor

    runs: dict[str, Callable[[], object]] = {
        "read": lambda: pl.read_csv(path),
        "ingest": lambda: ingest_file(path),
    }
    times, cpu_times = [], []
    for _ in range(repeat if kind in runs else 0):
        wall, cpu = time.perf_counter(), time.process_time()
        runs[kind]()
        times.append(time.perf_counter() - wall)
        cpu_times.append(time.process_time() - cpu)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return Measurement(kind, times, cpu_times, peak_kib / 1024)


def _in_subprocess(kind: str, path: Path, repeat: int) -> Measurement:
    command = [sys.executable, __file__, "--measure", kind, str(path), "--repeat", str(repeat)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    return Measurement(**json.loads(done.stdout))


def run_all(path: Path, repeat: int, rounds: int) -> dict[str, Measurement]:
    """Alternate read and ingest processes so that background load hits both alike."""
    results = {"baseline": _in_subprocess("baseline", path, 0)}
    for _ in range(rounds):
        for kind in ("read", "ingest"):
            measured = _in_subprocess(kind, path, repeat)
            results[kind] = results[kind].merged(measured) if kind in results else measured
    return results


def _report(rows: int, size: int, results: dict[str, Measurement]) -> None:
    print(
        f"polars {pl.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"{rows:,} rows, {size / 2**20:.1f} MiB CSV"
    )
    print(
        f"{'measurement':<12}{'best s':>8}{'median s':>10}{'CPU s':>8}{'rows/s':>13}"
        f"{'peak RSS MiB':>14}"
    )
    for result in results.values():
        median = statistics.median(result.times) if result.times else 0.0
        rate = f"{rows / result.best:,.0f}" if result.best else "-"
        print(
            f"{result.kind:<12}{result.best:>8.3f}{median:>10.3f}{result.best_cpu:>8.3f}"
            f"{rate:>13}{result.peak_rss_mib:>14.0f}"
        )
    ratio = results["ingest"].best / results["read"].best
    cpu_ratio = results["ingest"].best_cpu / results["read"].best_cpu
    verdict = "within" if ratio <= TARGET_RATIO else "above"
    print(
        f"ingest / bare read: {ratio:.2f}x wall ({verdict} the {TARGET_RATIO:g}x target), "
        f"{cpu_ratio:.2f}x CPU"
    )


def main() -> None:
    """Generate the file, run the measurements in subprocesses and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per process")
    parser.add_argument("--rounds", type=int, default=3, help="processes per measurement")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        kind, path = args.measure
        print(json.dumps(asdict(measure(kind, Path(path), args.repeat))))
        return
    with tempfile.TemporaryDirectory(prefix="tradelab-bench-") as tmp:
        path = Path(tmp) / "bars.csv"
        generate_csv(path, args.rows)
        results = run_all(path, args.repeat, args.rounds)
        _report(args.rows, path.stat().st_size, results)


if __name__ == "__main__":
    main()
