"""Options that backtests and optimisations share: the simulation's costs."""

from typing import Annotated

import typer

FeeOption = Annotated[float | None, typer.Option("--fee", help="Fee rate, 0.001 = 0.1 %.")]
SlippageOption = Annotated[
    float | None, typer.Option("--slippage-bps", help="Slippage in basis points.")
]
InitialCashOption = Annotated[float | None, typer.Option("--initial-cash", help="Starting equity.")]


def engine_options(
    fee: float | None, slippage_bps: float | None, initial_cash: float | None
) -> dict[str, float]:
    """The request's ``options``: only those given, the server's defaults for the rest."""
    given = {"fee_rate": fee, "slippage_bps": slippage_bps, "initial_cash": initial_cash}
    return {k: v for k, v in given.items() if v is not None}
