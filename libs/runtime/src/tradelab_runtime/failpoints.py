"""Failpoints: named places in a lifecycle where a test makes the process fail on purpose.

Armed only through the ``failpoints`` setting (``<SERVICE>_FAILPOINTS``), which production
refuses. ``name`` kills the process with SIGKILL when reached (a crash: nothing is cleaned up,
no offset is committed); ``name=raise`` raises :class:`FailpointError` every time (a lasting
error); ``name=raise-once`` raises the first time only (a transient error the failure policy's
retry gets past). Production code calls :meth:`Failpoints.hit` and nothing else.
"""

import os
import signal
from dataclasses import dataclass, field

from .logging import get_logger

log = get_logger(__name__)


class FailpointError(RuntimeError):
    """Raised at an armed ``raise`` failpoint."""


@dataclass(frozen=True)
class Failpoints:
    """The failpoints armed in this process (none outside tests)."""

    armed: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str) -> "Failpoints":
        """Read ``"a,b=raise"`` into armed failpoints (action ``kill`` unless given)."""
        armed: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, _, action = item.partition("=")
            if action not in ("", "kill", "raise", "raise-once"):
                msg = f"unknown failpoint action {action!r} for {name!r}"
                raise ValueError(msg)
            armed[name] = action or "kill"
        return cls(armed)

    def armed_at(self, name: str) -> bool:
        """Whether ``name`` is armed (to prepare the state it should fail in)."""
        return name in self.armed

    def hit(self, name: str) -> None:
        """Fail here if ``name`` is armed."""
        action = self.armed.get(name)
        if action is None:
            return
        log.warning("failpoint reached", failpoint=name, action=action)
        if action == "raise-once":
            del self.armed[name]
        if action in ("raise", "raise-once"):
            raise FailpointError(name)
        os.kill(os.getpid(), signal.SIGKILL)
