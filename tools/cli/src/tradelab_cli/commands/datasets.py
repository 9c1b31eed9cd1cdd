"""``tradelab datasets upload`` and ``list``."""

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from tradelab_cli.client import ApiClient
from tradelab_cli.render import Output, dataset_table, datasets_table
from tradelab_cli.session import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    JsonOption,
    handle_errors,
    session_of,
)

POLL_INTERVAL_S = 0.5
WAITING_STATUSES = frozenset({"pending"})

app = typer.Typer(help="Upload and list market data.", no_args_is_help=True)


def _wait_until_ingested(api: ApiClient, dataset: Mapping[str, Any]) -> dict[str, Any]:
    """Poll the dataset until it is no longer pending."""
    current = dict(dataset)
    while current.get("status") in WAITING_STATUSES:
        time.sleep(POLL_INTERVAL_S)
        current = api.get(f"/datasets/{dataset['id']}")
    return current


@app.command("upload")
@handle_errors
def upload(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV or Parquet.")
    ],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    symbol: Annotated[str | None, typer.Option(help="Instrument symbol, e.g. GOOG.")] = None,
    timeframe: Annotated[
        str | None, typer.Option(help="Bar size (1m ... 1mo); detected when left out.")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait until the data is ingested.")
    ] = True,
    json_output: JsonOption = False,
) -> None:
    """Upload a file; by default wait until it is ingested (ready) or rejected."""
    out = Output(json_output)
    fields = {
        k: v for k, v in {"name": name, "symbol": symbol, "timeframe": timeframe}.items() if v
    }
    with session_of(ctx).client() as api:
        with out.spinner(f"Uploading {file.name}"):
            dataset: dict[str, Any] = api.upload("/datasets", file, fields)
        if wait:
            try:
                with out.spinner(f"Ingesting {file.name}"):
                    dataset = _wait_until_ingested(api, dataset)
            except KeyboardInterrupt:
                out.note(f"Stopped waiting; dataset {dataset['id']} is still being ingested.")
                raise typer.Exit(EXIT_INTERRUPTED) from None
    if out.json_mode:
        out.emit(dataset)
    else:
        out.show(dataset_table(dataset))
    if dataset.get("status") not in {"ready", *WAITING_STATUSES}:
        reason = dataset.get("reject_message") or dataset.get("reject_reason") or "no reason given"
        out.failure(f"The dataset was {dataset.get('status')}: {reason}")
        raise typer.Exit(EXIT_FAILED)


@app.command("list")
@handle_errors
def list_datasets(
    ctx: typer.Context,
    symbol: Annotated[str | None, typer.Option(help="Only this symbol.")] = None,
    timeframe: Annotated[str | None, typer.Option(help="Only this bar size.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many (newest first).")] = 0,
    json_output: JsonOption = False,
) -> None:
    """List your datasets, newest first."""
    out = Output(json_output)
    params = {"symbol": symbol, "timeframe": timeframe, "limit": limit, "offset": offset}
    with session_of(ctx).client() as api:
        page: dict[str, Any] = api.get("/datasets", params)
    if out.json_mode:
        out.emit(page)
        return
    out.show(datasets_table(page.get("items") or []))
    out.show(f"{len(page.get('items') or [])} of {page.get('total', 0)}")
