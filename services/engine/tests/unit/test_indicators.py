"""Indicator kernels agree with TA-Lib (or, where we differ on purpose, with hand computations).

Two data sets: a seeded 5,000-bar random-walk OHLC series and the real daily GOOG bars
(2004-2013) shipped with ``backtesting``.
"""

from collections.abc import Callable

import numpy as np
import pytest
import talib
from numpy.lib.stride_tricks import sliding_window_view
from talib._ta_lib import MA_Type  # the typed home of the enum talib re-exports

from services.engine.tests.unit.market_data import goog_bars, random_walk_bars
from tradelab_engine.domain.bars import Bars, FloatArray
from tradelab_engine.kernels.indicators_nb import (
    adx_1d_nb,
    atr_1d_nb,
    bbands_1d_nb,
    crossed_above_1d_nb,
    crossed_below_1d_nb,
    donchian_1d_nb,
    ema_1d_nb,
    macd_1d_nb,
    rolling_max_1d_nb,
    rolling_min_1d_nb,
    rsi_1d_nb,
    sma_1d_nb,
    stoch_1d_nb,
    true_range_1d_nb,
    wma_1d_nb,
)

RTOL = 1e-9
SMA = MA_Type.SMA
Kernel = Callable[[FloatArray], FloatArray]
WINDOWS = [2, 3, 5, 14, 20, 50, 200]


DATASETS = {"random_walk": random_walk_bars(), "goog": goog_bars()}


@pytest.fixture(params=sorted(DATASETS))
def bars(request: pytest.FixtureRequest) -> Bars:
    """Each data set in turn."""
    name: str = request.param
    return DATASETS[name]


def assert_same(actual: FloatArray, expected: FloatArray) -> None:
    np.testing.assert_allclose(actual, expected, rtol=RTOL, equal_nan=True)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))


def test_goog_has_all_rows() -> None:
    assert len(goog_bars()) == 2148


@pytest.mark.parametrize("n", WINDOWS)
def test_moving_averages_match_talib(bars: Bars, n: int) -> None:
    assert_same(sma_1d_nb(bars.close, n), talib.SMA(bars.close, n))
    assert_same(ema_1d_nb(bars.close, n), talib.EMA(bars.close, n))
    assert_same(wma_1d_nb(bars.close, n), talib.WMA(bars.close, n))


@pytest.mark.parametrize("n", WINDOWS)
def test_rsi_matches_talib(bars: Bars, n: int) -> None:
    assert_same(rsi_1d_nb(bars.close, n), talib.RSI(bars.close, n))


@pytest.mark.parametrize("n", WINDOWS)
def test_atr_and_adx_match_talib(bars: Bars, n: int) -> None:
    assert_same(atr_1d_nb(bars.high, bars.low, bars.close, n), talib.ATR(*_hlc(bars), n))
    assert_same(adx_1d_nb(bars.high, bars.low, bars.close, n), talib.ADX(*_hlc(bars), n))


def test_true_range_matches_talib(bars: Bars) -> None:
    assert_same(true_range_1d_nb(bars.high, bars.low, bars.close), talib.TRANGE(*_hlc(bars)))


@pytest.mark.parametrize("n", WINDOWS)
@pytest.mark.parametrize(("up", "down"), [(2.0, 2.0), (1.0, 2.5)])
def test_bollinger_bands_match_talib(bars: Bars, n: int, up: float, down: float) -> None:
    expected = talib.BBANDS(bars.close, n, up, down, SMA)
    for actual_band, expected_band in zip(
        bbands_1d_nb(bars.close, n, up, down), expected, strict=True
    ):
        assert_same(actual_band, expected_band)


@pytest.mark.parametrize(
    ("fast", "slow", "signal"), [(12, 26, 9), (5, 35, 5), (3, 10, 1), (2, 3, 2), (50, 200, 20)]
)
def test_macd_matches_talib_including_its_alignment(
    bars: Bars, fast: int, slow: int, signal: int
) -> None:
    expected = talib.MACD(bars.close, fast, slow, signal)
    for actual_line, expected_line in zip(
        macd_1d_nb(bars.close, fast, slow, signal), expected, strict=True
    ):
        assert_same(actual_line, expected_line)


