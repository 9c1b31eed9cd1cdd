"""Every kernel releases the GIL (``nogil=True``): while a worker thread is inside one, the
engine's event loop goes on answering requests, renewing leases and sending heartbeats.

A kernel holding the GIL stops every other thread of the process from running Python until it
returns (a long backtest's chunks, a sweep block, a Monte Carlo study's paths). Timing the loop
against a kernel cannot tell the two apart reliably (the interpreter hands the GIL over at each
return from a kernel), so this reads the option each kernel was compiled with.
"""

import importlib
import pkgutil

from numba.core.registry import CPUDispatcher

import tradelab_engine.kernels as kernels


def every_kernel() -> dict[str, CPUDispatcher]:
    found = {}
    for module_info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"{kernels.__name__}.{module_info.name}")
        for name, value in vars(module).items():
            if isinstance(value, CPUDispatcher) and value.__module__ == module.__name__:
                found[f"{module_info.name}.{name}"] = value
    return found


def test_every_kernel_is_compiled_to_release_the_gil() -> None:
    found = every_kernel()
    assert len(found) >= 40  # the package's kernels, not an empty scan
    holding = sorted(name for name, kernel in found.items() if not kernel.targetoptions["nogil"])
    assert holding == []
