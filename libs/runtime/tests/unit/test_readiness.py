import asyncio

import pytest

from tradelab_runtime.health import Readiness


async def _ok() -> bool:
    return True


async def _fails() -> bool:
    raise ConnectionError("refused")


async def _hangs() -> bool:
    await asyncio.sleep(3600)
    return True


@pytest.mark.asyncio
async def test_not_ready_until_start_up_has_completed() -> None:
    readiness = Readiness({"broker": _ok}, timeout_s=1)
    assert await readiness.run() == {"started": False, "broker": True}
    readiness.started = True
    assert await readiness.run() == {"started": True, "broker": True}


@pytest.mark.asyncio
async def test_a_check_that_raises_counts_as_failed() -> None:
    readiness = Readiness({"database": _fails, "broker": _ok}, timeout_s=1)
    readiness.started = True
    assert await readiness.run() == {"started": True, "database": False, "broker": True}


@pytest.mark.asyncio
async def test_a_check_that_hangs_is_cut_off_by_the_timeout() -> None:
    readiness = Readiness({"database": _hangs}, timeout_s=0.05)
    readiness.started = True
    assert (await readiness.run())["database"] is False
