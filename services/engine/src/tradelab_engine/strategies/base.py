"""What a strategy is: a parameter model, a signal rule and its warm-up.

Timing convention: ``entries[t]`` and ``exits[t]`` are decided with bar ``t``'s close and
everything before it, never after. The simulator fills them at bar ``t + 1``'s open; strategies
do NOT shift their signals themselves.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from pydantic import BaseModel

from tradelab_engine.domain.bars import Bars, BoolArray

P = TypeVar("P", bound=BaseModel)


class UnknownStrategyError(KeyError):
    """No strategy of that name; the message lists the known names."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = sorted(known)

    def __str__(self) -> str:
        return f"unknown strategy {self.name!r}; known strategies: {', '.join(self.known)}"


@dataclass(frozen=True)
class Signals:
    """Entry and exit flags, one per bar, decided at that bar's close.

    A flag that fires while it cannot act (an entry while already in a position, an exit while
    flat) is ignored by the simulator, so level rules ("RSI below 30") may fire on many bars.
    """

    entries: BoolArray
    exits: BoolArray

    def __post_init__(self) -> None:
        if self.entries.shape != self.exits.shape or self.entries.ndim != 1:
            msg = f"entries {self.entries.shape} and exits {self.exits.shape} must be equal 1-D"
            raise ValueError(msg)
        if self.entries.dtype != np.bool_ or self.exits.dtype != np.bool_:
            msg = "entries and exits must be boolean arrays"
            raise TypeError(msg)

    def __len__(self) -> int:
        return len(self.entries)


@dataclass(frozen=True)
class Strategy:
    """A named signal rule.

    Attributes
    ----------
    name, description : str
        Catalogue key and one-paragraph human description.
    params_model : type[BaseModel]
        Pydantic model of the parameters (every field has a default).
    signals : Callable[[Bars, BaseModel], Signals]
        Computes the signals; checks that the parameters are an instance of ``params_model``.
    warmup : Callable[[BaseModel], int]
        Number of leading bars on which no entry can fire because an indicator is still
        warming up (the index of the first bar where an entry is possible).
    """

    name: str
    description: str
    params_model: type[BaseModel]
    signals: Callable[[Bars, BaseModel], Signals]
    warmup: Callable[[BaseModel], int]


def _checked(params: BaseModel, model: type[P], name: str) -> P:
    if not isinstance(params, model):
        msg = f"strategy {name!r} takes {model.__name__}, got {type(params).__name__}"
        raise TypeError(msg)
    return params


def make_strategy(
    name: str,
    description: str,
    params_model: type[P],
    signals: Callable[[Bars, P], Signals],
    warmup: Callable[[P], int],
) -> Strategy:
    """Build a :class:`Strategy` from functions typed with its own parameter model.

    The returned callables accept any ``BaseModel``, raise ``TypeError`` for the wrong model and
    check that the signals have one flag per bar.
    """

    def checked_signals(bars: Bars, params: BaseModel) -> Signals:
        result = signals(bars, _checked(params, params_model, name))
        if len(result) != len(bars):
            msg = f"strategy {name!r} returned {len(result)} signals for {len(bars)} bars"
            raise ValueError(msg)
        return result

    def checked_warmup(params: BaseModel) -> int:
        return warmup(_checked(params, params_model, name))

    return Strategy(name, description, params_model, checked_signals, checked_warmup)
