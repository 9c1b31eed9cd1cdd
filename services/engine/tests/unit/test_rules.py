"""The ``rules`` strategy: user rule sets against TA-Lib and loops over bars, a hand-worked
example, no look-ahead, warm-up, and the refusals a user sees for a bad rule set."""

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import talib
from pydantic import ValidationError

from services.engine.tests.unit.test_strategies import (
    DATASETS,
    head,
    loop_cross_above,
    loop_cross_below,
    loop_level,
)
from tradelab_contracts.rules import MAX_DEPTH, MAX_NODES, RuleSet
from tradelab_engine.domain.bars import Bars, BoolArray, FloatArray
from tradelab_engine.strategies import Signals, catalogue_entry, get_strategy, validate_parameters

RULES = get_strategy("rules")
Pair = tuple[BoolArray, BoolArray]


def price(field: str = "close", offset: int = 0) -> dict[str, Any]:
    return {"type": "price", "field": field, "offset": offset}


def value(v: float) -> dict[str, Any]:
    return {"type": "value", "value": v}


def compare(left: dict[str, Any], op: str, right: dict[str, Any]) -> dict[str, Any]:
    return {"type": "compare", "left": left, "op": op, "right": right}


def run(bars: Bars, raw: dict[str, Any]) -> Signals:
    return RULES.signals(bars, validate_parameters("rules", raw))


def previous(x: FloatArray, k: int = 1) -> FloatArray:
    """``x`` k bars earlier, NaN first (an independent shift, not the engine's)."""
    out = np.full(len(x), np.nan)
    out[k:] = x[:-k]
    return out


def loop_extreme(x: FloatArray, period: int, pick: Callable[[FloatArray], float]) -> FloatArray:
    out = np.full(len(x), np.nan)
    for t in range(period - 1, len(x)):
        out[t] = pick(x[t - period + 1 : t + 1])
    return out


# Each case: a rule set as a user would send it, and the same rules computed independently with
# TA-Lib and explicit loops.

SMA_CROSS = {
    "entry": compare({"type": "sma", "period": 10}, "crosses_above", {"type": "sma", "period": 50}),
    "exit": compare({"type": "sma", "period": 10}, "crosses_below", {"type": "sma", "period": 50}),
}


def reference_sma_cross(bars: Bars) -> Pair:
    fast, slow = talib.SMA(bars.close, 10), talib.SMA(bars.close, 50)
    return loop_cross_above(fast, slow), loop_cross_below(fast, slow)


TREND_WITH_FILTER = {
    "entry": {
        "type": "all",
        "conditions": [
            compare(price(), ">", {"type": "ema", "period": 20}),
            compare({"type": "rsi", "period": 14}, "<", value(70)),
            compare({"type": "macd", "output": "histogram"}, "crosses_above", value(0)),
        ],
    },
    "exit": {
        "type": "any",
        "conditions": [
            compare(price(), "<", {"type": "bollinger", "period": 20, "std": 2, "output": "lower"}),
            compare({"type": "rsi", "period": 14}, ">=", value(75)),
        ],
    },
}


def reference_trend_with_filter(bars: Bars) -> Pair:
    close = bars.close
    ema, rsi = talib.EMA(close, 20), talib.RSI(close, 14)
    _, _, hist = talib.MACD(close, 12, 26, 9)
    _, _, lower = talib.BBANDS(close, 20, 2.0, 2.0)
    zero = np.zeros(len(close))
    entries = (
        loop_level(close - ema, lambda v: v > 0)
        & loop_level(rsi, lambda v: v < 70)
        & loop_cross_above(hist, zero)
    )
    exits = loop_level(close - lower, lambda v: v < 0) | loop_level(rsi, lambda v: v >= 75)
    return entries, exits


BREAKOUT = {
    "entry": {
        "type": "all",
        "conditions": [
            compare(price(), ">", {"type": "highest", "period": 20, "source": "high", "offset": 1}),
            {"type": "not", "condition": compare({"type": "adx", "period": 14}, "<", value(20))},
        ],
    },
    "exit": compare(price(), "<", {"type": "lowest", "period": 10, "source": "low", "offset": 1}),
}


