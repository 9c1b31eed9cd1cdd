"""Request deadlines: work nobody waits for any more is dropped, not done.

A gateway stamps every request with the moment it stops waiting for the reply
(`tradelab_contracts.base.Request.deadline`). The responder checks it on receipt; a handler with
an expensive step (hashing a password) checks again just before it with `check_deadline`, which
raises `DeadlineExceededError`, and the responder drops that request the same way: logged,
counted, no reply. A request without a deadline is never late.
"""

from datetime import datetime
from typing import Protocol

from .clock import Clock

EXPIRED_COUNTER = "tradelab.requests.expired"
"""Name of the counter of requests dropped because their deadline had passed (attribute
``kind``: the request's kind)."""


class DeadlineExceededError(Exception):
    """A request's deadline passed before its work was done; its requester no longer waits."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"the deadline of a {kind} request has passed")
        self.kind = kind


class Deadlined(Protocol):
    """What the deadline check reads of a request."""

    @property
    def kind(self) -> str: ...

    @property
    def deadline(self) -> datetime | None: ...


def is_past(deadline: datetime | None, now: datetime) -> bool:
    """Return whether ``deadline`` has passed at ``now`` (never, when there is none)."""
    return deadline is not None and now >= deadline


def check_deadline(request: Deadlined, clock: Clock) -> None:
    """Raise `DeadlineExceededError` when ``request``'s deadline has passed on ``clock``.

    Call it just before an expensive step of a handler, so work begun in time is not finished
    for nobody.
    """
    if is_past(request.deadline, clock.now()):
        raise DeadlineExceededError(request.kind)
