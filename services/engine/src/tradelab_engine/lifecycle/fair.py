"""Fair queueing per user: which claimable job a worker takes next.

A job message is a turn, not the order of work: the worker that receives one takes the next job
of the message's kind in this order, whichever job the message named.

1. The user with the fewest running jobs, counted over every job table (``JOB_TABLES``): a user
   whose backlog keeps every worker busy yields to one who has nothing running.
2. Among those, the user served least recently (whose latest job, of any kind, started
   longest ago; never served first), so that with one worker two users with queued jobs take
   turns instead of the oldest backlog running to its end; then the user waiting longest (whose
   oldest claimable job of the kind is oldest).
3. Within that user, the kind's own order (``JobKind.queue_order``: oldest first; a Monte Carlo
   study's priority comes first, so a user's priority reorders their own studies only).

Selected and locked in one statement with ``FOR UPDATE SKIP LOCKED``: two workers claiming at once
take two different jobs. The shares are read without locks, so two concurrent claims may both
favour the same user once; fairness holds from one claim to the next, not within one instant.
"""

import functools
import operator
from collections.abc import Sequence

import sqlalchemy as sa

from tradelab_contracts.engine_rpc import RunStatus
from tradelab_engine.adapters.tables import JOB_TABLES


def running_jobs(owner_id: sa.ColumnElement[object]) -> sa.ColumnElement[int]:
    """The number of running jobs of ``owner_id`` over every job table."""
    counts = []
    for table in JOB_TABLES:
        peer = table.alias()  # the outer query reads one of them: no correlation with it
        counts.append(
            sa.select(sa.func.count())
            .where(peer.c.owner_id == owner_id, peer.c.status == RunStatus.RUNNING.value)
            .scalar_subquery()
        )
    return functools.reduce(operator.add, counts)


def last_served(owner_id: sa.ColumnElement[object]) -> sa.ColumnElement[object]:
    """When ``owner_id``'s latest job of any job table started (NULL: never)."""
    latest = []
    for table in JOB_TABLES:
        peer = table.alias()
        latest.append(
            sa.select(sa.func.max(peer.c.started_at))
            .where(peer.c.owner_id == owner_id)
            .scalar_subquery()
        )
    return sa.func.greatest(*latest)  # NULLs are ignored


def next_job(
    table: sa.Table,
    waiting: sa.ColumnElement[bool],
    queue_order: Sequence[sa.ColumnElement[object]],
) -> sa.ScalarSelect[object]:
    """The id of the job of ``table`` (meeting ``waiting``) to take next, locked, in the fair
    order of the module docstring."""
    owners = (
        sa.select(table.c.owner_id, sa.func.min(table.c.created_at).label("since"))
        .where(waiting)
        .group_by(table.c.owner_id)
        .subquery("owners")
    )
    shares = sa.select(
        owners.c.owner_id,
        owners.c.since,
        running_jobs(owners.c.owner_id).label("running"),
        last_served(owners.c.owner_id).label("served"),
    ).subquery("shares")
    return (
        sa.select(table.c.id)
        .join(shares, shares.c.owner_id == table.c.owner_id)
        .where(waiting)
        .order_by(
            shares.c.running,
            shares.c.served.asc().nulls_first(),
            shares.c.since,
            shares.c.owner_id,
            *queue_order,
        )
        .limit(1)
        .with_for_update(of=table, skip_locked=True)
        .scalar_subquery()
    )
