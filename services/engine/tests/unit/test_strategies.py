"""Strategy catalogue: signals against independent computations, no look-ahead, validation."""

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import talib
from pydantic import BaseModel, ValidationError

from services.engine.tests.unit.market_data import goog_bars, random_walk_bars
from tradelab_engine.domain.bars import Bars, BoolArray, FloatArray
from tradelab_engine.strategies import (
    STRATEGIES,
    Signals,
    UnknownStrategyError,
    catalogue_entry,
    get_strategy,
    validate_parameters,
)

DATASETS = {"random_walk": random_walk_bars(seed=7), "goog": goog_bars()}

# A few parameter sets per strategy (defaults first).
PARAMETER_SETS: dict[str, list[dict[str, object]]] = {
    "buy_and_hold": [{}],
    "sma_cross": [{}, {"fast": 5, "slow": 20}, {"fast": 2, "slow": 3}],
    "ema_cross": [{}, {"fast": 12, "slow": 26}, {"fast": 2, "slow": 3}],
    "rsi_reversion": [{}, {"period": 2, "lower": 10, "upper": 90}, {"period": 30}],
    "macd_cross": [{}, {"fast": 5, "slow": 35, "signal": 5}, {"fast": 2, "slow": 3, "signal": 2}],
    "bollinger_reversion": [{}, {"period": 10, "nbdev": 1.5}, {"period": 2, "nbdev": 0.5}],
    "bollinger_breakout": [{}, {"period": 50, "nbdev": 2.5}, {"period": 5, "nbdev": 1.0}],
    "donchian_breakout": [{}, {"period": 55, "exit_period": 20}, {"period": 2, "exit_period": 30}],
}

CASES = [
    pytest.param(name, raw, id=f"{name}-{i}")
    for name, sets in PARAMETER_SETS.items()
    for i, raw in enumerate(sets)
]


@pytest.fixture(params=sorted(DATASETS))
def bars(request: pytest.FixtureRequest) -> Bars:
    """Each data set in turn."""
    name: str = request.param
    return DATASETS[name]


def head(bars: Bars, k: int) -> Bars:
    """The first ``k`` bars, as copies (nothing after ``k`` is reachable)."""
    return Bars(
        bars.time[:k].copy(),
        bars.open[:k].copy(),
        bars.high[:k].copy(),
        bars.low[:k].copy(),
        bars.close[:k].copy(),
        bars.volume[:k].copy(),
    )


def run(name: str, bars: Bars, raw: dict[str, object]) -> Signals:
    return get_strategy(name).signals(bars, validate_parameters(name, raw))


# Independent reference computations: TA-Lib indicators and explicit Python loops over bars.


def loop_cross_above(a: FloatArray, b: FloatArray) -> BoolArray:
    out = np.zeros(len(a), dtype=np.bool_)
    for t in range(1, len(a)):
        defined = not any(np.isnan(v) for v in (a[t], b[t], a[t - 1], b[t - 1]))
        out[t] = defined and a[t] > b[t] and a[t - 1] <= b[t - 1]
    return out


def loop_cross_below(a: FloatArray, b: FloatArray) -> BoolArray:
    return loop_cross_above(-a, -b)


def loop_level(x: FloatArray, test: Callable[[float], bool]) -> BoolArray:
    return np.array([not np.isnan(v) and test(float(v)) for v in x], dtype=np.bool_)


Pair = tuple[BoolArray, BoolArray]


def reference_buy_and_hold(bars: Bars, _p: dict[str, Any]) -> Pair:
    entries = np.zeros(len(bars), dtype=np.bool_)
    entries[0] = True
    return entries, np.zeros(len(bars), dtype=np.bool_)


def reference_sma_cross(bars: Bars, p: dict[str, Any]) -> Pair:
    fast, slow = talib.SMA(bars.close, p["fast"]), talib.SMA(bars.close, p["slow"])
    return loop_cross_above(fast, slow), loop_cross_below(fast, slow)


def reference_ema_cross(bars: Bars, p: dict[str, Any]) -> Pair:
    fast, slow = talib.EMA(bars.close, p["fast"]), talib.EMA(bars.close, p["slow"])
    return loop_cross_above(fast, slow), loop_cross_below(fast, slow)


def reference_macd_cross(bars: Bars, p: dict[str, Any]) -> Pair:
    line, signal, _ = talib.MACD(bars.close, p["fast"], p["slow"], p["signal"])
    return loop_cross_above(line, signal), loop_cross_below(line, signal)


