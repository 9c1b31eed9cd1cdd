"""The ``rules`` strategy: entry and exit conditions given as data (`tradelab_contracts.rules`).

The condition trees are evaluated bar-wise with the engine's own indicator kernels, each
distinct indicator computed once per run; nothing the user wrote is executed. Comparisons with
an undefined (warming-up, NaN) side are false, and crossings follow the catalogue's rule.
"""

import numpy as np

from tradelab_contracts.rules import (
    AllOf,
    AnyOf,
    Bollinger,
    Compare,
    Condition,
    Extreme,
    Macd,
    MovingAverage,
    Not,
    Operand,
    Price,
    Range,
    Rsi,
    RuleSet,
    Value,
)
from tradelab_engine.domain.bars import Bars, BoolArray, FloatArray
from tradelab_engine.kernels.bands_nb import bbands_1d_nb, rolling_max_1d_nb, rolling_min_1d_nb
from tradelab_engine.kernels.cross_nb import crossed_above_1d_nb, crossed_below_1d_nb
from tradelab_engine.kernels.ma_nb import ema_1d_nb, sma_1d_nb, wma_1d_nb
from tradelab_engine.kernels.oscillators_nb import macd_1d_nb, rsi_1d_nb
from tradelab_engine.kernels.range_nb import adx_1d_nb, atr_1d_nb
from tradelab_engine.strategies.base import Signals, make_strategy

_MACD_OUTPUTS = {"line": 0, "signal": 1, "histogram": 2}
_BAND_OUTPUTS = {"upper": 0, "middle": 1, "lower": 2}


def _field(bars: Bars, name: str) -> FloatArray:
    values: FloatArray = getattr(bars, name)
    return np.ascontiguousarray(values, dtype=np.float64)


def _moving_average(operand: MovingAverage, bars: Bars) -> FloatArray:
    kernel = {"sma": sma_1d_nb, "ema": ema_1d_nb, "wma": wma_1d_nb}[operand.type]
    return kernel(_field(bars, operand.source), operand.period)


def _extreme(operand: Extreme, bars: Bars) -> FloatArray:
    kernel = rolling_max_1d_nb if operand.type == "highest" else rolling_min_1d_nb
    return kernel(_field(bars, operand.source), operand.period)


def _range(operand: Range, bars: Bars) -> FloatArray:
    kernel = atr_1d_nb if operand.type == "atr" else adx_1d_nb
    return kernel(bars.high, bars.low, bars.close, operand.period)


def _values(operand: Operand, bars: Bars) -> FloatArray:
    """The operand at every bar, before its offset."""
    match operand:
        case Price(field=field):
            return _field(bars, field)
        case Value(value=value):
            return np.full(len(bars), value)
        case MovingAverage():
            return _moving_average(operand, bars)
        case Rsi(period=n):
            return rsi_1d_nb(bars.close, n)
        case Macd(fast=fast, slow=slow, signal=signal, output=output):
            return macd_1d_nb(bars.close, fast, slow, signal)[_MACD_OUTPUTS[output]]
        case Bollinger(period=n, std=std, output=output):
            return bbands_1d_nb(bars.close, n, std, std)[_BAND_OUTPUTS[output]]
        case Extreme():
            return _extreme(operand, bars)
        case Range():
            return _range(operand, bars)


def _offset(operand: Operand) -> int:
    return 0 if isinstance(operand, Value) else operand.offset


class _Series:
    """Operand values over the bars, each distinct operand computed once."""

    def __init__(self, bars: Bars) -> None:
        self._bars = bars
        self._done: dict[str, FloatArray] = {}

    def __call__(self, operand: Operand) -> FloatArray:
        key = operand.model_dump_json()
        if key not in self._done:
            self._done[key] = _shifted(_values(operand, self._bars), _offset(operand))
        return self._done[key]


def _shifted(values: FloatArray, offset: int) -> FloatArray:
    """``values`` ``offset`` bars later: NaN where there is no earlier bar."""
    if offset == 0:
        return values
    out = np.full(len(values), np.nan)
    if offset < len(values):
        out[offset:] = values[: len(values) - offset]
    return out


def _holds(condition: Condition, series: _Series) -> BoolArray:
    match condition:
        case Compare(left=left, op=op, right=right):
            a, b = series(left), series(right)
            if op == "crosses_above":
                return crossed_above_1d_nb(a, b)
            if op == "crosses_below":
                return crossed_below_1d_nb(a, b)
            compare = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}
            result: BoolArray = compare[op](a, b)  # NaN compares false
            return result
        case AllOf(conditions=inner):
            every: BoolArray = np.logical_and.reduce([_holds(c, series) for c in inner])
            return every
        case AnyOf(conditions=inner):
            some: BoolArray = np.logical_or.reduce([_holds(c, series) for c in inner])
            return some
        case Not(condition=inner):
            return ~_holds(inner, series)


def rule_signals(bars: Bars, rules: RuleSet) -> Signals:
    """Entries where ``rules.entry`` holds, exits where ``rules.exit`` holds, bar by bar."""
    series = _Series(bars)
    return Signals(_holds(rules.entry, series), _holds(rules.exit, series))


def _warmup(operand: Operand) -> int:
    """First bar at which the operand can be defined (an upper bound)."""
    match operand:
        case Price() | Value():
            first = 0
        case MovingAverage(period=n) | Bollinger(period=n) | Extreme(period=n):
            first = n - 1
        case Rsi(period=n) | Range(type="atr", period=n):
            first = n
        case Range(period=n):
            first = 2 * n - 1
        case Macd(slow=slow, signal=signal):
            first = slow + signal - 2
    return first + _offset(operand)


def _condition_warmup(condition: Condition) -> int:
    match condition:
        case Compare(left=left, op=op, right=right):
            first = max(_warmup(left), _warmup(right))
            return first + 1 if op.startswith("crosses") else first
        case AllOf(conditions=inner) | AnyOf(conditions=inner):
            return max(_condition_warmup(c) for c in inner)
        case Not():
            return 0  # "not" holds on warm-up bars, where its condition is false


def rule_warmup(rules: RuleSet) -> int:
    """The first bar at which the entry condition can hold (an upper bound)."""
    return _condition_warmup(rules.entry)


RULES = make_strategy(
    "rules",
    "Your own rules: entry and exit conditions built from prices, constants and indicators "
    "(SMA, EMA, WMA, RSI, MACD, Bollinger bands, highest/lowest, ATR, ADX), compared with "
    ">, >=, <, <=, crosses_above and crosses_below and joined with all, any and not. Written "
    "as data and evaluated by the engine; see docs/engine.md, 'Rule strategies'.",
    RuleSet,
    rule_signals,
    rule_warmup,
)
