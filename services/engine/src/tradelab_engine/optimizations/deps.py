"""What the optimisation use cases and workers share: the engine's dependencies, the repository,
and the dataset the last chunk read."""

import asyncio
from dataclasses import dataclass, field

from tradelab_contracts.search_limits import SearchLimits
from tradelab_engine.adapters.bars_loader import load_bars
from tradelab_engine.domain.bars import Bars
from tradelab_engine.domain.optimize import DEFAULT_HEATMAP_MAX_CELLS
from tradelab_engine.domain.search import DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_WORK, chunk_size_for
from tradelab_engine.service import EngineDeps

from .repository import OptimizationRepository


@dataclass
class OptimizationDeps:
    """The engine's dependencies plus the optimisation tables.

    ``last_bars`` keeps the dataset the last chunk read: a replica takes an optimisation's
    chunks one after another, so it reads the file once.
    """

    engine: EngineDeps
    repo: OptimizationRepository
    chunk_size: int = DEFAULT_CHUNK_SIZE
    """Combinations per chunk at most."""
    chunk_work: int = DEFAULT_CHUNK_WORK
    """Bar-combinations per chunk (``chunk_combinations``)."""
    limits: SearchLimits = field(default_factory=SearchLimits)
    heatmap_max_cells: int = DEFAULT_HEATMAP_MAX_CELLS
    last_bars: tuple[str, Bars] | None = None

    def chunk_combinations(self, bars: int) -> int:
        """Combinations per chunk of a search whose every combination runs over ``bars`` bars."""
        return chunk_size_for(bars, self.chunk_work, self.chunk_size)

    async def bars(self, dataset_uri: str, dataset_sha256: str) -> Bars:
        """The dataset's bars, read again only when another dataset was read last."""
        key = f"{dataset_uri}#{dataset_sha256}"
        if self.last_bars is None or self.last_bars[0] != key:
            self.last_bars = None  # let the previous one go before reading the next
            bars = await asyncio.to_thread(load_bars, self.engine.store.path(dataset_uri))
            self.last_bars = (key, bars)
        return self.last_bars[1]
