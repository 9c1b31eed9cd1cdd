"""Which message each topic carries."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import get_args
from uuid import UUID

import pytest
from pydantic import ValidationError

import tradelab_contracts
from tradelab_contracts import topics
from tradelab_contracts.auth import AUTH_REQUEST_TYPES, AuthReply, AuthRequest, GetUser
from tradelab_contracts.base import Command, Event, Message
from tradelab_contracts.datasets_rpc import DatasetsReply, ListDatasets
from tradelab_contracts.engine import CancelBacktest
from tradelab_contracts.engine_rpc import (
    ENGINE_REPLY_TYPES,
    ENGINE_REQUEST_TYPES,
    REPLY_OF,
    BacktestPageReply,
    BacktestReply,
    EngineError,
    EngineErrorCode,
)
from tradelab_contracts.registry import TOPIC_MESSAGES, message_types, parse_message, topic_for
from tradelab_contracts.topics import ALL_TOPICS, reply_topic

OWNER = UUID(int=1)
RUN = UUID(int=2)


def concrete_messages() -> set[type[Message]]:
    """Every Message subclass defined in the package that nothing else derives from."""
    found: set[type[Message]] = set()
    for module_info in pkgutil.iter_modules(tradelab_contracts.__path__):
        module = importlib.import_module(f"tradelab_contracts.{module_info.name}")
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, Message)
                and value.__module__ == module.__name__
                and not value.__subclasses__()
            ):
                found.add(value)
    return found


def test_every_topic_has_a_registered_message() -> None:
    assert set(TOPIC_MESSAGES) == {spec.name for spec in ALL_TOPICS}


def test_message_types_lists_each_message_once_commands_and_events_alike() -> None:
    types = message_types()

    assert len(types) == len(set(types))
    # Every concrete message class of the package travels on some topic.
    assert set(types) == concrete_messages()
    assert all(issubclass(t, Command) != issubclass(t, Event) for t in types)
    assert AuthReply in types
    assert set(AUTH_REQUEST_TYPES) <= set(types)


def test_auth_request_types_are_the_members_of_the_union() -> None:
    (union, _) = get_args(AuthRequest)

    assert get_args(union) == AUTH_REQUEST_TYPES


def test_commands_are_named_imperatively_and_events_in_the_past_tense() -> None:
    # Past tense or a noun of state; a stray imperative name on an event is the usual slip.
    imperative = (
        "Run",
        "Submit",
        "Cancel",
        "Register",
        "Authenticate",
        "Refresh",
        "Revoke",
        "Get",
        "List",
        "Preview",
        "Delete",
        "Normalise",
        "Compare",
        "Create",
        "Check",
    )
    for message_type in message_types():
        is_imperative = message_type.__name__.startswith(imperative)
        assert is_imperative == issubclass(message_type, Command), message_type.__name__


def test_parse_message_validates_the_class_its_topic_carries() -> None:
    sent = CancelBacktest(run_id=RUN, owner_id=OWNER)

    received = parse_message(topics.BACKTEST_CANCEL_REQUESTED, sent.model_dump_json())

    assert received == sent


def test_parse_message_picks_the_auth_request_by_kind() -> None:
    sent = GetUser(user_id=OWNER, reply_to=reply_topic("gw-1"))

    received = parse_message(topics.AUTH_REQUESTS, sent.model_dump_json().encode())

    assert isinstance(received, GetUser)
    assert received == sent


def test_parse_message_reads_replies_on_any_gateway_reply_topic() -> None:
    reply = AuthReply(request_id=RUN, ok=True)

    assert parse_message(reply_topic("gw-2"), reply.model_dump_json()) == reply


def test_parse_message_tells_a_datasets_reply_from_an_auth_reply_by_kind() -> None:
    reply = DatasetsReply(request_id=RUN, ok=True, total=0, datasets=[])

    received = parse_message(reply_topic("gw-3"), reply.model_dump_json())

    assert isinstance(received, DatasetsReply)
    assert received == reply


def test_every_engine_request_has_one_reply_class_each_with_its_own_kind() -> None:
    assert set(REPLY_OF) == set(ENGINE_REQUEST_TYPES)
    kinds = [reply.model_fields["kind"].default for reply in ENGINE_REPLY_TYPES]
    assert len(set(kinds)) == len(kinds) == len(set(REPLY_OF.values()))
    assert all(kind.startswith("engine.") for kind in kinds)


@pytest.mark.parametrize("reply_class", ENGINE_REPLY_TYPES)
def test_parse_message_tells_each_engine_reply_by_kind(reply_class: type[Message]) -> None:
    refusal = EngineError(code=EngineErrorCode.NOT_FOUND, message="No such backtest.")
    sent = reply_class.model_validate({"request_id": RUN, "ok": False, "error": refusal})

    received = parse_message(reply_topic("gw-4"), sent.model_dump_json())

    assert type(received) is reply_class
    assert received == sent


def test_an_ok_engine_reply_carries_its_whole_payload() -> None:
    with pytest.raises(ValidationError, match="lacks run"):
        BacktestReply(request_id=RUN, ok=True)
    with pytest.raises(ValidationError, match="lacks total"):
        BacktestPageReply(request_id=RUN, ok=True, runs=[])
    assert BacktestPageReply(request_id=RUN, ok=True, runs=[], total=0).total == 0


def test_parse_message_picks_the_datasets_request_by_kind() -> None:
    sent = ListDatasets(owner_id=OWNER, reply_to=reply_topic("gw-1"), symbol="GOOG")

    received = parse_message(topics.DATASETS_REQUESTS, sent.model_dump_json())

    assert isinstance(received, ListDatasets)
    assert received == sent


def test_parse_message_refuses_an_unregistered_topic_and_a_mismatched_payload() -> None:
    payload = CancelBacktest(run_id=RUN, owner_id=OWNER).model_dump_json()

    with pytest.raises(KeyError):
        parse_message("engine.backtest.typo.v1", payload)
    with pytest.raises(ValidationError):
        parse_message(topics.DATASET_INGESTED, payload)


def test_topic_for_names_the_topic_a_message_is_published_on() -> None:
    assert topic_for(CancelBacktest(run_id=RUN, owner_id=OWNER)) == topics.BACKTEST_CANCEL_REQUESTED
    assert topic_for(GetUser(user_id=OWNER, reply_to="x")) == topics.AUTH_REQUESTS
    with pytest.raises(KeyError):
        topic_for(AuthReply(request_id=RUN, ok=True))
