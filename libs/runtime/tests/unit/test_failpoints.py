"""Failpoints: armed only by the setting, production refuses them, actions as documented."""

import pytest
from pydantic import ValidationError

from tradelab_runtime.failpoints import FailpointError, Failpoints
from tradelab_runtime.settings import ServiceSettings


def test_nothing_is_armed_by_default_and_hitting_an_unarmed_point_does_nothing() -> None:
    points = Failpoints.parse("")
    assert points.armed == {}
    points.hit("engine.backtest.before_commit")
    assert not points.armed_at("engine.backtest.before_commit")


def test_the_spec_arms_each_point_with_its_action() -> None:
    points = Failpoints.parse(" a , b=raise,c=raise-once,,d=kill ")
    assert points.armed == {"a": "kill", "b": "raise", "c": "raise-once", "d": "kill"}
    with pytest.raises(ValueError, match="unknown failpoint action 'explode'"):
        Failpoints.parse("x=explode")


def test_raise_fails_every_time_and_raise_once_only_the_first_time() -> None:
    points = Failpoints.parse("always=raise,once=raise-once")
    for _ in range(2):
        with pytest.raises(FailpointError, match="always"):
            points.hit("always")
    with pytest.raises(FailpointError, match="once"):
        points.hit("once")
    points.hit("once")
    assert not points.armed_at("once")


def test_production_refuses_failpoints() -> None:
    with pytest.raises(ValidationError, match="failpoints are a test setting"):
        ServiceSettings(service_name="engine", environment="production", failpoints="a")
    assert ServiceSettings(service_name="engine", failpoints="a").failpoints == "a"
