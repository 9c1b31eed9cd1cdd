"""Request bodies of ``/api/v1/optimizations`` that differ from the contract's."""

from typing import Annotated, TypeAlias

from pydantic import Field

from tradelab_contracts.base import Seed
from tradelab_contracts.optimization import GeneticSearch, GridSearch, RandomSearch


class RandomSearchIn(RandomSearch):
    """Random search as requested: the seed is drawn when absent."""

    # The contract requires the seed the gateway draws; the request may leave it out.
    seed: Seed | None = Field(  # type: ignore[assignment]
        default=None, description="Random seed; drawn (and returned) when absent."
    )


class GeneticSearchIn(GeneticSearch):
    """Genetic search as requested: the seed is drawn when absent."""

    # The contract requires the seed the gateway draws; the request may leave it out.
    seed: Seed | None = Field(  # type: ignore[assignment]
        default=None, description="Random seed; drawn (and returned) when absent."
    )


SearchIn: TypeAlias = Annotated[
    GridSearch | RandomSearchIn | GeneticSearchIn, Field(discriminator="kind")
]
"""How to search, told apart by ``kind``; validated here, so the document shows each shape."""
