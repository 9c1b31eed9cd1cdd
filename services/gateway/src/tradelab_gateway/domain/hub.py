"""Fan-out of job events to this replica's WebSocket connections: each event goes only to its
owner's subscriptions (all their jobs, or the one job a socket watches)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from uuid import UUID

from .job_events import JobEvent, SequenceFilter
from .outbox import Outbox


@dataclass(eq=False)
class Subscription:
    """One socket's interest: ``run_id`` None means every job of ``owner_id``.

    Events are held back until :meth:`start` (the socket first sends its snapshot), then only
    events newer than what the client already has pass.
    """

    owner_id: UUID
    run_id: UUID | None
    outbox: Outbox = field(default_factory=Outbox)
    seen: SequenceFilter = field(default_factory=lambda: SequenceFilter({}))
    _held: list[JobEvent] | None = field(default_factory=list)

    def wants(self, event: JobEvent) -> bool:
        """Whether the event is for this subscription."""
        return event.owner_id == self.owner_id and self.run_id in (None, event.run_id)

    def deliver(self, event: JobEvent) -> None:
        """Queue the event if it is new for its job (held back until started)."""
        if self._held is not None:
            self._held.append(event)
            return
        if self.seen.admit(event):
            self.outbox.put(event.payload, progress_of=None if event.final else event.run_id)

    def start(self, known: dict[UUID, int]) -> None:
        """Begin delivery; ``known`` is the sequence the client has per job (its snapshot)."""
        for run_id, sequence in known.items():
            self.seen.last[run_id] = max(sequence, self.seen.last.get(run_id, -1))
        held, self._held = self._held or [], None
        for event in held:
            self.deliver(event)


@dataclass
class EventHub:
    """Every live subscription of this replica, by owner."""

    _by_owner: defaultdict[UUID, set[Subscription]] = field(
        default_factory=lambda: defaultdict(set)
    )
    dispatched: int = 0

    def subscribe(self, owner_id: UUID, run_id: UUID | None = None) -> Subscription:
        """Register a subscription (held until started)."""
        subscription = Subscription(owner_id, run_id)
        self._by_owner[owner_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a subscription (its socket closed)."""
        owned = self._by_owner.get(subscription.owner_id)
        if owned is not None:
            owned.discard(subscription)
            if not owned:
                del self._by_owner[subscription.owner_id]

    def dispatch(self, event: JobEvent) -> int:
        """Hand ``event`` to its owner's interested subscriptions; return how many."""
        self.dispatched += 1
        delivered = 0
        for subscription in self._by_owner.get(event.owner_id, ()):
            if subscription.wants(event):
                subscription.deliver(event)
                delivered += 1
        return delivered

    @property
    def connections(self) -> int:
        """Live subscriptions."""
        return sum(len(s) for s in self._by_owner.values())