def reference_rsi_reversion(bars: Bars, p: dict[str, Any]) -> Pair:
    rsi = talib.RSI(bars.close, p["period"])
    return loop_level(rsi, lambda v: v < p["lower"]), loop_level(rsi, lambda v: v > p["upper"])


def reference_bollinger_reversion(bars: Bars, p: dict[str, Any]) -> Pair:
    _, middle, lower = talib.BBANDS(bars.close, p["period"], p["nbdev"], p["nbdev"])
    below_lower = loop_level(bars.close - lower, lambda v: v < 0)
    return below_lower, loop_level(bars.close - middle, lambda v: v > 0)


def reference_bollinger_breakout(bars: Bars, p: dict[str, Any]) -> Pair:
    upper, middle, _ = talib.BBANDS(bars.close, p["period"], p["nbdev"], p["nbdev"])
    above_upper = loop_level(bars.close - upper, lambda v: v > 0)
    return above_upper, loop_level(bars.close - middle, lambda v: v < 0)


def reference_donchian_breakout(bars: Bars, p: dict[str, Any]) -> Pair:
    period, exit_period, size = p["period"], p["exit_period"], len(bars)
    entries = np.zeros(size, dtype=np.bool_)
    exits = np.zeros(size, dtype=np.bool_)
    for t in range(size):
        if t >= period:
            entries[t] = bars.close[t] > max(bars.high[t - period : t])
        if t >= exit_period:
            exits[t] = bars.close[t] < min(bars.low[t - exit_period : t])
    return entries, exits


REFERENCES: dict[str, Callable[[Bars, dict[str, Any]], Pair]] = {
    "buy_and_hold": reference_buy_and_hold,
    "sma_cross": reference_sma_cross,
    "ema_cross": reference_ema_cross,
    "macd_cross": reference_macd_cross,
    "rsi_reversion": reference_rsi_reversion,
    "bollinger_reversion": reference_bollinger_reversion,
    "bollinger_breakout": reference_bollinger_breakout,
    "donchian_breakout": reference_donchian_breakout,
}


@pytest.mark.parametrize(("name", "raw"), CASES)
def test_signals_match_an_independent_computation(
    bars: Bars, name: str, raw: dict[str, object]
) -> None:
    signals = run(name, bars, raw)
    params = validate_parameters(name, raw).model_dump()
    expected_entries, expected_exits = REFERENCES[name](bars, params)
    np.testing.assert_array_equal(signals.entries, expected_entries)
    np.testing.assert_array_equal(signals.exits, expected_exits)
    assert signals.entries.dtype == signals.exits.dtype == np.bool_
    assert len(signals) == len(bars)
    if name != "buy_and_hold":
        assert signals.entries.any()
        assert signals.exits.any()


@pytest.mark.parametrize(("name", "raw"), CASES)
def test_signals_on_a_prefix_equal_the_prefix_of_the_signals_no_look_ahead(
    name: str, raw: dict[str, object]
) -> None:
    bars = DATASETS["random_walk"]
    full = run(name, bars, raw)
    warmup = get_strategy(name).warmup(validate_parameters(name, raw))
    rng = np.random.default_rng(11)
    ks = {0, 1, 2, warmup - 1, warmup, warmup + 1, len(bars) - 1, *rng.integers(3, len(bars), 5)}
    for k in sorted(k for k in ks if k >= 0):
        prefix = run(name, head(bars, int(k)), raw)
        np.testing.assert_array_equal(prefix.entries, full.entries[:k], err_msg=f"k={k}")
        np.testing.assert_array_equal(prefix.exits, full.exits[:k], err_msg=f"k={k}")


@pytest.mark.parametrize(("name", "raw"), CASES)
def test_no_entry_fires_before_the_warmup(bars: Bars, name: str, raw: dict[str, object]) -> None:
    warmup = get_strategy(name).warmup(validate_parameters(name, raw))
    signals = run(name, bars, raw)
    assert 0 <= warmup < len(bars)
    assert not signals.entries[:warmup].any()


def test_buy_and_hold_enters_on_the_first_bar_only_and_never_exits(bars: Bars) -> None:
    signals = run("buy_and_hold", bars, {})
    np.testing.assert_array_equal(np.flatnonzero(signals.entries), [0])
    assert not signals.exits.any()


def test_donchian_breakout_compares_with_the_previous_bars_so_a_new_high_close_enters() -> None:
    close = np.array([10.0, 11.0, 12.0, 11.5, 13.0, 9.0, 10.0])
    bars = Bars.from_close(close)  # high == low == close
    signals = run("donchian_breakout", bars, {"period": 2, "exit_period": 2})
    # Entries: close[2]=12 > max(10, 11) and close[4]=13 > max(12, 11.5); a close equal to the
    # channel would not count. Exit: close[5]=9 < min(11.5, 13); close[3]=11.5 > min(11, 12).
    np.testing.assert_array_equal(np.flatnonzero(signals.entries), [2, 4])
    np.testing.assert_array_equal(np.flatnonzero(signals.exits), [5])


