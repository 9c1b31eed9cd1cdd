"""Fan-out of job events to this replica's WebSocket connections: each event goes only to its
owner's subscriptions (all their jobs, or the one job a socket watches). Each owner may hold a
bounded number of subscriptions per replica, each with a bounded outbox."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, field
from uuid import UUID

from .job_events import JobEvent, SequenceFilter
from .outbox import DEFAULT_LIMIT, Outbox

DEFAULT_MAX_PER_OWNER = 10


class TooManyConnectionsError(Exception):
    """The owner already holds as many subscriptions as this replica allows."""


def event_key(event: JobEvent) -> Hashable | None:
    """The outbox key of an event: progress of a job replaces its unsent progress; finals and
    analysis announcements stay."""
    return ("progress", event.run_id) if event.type == "progress" else None


def _hold(held: dict[Hashable, JobEvent], event: JobEvent, outbox: Outbox) -> None:
    """Keep ``event`` until the subscription starts: the newest progress of a job replaces an
    older one in place; more held events than the outbox may hold overflow it."""
    key = event_key(event) or (event.type, event.run_id, event.sequence)
    earlier = held.get(key)
    if earlier is not None:
        if earlier.sequence < event.sequence:
            held[key] = event
    elif len(held) >= outbox.limit:
        held.clear()
        outbox.overflow()
    elif not outbox.overflowed:
        held[key] = event


@dataclass(eq=False)
class Subscription:
    """One socket's interest: ``run_id`` None means every job of ``owner_id``.

    Events are held back until :meth:`start` (the socket first sends its snapshot), then only
    events newer than what the client already has pass. Held progress is coalesced per job like
    the outbox's, and held events count against the outbox's limit.
    """

    owner_id: UUID
    run_id: UUID | None
    outbox: Outbox = field(default_factory=Outbox)
    seen: SequenceFilter = field(default_factory=lambda: SequenceFilter({}))
    _held: dict[Hashable, JobEvent] | None = field(default_factory=dict)

    def wants(self, event: JobEvent) -> bool:
        """Whether the event is for this subscription."""
        return event.owner_id == self.owner_id and self.run_id in (None, event.run_id)

    def deliver(self, event: JobEvent) -> None:
        """Queue the event if it is new for its job (held back until started); an analysis
        announcement is outside the job's sequence and always passes."""
        if self._held is not None:
            _hold(self._held, event, self.outbox)
        elif event.analysis or self.seen.admit(event):
            self.outbox.put(event.payload, key=event_key(event))

    def start(self, known: dict[UUID, int]) -> None:
        """Begin delivery; ``known`` is the sequence the client has per job (its snapshot)."""
        for run_id, sequence in known.items():
            self.seen.last[run_id] = max(sequence, self.seen.last.get(run_id, -1))
        held, self._held = self._held or {}, None
        for event in held.values():
            self.deliver(event)


@dataclass
class EventHub:
    """Every live subscription of this replica, by owner: at most ``max_per_owner`` each, each
    with an outbox of at most ``outbox_limit`` messages."""

    max_per_owner: int = DEFAULT_MAX_PER_OWNER
    outbox_limit: int = DEFAULT_LIMIT
    _by_owner: defaultdict[UUID, set[Subscription]] = field(
        default_factory=lambda: defaultdict(set)
    )
    dispatched: int = 0

    def subscribe(self, owner_id: UUID, run_id: UUID | None = None) -> Subscription:
        """Register a subscription (held until started).

        Raises
        ------
        TooManyConnectionsError
            When the owner already holds ``max_per_owner`` subscriptions.
        """
        if len(self._by_owner.get(owner_id, ())) >= self.max_per_owner:
            raise TooManyConnectionsError(owner_id)
        subscription = Subscription(owner_id, run_id, Outbox(self.outbox_limit))
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
