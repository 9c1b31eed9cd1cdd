"""``tradelab usage``: your quotas, what you use of each and the limit."""

from typing import Any

import typer
from rich.table import Table

from tradelab_cli.render import Output
from tradelab_cli.session import JsonOption, handle_errors, session_of

BYTES = frozenset({"stored_bytes"})


def _amount(quota: str, value: int) -> str:
    return f"{value / 1024**2:,.1f} MiB" if quota in BYTES else f"{value:,}"


def usage_table(quotas: list[dict[str, Any]]) -> Table:
    """One row per quota: used, limit and the share used."""
    table = Table(title="Quotas")
    for column in ("Quota", "Used", "Limit", "%"):
        table.add_column(column, justify="left" if column == "Quota" else "right")
    for q in quotas:
        share = 100 * q["usage"] / q["limit"] if q["limit"] else 0.0
        table.add_row(
            q["quota"],
            _amount(q["quota"], q["usage"]),
            _amount(q["quota"], q["limit"]),
            f"{share:.0f}",
        )
    return table


@handle_errors
def usage(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show each of your quotas: how much you use and the limit."""
    out = Output(json_output)
    with session_of(ctx).client() as api:
        body: dict[str, Any] = api.get("/me/usage")
    if out.json_mode:
        out.emit(body)
        return
    out.show(usage_table(body["quotas"]))
