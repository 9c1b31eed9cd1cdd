"""Which combinations a search may run: the strategy's own rules (defaults filled in) and the
user's constraints."""

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from tradelab_contracts.optimization import Constraint
from tradelab_engine.domain.genetic import Accept
from tradelab_engine.domain.search import satisfies
from tradelab_engine.strategies.catalogue import validate_parameters

Validate = Callable[[dict[str, Any]], dict[str, Any] | None]


def validator(strategy: str) -> Validate:
    """A combination the strategy accepts, defaults filled in, or None."""

    def validate(combination: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return validate_parameters(strategy, combination).model_dump(mode="json")
        except (ValidationError, ValueError):
            return None

    return validate


def accept_rule(strategy: str, constraints: list[Constraint]) -> Accept:
    """A combination allowed by the constraints and the strategy, defaults filled in."""
    validate = validator(strategy)

    def accept(combination: dict[str, Any]) -> dict[str, Any] | None:
        return validate(combination) if satisfies(combination, constraints) else None

    return accept
