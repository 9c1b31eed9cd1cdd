"""The simulator against arithmetic written out by hand: fills, costs, sizing, shorting, the end.

Every expected number below is computed in the test from the bar prices, independently of the
kernel, following docs/engine.md.
"""

import math
from collections.abc import Sequence

import numpy as np
import pytest

from tradelab_contracts.engine import EngineOptions
from tradelab_engine.domain.bars import Bars
from tradelab_engine.domain.records import NAT_NS, ExitReason
from tradelab_engine.domain.simulate import BacktestResult, run_backtest
from tradelab_engine.strategies.base import Signals

DAY_NS = 86_400 * 10**9
CASH = 100_000.0

# The 10-bar example: entry signal at bar 2's close, exit signal at bar 7's close.
OPEN = [100.0, 101.0, 102.0, 104.0, 103.0, 105.0, 107.0, 106.0, 108.0, 110.0]
CLOSE = [101.0, 102.0, 103.0, 103.0, 104.0, 106.0, 106.0, 107.0, 109.0, 111.0]


def make_bars(
    open_: list[float],
    close: list[float],
    high: list[float] | None = None,
    low: list[float] | None = None,
) -> Bars:
    o, c = np.array(open_), np.array(close)
    h = np.maximum(o, c) + 1.0 if high is None else np.array(high)
    lo = np.minimum(o, c) - 1.0 if low is None else np.array(low)
    n = len(c)
    return Bars(np.arange(n, dtype=np.int64) * DAY_NS, o, h, lo, c, np.full(n, np.nan))


def signals(n: int, entries: Sequence[int] = (), exits: Sequence[int] = ()) -> Signals:
    e, x = np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_)
    e[list(entries)] = True
    x[list(exits)] = True
    return Signals(e, x)


def run(bars: Bars, sig: Signals, **options: object) -> BacktestResult:
    return run_backtest(bars, sig, EngineOptions.model_validate(options), timeframe="1d")


def test_ten_bar_example_buys_at_next_open_and_sells_at_next_open_with_fees() -> None:
    bars = make_bars(OPEN, CLOSE)
    result = run(bars, signals(10, [2], [7]), fee_rate=0.001)

    # Entry signal at bar 2's close -> buy at bar 3's open, 104, all cash after the 0.1 % fee.
    units = CASH / (104.0 * 1.001)  # 960.578...
    entry_fee = 0.001 * units * 104.0  # 99.90...
    cash_in = CASH - units * 104.0 - entry_fee  # ~0
    # Exit signal at bar 7's close -> sell at bar 8's open, 108.
    exit_fee = 0.001 * units * 108.0
    cash_out = cash_in + units * 108.0 - exit_fee
    pnl = units * (108.0 - 104.0) - entry_fee - exit_fee

    held = [cash_in + units * CLOSE[t] for t in range(3, 8)]
    expected_equity = [CASH] * 3 + held + [cash_out] * 2
    np.testing.assert_allclose(result.equity, expected_equity, rtol=1e-12)
    np.testing.assert_allclose(result.position, [0.0] * 3 + [units] * 5 + [0.0] * 2, rtol=1e-12)
    assert pnl == pytest.approx(3638.67, abs=0.01)
    (trade,) = result.trades
    assert (trade["entry_index"], trade["exit_index"], trade["bars_held"]) == (3, 8, 5)
    assert (trade["entry_time"], trade["exit_time"]) == (3 * DAY_NS, 8 * DAY_NS)
    assert (trade["entry_price"], trade["exit_price"]) == (104.0, 108.0)
    assert trade["units"] == pytest.approx(units, rel=1e-12)
    assert trade["entry_fee"] == pytest.approx(entry_fee, rel=1e-12)
    assert trade["exit_fee"] == pytest.approx(exit_fee, rel=1e-12)
    assert trade["pnl"] == pytest.approx(pnl, rel=1e-12)
    assert trade["return"] == pytest.approx(pnl / (units * 104.0 + entry_fee), rel=1e-12)
    assert (trade["direction"], trade["exit_reason"], trade["is_open"]) == (1, 0, False)
    assert result.summary.fees_paid == pytest.approx(entry_fee + exit_fee, rel=1e-12)
    assert result.summary.final_equity == pytest.approx(cash_out, rel=1e-12)
    assert result.summary.trades == 1


