"""Monte Carlo studies: reproducible for a seed whatever the batching, bootstrap means against
hand computations, block and GBM paths, summaries and cancellation."""

import math

import numpy as np
import pytest

from tradelab_engine.domain.gbm import fit_gbm, gbm_closes, gbm_stream
from tradelab_engine.domain.montecarlo import (
    CHUNK_STEPS,
    STREAM_SIZE,
    Outcomes,
    StudyCancelledError,
    fan_steps,
    resampling_stream,
    run_study,
    stream_generator,
)
from tradelab_engine.domain.montecarlo_stats import PERCENTILES, summarise_study

CASH = 100_000.0
TRADES = np.array([0.10, -0.05, 0.20, -0.10])


def bootstrap(
    returns: np.ndarray,
    n: int,
    seed: int,
    *,
    steps: int | None = None,
    block_size: int = 1,
    batch_size: int = STREAM_SIZE,
) -> Outcomes:
    length = len(returns) if steps is None else steps
    stream = resampling_stream(returns, initial_cash=CASH, steps=length, block_size=block_size)
    return run_study(
        stream, n_simulations=n, seed=seed, initial_cash=CASH, steps=length, batch_size=batch_size
    )


def assert_same(a: Outcomes, b: Outcomes) -> None:
    np.testing.assert_array_equal(a.final_equity, b.final_equity)
    np.testing.assert_array_equal(a.max_drawdown, b.max_drawdown)
    np.testing.assert_array_equal(a.fan, b.fan)


@pytest.mark.parametrize("block_size", [1, 5])
def test_a_fixed_seed_reproduces_every_number_whatever_the_batch_size(block_size: int) -> None:
    returns = np.random.default_rng(3).normal(0.0005, 0.01, 300)
    first = bootstrap(returns, 1_000, seed=42, block_size=block_size)
    again = bootstrap(returns, 1_000, seed=42, block_size=block_size)
    one_batch = bootstrap(returns, 1_000, seed=42, block_size=block_size, batch_size=1_000)
    tiny_batches = bootstrap(returns, 1_000, seed=42, block_size=block_size, batch_size=1)

    assert_same(first, again)
    assert_same(first, one_batch)
    assert_same(first, tiny_batches)
    assert summarise_study(first, 0.2) == summarise_study(tiny_batches, 0.2)
    other = bootstrap(returns, 1_000, seed=43, block_size=block_size)
    assert not np.array_equal(first.final_equity, other.final_equity)


def test_streams_do_not_depend_on_the_order_they_run_in() -> None:
    stream = resampling_stream(TRADES, initial_cash=CASH, steps=4)
    backwards = [stream(stream_generator(7, k), STREAM_SIZE) for k in (2, 1, 0)][::-1]
    study = run_study(stream, n_simulations=3 * STREAM_SIZE, seed=7, initial_cash=CASH, steps=4)

    np.testing.assert_array_equal(
        study.final_equity, np.concatenate([s.final_equity for s in backwards])
    )


def test_one_trade_per_path_bootstrap_mean_matches_the_hand_computed_mean() -> None:
    # E[final] = cash * mean(1 + r) = 100,000 * 1.0375 = 103,750.
    study = bootstrap(TRADES, 100_000, seed=1, steps=1)
    hand = CASH * (1 + (0.10 - 0.05 + 0.20 - 0.10) / 4)
    assert hand == pytest.approx(103_750.0)
    # Every path is one of the trades, exactly.
    assert set(np.unique(study.final_equity)) <= {CASH * (1 + r) for r in TRADES}
    standard_error = np.std(study.final_equity, ddof=1) / math.sqrt(len(study.final_equity))
    assert abs(np.mean(study.final_equity) - hand) < 4 * standard_error


def test_trade_count_per_path_bootstrap_mean_is_the_compounded_mean_trade() -> None:
    # Draws are independent, so E[final] = cash * E[1 + r] ** trades = cash * 1.0375 ** 4.
    study = bootstrap(TRADES, 200_000, seed=2)
    hand = CASH * 1.0375**4
    standard_error = np.std(study.final_equity, ddof=1) / math.sqrt(len(study.final_equity))
    assert abs(np.mean(study.final_equity) - hand) < 4 * standard_error
    assert study.steps == len(TRADES)


def test_drawdowns_of_every_two_trade_path_match_the_hand_computed_ones() -> None:
    study = bootstrap(np.array([0.5, -0.5]), 2_000, seed=5)
    # Final equity / cash and maximum drawdown of the four paths, by hand: up-up 2.25 and no fall;
    # up-down 0.75 after a peak of 1.5 (fall 0.5); down-up 0.75 after a fall from 1 to 0.5;
    # down-down 0.25 (fall 0.75).
    expected = {(2.25, 0.0), (0.75, 0.5), (0.25, 0.75)}
    found = set(zip(np.round(study.final_equity / CASH, 12), study.max_drawdown, strict=True))
    assert found == expected


def test_a_block_as_long_as_the_series_is_a_rotation_of_it_so_every_path_ends_the_same() -> None:
    returns = np.random.default_rng(9).normal(0.001, 0.02, 50)
    study = bootstrap(returns, 500, seed=3, block_size=50)
    np.testing.assert_allclose(study.final_equity, CASH * np.prod(1 + returns), rtol=1e-12)


