"""Request and response bodies of ``/api/v1/strategies``."""

from pydantic import Field

from tradelab_contracts.base import StrategyName
from tradelab_contracts.engine_rpc import StrategyInfo
from tradelab_contracts.rules import Condition, RuleSet


class StrategyCreate(RuleSet):
    """``POST /api/v1/strategies``: a rule strategy saved under a name of yours.

    Validated as the contract's `RuleSet` (unknown keys refused, node and depth limits), so a
    bad rule is a 422 naming the field.
    """

    name: StrategyName = Field(
        description="Name to run it by (lowercase letters, digits, _); not a built-in name."
    )
    description: str = Field(default="", max_length=500, description="What it does.")
    entry: Condition = Field(description="Buy here: go long (covering a short first).")
    exit: Condition = Field(
        description="Sell here: close a long (and go short when shorting is allowed)."
    )

    def rules(self) -> RuleSet:
        """The entry and exit conditions alone."""
        return RuleSet(entry=self.entry, exit=self.exit)


class StrategyPublic(StrategyInfo):
    """A built-in strategy (``kind: builtin``) or one of your saved ones (``kind: saved``)."""
