"""Stop-loss, take-profit and trailing stop against prices worked out by hand.

Bar 0 carries the entry signal; the position fills at bar 1's open (100) unless said otherwise.
Bar 1, the entry bar, is never checked: stops watch bars after the entry bar (as vectorbt).
"""

from collections.abc import Sequence

import numpy as np
import pytest

from tradelab_contracts.engine import EngineOptions
from tradelab_engine.domain.bars import Bars
from tradelab_engine.domain.records import ExitReason
from tradelab_engine.domain.simulate import BacktestResult, run_backtest
from tradelab_engine.strategies.base import Signals

CASH = 100_000.0
Bar = tuple[float, float, float, float]  # open, high, low, close


def make_bars(rows: list[Bar]) -> Bars:
    o, h, lo, c = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
    n = len(rows)
    return Bars(np.arange(n, dtype=np.int64), o, h, lo, c, np.full(n, np.nan))


def run(
    rows: list[Bar], entries: Sequence[int] = (0,), exits: Sequence[int] = (), **options: object
) -> BacktestResult:
    n = len(rows)
    e, x = np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_)
    e[list(entries)], x[list(exits)] = True, True
    return run_backtest(make_bars(rows), Signals(e, x), EngineOptions.model_validate(options))


ENTRY: list[Bar] = [(100.0, 101.0, 99.0, 100.0), (100.0, 101.0, 90.0, 100.0)]  # bar 1 low 90
AFTER: Bar = (100.0, 101.0, 99.0, 100.0)


def only_trade(result: BacktestResult) -> np.void:
    assert len(result.trades) == 1
    trade: np.void = result.trades[0]
    return trade


def test_stop_loss_hit_intrabar_fills_at_the_stop_level() -> None:
    result = run([*ENTRY, (99.0, 100.0, 94.0, 96.0), AFTER], stop_loss=0.05)
    trade = only_trade(result)
    # Entry bar 1 dipped to 90, below the 95 stop, but is not checked.
    assert (trade["exit_index"], trade["exit_price"]) == (2, 95.0)
    assert trade["exit_reason"] == ExitReason.STOP_LOSS
    assert result.equity[2] == pytest.approx(CASH / 100.0 * 95.0, rel=1e-12)
    assert np.all(result.position[2:] == 0.0)  # no re-entry without a new signal


def test_gap_through_stop_fills_at_the_open_less_slippage() -> None:
    result = run([*ENTRY, (90.0, 92.0, 89.0, 91.0), AFTER], stop_loss=0.05, slippage_bps=10)
    trade = only_trade(result)
    assert trade["entry_price"] == pytest.approx(100.0 * 1.001, rel=1e-15)
    # Stop at 100.1 * 0.95 = 95.095, but the bar opens at 90: sell at 90 less 10 bps.
    assert trade["exit_price"] == pytest.approx(90.0 * 0.999, rel=1e-15)
    assert trade["exit_reason"] == ExitReason.STOP_LOSS


def test_take_profit_fills_at_the_target() -> None:
    trade = only_trade(run([*ENTRY, (105.0, 112.0, 104.0, 108.0), AFTER], take_profit=0.1))
    assert (trade["exit_index"], trade["exit_price"]) == (2, pytest.approx(110.0, rel=1e-15))
    assert trade["exit_reason"] == ExitReason.TAKE_PROFIT


def test_gap_through_target_fills_at_the_better_open() -> None:
    trade = only_trade(run([*ENTRY, (115.0, 116.0, 113.0, 114.0), AFTER], take_profit=0.1))
    assert trade["exit_price"] == 115.0


@pytest.mark.parametrize(
    ("rule", "price", "reason"),
    [("stop_first", 95.0, ExitReason.STOP_LOSS), ("target_first", 110.0, ExitReason.TAKE_PROFIT)],
)
def test_both_hit_in_one_bar_follows_the_rule(rule: str, price: float, reason: int) -> None:
    rows = [*ENTRY, (100.0, 112.0, 94.0, 100.0), AFTER]
    result = run(rows, stop_loss=0.05, take_profit=0.1, both_hit_rule=rule)
    trade = only_trade(result)
    assert trade["exit_price"] == pytest.approx(price, rel=1e-15)
    assert trade["exit_reason"] == reason
    assert result.both_hit_rule == rule
    assert result.both_hit_bars == 1
    assert result.summary.metrics["both_hit_bars"] == 1.0


