"""The simulator agrees with vectorbt's ``Portfolio.from_signals`` configured to our semantics.

Configuration (docs/engine.md, "vectorbt mapping"): signals shifted one bar later and
``price=open`` for next-open fills (unshifted with ``price=close`` for close fills);
``size=np.inf`` for all-in (``size_type="percent"`` for a fraction, ``"amount"`` with
``allow_partial=False`` for fixed units, ``size_granularity=1`` for whole units);
``accumulate=False``; ``direction="longonly"`` or ``"both"`` with ``upon_opposite_entry="reverse"``;
conflicts ignored; stops with ``stop_entry_price="fillprice"`` and ``stop_exit_price="stopmarket"``.

Compared: final equity and the whole equity curve, and every trade's entry/exit index, entry/exit
price, units, fees and pnl, to 1e-9 relative (pnl: 1e-9 of the trade's notional, as pnl can be
near zero). Cases where we differ from vectorbt on purpose are tested by hand instead
(test_simulate_stops.py, test_simulate_hand.py): a gap through a target while the stop is also
in the bar's range, re-entry at the close of a stop bar with ``fill_at="close"``, a fixed fee
on a short reversal (vectorbt reverses in one order, one fee; we close and open, two fees), and a
short whose loss exceeds the cash (vectorbt covers partially; we cover fully).
"""

import warnings
from functools import cache
from typing import Any

import numpy as np
import pytest

from services.engine.tests.unit.market_data import goog_bars
from tradelab_contracts.engine import EngineOptions
from tradelab_engine.domain.bars import Bars, BoolArray
from tradelab_engine.domain.records import ExitReason
from tradelab_engine.domain.simulate import BacktestResult, run_backtest
from tradelab_engine.strategies.base import Signals
from tradelab_engine.strategies.catalogue import STRATEGIES

with warnings.catch_warnings():  # vectorbt's import touches deprecated pandas/numpy APIs
    warnings.simplefilter("ignore")
    import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs is not installed
    import vectorbt as vbt

RTOL = 1e-9
SYNTH_BARS = 100_000
DAY_NS = 86_400 * 10**9


@cache
def synthetic() -> Bars:
    """Seeded geometric random walk with gaps at the open and wicks: 100,000 daily bars."""
    rng = np.random.default_rng(20240607)
    n = SYNTH_BARS
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0.0, 0.003, n))
    wick = np.abs(rng.normal(0.0, 0.006, (2, n)))
    high = np.maximum(open_, close) * (1.0 + wick[0])
    low = np.minimum(open_, close) * (1.0 - wick[1])
    time = np.arange(n, dtype=np.int64) * DAY_NS
    return Bars(time, open_, high, low, close, np.full(n, np.nan))


DATASETS = {"goog": goog_bars, "synthetic_100k": synthetic}


def shifted(flags: BoolArray) -> BoolArray:
    out = np.zeros_like(flags)
    out[1:] = flags[:-1]
    return out


def _sizing(o: EngineOptions) -> dict[str, Any]:
    if o.sizing == "units":
        kw: dict[str, Any] = {"size": o.size, "size_type": "amount", "allow_partial": False}
    elif o.size == 1.0:
        kw = {"size": np.inf, "size_type": "amount"}
    else:
        kw = {"size": o.size, "size_type": "percent"}
    if o.whole_units:
        kw["size_granularity"] = 1.0
    return kw


def _stops(o: EngineOptions) -> dict[str, Any]:
    kw: dict[str, Any] = {"stop_entry_price": "fillprice", "stop_exit_price": "stopmarket"}
    if o.stop_loss is not None:
        kw["sl_stop"] = o.stop_loss
    if o.trailing_stop is not None:  # vectorbt has one stop-loss: fixed or trailing
        kw.update(sl_stop=o.trailing_stop, sl_trail=True)
    if o.take_profit is not None:
        kw["tp_stop"] = o.take_profit
    return kw


