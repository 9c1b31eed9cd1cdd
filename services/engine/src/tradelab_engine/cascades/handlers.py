"""Subscribers of the cascades, under the failure policy every work consumer follows."""

from functools import partial

from faststream.kafka import KafkaBroker

from tradelab_contracts.auth import UserDeleted
from tradelab_contracts.datasets import DatasetDeleted
from tradelab_contracts.topics import AUTH_USER_DELETED, DATASET_DELETED
from tradelab_runtime.consumers import RetryPolicy, work_subscriber
from tradelab_runtime.dead_letters import DeadLetters

from .service import CascadeDeps, erase_owner, stop_jobs_on_dataset

DATASET_GROUP = "engine-cascades-datasets"
USER_GROUP = "engine-erasure"
"""One consumer group per topic: a group whose members read different topics rebalanced
without end on the development broker when a replica left."""


def register_cascade_handlers(
    broker: KafkaBroker, deps: CascadeDeps, letters: DeadLetters, policy: RetryPolicy
) -> None:
    """Subscribe the engine to deleted datasets and users (a group per topic, all replicas)."""
    work_subscriber(
        broker,
        DATASET_DELETED,
        group_id=DATASET_GROUP,
        model=DatasetDeleted,
        handle=partial(stop_jobs_on_dataset, deps=deps),
        dead_letters=letters,
        policy=policy,
    )
    work_subscriber(
        broker,
        AUTH_USER_DELETED,
        group_id=USER_GROUP,
        model=UserDeleted,
        handle=partial(erase_owner, deps=deps),
        dead_letters=letters,
        policy=policy,
    )
