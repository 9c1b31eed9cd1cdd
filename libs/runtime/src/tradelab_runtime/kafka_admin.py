"""Explicit topic creation: the development broker is memory-only and production disables
auto-creation, so every process that needs topics creates them itself at start."""

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from tradelab_contracts.topics import TopicSpec


async def ensure_topics(bootstrap: str, specs: Iterable[TopicSpec], replication: int = 1) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="tradelab-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name=s.name, num_partitions=s.partitions, replication_factor=replication)
            for s in specs
            if s.name not in existing
        ]
        if missing:
            # Another process may create them between our list and our create.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, names: Iterable[str]) -> None:
    """Delete topics (a process's own, at shutdown): the development broker keeps every topic
    in memory, so per-instance topics would otherwise pile up across restarts."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="tradelab-admin")
    await admin.start()
    try:
        await admin.delete_topics(list(names))
    finally:
        await admin.close()
