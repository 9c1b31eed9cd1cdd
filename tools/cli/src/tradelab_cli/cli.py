"""The ``tradelab`` command tree: thin commands over the API client."""

from typing import Annotated

import typer

from tradelab_cli.commands import auth, backtests, datasets, optimizations, strategies, usage
from tradelab_cli.session import session_of

app = typer.Typer(
    name="tradelab",
    help="Command line client of a tradelab server: data, strategies, backtests, optimisations, "
    "live progress.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("login")(auth.login)
app.command("register")(auth.register)
app.command("logout")(auth.logout)
app.command("usage")(usage.usage)
app.add_typer(datasets.app, name="datasets")
app.add_typer(strategies.app, name="strategies")
app.add_typer(backtests.app, name="backtest")
app.add_typer(optimizations.app, name="optimize")


@app.callback()
def root(
    ctx: typer.Context,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="TRADELAB_SERVER",
            help="Gateway URL (default: the one stored by login, else http://127.0.0.1:8000).",
        ),
    ] = None,
) -> None:
    """Talk to a tradelab gateway."""
    session_of(ctx).server_option = server
