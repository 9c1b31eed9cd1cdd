"""Kafka subscribers of the gateway: thin, they hand messages to the domain."""

from datetime import timedelta

from faststream.kafka import KafkaBroker

from tradelab_contracts.system import ServiceHeartbeat
from tradelab_contracts.topics import SYSTEM_HEARTBEAT
from tradelab_runtime.clock import Clock

from .domain.service_registry import ServiceRegistry

FORGET_AFTER = timedelta(hours=1)


def register_heartbeat_subscriber(
    broker: KafkaBroker, registry: ServiceRegistry, clock: Clock, instance_id: str
) -> None:
    """Feed every heartbeat to ``registry``.

    Each replica consumes in a group of its own so that every replica sees every heartbeat, and
    starts from the latest offset: older beats say nothing about now.
    """

    @broker.subscriber(
        SYSTEM_HEARTBEAT, group_id=f"gateway-heartbeats-{instance_id}", auto_offset_reset="latest"
    )
    async def on_heartbeat(beat: ServiceHeartbeat) -> None:
        now = clock.now()
        registry.observe(beat, now)
        registry.forget_older_than(now - FORGET_AFTER)
