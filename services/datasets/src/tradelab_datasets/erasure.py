"""Cascade into datasets: a deleted user's datasets and files go.

Every file of an owner lives under ``datasets/<owner>/`` (normalised Parquet, content-addressed
per owner) or ``raw/<owner>/`` (uploads not yet ingested). Files go first, rows second, so an
erasure that dies half-way is redelivered and finishes; both steps are no-ops when repeated.
"""

import asyncio
from dataclasses import dataclass

from faststream.kafka import KafkaBroker

from tradelab_contracts.auth import UserDeleted
from tradelab_contracts.topics import AUTH_USER_DELETED
from tradelab_runtime.consumers import RetryPolicy, work_subscriber
from tradelab_runtime.dead_letters import DeadLetters
from tradelab_runtime.erasure import remove_prefix
from tradelab_runtime.logging import get_logger
from tradelab_runtime.storage import LocalObjectStore

from .adapters.erasure import DatasetEraser

log = get_logger(__name__)
OWNER_PREFIXES = ("datasets", "raw")


@dataclass(frozen=True)
class ErasureDeps:
    """What the erasure needs."""

    rows: DatasetEraser
    store: LocalObjectStore


async def forget_owner(event: UserDeleted, deps: ErasureDeps) -> None:
    """Delete every dataset of a deleted user and every file of theirs."""
    for folder in OWNER_PREFIXES:
        await asyncio.to_thread(remove_prefix, deps.store, f"{folder}/{event.user_id}")
    removed = await deps.rows.delete_owner(event.user_id)
    log.info("datasets of a deleted user erased", user_id=str(event.user_id), datasets=removed)


def register_erasures(
    broker: KafkaBroker, deps: ErasureDeps, letters: DeadLetters, policy: RetryPolicy
) -> None:
    """Subscribe the erasure of deleted users (its own group, under the failure policy)."""

    async def on_user_deleted(event: UserDeleted) -> None:
        await forget_owner(event, deps)

    work_subscriber(
        broker,
        AUTH_USER_DELETED,
        # A group of its own: one whose members read different topics rebalanced without end
        # on the development broker when a replica left.
        group_id="datasets-erasure",
        model=UserDeleted,
        handle=on_user_deleted,
        dead_letters=letters,
        policy=policy,
    )
