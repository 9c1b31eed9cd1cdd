"""Options that commands share: the simulation's costs, the listing, rule-set files."""

from collections.abc import Callable
from typing import Annotated, Any, TextIO

import typer
from rich.table import Table

from tradelab_cli.render import Output
from tradelab_cli.rules_file import RulesFileError, parse_rule_set
from tradelab_cli.session import session_of

DatasetOption = Annotated[str, typer.Option("--dataset", help="Id of a ready dataset.")]
StrategyOption = Annotated[str, typer.Option("--strategy", help="Strategy name, e.g. sma_cross.")]
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


StatusOption = Annotated[
    str | None, typer.Option(help="queued, running, completed, failed or cancelled.")
]
LimitOption = Annotated[int, typer.Option(min=1, max=500, help="At most this many.")]
OffsetOption = Annotated[int, typer.Option(min=0, help="Skip this many (newest first).")]


def show_page(
    ctx: typer.Context,
    out: Output,
    path: str,
    query: dict[str, Any],
    table: Callable[[list[dict[str, Any]]], Table],
) -> None:
    """Fetch one page of ``path`` and print it (as JSON, or ``table`` and a count)."""
    with session_of(ctx).client() as api:
        page: dict[str, Any] = api.get(path, query)
    if out.json_mode:
        out.emit(page)
        return
    items = page.get("items") or []
    out.show(table(items))
    out.show(f"{len(items)} of {page.get('total', 0)}")


def read_rule_set(file: TextIO, option: str) -> dict[str, Any]:
    """The rule set in ``file``; a file holding none is a usage error naming ``option``."""
    try:
        return parse_rule_set(file.read())
    except UnicodeDecodeError:
        raise typer.BadParameter("not UTF-8 text", param_hint=option) from None
    except RulesFileError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None