def test_rsi_reversion_does_not_buy_a_halted_flat_price() -> None:
    close = np.r_[np.linspace(100.0, 110.0, 20), np.full(40, 110.0)]
    signals = run("rsi_reversion", Bars.from_close(close), {})
    assert not signals.entries.any()


# Parameter validation and the catalogue.


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("sma_cross", {"fast": 1}, "greater than or equal to 2"),
        ("sma_cross", {"slow": 1001}, "less than or equal to 1000"),
        ("sma_cross", {"fast": 50, "slow": 50}, "fast (50) must be less than slow (50)"),
        ("ema_cross", {"fast": 30, "slow": 20}, "fast (30) must be less than slow (20)"),
        ("macd_cross", {"fast": 26, "slow": 12}, "fast (26) must be less than slow (12)"),
        ("macd_cross", {"signal": 1}, "greater than or equal to 2"),
        ("rsi_reversion", {"lower": 50, "upper": 50}, "lower (50.0) must be less than upper"),
        ("rsi_reversion", {"upper": 100}, "less than or equal to 99"),
        ("rsi_reversion", {"period": "fourteen"}, "valid integer"),
        ("bollinger_reversion", {"nbdev": 0}, "greater than or equal to 0.1"),
        ("bollinger_breakout", {"period": 1}, "greater than or equal to 2"),
        ("donchian_breakout", {"exit_period": 0}, "greater than or equal to 2"),
        ("sma_cross", {"fats": 5}, "Extra inputs are not permitted"),
        ("buy_and_hold", {"anything": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_parameters_are_refused_with_a_clear_message(
    name: str, raw: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_parameters(name, raw)


def test_missing_parameters_take_their_defaults() -> None:
    params = validate_parameters("sma_cross", {"fast": 20})
    assert params.model_dump() == {"fast": 20, "slow": 50}


def test_parameters_are_frozen() -> None:
    params = validate_parameters("sma_cross", {})
    with pytest.raises(ValidationError, match="frozen"):
        params.fast = 3  # type: ignore[attr-defined]  # the refused assignment is the test


def test_unknown_strategy_is_a_key_error_listing_the_known_names() -> None:
    with pytest.raises(UnknownStrategyError) as caught:
        get_strategy("moon_phase")
    assert isinstance(caught.value, KeyError)
    assert "unknown strategy 'moon_phase'" in str(caught.value)
    assert all(name in str(caught.value) for name in STRATEGIES)
    with pytest.raises(UnknownStrategyError):
        validate_parameters("moon_phase", {})


def test_a_strategy_refuses_another_strategys_parameters() -> None:
    wrong = validate_parameters("ema_cross", {})
    with pytest.raises(TypeError, match="SmaCrossParams"):
        get_strategy("sma_cross").signals(DATASETS["goog"], wrong)
    with pytest.raises(TypeError, match="SmaCrossParams"):
        get_strategy("sma_cross").warmup(wrong)


def test_the_catalogue_is_read_only_and_complete() -> None:
    assert set(STRATEGIES) == {*PARAMETER_SETS, "rules"}  # rules: test_rules.py
    with pytest.raises(TypeError):
        STRATEGIES["x"] = STRATEGIES["sma_cross"]  # type: ignore[index]  # refusal is the test
    assert all(strategy.name == name for name, strategy in STRATEGIES.items())


@pytest.mark.parametrize("name", sorted(PARAMETER_SETS))
def test_catalogue_entry_describes_parameters_with_bounds_and_defaults(name: str) -> None:
    strategy = get_strategy(name)
    entry = catalogue_entry(strategy)
    json.dumps(entry)  # serialisable as is
    assert entry["name"] == name
    assert isinstance(entry["description"], str)
    assert entry["description"]
    schema = entry["parameters"]
    assert isinstance(schema, dict)
    assert schema["additionalProperties"] is False
    defaults = entry["defaults"]
    assert isinstance(defaults, dict)
    assert set(defaults) == set(schema.get("properties", {}))
    for field, spec in schema.get("properties", {}).items():
        assert spec["description"]
        assert "minimum" in spec
        assert "maximum" in spec
        assert spec["default"] == defaults[field]
    assert isinstance(strategy.params_model(), BaseModel)
    assert strategy.params_model.model_validate(defaults) == strategy.params_model()