def test_macd_swaps_fast_and_slow_given_in_the_wrong_order_as_talib_does(bars: Bars) -> None:
    for actual_line, expected_line in zip(
        macd_1d_nb(bars.close, 26, 12, 9), talib.MACD(bars.close, 26, 12, 9), strict=True
    ):
        assert_same(actual_line, expected_line)


@pytest.mark.parametrize(
    ("fastk", "slowk", "slowd"), [(5, 3, 3), (14, 3, 3), (9, 1, 1), (21, 5, 4)]
)
def test_slow_stochastic_matches_talib(bars: Bars, fastk: int, slowk: int, slowd: int) -> None:
    expected = talib.STOCH(*_hlc(bars), fastk, slowk, SMA, slowd, SMA)
    actual = stoch_1d_nb(bars.high, bars.low, bars.close, fastk, slowk, slowd)
    for actual_line, expected_line in zip(actual, expected, strict=True):
        assert_same(actual_line, expected_line)


@pytest.mark.parametrize("n", WINDOWS)
def test_rolling_extremes_match_talib_max_and_min(bars: Bars, n: int) -> None:
    assert_same(rolling_max_1d_nb(bars.high, n), talib.MAX(bars.high, n))
    assert_same(rolling_min_1d_nb(bars.low, n), talib.MIN(bars.low, n))


@pytest.mark.parametrize("n", [1, 2, 10, 20, 55, 300])
def test_donchian_channel_includes_the_current_bar_like_a_plain_rolling_window(
    bars: Bars, n: int
) -> None:
    upper, lower = donchian_1d_nb(bars.high, bars.low, n)
    expected_upper = np.full(len(bars), np.nan)
    expected_lower = np.full(len(bars), np.nan)
    expected_upper[n - 1 :] = sliding_window_view(bars.high, n).max(axis=1)
    expected_lower[n - 1 :] = sliding_window_view(bars.low, n).min(axis=1)
    np.testing.assert_array_equal(upper, expected_upper)
    np.testing.assert_array_equal(lower, expected_lower)
    assert np.all(bars.close[n - 1 :] <= upper[n - 1 :])


def test_ema_is_seeded_with_the_mean_of_its_first_window() -> None:
    close = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    ema = ema_1d_nb(close, 3)
    np.testing.assert_array_equal(ema[:2], [np.nan, np.nan])
    assert ema[2] == 2.0
    assert ema[3] == 3.0  # 2 + 0.5 * (4 - 2)
    assert ema[4] == 6.5  # 3 + 0.5 * (10 - 3)


def test_wma_weights_the_latest_bar_most() -> None:
    close = np.array([1.0, 2.0, 4.0, 8.0])
    np.testing.assert_allclose(wma_1d_nb(close, 3)[2:], [17 / 6, 34 / 6], rtol=RTOL)


@pytest.mark.parametrize(
    "kernel",
    [
        lambda c: sma_1d_nb(c, 20),
        lambda c: ema_1d_nb(c, 20),
        lambda c: wma_1d_nb(c, 20),
        lambda c: rsi_1d_nb(c, 20),
        lambda c: bbands_1d_nb(c, 20, 2.0, 2.0)[0],
        lambda c: macd_1d_nb(c, 3, 10, 9)[1],
        lambda c: atr_1d_nb(c, c, c, 20),
        lambda c: adx_1d_nb(c, c, c, 10),
        lambda c: stoch_1d_nb(c, c, c, 14, 3, 3)[1],
    ],
    ids=["sma", "ema", "wma", "rsi", "bbands", "macd", "atr", "adx", "stoch"],
)
@pytest.mark.parametrize("size", [0, 1, 15])
def test_series_shorter_than_the_warmup_are_all_nan(kernel: Kernel, size: int) -> None:
    out = kernel(np.linspace(1.0, 2.0, size))
    assert out.shape == (size,)
    assert np.isnan(out).all()


@pytest.mark.parametrize(
    "call",
    [
        lambda c: sma_1d_nb(c, 0),
        lambda c: rsi_1d_nb(c, 1),
        lambda c: adx_1d_nb(c, c, c, 1),
        lambda c: macd_1d_nb(c, 1, 10, 3),
    ],
    ids=["sma", "rsi", "adx", "macd"],
)
def test_invalid_periods_are_refused(call: Kernel) -> None:
    with pytest.raises(ValueError, match=r"at least|>="):
        call(np.linspace(1.0, 2.0, 50))


# Edge cases, and the deliberate differences from TA-Lib, against hand computations.


