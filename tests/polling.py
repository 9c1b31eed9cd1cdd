"""Poll with a deadline instead of sleeping and hoping."""

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], deadline_s: float, what: str) -> T:
    """Poll ``probe`` until it returns something other than None, or fail after the deadline."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        result = probe()
        if result is not None:
            return result
        time.sleep(0.25)
    pytest.fail(f"{what} did not happen within {deadline_s:.0f} s")
