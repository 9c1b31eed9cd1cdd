"""Returns metrics agree with empyrical configured to our conventions (docs/metrics.md).

empyrical is told ``annualization=periods`` and receives the per-bar risk-free rate that our
annual ``risk_free`` compounds down to. Its max drawdown is negative where ours is a positive
fraction (a deliberate sign difference), so the test compares against ``-max_drawdown``.
"""

import empyrical  # type: ignore[import-untyped]  # ships no type information
import numpy as np
import pytest

from services.analytics.tests.unit.series import SERIES, FloatArray, random_benchmark
from tradelab_analytics.domain import distribution_metrics as dist
from tradelab_analytics.domain import returns_metrics as rets
from tradelab_analytics.domain.benchmark_metrics import alpha_beta
from tradelab_analytics.domain.conventions import per_period_rate

REL = 1e-9
PERIODS = 252.0
RISK_FREE = 0.03  # annual, to check the conversion to a per-bar rate
RF_BAR = per_period_rate(RISK_FREE, PERIODS)

series = pytest.mark.parametrize("returns", list(SERIES.values()), ids=list(SERIES))


@series
def test_sharpe_matches_empyrical_with_zero_and_positive_risk_free(returns: FloatArray) -> None:
    assert rets.sharpe(returns, PERIODS) == pytest.approx(
        empyrical.sharpe_ratio(returns, annualization=PERIODS), rel=REL
    )
    assert rets.sharpe(returns, PERIODS, RISK_FREE) == pytest.approx(
        empyrical.sharpe_ratio(returns, risk_free=RF_BAR, annualization=PERIODS), rel=REL
    )


@series
def test_sortino_matches_empyrical_with_required_return_as_risk_free(returns: FloatArray) -> None:
    assert rets.sortino(returns, PERIODS) == pytest.approx(
        empyrical.sortino_ratio(returns, annualization=PERIODS), rel=REL
    )
    assert rets.sortino(returns, PERIODS, RISK_FREE) == pytest.approx(
        empyrical.sortino_ratio(returns, required_return=RF_BAR, annualization=PERIODS), rel=REL
    )


@series
def test_volatility_cagr_and_total_return_match_empyrical(returns: FloatArray) -> None:
    assert rets.annual_volatility(returns, PERIODS) == pytest.approx(
        empyrical.annual_volatility(returns, annualization=PERIODS), rel=REL
    )
    assert rets.cagr(returns, PERIODS) == pytest.approx(
        empyrical.cagr(returns, annualization=PERIODS), rel=REL
    )
    assert rets.total_return(returns) == pytest.approx(
        empyrical.cum_returns_final(returns), rel=REL
    )


@series
def test_max_drawdown_is_empyricals_with_positive_sign(returns: FloatArray) -> None:
    assert rets.max_drawdown(returns) == pytest.approx(-empyrical.max_drawdown(returns), rel=REL)


@series
def test_calmar_omega_stability_match_empyrical(returns: FloatArray) -> None:
    assert rets.calmar(returns, PERIODS) == pytest.approx(
        empyrical.calmar_ratio(returns, annualization=PERIODS), rel=REL
    )
    assert rets.omega(returns, PERIODS, RISK_FREE) == pytest.approx(
        empyrical.omega_ratio(returns, risk_free=RF_BAR, annualization=PERIODS), rel=REL
    )
    assert rets.stability(returns) == pytest.approx(
        empyrical.stability_of_timeseries(returns), rel=REL
    )


@series
def test_tail_ratio_var_and_cvar_match_empyrical(returns: FloatArray) -> None:
    assert dist.tail_ratio(returns) == pytest.approx(empyrical.tail_ratio(returns), rel=REL)
    assert dist.historical_var(returns) == pytest.approx(
        empyrical.value_at_risk(returns, cutoff=0.05), rel=REL
    )
    assert dist.historical_cvar(returns) == pytest.approx(
        empyrical.conditional_value_at_risk(returns, cutoff=0.05), rel=REL
    )


@series
def test_alpha_beta_match_empyrical_against_correlated_benchmark(returns: FloatArray) -> None:
    benchmark = random_benchmark(returns)
    expected_alpha, expected_beta = empyrical.alpha_beta(
        returns, benchmark, risk_free=RF_BAR, annualization=PERIODS
    )
    alpha, beta = alpha_beta(returns, benchmark, PERIODS, RISK_FREE)
    assert alpha == pytest.approx(expected_alpha, rel=REL)
    assert beta == pytest.approx(expected_beta, rel=REL)


def test_hourly_annualisation_scales_sharpe_by_root_of_periods() -> None:
    returns = SERIES["random_1500_daily"]
    assert rets.sharpe(returns, 1_638.0) == pytest.approx(
        empyrical.sharpe_ratio(returns, annualization=1_638.0), rel=REL
    )
    hourly = rets.sharpe(returns, 1_638.0)
    daily = rets.sharpe(returns, PERIODS)
    assert hourly is not None
    assert daily is not None
    assert hourly / daily == pytest.approx(np.sqrt(1_638.0 / PERIODS), rel=REL)