@pytest.mark.parametrize("rule", ["stop_first", "target_first"])
def test_gap_through_target_wins_even_when_the_stop_is_in_the_range(rule: str) -> None:
    # Opens at 111 above the 110 target: the target filled at the open, before the dip to 94.
    # (vectorbt checks the stop first here and would fill at 95: a deliberate difference.)
    rows = [*ENTRY, (111.0, 113.0, 94.0, 100.0), AFTER]
    result = run(rows, stop_loss=0.05, take_profit=0.1, both_hit_rule=rule)
    trade = only_trade(result)
    assert (trade["exit_price"], trade["exit_reason"]) == (111.0, ExitReason.TAKE_PROFIT)
    assert result.both_hit_bars == 0


TRAIL: list[Bar] = [
    (100.0, 101.0, 99.0, 100.0),
    (100.0, 130.0, 99.0, 101.0),  # entry bar: its high (130) does not count
    (101.0, 110.0, 100.0, 108.0),  # stop 100 * 0.9 = 90; best becomes 110
    (108.0, 120.0, 100.0, 118.0),  # stop 110 * 0.9 = 99, low 100: holds; best 120
    (117.0, 118.0, 107.0, 108.0),  # stop 120 * 0.9 = 108, low 107: exit at 108
    (108.0, 109.0, 107.0, 108.0),
]


def test_trailing_stop_follows_the_highest_high_since_the_entry_bar() -> None:
    trade = only_trade(run(TRAIL, trailing_stop=0.1))
    assert (trade["exit_index"], trade["exit_price"]) == (4, pytest.approx(108.0, rel=1e-15))
    assert trade["exit_reason"] == ExitReason.TRAILING_STOP


def test_tighter_of_fixed_and_trailing_stop_applies_and_names_the_reason() -> None:
    trade = only_trade(run(TRAIL, trailing_stop=0.1, stop_loss=0.05))  # 95 < 108 by bar 4
    assert trade["exit_reason"] == ExitReason.TRAILING_STOP
    trade = only_trade(run([*ENTRY, (99.0, 100.0, 94.0, 96.0)], trailing_stop=0.1, stop_loss=0.05))
    assert (trade["exit_price"], trade["exit_reason"]) == (95.0, ExitReason.STOP_LOSS)


def test_short_stop_loss_and_trailing_stop_mirror_the_long_ones() -> None:
    rows: list[Bar] = [
        (100.0, 101.0, 99.0, 100.0),
        (100.0, 110.0, 99.0, 100.0),
        (101.0, 106.0, 100.0, 104.0),
        AFTER,
    ]
    result = run(rows, entries=[], exits=[0], allow_short=True, stop_loss=0.05)
    trade = only_trade(result)
    assert (trade["direction"], trade["exit_index"], trade["exit_price"]) == (-1, 2, 105.0)
    assert trade["pnl"] == pytest.approx(-1000.0 * 105.0 + 1000.0 * 100.0, rel=1e-12)
    rows = [
        (100.0, 101.0, 99.0, 100.0),
        (100.0, 101.0, 70.0, 100.0),
        (95.0, 96.0, 80.0, 82.0),
        (83.0, 89.0, 82.0, 85.0),
        AFTER,
    ]
    trade = only_trade(run(rows, entries=[], exits=[0], allow_short=True, trailing_stop=0.1))
    # Best low after the entry bar: 80 (bar 2); stop 88, touched by bar 3's high of 89.
    assert (trade["exit_index"], trade["exit_price"]) == (3, pytest.approx(88.0, rel=1e-15))


def test_exit_signal_filled_at_the_open_comes_before_a_stop_in_that_bar() -> None:
    result = run([*ENTRY, (99.0, 100.0, 94.0, 96.0), AFTER], exits=[1], stop_loss=0.05)
    trade = only_trade(result)
    assert (trade["exit_index"], trade["exit_price"]) == (2, 99.0)
    assert trade["exit_reason"] == ExitReason.SIGNAL


def test_fill_at_close_re_enters_on_an_entry_at_the_close_after_a_stop() -> None:
    rows: list[Bar] = [
        (100.0, 101.0, 99.0, 100.0),
        (100.0, 101.0, 99.0, 100.0),
        (99.0, 100.0, 94.0, 96.0),
        AFTER,
    ]
    result = run(rows, entries=[0, 2], fill_at="close", stop_loss=0.05)
    stopped, reentered = result.trades
    assert (stopped["entry_index"], stopped["exit_index"], stopped["exit_price"]) == (0, 2, 95.0)
    assert (reentered["entry_index"], reentered["entry_price"]) == (2, 96.0)
    assert reentered["is_open"]


def test_no_stops_means_no_stop_exits() -> None:
    trade = only_trade(run([*ENTRY, (50.0, 200.0, 10.0, 100.0), AFTER]))
    assert trade["is_open"]
