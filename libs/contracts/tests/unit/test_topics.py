"""Topic names and their specs."""

from __future__ import annotations

import re

import pytest

from tradelab_contracts import topics
from tradelab_contracts.topics import (
    ALL_TOPICS,
    is_reply_topic,
    reply_topic,
    reply_topic_spec,
)

TOPIC_NAME = re.compile(r"^[a-z]+\.[a-z-]+\.[a-z-]+\.v[0-9]+$")


def _topic_constants() -> dict[str, str]:
    return {
        name: value
        for name, value in vars(topics).items()
        if name.isupper() and not name.startswith("_") and isinstance(value, str)
    }


def test_every_topic_constant_is_dotted_and_versioned() -> None:
    constants = _topic_constants()

    assert constants, "no topic constants found"
    bad = {name: value for name, value in constants.items() if not TOPIC_NAME.match(value)}
    assert bad == {}


def test_topic_names_are_unique() -> None:
    names = [spec.name for spec in ALL_TOPICS]

    assert len(names) == len(set(names))


def test_every_topic_constant_has_a_spec_and_no_spec_is_inline() -> None:
    assert {spec.name for spec in ALL_TOPICS} == set(_topic_constants().values())


def test_chunk_topics_have_most_partitions_and_job_requests_several() -> None:
    partitions = {spec.name: spec.partitions for spec in ALL_TOPICS}

    assert partitions[topics.OPTIMIZATION_CHUNK_REQUESTED] == 16
    assert partitions[topics.BACKTEST_REQUESTED] == 4
    assert partitions[topics.SYSTEM_HEARTBEAT] == 1
    assert all(spec.description for spec in ALL_TOPICS)


def test_reply_topic_embeds_the_gateway_instance_id() -> None:
    assert reply_topic("gw-7f3a") == "gateway.rpc.reply-gw-7f3a.v1"
    assert reply_topic_spec("gw-1").partitions == topics.REPLY_TOPIC_PARTITIONS


@pytest.mark.parametrize(
    "instance_id",
    ["", "Gateway", "gw_1", "gw.1", "gw 1", "a" * 41, "gw-1\n", "gw/1"],
)
def test_reply_topic_rejects_an_invalid_instance_id(instance_id: str) -> None:
    with pytest.raises(ValueError, match="instance id"):
        reply_topic(instance_id)


def test_reply_topics_are_told_apart_from_fixed_topics() -> None:
    assert is_reply_topic(reply_topic("a" * 40))
    assert not is_reply_topic(topics.AUTH_REQUESTS)
    assert not is_reply_topic("gateway.rpc.reply-.v1")