def test_fill_at_next_open_when_signal_at_close() -> None:
    bars = make_bars(OPEN, CLOSE)
    (trade,) = run(bars, signals(10, [2], [7])).trades
    assert trade["entry_price"] == OPEN[3] != CLOSE[2]
    assert trade["exit_price"] == OPEN[8] != CLOSE[7]


def test_fill_at_close_fills_on_the_signal_bar() -> None:
    bars = make_bars(OPEN, CLOSE)
    result = run(bars, signals(10, [2], [7]), fill_at="close")
    (trade,) = result.trades
    assert (trade["entry_index"], trade["entry_price"]) == (2, CLOSE[2])
    assert (trade["exit_index"], trade["exit_price"]) == (7, CLOSE[7])
    assert result.equity[7] == pytest.approx(CASH / CLOSE[2] * CLOSE[7], rel=1e-12)


def test_slippage_moves_buys_up_and_sells_down() -> None:
    bars = make_bars(OPEN, CLOSE)
    result = run(bars, signals(10, [2], [7]), fee_rate=0.001, slippage_bps=25)
    buy, sell = 104.0 * 1.0025, 108.0 * 0.9975
    units = CASH / (buy * 1.001)
    (trade,) = result.trades
    assert trade["entry_price"] == pytest.approx(buy, rel=1e-15)
    assert trade["exit_price"] == pytest.approx(sell, rel=1e-15)
    assert trade["units"] == pytest.approx(units, rel=1e-12)
    expected_pnl = units * (sell - buy) - 0.001 * units * buy - 0.001 * units * sell
    assert trade["pnl"] == pytest.approx(expected_pnl, rel=1e-12)


def test_fixed_fee_is_charged_per_fill_and_leaves_room_in_sizing() -> None:
    bars = make_bars(OPEN, CLOSE)
    result = run(bars, signals(10, [2], [7]), initial_cash=10_000.0, fixed_fee=5.0)
    units = (10_000.0 - 5.0) / 104.0
    (trade,) = result.trades
    assert trade["units"] == pytest.approx(units, rel=1e-12)
    assert (trade["entry_fee"], trade["exit_fee"]) == (5.0, 5.0)
    assert result.summary.fees_paid == 10.0
    assert result.equity[-1] == pytest.approx(units * 108.0 - 5.0, rel=1e-12)


def test_whole_units_round_down() -> None:
    bars = make_bars(OPEN, CLOSE)
    result = run(
        bars, signals(10, [2], [7]), initial_cash=10_000.0, fee_rate=0.001, whole_units=True
    )
    assert math.floor(10_000.0 / (104.0 * 1.001)) == 96
    assert result.position[3] == 96.0
    assert result.cash[3] == pytest.approx(10_000.0 - 96 * 104.0 * 1.001, rel=1e-12)


def test_fraction_sizing_spends_that_fraction_of_cash() -> None:
    bars = make_bars(OPEN, CLOSE)
    result = run(bars, signals(10, [2], [7]), fee_rate=0.001, fixed_fee=2.0, size=0.5)
    units = (CASH - 2.0) / (104.0 * 1.001) * 0.5
    assert result.position[3] == pytest.approx(units, rel=1e-12)
    assert result.cash[3] == pytest.approx(CASH - units * 104.0 * 1.001 - 2.0, rel=1e-12)


def test_fixed_units_buy_that_many_units() -> None:
    bars = make_bars(OPEN, CLOSE)
    result = run(bars, signals(10, [2], [7]), sizing="units", size=10.0, fee_rate=0.001)
    assert result.position[3] == 10.0
    assert result.cash[3] == pytest.approx(CASH - 10 * 104.0 - 0.001 * 10 * 104.0, rel=1e-12)
    assert result.equity[-1] == pytest.approx(CASH + 10 * 4.0 - 0.001 * 10 * (104.0 + 108.0))


def test_fixed_units_entry_is_skipped_when_cash_cannot_pay() -> None:
    bars = make_bars(OPEN, CLOSE)
    result = run(bars, signals(10, [2], [7]), sizing="units", size=1000.0, fee_rate=0.001)
    assert len(result.trades) == 0  # 1000 * 104 > 100,000
    assert np.all(result.equity == CASH)


