"""Explicit topic creation: the development broker is memory-only and production disables
auto-creation, so every process that needs topics creates them itself at start."""

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from tradelab_contracts.topics import TopicSpec


def _admin(bootstrap: str, options: Mapping[str, Any] | None) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap.split(","), client_id="tradelab-admin", **(options or {})
    )


def new_topic(spec: TopicSpec, replication: int) -> NewTopic:
    """Return the creation request of ``spec``, its per-topic configs (retention) included."""
    return NewTopic(
        name=spec.name,
        num_partitions=spec.partitions,
        replication_factor=replication,
        topic_configs=dict(spec.configs),
    )


async def ensure_topics(
    bootstrap: str,
    specs: Iterable[TopicSpec],
    replication: int = 1,
    options: Mapping[str, Any] | None = None,
) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are.

    ``options`` are aiokafka client arguments (SASL, `tradelab_runtime.kafka_security`).
    """
    admin = _admin(bootstrap, options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [new_topic(s, replication) for s in specs if s.name not in existing]
        if missing:
            # Another process may create them between our list and our create.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


async def delete_topics(
    bootstrap: str, names: Iterable[str], options: Mapping[str, Any] | None = None
) -> None:
    """Delete topics (a process's own, at shutdown): the development broker keeps every topic
    in memory, so per-instance topics would otherwise pile up across restarts."""
    admin = _admin(bootstrap, options)
    await admin.start()
    try:
        await admin.delete_topics(list(names))
    finally:
        await admin.close()