def reference_breakout(bars: Bars) -> Pair:
    highest = previous(loop_extreme(bars.high, 20, np.max))
    lowest = previous(loop_extreme(bars.low, 10, np.min))
    adx = talib.ADX(bars.high, bars.low, bars.close, 14)
    not_weak = ~loop_level(adx, lambda v: v < 20)  # "not" holds where ADX is undefined
    entries = loop_level(bars.close - highest, lambda v: v > 0) & not_weak
    return entries, loop_level(bars.close - lowest, lambda v: v < 0)


OPEN_AND_VOLATILITY = {
    "entry": compare(price("open"), ">", {"type": "wma", "period": 5}),
    "exit": {
        "type": "any",
        "conditions": [
            compare({"type": "atr", "period": 14}, ">", {"type": "atr", "period": 14, "offset": 5}),
            compare(price("close", offset=2), "<=", {"type": "sma", "period": 3, "source": "low"}),
        ],
    },
}


def reference_open_and_volatility(bars: Bars) -> Pair:
    wma = talib.WMA(bars.close, 5)
    atr = talib.ATR(bars.high, bars.low, bars.close, 14)
    entries = loop_level(bars.open - wma, lambda v: v > 0)
    rising_atr = loop_level(atr - previous(atr, 5), lambda v: v > 0)
    low_sma = talib.SMA(bars.low, 3)
    dipped = loop_level(previous(bars.close, 2) - low_sma, lambda v: v <= 0)
    return entries, rising_atr | dipped


CASES = {
    "sma_cross": (SMA_CROSS, reference_sma_cross),
    "trend_with_filter": (TREND_WITH_FILTER, reference_trend_with_filter),
    "breakout": (BREAKOUT, reference_breakout),
    "open_and_volatility": (OPEN_AND_VOLATILITY, reference_open_and_volatility),
}


@pytest.fixture(params=sorted(DATASETS))
def bars(request: pytest.FixtureRequest) -> Bars:
    name: str = request.param
    return DATASETS[name]


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_signals_match_ta_lib_and_loops(bars: Bars, case: str) -> None:
    raw, reference = CASES[case]
    signals = run(bars, raw)
    expected_entries, expected_exits = reference(bars)
    np.testing.assert_array_equal(signals.entries, expected_entries)
    np.testing.assert_array_equal(signals.exits, expected_exits)
    assert signals.entries.any()
    assert signals.exits.any()


