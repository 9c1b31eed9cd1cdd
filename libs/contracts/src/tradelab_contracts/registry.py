"""Which message each topic carries, and parsing a payload by its topic."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from pydantic import TypeAdapter

from tradelab_contracts import (
    analytics,
    analytics_rpc,
    auth,
    datasets,
    datasets_rpc,
    engine,
    engine_rpc,
    montecarlo,
    optimization,
    system,
)
from tradelab_contracts import topics as t
from tradelab_contracts.base import Message

Carried: TypeAlias = type[Message] | TypeAdapter[Any]
"""A message class, or an adapter for a topic that carries a discriminated union."""

UNION_MEMBERS: Final[dict[str, tuple[type[Message], ...]]] = {
    t.AUTH_REQUESTS: auth.AUTH_REQUEST_TYPES,
    t.DATASETS_REQUESTS: datasets_rpc.DATASETS_REQUEST_TYPES,
    t.ENGINE_REQUESTS: engine_rpc.ENGINE_REQUEST_TYPES,
    t.ANALYTICS_REQUESTS: analytics_rpc.ANALYTICS_REQUEST_TYPES,
}
"""The member classes of each topic that carries a discriminated union."""

TOPIC_MESSAGES: Final[dict[str, Carried]] = {
    t.SYSTEM_HEARTBEAT: system.ServiceHeartbeat,
    t.SYSTEM_DEAD_LETTERED: system.DeadLettered,
    t.AUTH_REQUESTS: auth.AUTH_REQUEST_ADAPTER,
    t.AUTH_USER_REGISTERED: auth.UserRegistered,
    t.AUTH_USER_DELETED: auth.UserDeleted,
    t.DATASETS_REQUESTS: datasets_rpc.DATASETS_REQUEST_ADAPTER,
    t.DATASET_UPLOADED: datasets.DatasetUploaded,
    t.DATASET_INGESTED: datasets.DatasetIngested,
    t.DATASET_REJECTED: datasets.DatasetRejected,
    t.DATASET_DELETED: datasets.DatasetDeleted,
    t.ENGINE_REQUESTS: engine_rpc.ENGINE_REQUEST_ADAPTER,
    t.BACKTEST_REQUESTED: engine.RunBacktest,
    t.BACKTEST_PROGRESS: engine.BacktestProgress,
    t.BACKTEST_COMPLETED: engine.BacktestCompleted,
    t.BACKTEST_FAILED: engine.BacktestFailed,
    t.BACKTEST_CANCEL_REQUESTED: engine.CancelBacktest,
    t.BACKTEST_CANCELLED: engine.BacktestCancelled,
    t.BACKTEST_DELETED: engine.BacktestDeleted,
    t.OPTIMIZATION_REQUESTED: optimization.RunOptimization,
    t.OPTIMIZATION_CHUNK_REQUESTED: optimization.RunOptimizationChunk,
    t.OPTIMIZATION_CHUNK_COMPLETED: optimization.OptimizationChunkCompleted,
    t.OPTIMIZATION_PROGRESS: optimization.OptimizationProgress,
    t.OPTIMIZATION_COMPLETED: optimization.OptimizationCompleted,
    t.OPTIMIZATION_FAILED: optimization.OptimizationFailed,
    t.OPTIMIZATION_CANCEL_REQUESTED: optimization.CancelOptimization,
    t.OPTIMIZATION_CANCELLED: optimization.OptimizationCancelled,
    t.MONTECARLO_REQUESTED: montecarlo.RunMonteCarlo,
    t.MONTECARLO_PROGRESS: montecarlo.MonteCarloProgress,
    t.MONTECARLO_COMPLETED: montecarlo.MonteCarloCompleted,
    t.MONTECARLO_FAILED: montecarlo.MonteCarloFailed,
    t.MONTECARLO_CANCEL_REQUESTED: montecarlo.CancelMonteCarlo,
    t.MONTECARLO_CANCELLED: montecarlo.MonteCarloCancelled,
    t.ANALYTICS_REQUESTS: analytics_rpc.ANALYTICS_REQUEST_ADAPTER,
    t.REPORT_READY: analytics.ReportReady,
    t.REPORT_FAILED: analytics.ReportFailed,
}
"""The message class (or union adapter) each fixed topic carries."""

REPLY_MESSAGES: Final[tuple[type[Message], ...]] = (
    auth.AuthReply,
    datasets_rpc.DatasetsReply,
    *engine_rpc.ENGINE_REPLY_TYPES,
    analytics_rpc.AnalyticsReply,
)
"""What gateway reply topics (`tradelab_contracts.topics.reply_topic`) carry: an `AuthReply`, or
another service's reply (told apart by its ``kind``, which `AuthReply` predates and lacks)."""

_REPLY_OF_KIND: Final[Mapping[str, type[Message]]] = MappingProxyType(
    {
        "datasets": datasets_rpc.DatasetsReply,
        "analytics": analytics_rpc.AnalyticsReply,
        **{reply.model_fields["kind"].default: reply for reply in engine_rpc.ENGINE_REPLY_TYPES},
    }
)


def _members(topic: str, carried: Carried) -> tuple[type[Message], ...]:
    return UNION_MEMBERS[topic] if isinstance(carried, TypeAdapter) else (carried,)


def message_types() -> tuple[type[Message], ...]:
    """Return every message class, each once, in topic order (reply message last)."""
    found: list[type[Message]] = []
    for topic, carried in TOPIC_MESSAGES.items():
        found.extend(_members(topic, carried))
    found.extend(REPLY_MESSAGES)
    return tuple(dict.fromkeys(found))


_TOPIC_OF: Final = MappingProxyType(
    {
        member: topic
        for topic, carried in TOPIC_MESSAGES.items()
        for member in _members(topic, carried)
    }
)


def topic_for(message: Message) -> str:
    """Return the fixed topic a message is published on.

    Raises
    ------
    KeyError
        For a reply, whose topic is the request's ``reply_to``, or a class no topic carries.
    """
    return _TOPIC_OF[type(message)]


def parse_message(topic: str, payload: bytes | str) -> Message:
    """Validate a JSON payload as the message its topic carries.

    Parameters
    ----------
    topic
        The topic the payload was read from; gateway reply topics included.
    payload
        The message value.

    Returns
    -------
    Message
        The parsed message.

    Raises
    ------
    KeyError
        If no contract is registered for ``topic``.
    pydantic.ValidationError
        If the payload does not match the contract.
    """
    if t.is_reply_topic(topic):
        kind = json.loads(payload).get("kind")
        return _REPLY_OF_KIND.get(kind, auth.AuthReply).model_validate_json(payload)
    carried = TOPIC_MESSAGES[topic]
    if isinstance(carried, TypeAdapter):
        member: Message = carried.validate_json(payload)
        return member
    return carried.model_validate_json(payload)