def test_short_reversal_covers_and_goes_long_on_an_entry() -> None:
    open_ = [100.0, 100.0, 98.0, 96.0, 97.0, 95.0, 99.0, 100.0]
    close = [100.0, 99.0, 97.0, 96.0, 96.0, 97.0, 99.0, 101.0]
    bars = make_bars(open_, close)
    result = run(bars, signals(8, [4], [1]), fee_rate=0.001, allow_short=True)

    # Exit while flat at bar 1 -> sell short at bar 2's open (98); proceeds add to cash.
    u_s = CASH / (98.0 * 1.001)
    fee1 = 0.001 * u_s * 98.0
    cash1 = CASH + u_s * 98.0 - fee1
    # Entry at bar 4 -> at bar 5's open (95): cover, then buy with all the cash.
    fee2 = 0.001 * u_s * 95.0
    cash2 = cash1 - u_s * 95.0 - fee2
    u_l = cash2 / (95.0 * 1.001)
    fee3 = 0.001 * u_l * 95.0
    cash3 = cash2 - u_l * 95.0 - fee3

    np.testing.assert_allclose(result.position, [0, 0, -u_s, -u_s, -u_s, u_l, u_l, u_l])
    expected_equity = [CASH, CASH] + [cash1 - u_s * close[t] for t in (2, 3, 4)]
    expected_equity += [cash3 + u_l * close[t] for t in (5, 6, 7)]
    np.testing.assert_allclose(result.equity, expected_equity, rtol=1e-12)
    short, long_ = result.trades
    assert (short["direction"], short["entry_index"], short["exit_index"]) == (-1, 2, 5)
    assert short["units"] == pytest.approx(-u_s, rel=1e-12)
    assert short["pnl"] == pytest.approx(u_s * (98.0 - 95.0) - fee1 - fee2, rel=1e-12)
    assert (long_["direction"], long_["entry_index"], long_["is_open"]) == (1, 5, True)
    assert result.summary.fees_paid == pytest.approx(fee1 + fee2 + fee3, rel=1e-12)


def test_long_only_ignores_an_exit_while_flat() -> None:
    bars = make_bars(OPEN, CLOSE)
    result = run(bars, signals(10, [], [1, 4]))
    assert len(result.trades) == 0
    assert np.all(result.position == 0.0)


def test_entry_and_exit_on_the_same_bar_cancel_out() -> None:
    bars = make_bars(OPEN, CLOSE)
    result = run(bars, signals(10, [2], [2]), allow_short=True)
    assert len(result.trades) == 0


def test_position_open_at_end_is_reported_as_open_trade() -> None:
    bars = make_bars(OPEN, CLOSE)
    result = run(bars, signals(10, [2]), fee_rate=0.001)
    units = CASH / (104.0 * 1.001)
    entry_fee = 0.001 * units * 104.0
    (trade,) = result.trades
    assert trade["is_open"]
    assert trade["exit_reason"] == ExitReason.OPEN_AT_END
    assert (trade["exit_index"], trade["exit_time"]) == (-1, NAT_NS)
    assert np.isnan(trade["exit_price"])
    assert np.isnan(trade["exit_fee"])
    assert trade["bars_held"] == 9 - 3
    # Unrealised, marked at the last close, no exit fee.
    assert trade["pnl"] == pytest.approx(units * (111.0 - 104.0) - entry_fee, rel=1e-12)
    assert result.equity[-1] == pytest.approx(CASH - units * 104.0 - entry_fee + units * 111.0)
    assert result.summary.trades == 0
    assert result.summary.metrics["open_trades"] == 1.0


def test_signal_on_the_last_bar_is_ignored() -> None:
    bars = make_bars(OPEN, CLOSE)
    result = run(bars, signals(10, [9]))
    assert len(result.trades) == 0
    assert np.all(result.equity == CASH)


def test_exit_on_the_last_bar_leaves_the_position_open() -> None:
    bars = make_bars(OPEN, CLOSE)
    (trade,) = run(bars, signals(10, [2], [9])).trades
    assert trade["is_open"]
