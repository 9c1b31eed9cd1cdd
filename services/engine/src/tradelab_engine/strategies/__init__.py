"""Strategy catalogue: signal rules over bars, with validated parameters."""

from tradelab_engine.strategies.base import Signals, Strategy, UnknownStrategyError
from tradelab_engine.strategies.catalogue import (
    STRATEGIES,
    catalogue_entry,
    get_strategy,
    validate_parameters,
)

__all__ = [
    "STRATEGIES",
    "Signals",
    "Strategy",
    "UnknownStrategyError",
    "catalogue_entry",
    "get_strategy",
    "validate_parameters",
]
