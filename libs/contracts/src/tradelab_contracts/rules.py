"""Rule strategies: entry and exit conditions written as data, never as code.

A rule strategy is the catalogue strategy ``rules`` whose parameters are a :class:`RuleSet`:
an entry and an exit :data:`Condition`, each a tree of comparisons between operands (prices,
constants, indicators) joined by ``all`` / ``any`` / ``not``. The engine evaluates the tree with
its own indicator kernels; nothing a user writes is executed. Example, "close crosses above its
50-bar SMA while the 14-bar RSI is below 70", then "close crosses below the SMA"::

    {
      "entry": {"type": "all", "conditions": [
        {"type": "compare", "left": {"type": "price", "field": "close"},
         "op": "crosses_above", "right": {"type": "sma", "period": 50}},
        {"type": "compare", "left": {"type": "rsi", "period": 14},
         "op": "<", "right": {"type": "value", "value": 70}}]},
      "exit": {"type": "compare", "left": {"type": "price", "field": "close"},
               "op": "crosses_below", "right": {"type": "sma", "period": 50}}
    }

Every operand takes ``offset``: its value that many bars earlier (``offset: 1`` on ``highest``
is the channel of the previous bars, as in a Donchian breakout). Conventions are those of the
catalogue (docs/engine.md): values at a bar are decided with that bar's close and everything
before it; an indicator is undefined (NaN) while it warms up, and a comparison with an undefined
side is false; ``a crosses_above b`` at bar t means a[t] > b[t] and a[t-1] <= b[t-1].
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_NODES = 64
"""Operands and conditions in one rule set, at most."""

MAX_DEPTH = 8
"""Nesting of conditions, at most."""

MAX_PERIOD = 1000
"""Longest indicator look-back (the catalogue's bound)."""

PriceField = Literal["open", "high", "low", "close", "volume"]

Period = Annotated[int, Field(ge=2, le=MAX_PERIOD, description="Look-back in bars.")]
Offset = Annotated[
    int, Field(default=0, ge=0, le=MAX_PERIOD, description="Value this many bars earlier.")
]


class _Node(BaseModel):
    """Rule nodes refuse unknown fields: a misspelt key is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Node):
    """A bar field."""

    type: Literal["price"] = "price"
    field: PriceField = Field(default="close", description="Which bar field.")
    offset: Offset = 0


class Value(_Node):
    """A constant."""

    type: Literal["value"] = "value"
    value: float = Field(description="The constant.", allow_inf_nan=False)


class MovingAverage(_Node):
    """Simple, exponential (seeded with the SMA of its first period) or weighted average."""

    type: Literal["sma", "ema", "wma"]
    period: Period
    source: PriceField = Field(default="close", description="Bar field averaged.")
    offset: Offset = 0


class Rsi(_Node):
    """Wilder's RSI of closes."""

    type: Literal["rsi"] = "rsi"
    period: Period = 14
    offset: Offset = 0


class Macd(_Node):
    """MACD of closes, as TA-Lib: the line (fast EMA - slow EMA), its signal EMA, or the
    histogram (line - signal)."""

    type: Literal["macd"] = "macd"
    fast: Period = 12
    slow: Period = 26
    signal: Period = 9
    output: Literal["line", "signal", "histogram"] = "line"
    offset: Offset = 0

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.fast >= self.slow:
            msg = f"macd fast ({self.fast}) must be less than slow ({self.slow})"
            raise ValueError(msg)
        return self


class Bollinger(_Node):
    """Bollinger band of closes: SMA(period) plus or minus ``std`` population standard
    deviations."""

    type: Literal["bollinger"] = "bollinger"
    period: Period = 20
    std: float = Field(default=2.0, gt=0, le=10, description="Band width in deviations.")
    output: Literal["upper", "middle", "lower"] = "middle"
    offset: Offset = 0


class Extreme(_Node):
    """Highest or lowest value of a bar field over the last ``period`` bars (this one
    included; ``offset: 1`` for the previous ones)."""

    type: Literal["highest", "lowest"]
    period: int = Field(ge=1, le=MAX_PERIOD, description="Look-back in bars.")
    source: PriceField = Field(default="close", description="Bar field.")
    offset: Offset = 0


class Range(_Node):
    """Wilder's average true range or average directional index."""

    type: Literal["atr", "adx"]
    period: Period = 14
    offset: Offset = 0


Operand = Annotated[
    Price | Value | MovingAverage | Rsi | Macd | Bollinger | Extreme | Range,
    Field(discriminator="type"),
]
"""One side of a comparison."""

Comparison = Literal[">", ">=", "<", "<=", "crosses_above", "crosses_below"]


class Compare(_Node):
    """``left op right`` at each bar."""

    type: Literal["compare"] = "compare"
    left: Operand
    op: Comparison
    right: Operand


class AllOf(_Node):
    """True where every condition is."""

    type: Literal["all"] = "all"
    conditions: list[Condition] = Field(min_length=1, max_length=MAX_NODES)


class AnyOf(_Node):
    """True where at least one condition is."""

    type: Literal["any"] = "any"
    conditions: list[Condition] = Field(min_length=1, max_length=MAX_NODES)


class Not(_Node):
    """True where the condition is false (including warm-up bars, where it is false)."""

    type: Literal["not"] = "not"
    condition: Condition


Condition = Annotated[Compare | AllOf | AnyOf | Not, Field(discriminator="type")]
"""A boolean per bar."""

AllOf.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()


def _size(condition: Compare | AllOf | AnyOf | Not, depth: int = 1) -> tuple[int, int]:
    """Nodes (conditions and operands) and depth of a condition tree."""
    match condition:
        case Compare():
            return 3, depth
        case Not(condition=inner):
            nodes, deepest = _size(inner, depth + 1)
            return nodes + 1, deepest
        case AllOf(conditions=inner) | AnyOf(conditions=inner):
            sizes = [_size(c, depth + 1) for c in inner]
            return 1 + sum(n for n, _ in sizes), max(d for _, d in sizes)


def _default_entry() -> Compare:
    return Compare(
        left=MovingAverage(type="sma", period=10),
        op="crosses_above",
        right=MovingAverage(type="sma", period=50),
    )


def _default_exit() -> Compare:
    return Compare(
        left=MovingAverage(type="sma", period=10),
        op="crosses_below",
        right=MovingAverage(type="sma", period=50),
    )


class RuleSet(_Node):
    """The parameters of the ``rules`` strategy: when to enter and when to exit.

    The defaults are the SMA(10)/SMA(50) crossover, as ``sma_cross``.
    """

    entry: Condition = Field(
        default_factory=_default_entry, description="Buy here: go long (covering a short first)."
    )
    exit: Condition = Field(
        default_factory=_default_exit,
        description="Sell here: close a long (and go short when shorting is allowed).",
    )

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        entry_nodes, entry_depth = _size(self.entry)
        exit_nodes, exit_depth = _size(self.exit)
        if entry_nodes + exit_nodes > MAX_NODES:
            msg = f"a rule set has at most {MAX_NODES} nodes, this one {entry_nodes + exit_nodes}"
            raise ValueError(msg)
        if max(entry_depth, exit_depth) > MAX_DEPTH:
            msg = f"conditions nest at most {MAX_DEPTH} deep"
            raise ValueError(msg)
        return self
