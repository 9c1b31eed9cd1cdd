"""What the abuse tests share: a service's peak resident memory while a hostile request runs, read
from ``/proc``, and a check that every service is still healthy afterwards."""

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tradelab_devstack.stack import Stack

MEMORY_BOUND_MIB = 300.0
"""Issue 14: no service's resident memory grows by more than this while an abuse case runs."""


def resident_mib(pid: int) -> float:
    """The process's resident memory now (``VmRSS``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    msg = f"no VmRSS for pid {pid}"
    raise RuntimeError(msg)


@dataclass
class Growth:
    """Resident memory of one process before and at its peak while a block ran."""

    before_mib: float
    peak_mib: float = 0.0
    samples: int = field(default=0)
    """Readings taken; the bound means nothing without them."""

    @property
    def grown_mib(self) -> float:
        return self.peak_mib - self.before_mib


@contextmanager
def memory_growth(stack: Stack, service: str, interval_s: float = 0.01) -> Iterator[Growth]:
    """Sample ``service``'s resident memory every ``interval_s`` while the block runs."""
    pid = stack.processes[service].pid
    assert pid is not None, f"{service} is not running"
    growth = Growth(before_mib=resident_mib(pid))
    growth.peak_mib = growth.before_mib
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                growth.peak_mib = max(growth.peak_mib, resident_mib(pid))
                growth.samples += 1
            except (OSError, RuntimeError):  # the process died: the health check will say so
                return
            time.sleep(interval_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield growth
    finally:
        time.sleep(0.2)  # what the request started may still be allocating
        done.set()
        sampler.join(timeout=5)
    # A bound read from no sample would hold whatever happened.
    assert growth.samples > 1, f"{service}'s memory was not sampled while the case ran"


def memory_growths(stack: Stack, services: tuple[str, ...], exits: ExitStack) -> dict[str, Growth]:
    """Sample each of ``services``' memory (:func:`memory_growth`) until ``exits`` closes."""
    return {name: exits.enter_context(memory_growth(stack, name)) for name in services}


def assert_within_bound(growths: dict[str, Growth]) -> None:
    """No service grew by :data:`MEMORY_BOUND_MIB` or more."""
    for name, growth in growths.items():
        assert growth.grown_mib < MEMORY_BOUND_MIB, f"{name} grew {growth.grown_mib:.1f} MiB"


def assert_all_healthy(stack: Stack) -> None:
    """Every service process is alive and answers ready."""
    for name, process in stack.processes.items():
        assert process.running(), f"{name} died"
        ready = httpx.get(f"{process.url}/readyz", timeout=5)
        assert ready.status_code == 200, f"{name}: {ready.text}"
