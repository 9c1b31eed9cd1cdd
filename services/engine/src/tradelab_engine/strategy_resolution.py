"""What a job that names a strategy runs: a catalogue strategy, or a saved one as ``rules``.

Backtests, quick backtests, Monte Carlo studies and optimisations name their strategy the same
way; a name outside the catalogue is looked up among the owner's saved strategies. A saved
strategy runs as the catalogue's ``rules`` strategy with a copy of its rules as parameters, so a
run keeps the rules it ran with when the saved strategy is later deleted or re-created.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from pydantic import BaseModel

from tradelab_contracts.engine_rpc import StrategyInfo

from .strategies.base import UnknownStrategyError
from .strategies.catalogue import STRATEGIES, validate_parameters
from .strategies.rules import RULES as RULES_STRATEGY

RULES = RULES_STRATEGY.name
"""The catalogue strategy a saved strategy runs as."""


class SavedStrategies(Protocol):
    """Looks up a user's saved strategy by name."""

    async def get(self, owner_id: UUID, name: str) -> StrategyInfo | None:
        """The owner's saved strategy called ``name``, or None."""
        ...


class StrategyRefusedError(ValueError):
    """The strategy exists but cannot be used this way; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ResolvedStrategy:
    """The catalogue strategy to run and its validated parameters."""

    name: str
    params: BaseModel


async def resolve_strategy(
    saved: SavedStrategies | None, owner_id: UUID, name: str, parameters: Mapping[str, object]
) -> ResolvedStrategy:
    """Resolve ``name`` for ``owner_id``: a catalogue strategy with ``parameters`` validated, or
    the owner's saved strategy as ``rules`` with its rules (then ``parameters`` must be empty).

    Raises
    ------
    UnknownStrategyError
        If ``name`` is neither in the catalogue nor one of the owner's saved strategies.
    pydantic.ValidationError
        If a catalogue strategy's parameters are invalid.
    StrategyRefusedError
        If parameters are given with a saved strategy's name.
    """
    if name in STRATEGIES:
        return ResolvedStrategy(name, validate_parameters(name, parameters))
    found = None if saved is None else await saved.get(owner_id, name)
    if found is None or found.rules is None:
        raise UnknownStrategyError(name, list(STRATEGIES))
    if parameters:
        message = (
            f"{name} is a saved strategy and takes no parameters; its rules are its parameters."
        )
        raise StrategyRefusedError("parameters", message)
    rules = found.rules.model_dump(mode="json")
    return ResolvedStrategy(RULES, validate_parameters(RULES, rules))