def vbt_portfolio(bars: Bars, sig: Signals, o: EngineOptions) -> Any:
    """``Portfolio.from_signals`` configured to the semantics of ``o``."""
    if o.fill_at == "next_open":
        entries, exits, price = shifted(sig.entries), shifted(sig.exits), bars.open
    else:
        entries, exits, price = sig.entries, sig.exits, bars.close
    return vbt.Portfolio.from_signals(
        pd.Series(bars.close),
        entries,
        exits,
        price=price,
        open=bars.open,
        high=bars.high,
        low=bars.low,
        init_cash=o.initial_cash,
        fees=o.fee_rate,
        fixed_fees=o.fixed_fee,
        slippage=o.slippage_bps / 10_000.0,
        accumulate=False,
        direction="both" if o.allow_short else "longonly",
        upon_long_conflict="ignore",
        upon_short_conflict="ignore",
        upon_dir_conflict="ignore",
        upon_opposite_entry="reverse",
        freq="1D",
        **_sizing(o),
        **_stops(o),
    )


def assert_same(ours: BacktestResult, pf: Any) -> None:
    theirs = pf.trades.records_arr
    t = ours.trades
    value = pf.value().to_numpy()
    assert ours.equity[-1] == pytest.approx(value[-1], rel=RTOL)
    np.testing.assert_allclose(ours.equity, value, rtol=RTOL)
    assert len(t) == len(theirs) > 0
    np.testing.assert_array_equal(t["is_open"], theirs["status"] == 0)
    closed = ~t["is_open"]
    np.testing.assert_array_equal(t["entry_index"], theirs["entry_idx"])
    np.testing.assert_array_equal(t["exit_index"][closed], theirs["exit_idx"][closed])
    np.testing.assert_array_equal(t["direction"], np.where(theirs["direction"] == 0, 1, -1))
    np.testing.assert_allclose(t["entry_price"], theirs["entry_price"], rtol=RTOL)
    np.testing.assert_allclose(t["exit_price"][closed], theirs["exit_price"][closed], rtol=RTOL)
    np.testing.assert_allclose(np.abs(t["units"]), theirs["size"], rtol=RTOL)
    np.testing.assert_allclose(t["entry_fee"], theirs["entry_fees"], rtol=RTOL)
    np.testing.assert_allclose(t["exit_fee"][closed], theirs["exit_fees"][closed], rtol=RTOL)
    notional = np.abs(t["units"]) * t["entry_price"]
    assert np.all(np.abs(t["pnl"] - theirs["pnl"]) <= RTOL * notional)
    # Our return divides by notional plus entry fee; vectorbt's by notional alone.
    np.testing.assert_allclose(t["return"], theirs["pnl"] / (notional + t["entry_fee"]), rtol=1e-6)


def compare(bars: Bars, sig: Signals, options: EngineOptions) -> BacktestResult:
    ours = run_backtest(bars, sig, options)
    assert_same(ours, vbt_portfolio(bars, sig, options))
    return ours


# Thousands of trades on the synthetic series eat most of the equity; the cash is large enough
# that a fixed fee never exceeds what is left (where vectorbt rejects an order and we do not).
COSTS = {
    "fees": EngineOptions(fee_rate=0.001),
    "fees_slippage_fixed": EngineOptions(
        initial_cash=1_000_000.0, fee_rate=0.0005, slippage_bps=2, fixed_fee=1.0
    ),
}


@pytest.mark.parametrize("costs", COSTS)
@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_catalogue_strategy_with_defaults_matches_vectorbt(
    name: str, dataset: str, costs: str
) -> None:
    bars = DATASETS[dataset]()
    strategy = STRATEGIES[name]
    compare(bars, strategy.signals(bars, strategy.params_model()), COSTS[costs])


SMA_VARIANTS = {
    "fill_at_close": EngineOptions(fee_rate=0.001, fill_at="close"),
    "short_reversal": EngineOptions(fee_rate=0.001, slippage_bps=3, allow_short=True),
    "whole_units_fixed_fee": EngineOptions(fee_rate=0.001, fixed_fee=2.0, whole_units=True),
    "fixed_units": EngineOptions(fee_rate=0.001, sizing="units", size=300.0),
    "half_of_cash": EngineOptions(fee_rate=0.001, slippage_bps=5, size=0.5),
}


