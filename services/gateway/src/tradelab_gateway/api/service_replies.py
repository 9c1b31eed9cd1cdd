"""Turn a backend service's reply into the API's answer: the reply, a 503, or a problem."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tradelab_contracts.quotas import QuotaUsage
from tradelab_gateway.adapters.rpc import BROKER_ERRORS, ServiceUnavailableError
from tradelab_gateway.api.deps import unavailable
from tradelab_gateway.api.problems import ProblemError, problem_response
from tradelab_runtime.logging import get_logger

log = get_logger(__name__)


class ServiceReply(Protocol):
    """What every ``*Reply`` has: ``ok`` and an ``error`` when not ok."""

    @property
    def ok(self) -> bool: ...

    @property
    def error(self) -> Any: ...


ReplyT = TypeVar("ReplyT", bound=ServiceReply)


async def ask(
    call: Callable[[], Awaitable[ReplyT]],
    *,
    service: str,
    status_by_code: Mapping[Any, int],
    retry_after_s: int,
) -> ReplyT:
    """Await ``call``; a silent service is 503, a refusal is a problem with the mapped status."""
    try:
        reply = await call()
    except ServiceUnavailableError as exc:
        raise unavailable(retry_after_s, service) from exc
    if reply.ok:
        return reply
    error = reply.error
    if error is None:
        raise ProblemError(500, f"The {service} service gave an empty answer.")
    errors = getattr(error, "errors", None)
    extra: dict[str, Any] = {"errors": errors} if errors else {}
    quota: QuotaUsage | None = getattr(error, "quota", None)
    if quota is not None:
        extra |= quota_fields(quota)
    status = status_by_code.get(error.code, 500)
    raise ProblemError(status, error.message, code=error.code.value, extra=extra)


QUOTA_STATUS = 429
"""A refusal for a quota (code ``quota_exceeded``). 429 rather than 403: the request is allowed
to this user and succeeds again once jobs finish or data is deleted, and clients already back off
on 429. No ``Retry-After``: when room frees up depends on the user's own jobs and deletions."""


def quota_fields(quota: QuotaUsage) -> dict[str, Any]:
    """The members a ``quota_exceeded`` problem adds: the quota, its usage, limit and request."""
    fields: dict[str, Any] = {
        "quota": quota.quota.value,
        "usage": quota.usage,
        "limit": quota.limit,
    }
    if quota.requested is not None:
        fields["requested"] = quota.requested
    return fields


def install_unavailable_handlers(app: FastAPI, retry_after_s: int) -> None:
    """Answer 503 with ``Retry-After`` wherever an unavailable service or broker escapes a route.

    Routes turn ``ServiceUnavailableError`` into the same answer through :func:`ask`; this is the
    net under the ones that do not, so a broker outage is never a 500.
    """

    @app.exception_handler(ServiceUnavailableError)
    async def on_silent_service(request: Request, exc: ServiceUnavailableError) -> JSONResponse:
        return problem_response(unavailable(retry_after_s, exc.service), request.url.path)

    async def on_broker_error(request: Request, exc: Exception) -> JSONResponse:
        log.warning("broker unavailable", path=request.url.path, error=repr(exc))
        return problem_response(unavailable(retry_after_s, "broker"), request.url.path)

    for error in BROKER_ERRORS:
        app.add_exception_handler(error, on_broker_error)