def test_rsi_of_a_flat_window_is_neutral_50_where_talib_says_0() -> None:
    flat = np.full(30, 7.0)
    np.testing.assert_array_equal(rsi_1d_nb(flat, 14)[14:], 50.0)
    np.testing.assert_array_equal(talib.RSI(flat, 14)[14:], 0.0)
    # Gains only, then flat: the average loss stays 0, so the RSI stays 100 (as in TA-Lib).
    rising_then_flat = np.r_[np.linspace(10.0, 11.0, 5), np.full(20, 11.0)]
    np.testing.assert_array_equal(rsi_1d_nb(rising_then_flat, 5)[5:], 100.0)
    np.testing.assert_array_equal(talib.RSI(rising_then_flat, 5)[5:], 100.0)


def test_rsi_and_adx_are_exactly_scale_invariant_even_for_sub_cent_prices() -> None:
    bars = random_walk_bars(500)
    scale = 2.0**-40  # a power of two: every intermediate result scales exactly
    tiny_rsi = rsi_1d_nb(bars.close * scale, 14)
    np.testing.assert_array_equal(tiny_rsi, rsi_1d_nb(bars.close, 14))
    tiny_adx = adx_1d_nb(bars.high * scale, bars.low * scale, bars.close * scale, 14)
    np.testing.assert_array_equal(tiny_adx, adx_1d_nb(bars.high, bars.low, bars.close, 14))


def test_adx_without_any_range_or_directional_movement_holds_like_talib() -> None:
    flat = np.full(40, 7.0)
    high, low, close = np.full(40, 11.0), np.full(40, 9.0), np.full(40, 10.0)
    step_high = high.copy()
    step_high[20:] = 12.0
    for h, lo, c in ((flat, flat, flat), (high, low, close), (step_high, low, close)):
        assert_same(adx_1d_nb(h, lo, c, 5), talib.ADX(h, lo, c, 5))


def test_stochastic_of_a_flat_range_is_neutral_50_where_talib_says_0() -> None:
    flat = np.full(30, 5.0)
    slow_k, slow_d = stoch_1d_nb(flat, flat, flat, 5, 3, 3)
    np.testing.assert_array_equal(slow_k[8:], 50.0)
    np.testing.assert_array_equal(slow_d[8:], 50.0)
    assert np.isnan(slow_k[:8]).all()
    np.testing.assert_array_equal(talib.STOCH(flat, flat, flat, 5, 3, SMA, 3, SMA)[0][8:], 0.0)


def test_bollinger_width_is_an_exact_population_std_on_a_nearly_flat_high_price() -> None:
    # mean(x^2) - mean^2 would cancel to noise here; the two-pass variance does not.
    close = 1e6 + np.array([0.0, 1e-5, -1e-5, 2e-5, 0.0, -2e-5, 1e-5, 0.0])
    upper, middle, lower = bbands_1d_nb(close, 4, 2.0, 1.0)
    expected_std = sliding_window_view(close, 4).std(axis=1)  # population (ddof=0)
    assert (expected_std > 1e-6).all()
    np.testing.assert_allclose(upper[3:] - middle[3:], 2.0 * expected_std, rtol=1e-5)
    np.testing.assert_allclose(middle[3:] - lower[3:], expected_std, rtol=1e-5)
    for actual_band, talib_band in zip(
        (upper, middle, lower), talib.BBANDS(close, 4, 2.0, 1.0, SMA), strict=True
    ):
        assert_same(actual_band, talib_band)


def test_crosses_fire_on_the_bar_that_completes_the_cross_and_never_on_nan() -> None:
    a = np.array([np.nan, 1.0, 2.0, 3.0, 2.0, 2.0, 1.0, 3.0, np.nan, 3.0])
    b = np.array([2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    up = crossed_above_1d_nb(a, b)
    down = crossed_below_1d_nb(a, b)
    # 2 -> 3 after touching 2 is a cross up; touching (a == b) is not a cross by itself.
    np.testing.assert_array_equal(np.flatnonzero(up), [3, 7])
    np.testing.assert_array_equal(np.flatnonzero(down), [6])
    assert up.dtype == np.bool_
    assert not crossed_above_1d_nb(np.empty(0), np.empty(0)).any()


def _hlc(bars: Bars) -> tuple[FloatArray, FloatArray, FloatArray]:
    return bars.high, bars.low, bars.close
