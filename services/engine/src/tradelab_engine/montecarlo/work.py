"""How much work a Monte Carlo study asks for, counted at submission against the owner's
simulation-bars quota: every simulation steps through ``bars`` bars (its horizon, or as many as
its source has, as ``sources.py`` will resample or simulate)."""

import asyncio

from polars.exceptions import PolarsError

from tradelab_contracts.engine_rpc import RunInfo
from tradelab_contracts.montecarlo import MonteCarloMethod, MonteCarloSpec
from tradelab_runtime.storage import LocalObjectStore

from .files import row_count


async def study_bars(spec: MonteCarloSpec, run: RunInfo | None, store: LocalObjectStore) -> int:
    """The bars each simulation of ``spec`` steps through (``run``: the bootstrap's source).

    A source whose file is missing or not Parquet counts 0: the study then fails in the worker
    anyway.
    """
    if spec.horizon_bars is not None:
        return spec.horizon_bars
    if spec.method == MonteCarloMethod.BOOTSTRAP_TRADES:
        return run.summary.trades if run is not None and run.summary is not None else 0
    uri = run.equity_uri if run is not None else spec.dataset_uri
    if not uri:
        return 0
    try:
        return await asyncio.to_thread(row_count, store.path(uri))
    except (OSError, ValueError, PolarsError):  # polars: a file that is not Parquet
        return 0
