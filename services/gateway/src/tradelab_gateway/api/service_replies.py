"""Turn a backend service's reply into the API's answer: the reply, a 503, or a problem."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from tradelab_gateway.adapters.rpc import ServiceUnavailableError
from tradelab_gateway.api.deps import unavailable
from tradelab_gateway.api.problems import ProblemError


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
    extra = {"errors": errors} if errors else {}
    status = status_by_code.get(error.code, 500)
    raise ProblemError(status, error.message, code=error.code.value, extra=extra)
