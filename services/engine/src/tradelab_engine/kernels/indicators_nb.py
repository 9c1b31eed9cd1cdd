"""One import point for the indicator kernels, which live in topic modules.

- :mod:`~tradelab_engine.kernels.ma_nb`: SMA, EMA, WMA (and the shared conventions).
- :mod:`~tradelab_engine.kernels.oscillators_nb`: RSI, MACD, slow stochastic.
- :mod:`~tradelab_engine.kernels.range_nb`: true range, ATR, ADX.
- :mod:`~tradelab_engine.kernels.bands_nb`: rolling max/min, Bollinger Bands, Donchian channel.
- :mod:`~tradelab_engine.kernels.cross_nb`: crossing detectors.
"""

from tradelab_engine.kernels.bands_nb import (
    bbands_1d_nb,
    donchian_1d_nb,
    rolling_max_1d_nb,
    rolling_min_1d_nb,
)
from tradelab_engine.kernels.cross_nb import crossed_above_1d_nb, crossed_below_1d_nb
from tradelab_engine.kernels.ma_nb import ema_1d_nb, sma_1d_nb, wma_1d_nb
from tradelab_engine.kernels.oscillators_nb import macd_1d_nb, rsi_1d_nb, stoch_1d_nb
from tradelab_engine.kernels.range_nb import adx_1d_nb, atr_1d_nb, true_range_1d_nb

__all__ = [
    "adx_1d_nb",
    "atr_1d_nb",
    "bbands_1d_nb",
    "crossed_above_1d_nb",
    "crossed_below_1d_nb",
    "donchian_1d_nb",
    "ema_1d_nb",
    "macd_1d_nb",
    "rolling_max_1d_nb",
    "rolling_min_1d_nb",
    "rsi_1d_nb",
    "sma_1d_nb",
    "stoch_1d_nb",
    "true_range_1d_nb",
    "wma_1d_nb",
]
