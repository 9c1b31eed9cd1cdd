"""Liveness and readiness endpoints shared by every service."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

ReadinessCheck = Callable[[], Awaitable[bool]]


class Readiness:
    """Named checks run concurrently, each bounded by a timeout; an exception counts as failed."""

    def __init__(self, checks: Mapping[str, ReadinessCheck], timeout_s: float) -> None:
        self._checks = dict(checks)
        self._timeout_s = timeout_s
        self.started = False

    def add(self, name: str, check: ReadinessCheck) -> None:
        """Register another check."""
        self._checks[name] = check

    async def _run_one(self, check: ReadinessCheck) -> bool:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await check()
        except Exception:
            return False

    async def run(self) -> dict[str, bool]:
        """Return each check's result; ``started`` is False until start-up has completed."""
        names = list(self._checks)
        results = await asyncio.gather(*(self._run_one(self._checks[n]) for n in names))
        return {"started": self.started, **dict(zip(names, results, strict=True))}


def health_router(identity: Mapping[str, str], readiness: Readiness) -> APIRouter:
    """Build ``/healthz`` (the process answers) and ``/readyz`` (its dependencies work)."""
    router = APIRouter(tags=["ops"])

    @router.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", **identity}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        checks = await readiness.run()
        ready = all(checks.values())
        return JSONResponse(
            {"ready": ready, "checks": checks, **identity}, status_code=200 if ready else 503
        )

    return router