def test_blocks_keep_consecutive_returns_together_across_draw_chunks() -> None:
    # Blocks of two alternating returns are (+10 %, -10 %) or (-10 %, +10 %): after every block
    # equity is multiplied by 0.99, whatever the draws; the path is longer than one draw chunk.
    steps = 2 * CHUNK_STEPS + 6
    study = bootstrap(np.array([0.1, -0.1]), 300, seed=4, steps=steps, block_size=2)
    np.testing.assert_allclose(study.final_equity, CASH * 0.99 ** (steps // 2), rtol=1e-9)


def test_fan_chart_samples_at_most_201_steps_including_both_ends() -> None:
    assert fan_steps(10).tolist() == list(range(11))
    thinned = fan_steps(5_000)
    assert len(thinned) == 201
    assert (thinned[0], thinned[-1]) == (0, 5_000)
    study = bootstrap(np.full(5_000, 0.0001), 10, seed=1)
    np.testing.assert_allclose(study.fan[:, 0], CASH)
    np.testing.assert_allclose(study.fan[:, -1], study.final_equity, rtol=1e-6)
    np.testing.assert_allclose(study.fan[:, 100], CASH * 1.0001**2_500, rtol=1e-6)


def test_summary_probabilities_are_fractions_and_percentiles_increase() -> None:
    returns = np.random.default_rng(11).normal(0.0002, 0.015, 500)
    study = bootstrap(returns, 3_000, seed=8)
    summary = summarise_study(study, drawdown_threshold=0.2)

    for value in (summary.probability_of_loss, summary.probability_of_drawdown_beyond):
        assert 0.0 <= value <= 1.0
    assert summary.probability_of_loss == np.mean(study.final_equity < CASH)
    assert summary.probability_of_drawdown_beyond == np.mean(study.max_drawdown > 0.2)
    for table in (summary.final_equity_percentiles, summary.max_drawdown_percentiles):
        assert list(table) == [f"p{p}" for p in PERCENTILES]
        assert list(table.values()) == sorted(table.values())
    assert summary.final_equity_percentiles["p50"] == np.median(study.final_equity)
    bands = np.array(list(summary.fan_bands.values()))
    assert np.all(np.diff(bands, axis=0) >= 0)
    assert sum(summary.histogram_counts) == 3_000
    assert summary.histogram_edges[-1] == study.max_drawdown.max()


def test_gbm_fit_recovers_the_drift_and_volatility_of_synthetic_gbm_data() -> None:
    mu, sigma, bars = 0.0004, 0.015, 200_000
    rng = np.random.default_rng(21)
    log_returns = (mu - sigma**2 / 2) + sigma * rng.standard_normal(bars - 1)
    close = 50.0 * np.exp(np.concatenate(([0.0], np.cumsum(log_returns))))

    fit = fit_gbm(close)

    assert fit.bars == bars
    # Standard errors: sigma / sqrt(n) for the drift, sigma / sqrt(2n) for the volatility.
    assert abs(fit.mu - mu) < 4 * sigma / math.sqrt(bars)
    assert abs(fit.sigma - sigma) < 4 * sigma / math.sqrt(2 * bars)
    path = gbm_closes(np.random.default_rng(1), fit, 50.0, 1_000)
    assert len(path) == 1_000
    assert path[0] == 50.0


def test_gbm_fit_refuses_too_few_or_non_positive_closes() -> None:
    with pytest.raises(ValueError, match="three bars"):
        fit_gbm(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="positive"):
        fit_gbm(np.array([1.0, 0.0, 2.0]))


def test_gbm_paths_run_the_strategy_on_each_path_reproducibly() -> None:
    fit = fit_gbm(100 * np.exp(np.cumsum(np.random.default_rng(2).normal(0, 0.01, 300))))

    def buy_and_hold(close: np.ndarray) -> np.ndarray:
        result: np.ndarray = CASH * close / close[0]
        return result

    def study(batch_size: int) -> Outcomes:
        stream = gbm_stream(fit, start=100.0, bars=300, initial_cash=CASH, equity_of=buy_and_hold)
        return run_study(
            stream,
            n_simulations=600,
            seed=5,
            initial_cash=CASH,
            steps=300,
            batch_size=batch_size,
        )

    first = study(STREAM_SIZE)
    assert_same(first, study(600))
    # Buy and hold of a GBM: E[S_T / S_0] = exp(mu * (T - 1)).
    expected = CASH * math.exp(fit.mu * 299)
    standard_error = np.std(first.final_equity, ddof=1) / math.sqrt(600)
    assert abs(np.mean(first.final_equity) - expected) < 4 * standard_error


def test_progress_is_reported_per_batch_and_false_cancels() -> None:
    seen: list[tuple[int, int]] = []

    def keep_going(done: int, total: int) -> bool:
        seen.append((done, total))
        return True

    stream = resampling_stream(TRADES, initial_cash=CASH, steps=4)
    run_study(
        stream,
        n_simulations=1_000,
        seed=1,
        initial_cash=CASH,
        steps=4,
        batch_size=512,
        on_batch=keep_going,
    )
    assert seen == [(512, 1_000), (1_000, 1_000)]

    with pytest.raises(StudyCancelledError) as stopped:
        run_study(
            stream,
            n_simulations=1_000,
            seed=1,
            initial_cash=CASH,
            steps=4,
            on_batch=lambda done, total: done < 512,
        )
    assert stopped.value.done == 512
