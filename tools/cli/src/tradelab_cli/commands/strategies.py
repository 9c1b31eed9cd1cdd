"""``tradelab strategies list``, ``show``, ``save`` and ``delete``."""

from typing import Annotated, Any

import typer
from rich.json import JSON

from tradelab_cli.commands.options import read_rule_set
from tradelab_cli.render import Output
from tradelab_cli.session import JsonOption, handle_errors, session_of
from tradelab_cli.strategy_tables import parameters_table, strategies_table, strategy_table

app = typer.Typer(
    help="List the built-in strategies, save and delete your rule strategies.",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(help="Strategy name, e.g. sma_cross.")]


@app.command("list")
@handle_errors
def list_strategies(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List the built-in strategies, then your saved ones."""
    out = Output(json_output)
    with session_of(ctx).client() as api:
        strategies: list[dict[str, Any]] = api.get("/strategies")
    if out.json_mode:
        out.emit(strategies)
        return
    out.show(strategies_table(strategies))


def _show_strategy(out: Output, strategy: dict[str, Any]) -> None:
    out.show(strategy_table(strategy))
    if strategy.get("rules") is not None:
        out.show("Rules:")
        out.show(JSON.from_data(strategy["rules"], indent=2))
    elif (strategy.get("parameters_schema") or {}).get("properties"):
        out.show(parameters_table(strategy["parameters_schema"], strategy.get("defaults") or {}))
    else:
        out.show("Parameters: none")


@app.command("show")
@handle_errors
def show(ctx: typer.Context, name: NameArgument, json_output: JsonOption = False) -> None:
    """Show a strategy: a built-in one's parameters (default, bounds), a saved one's rules."""
    out = Output(json_output)
    with session_of(ctx).client() as api:
        strategy: dict[str, Any] = api.get(f"/strategies/{name}")
    if out.json_mode:
        out.emit(strategy)
        return
    _show_strategy(out, strategy)


@app.command("save")
@handle_errors
def save(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name to run it by (a-z, 0-9, _).")],
    file: Annotated[
        typer.FileText,
        typer.Option(
            "--file",
            "-f",
            encoding="utf-8",
            metavar="<file>",
            help='JSON file {"entry": CONDITION, "exit": CONDITION}; - reads standard input.',
        ),
    ],
    description: Annotated[str | None, typer.Option("--description", help="What it does.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Save a rule strategy; run it with: tradelab backtest run --strategy NAME."""
    out = Output(json_output)
    body: dict[str, Any] = {"name": name, **read_rule_set(file, "--file")}
    if description is not None:
        body["description"] = description
    with session_of(ctx).client() as api:
        strategy: dict[str, Any] = api.post("/strategies", body)
    if out.json_mode:
        out.emit(strategy)
        return
    out.show(f"Saved strategy [bold]{strategy.get('name', name)}[/bold]")


@app.command("delete")
@handle_errors
def delete(ctx: typer.Context, name: NameArgument, json_output: JsonOption = False) -> None:
    """Delete one of your saved strategies (backtests run with it keep their rules)."""
    out = Output(json_output)
    with session_of(ctx).client() as api:
        api.delete(f"/strategies/{name}")
    if out.json_mode:
        out.emit({"name": name, "deleted": True})
        return
    out.show(f"Deleted strategy [bold]{name}[/bold]")