def test_the_default_rule_set_is_the_sma_crossover(bars: Bars) -> None:
    ours = run(bars, {})
    builtin = get_strategy("sma_cross")
    theirs = builtin.signals(bars, validate_parameters("sma_cross", {"fast": 10, "slow": 50}))
    np.testing.assert_array_equal(ours.entries, theirs.entries)
    np.testing.assert_array_equal(ours.exits, theirs.exits)
    assert RULES.warmup(validate_parameters("rules", {})) == builtin.warmup(
        validate_parameters("sma_cross", {})
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_rules_never_look_ahead_and_never_enter_in_the_warmup(case: str) -> None:
    raw, _ = CASES[case]
    params = validate_parameters("rules", raw)
    for bars in DATASETS.values():
        full = run(bars, raw)
        warmup = RULES.warmup(params)
        assert 0 < warmup < len(bars)
        assert not full.entries[:warmup].any()
        for k in sorted({1, 2, warmup - 1, warmup, warmup + 1, len(bars) // 2, len(bars) - 1}):
            prefix = run(head(bars, k), raw)
            np.testing.assert_array_equal(prefix.entries, full.entries[:k], err_msg=f"k={k}")
            np.testing.assert_array_equal(prefix.exits, full.exits[:k], err_msg=f"k={k}")


def test_a_ten_bar_example_by_hand() -> None:
    close = np.array([10.0, 11, 12, 11, 10, 9, 10, 12, 13, 11])
    bars = Bars.from_close(close, np.arange(10, dtype=np.int64))
    raw = {
        # SMA(3): -, -, 11, 11.333, 11, 10, 9.667, 10.333, 11.667, 12
        "entry": compare(price(), "crosses_above", {"type": "sma", "period": 3}),
        # close two bars ago: -, -, 10, 11, 12, 11, 10, 9, 10, 12; exit where close is below it
        "exit": {
            "type": "all",
            "conditions": [
                compare(price(), "<", price(offset=2)),
                compare(price(), "<", value(11.5)),
            ],
        },
    }
    signals = run(bars, raw)
    # close vs SMA(3): t=2 12>11 but SMA(3) is undefined at t=1, so no cross; t=3..5 below;
    # t=6 10>9.667 after 9<=10 at t=5: the one cross up; t=7, t=8 stay above; t=9 11<12.
    assert signals.entries.tolist() == [False] * 6 + [True, False, False, False]
    # close below the close two bars ago and below 11.5: t=4 (10<12), t=5 (9<11), t=9 (11<12);
    # t=6 (10<10) is not below, t=7 and t=8 are above.
    assert signals.exits.tolist() == [False] * 4 + [True, True, False, False, False, True]


def test_the_catalogue_entry_publishes_the_rule_schema_and_the_default() -> None:
    entry = catalogue_entry(RULES)
    text = json.dumps(entry)  # serialisable as is
    assert entry["name"] == "rules"
    assert entry["defaults"] == RuleSet().model_dump(mode="json")
    schema = entry["parameters"]
    assert isinstance(schema, dict)
    assert set(schema["properties"]) == {"entry", "exit"}
    assert schema["additionalProperties"] is False
    for name in ("sma", "rsi", "macd", "bollinger", "highest", "adx", "crosses_above"):
        assert name in text
    assert validate_parameters("rules", entry["defaults"]) == RuleSet()


def refusal(raw: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        validate_parameters("rules", raw)
    return str(caught.value)


def test_bad_rule_sets_are_refused_with_a_message_naming_the_problem() -> None:
    close_above = compare(price(), ">", value(1))
    message = refusal({"entry": compare({"type": "sma", "period": 0}, ">", value(1))})
    assert "entry.compare.left.sma.period" in message
    assert "greater than or equal to 2" in message
    message = refusal({"entry": compare({"type": "vwap", "period": 5}, ">", value(1))})
    assert "vwap" in message
    assert "sma" in message  # the allowed operand types are listed
    assert "Extra inputs" in refusal({"entry": {**close_above, "when": "always"}})
    assert "op" in refusal({"entry": {**close_above, "op": "=="}})
    message = refusal({"entry": compare({"type": "macd", "fast": 30, "slow": 20}, ">", value(0))})
    assert "fast (30) must be less than slow (20)" in message
    assert "conditions" in refusal({"entry": {"type": "all", "conditions": []}})
    assert "finite" in refusal({"entry": compare(price(), ">", value(float("inf")))})
    assert "Extra inputs" in refusal({"entry": close_above, "code": "import os"})


def test_rule_sets_are_bounded_in_size_and_depth() -> None:
    leaf = compare(price(), ">", value(1))
    deep: dict[str, Any] = leaf
    for _ in range(MAX_DEPTH - 1):
        deep = {"type": "not", "condition": deep}
    validate_parameters("rules", {"entry": deep})  # exactly the limit
    assert f"nest at most {MAX_DEPTH}" in refusal({"entry": {"type": "not", "condition": deep}})
    wide = {"type": "any", "conditions": [leaf] * 21}  # 1 + 21 * 3 = 64 nodes
    assert f"at most {MAX_NODES} nodes" in refusal({"entry": wide})  # with the default exit: 67
    narrower = {"type": "any", "conditions": [leaf] * 20}  # 61 nodes, and 3 in the exit: 64
    validate_parameters("rules", {"entry": narrower, "exit": leaf})
