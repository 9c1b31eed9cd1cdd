"""Turn a study's request into something to simulate: the returns of a finished run to resample,
or a price model fitted to a dataset with the strategy to run on its paths; and the outcomes into
the contract's results."""

from dataclasses import dataclass

from pydantic import ValidationError

from tradelab_contracts.engine import EngineOptions, FailureReason
from tradelab_contracts.engine_rpc import RunInfo
from tradelab_contracts.montecarlo import (
    FanChart,
    GbmFit,
    Histogram,
    MonteCarloMethod,
    MonteCarloResults,
    MonteCarloSpec,
)
from tradelab_engine.adapters.bars_loader import load_bars
from tradelab_engine.domain.bars import Bars, FloatArray
from tradelab_engine.domain.gbm import EquityOf, fit_gbm, gbm_stream
from tradelab_engine.domain.gbm import GbmFit as Fit
from tradelab_engine.domain.montecarlo import (
    Outcomes,
    StreamFn,
    default_block_size,
    resampling_stream,
)
from tradelab_engine.domain.montecarlo_stats import summarise_study
from tradelab_engine.domain.simulate import run_backtest
from tradelab_engine.lifecycle.progress import JobFailedError
from tradelab_engine.strategies.base import UnknownStrategyError
from tradelab_engine.strategies.catalogue import get_strategy, validate_parameters
from tradelab_runtime.storage import LocalObjectStore

from .files import bar_returns, closed_trade_returns


@dataclass(frozen=True)
class StudyInputs:
    """What to simulate and how the results are labelled."""

    stream: StreamFn
    initial_cash: float
    steps: int
    block_size: int | None = None
    fit: Fit | None = None


def _resampled(spec: MonteCarloSpec, run: RunInfo, store: LocalObjectStore) -> StudyInputs:
    cash = float(run.options.initial_cash)
    try:
        if spec.method == MonteCarloMethod.BOOTSTRAP_TRADES:
            returns = closed_trade_returns(store.path(run.trades_uri or ""))
        else:
            returns = bar_returns(store.path(run.equity_uri or ""), cash)
    except (OSError, KeyError) as exc:
        raise JobFailedError(
            FailureReason.SOURCE_RUN_NOT_FOUND, f"The backtest's results are unreadable: {exc}"
        ) from exc
    except ValueError as exc:
        raise JobFailedError(FailureReason.INVALID_PARAMETERS, str(exc)) from exc
    if len(returns) == 0:
        raise JobFailedError(
            FailureReason.INVALID_PARAMETERS, "The backtest has no closed trades to resample."
        )
    steps = spec.horizon_bars or len(returns)
    block = None
    if spec.method == MonteCarloMethod.BLOCK_BOOTSTRAP:
        block = spec.block_size or default_block_size(len(returns))
    try:
        stream = resampling_stream(returns, initial_cash=cash, steps=steps, block_size=block or 1)
    except ValueError as exc:
        raise JobFailedError(FailureReason.INVALID_PARAMETERS, str(exc)) from exc
    return StudyInputs(stream, cash, steps, block_size=block)


def _strategy_equity(spec: MonteCarloSpec) -> EquityOf:
    """The strategy of ``spec`` as closes -> equity (close-only bars: fills at the next close)."""
    try:
        strategy = get_strategy(spec.strategy or "")
        params = validate_parameters(strategy.name, dict(spec.parameters))
    except UnknownStrategyError as exc:
        raise JobFailedError(FailureReason.UNKNOWN_STRATEGY, str(exc)) from exc
    except ValidationError as exc:
        raise JobFailedError(FailureReason.INVALID_PARAMETERS, str(exc)) from exc
    options: EngineOptions = spec.options

    def equity_of(close: FloatArray) -> FloatArray:
        bars = Bars.from_close(close)
        signals = strategy.signals(bars, params)
        result = run_backtest(bars, signals, options, chunk_bars=len(bars), timeframe="1d")
        return result.equity

    return equity_of


def _price_paths(spec: MonteCarloSpec, store: LocalObjectStore) -> StudyInputs:
    try:
        bars = load_bars(store.path(spec.dataset_uri or ""))
        fit = fit_gbm(bars.close)
    except (OSError, ValueError, KeyError) as exc:
        raise JobFailedError(
            FailureReason.DATASET_UNREADABLE, f"Dataset unusable for a price model: {exc}"
        ) from exc
    steps = spec.horizon_bars or len(bars)
    if steps < 2:
        raise JobFailedError(
            FailureReason.INVALID_PARAMETERS, "A simulated path needs at least two bars."
        )
    cash = float(spec.options.initial_cash)
    stream = gbm_stream(
        fit,
        start=float(bars.close[0]),
        bars=steps,
        initial_cash=cash,
        equity_of=_strategy_equity(spec),
    )
    return StudyInputs(stream, cash, steps, fit=fit)


def prepare_study(
    spec: MonteCarloSpec, source: RunInfo | None, store: LocalObjectStore
) -> StudyInputs:
    """Load what ``spec`` simulates (blocking I/O: call it from a worker thread).

    Raises
    ------
    JobFailedError
        When the source cannot be read or used.
    """
    if source is not None:
        return _resampled(spec, source, store)
    return _price_paths(spec, store)


def results_of(outcomes: Outcomes, spec: MonteCarloSpec, inputs: StudyInputs) -> MonteCarloResults:
    """The contract's results of a finished study."""
    summary = summarise_study(outcomes, spec.drawdown_threshold)
    fit = inputs.fit
    return MonteCarloResults(
        initial_cash=summary.initial_cash,
        steps=summary.steps,
        block_size=inputs.block_size,
        gbm_fit=GbmFit(mu=fit.mu, sigma=fit.sigma, bars=fit.bars) if fit else None,
        final_equity_percentiles=summary.final_equity_percentiles,
        final_equity_mean=summary.final_equity_mean,
        final_equity_std=summary.final_equity_std,
        max_drawdown_percentiles=summary.max_drawdown_percentiles,
        max_drawdown_histogram=Histogram(
            edges=summary.histogram_edges, counts=summary.histogram_counts
        ),
        probability_of_loss=summary.probability_of_loss,
        drawdown_threshold=summary.drawdown_threshold,
        probability_of_drawdown_beyond=summary.probability_of_drawdown_beyond,
        fan_chart=FanChart(steps=summary.fan_steps, bands=summary.fan_bands),
    )
