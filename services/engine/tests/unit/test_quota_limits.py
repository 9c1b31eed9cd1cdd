"""Which quota a job counts against, its Monte Carlo work, and the settings that set the limits."""

import pytest

from tradelab_contracts.engine_rpc import MAX_SAVED_STRATEGIES
from tradelab_contracts.quotas import Quota
from tradelab_engine.quotas.limits import (
    ENGINE_QUOTAS,
    QuotaLimits,
    optimization_quota,
    simulation_bars,
)
from tradelab_engine.settings import EngineSettings


def test_walk_forward_optimisations_have_their_own_quota() -> None:
    assert optimization_quota(folds=0) is Quota.OPTIMIZATIONS
    assert optimization_quota(folds=4) is Quota.WALK_FORWARD


def test_a_study_works_simulations_times_bars() -> None:
    assert simulation_bars(n_simulations=1_000, bars=2_520) == 2_520_000


def test_every_engine_quota_has_a_limit() -> None:
    limits = QuotaLimits(1, 2, 3, 4, 5, 6)
    assert [limits.of(q) for q in ENGINE_QUOTAS] == [1, 2, 3, 4, 5, 6]


def test_the_datasets_quotas_are_not_the_engines() -> None:
    assert Quota.DATASETS not in ENGINE_QUOTAS
    assert Quota.STORED_BYTES not in ENGINE_QUOTAS


def test_settings_defaults_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for quota in ENGINE_QUOTAS:  # all six are asserted below, whatever the environment holds
        monkeypatch.delenv(f"ENGINE_QUOTA_{quota.value.upper()}", raising=False)
    assert EngineSettings().quota_limits() == QuotaLimits(
        backtests=50,
        optimizations=10,
        walk_forward=10,
        monte_carlo=10,
        monte_carlo_simulation_bars=500_000_000,
        saved_strategies=100,
    )
    monkeypatch.setenv("ENGINE_QUOTA_BACKTESTS", "2")
    assert EngineSettings().quota_limits().backtests == 2


def test_saved_strategies_cannot_be_raised_past_the_contract_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENGINE_QUOTA_SAVED_STRATEGIES", str(MAX_SAVED_STRATEGIES + 1))
    with pytest.raises(ValueError, match="saved_strategies"):
        EngineSettings()
