"""The strategy catalogue: lookup by name, parameter validation, and catalogue entries."""

from collections.abc import Mapping
from types import MappingProxyType

from pydantic import BaseModel

from tradelab_engine.strategies.base import Strategy, UnknownStrategyError
from tradelab_engine.strategies.bollinger import BOLLINGER_BREAKOUT, BOLLINGER_REVERSION
from tradelab_engine.strategies.buy_and_hold import BUY_AND_HOLD
from tradelab_engine.strategies.donchian import DONCHIAN_BREAKOUT
from tradelab_engine.strategies.ma_cross import EMA_CROSS, SMA_CROSS
from tradelab_engine.strategies.macd import MACD_CROSS
from tradelab_engine.strategies.rsi import RSI_REVERSION
from tradelab_engine.strategies.rules import RULES

STRATEGIES: Mapping[str, Strategy] = MappingProxyType(
    {
        strategy.name: strategy
        for strategy in (
            BUY_AND_HOLD,
            SMA_CROSS,
            EMA_CROSS,
            RSI_REVERSION,
            MACD_CROSS,
            BOLLINGER_REVERSION,
            BOLLINGER_BREAKOUT,
            DONCHIAN_BREAKOUT,
            RULES,
        )
    }
)
"""Every strategy by name (read-only)."""


def get_strategy(name: str) -> Strategy:
    """Return the strategy called ``name``.

    Raises
    ------
    UnknownStrategyError
        If there is none; the message lists the known names.
    """
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UnknownStrategyError(name, list(STRATEGIES)) from None


def validate_parameters(name: str, raw: Mapping[str, object]) -> BaseModel:
    """Validate raw parameters (e.g. decoded JSON) against the strategy's model.

    Missing fields take their defaults; unknown fields are rejected.

    Raises
    ------
    UnknownStrategyError
        If there is no such strategy.
    pydantic.ValidationError
        If a value is out of bounds, of the wrong type, unknown, or the fields are inconsistent.
    """
    return get_strategy(name).params_model.model_validate(raw)


def catalogue_entry(strategy: Strategy) -> dict[str, object]:
    """Describe a strategy for clients.

    Returns
    -------
    dict
        ``name``, ``description``, ``parameters`` (the JSON schema of the parameter model) and
        ``defaults`` (the default value of every parameter).
    """
    return {
        "name": strategy.name,
        "description": strategy.description,
        "parameters": strategy.params_model.model_json_schema(),
        "defaults": strategy.params_model().model_dump(mode="json"),
    }