@pytest.mark.parametrize("variant", SMA_VARIANTS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_sma_cross_option_variants_match_vectorbt(dataset: str, variant: str) -> None:
    bars = DATASETS[dataset]()
    strategy = STRATEGIES["sma_cross"]
    compare(bars, strategy.signals(bars, strategy.params_model()), SMA_VARIANTS[variant])


def stop_signals(bars: Bars, side: str) -> Signals:
    # Entries only (exits only for shorts): stops are the only way out, so no exit signal meets
    # a stop in the same bar (where the order of the two is ours, not vectorbt's).
    flags = np.random.default_rng(11).random(len(bars)) < (0.05 if len(bars) < 10_000 else 0.002)
    none = np.zeros(len(bars), dtype=np.bool_)
    return Signals(flags, none) if side == "long" else Signals(none, flags)


SINGLE_STOPS = {
    "stop_loss": {"stop_loss": 0.02},
    "take_profit": {"take_profit": 0.02},
    "trailing_stop": {"trailing_stop": 0.03},
}


@pytest.mark.parametrize("side", ["long", "short"])
@pytest.mark.parametrize("variant", SINGLE_STOPS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_single_stops_match_vectorbt_sl_tp_stops(dataset: str, variant: str, side: str) -> None:
    bars = DATASETS[dataset]()
    options = EngineOptions.model_validate(
        {
            "fee_rate": 0.001,
            "slippage_bps": 5,
            "allow_short": side == "short",
            **SINGLE_STOPS[variant],
        }
    )
    ours = compare(bars, stop_signals(bars, side), options)
    assert np.count_nonzero(ours.trades["exit_reason"] != 0) > 3  # the stops did fire


def first_difference(ours: BacktestResult, pf: Any) -> int | None:
    t, theirs = ours.trades, pf.trades.records_arr
    assert len(t) == len(theirs)
    same = (t["entry_index"] == theirs["entry_idx"]) & np.isclose(
        t["exit_price"], theirs["exit_price"], rtol=RTOL, atol=0.0
    )
    same |= t["is_open"] & (theirs["status"] == 0)
    differ = np.flatnonzero(~same)
    return int(differ[0]) if len(differ) else None


COMBINED_STOPS = {
    "stop_and_target": {"stop_loss": 0.02, "take_profit": 0.03},
    "trailing_and_target": {"trailing_stop": 0.02, "take_profit": 0.05},
}


@pytest.mark.parametrize("side", ["long", "short"])
@pytest.mark.parametrize("variant", COMBINED_STOPS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_stop_with_target_matches_vectorbt_but_for_a_gap_through_the_target(
    dataset: str, variant: str, side: str
) -> None:
    """Identical up to the first bar that opens beyond the target while its range also reaches
    the stop: we fill the target at the open (it came first), vectorbt fills the stop."""
    bars = DATASETS[dataset]()
    options = EngineOptions.model_validate(
        {
            "fee_rate": 0.001,
            "slippage_bps": 5,
            "allow_short": side == "short",
            **COMBINED_STOPS[variant],
        }
    )
    sig = stop_signals(bars, side)
    ours, pf = run_backtest(bars, sig, options), vbt_portfolio(bars, sig, options)
    k = first_difference(ours, pf)
    if k is None:
        assert_same(ours, pf)
        return
    mine, theirs = ours.trades[k], pf.trades.records_arr[k]
    i = int(mine["exit_index"])
    d = float(mine["direction"])
    assert theirs["exit_idx"] == i
    assert mine["exit_reason"] == ExitReason.TAKE_PROFIT
    assert mine["exit_price"] == pytest.approx(bars.open[i] * (1 - d * 0.0005), rel=RTOL)
    assert d * theirs["exit_price"] < d * mine["exit_price"]  # vectorbt took the stop
    value = pf.value().to_numpy()
    np.testing.assert_allclose(ours.equity[:i], value[:i], rtol=RTOL)


def test_stop_loss_and_take_profit_in_one_bar_stop_first_matches_vectorbt() -> None:
    bars = goog_bars()
    options = EngineOptions(fee_rate=0.001, stop_loss=0.02, take_profit=0.02)
    ours = compare(bars, stop_signals(bars, "long"), options)
    assert ours.both_hit_bars > 0  # vectorbt also takes the stop first


def test_summary_sharpe_and_drawdown_match_vectorbt() -> None:
    bars = goog_bars()
    strategy = STRATEGIES["sma_cross"]
    sig = strategy.signals(bars, strategy.params_model())
    options = EngineOptions(fee_rate=0.001)
    ours = run_backtest(bars, sig, options, timeframe="1d")
    pf = vbt_portfolio(bars, sig, options)
    assert ours.summary.sharpe == pytest.approx(pf.sharpe_ratio(year_freq="252 days"), rel=RTOL)
    assert ours.summary.max_drawdown == pytest.approx(-pf.max_drawdown(), rel=RTOL)
    assert ours.summary.total_return == pytest.approx(pf.total_return(), rel=RTOL)
