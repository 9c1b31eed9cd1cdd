"""``tradelab backtest run``, ``show`` and ``list``."""

from typing import Annotated, Any, TextIO

import typer

from tradelab_cli.client import ApiClient, ApiError
from tradelab_cli.commands.options import (
    DatasetOption,
    FeeOption,
    InitialCashOption,
    LimitOption,
    OffsetOption,
    SlippageOption,
    StatusOption,
    engine_options,
    read_rule_set,
    show_page,
)
from tradelab_cli.params import ParamError, parse_params
from tradelab_cli.render import Output, backtests_table, metrics_table, run_table, summary_table
from tradelab_cli.rules_file import RULES_STRATEGY
from tradelab_cli.session import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    JsonOption,
    handle_errors,
    session_of,
)
from tradelab_cli.watch import WatchState, state_of_job, watch_run

app = typer.Typer(help="Run, watch and inspect backtests.", no_args_is_help=True)


def _result(run: dict[str, Any], state: WatchState) -> dict[str, Any]:
    """The run as submitted, updated with what watching it told."""
    return {
        **run,
        "status": state.status,
        "progress": state.progress,
        "sequence": state.sequence,
        "summary": state.summary,
        "cached": state.cached,
        "failure": state.failure,
        "transport": state.transport,
        "progress_events": state.progress_events,
        "bars_total": state.bars_total,
    }


def _report_end(out: Output, result: dict[str, Any]) -> None:
    if out.json_mode:
        out.emit(result)
    elif result["status"] == "completed" and result.get("summary"):
        out.show(summary_table(result["summary"]))
    if result["status"] in {"failed", "cancelled"}:
        why = f": {result['failure']}" if result.get("failure") else ""
        out.failure(f"Backtest {result['id']} {result['status']}{why}")
        raise typer.Exit(EXIT_FAILED)


def _strategy_and_parameters(
    strategy: str | None, params: list[str], rules_file: TextIO | None
) -> tuple[str, dict[str, Any]]:
    """The strategy and its parameters: from ``--strategy`` and ``--param``, or a rules file."""
    if rules_file is None:
        if strategy is None:
            raise typer.BadParameter(
                "required unless --rules-file is given", param_hint="--strategy"
            )
        try:
            return strategy, parse_params(params)
        except ParamError as exc:
            raise typer.BadParameter(str(exc), param_hint="--param") from exc
    if params:
        raise typer.BadParameter(
            "cannot be combined with --param: the rule set is the parameters",
            param_hint="--rules-file",
        )
    if strategy not in {None, RULES_STRATEGY}:
        raise typer.BadParameter(
            f"must be {RULES_STRATEGY!r} or left out with --rules-file, not {strategy!r}",
            param_hint="--strategy",
        )
    return RULES_STRATEGY, read_rule_set(rules_file, "--rules-file")


@app.command("run")
@handle_errors
def run(
    ctx: typer.Context,
    dataset: DatasetOption,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help="Strategy name, e.g. sma_cross, or one you saved; optional with --rules-file.",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="Strategy parameter key=value (repeatable)."),
    ] = None,
    rules_file: Annotated[
        typer.FileText | None,
        typer.Option(
            "--rules-file",
            encoding="utf-8",
            metavar="<file>",
            help='Run the rules strategy with this JSON {"entry": ..., "exit": ...} '
            "(- reads standard input); replaces --param.",
        ),
    ] = None,
    fee: FeeOption = None,
    slippage_bps: SlippageOption = None,
    initial_cash: InitialCashOption = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Follow the run until it ends.")
    ] = True,
    json_output: JsonOption = False,
) -> None:
    """Start a backtest and follow its progress live until it ends."""
    out = Output(json_output)
    strategy, parameters = _strategy_and_parameters(strategy, param or [], rules_file)
    body = {
        "dataset_id": dataset,
        "strategy": strategy,
        "parameters": parameters,
        "options": engine_options(fee, slippage_bps, initial_cash),
    }
    with session_of(ctx).client() as api:
        submitted: dict[str, Any] = api.submit("/backtests", body)
        run_id = str(submitted["id"])
        out.show(f"Backtest [bold]{run_id}[/bold] {submitted.get('status')}")
        state = state_of_job(submitted)
        if wait:
            try:
                with out.run_progress(run_id) as on_state:
                    on_state(state)
                    state = watch_run(api, state, on_state)
            except KeyboardInterrupt:
                _detached(out, run_id, state)
    _report_end(out, _result(submitted, state))


def _detached(out: Output, run_id: str, state: WatchState) -> None:
    if out.json_mode:
        out.emit({"id": run_id, "status": state.status, "detached": True})
    out.note(f"Stopped waiting; backtest {run_id} goes on. See: tradelab backtest show {run_id}")
    raise typer.Exit(EXIT_INTERRUPTED)


def _metrics(api: ApiClient, run_id: str) -> dict[str, Any] | None:
    """The run's analytics metrics, or None while it is not analysed yet (409)."""
    try:
        analysis: dict[str, Any] = api.get(f"/analytics/{run_id}")
    except ApiError as exc:
        if exc.status == 409:
            return None
        raise
    metrics: dict[str, Any] = analysis.get("metrics") or {}
    return metrics


@app.command("show")
@handle_errors
def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Backtest run id.")],
    json_output: JsonOption = False,
) -> None:
    """Show a run: status, progress, parameters, results and headline analytics."""
    out = Output(json_output)
    with session_of(ctx).client() as api:
        backtest: dict[str, Any] = api.get(f"/backtests/{run_id}")
        completed = backtest.get("status") == "completed"
        metrics = _metrics(api, run_id) if completed else None
    if out.json_mode:
        out.emit({"backtest": backtest, "metrics": metrics})
        return
    out.show(run_table(backtest))
    if backtest.get("summary"):
        out.show(summary_table(backtest["summary"]))
    if metrics is not None:
        out.show(metrics_table(metrics))
    elif completed:
        out.show("Analytics: not analysed yet, try again in a moment.")


@app.command("list")
@handle_errors
def list_backtests(
    ctx: typer.Context,
    status: StatusOption = None,
    limit: LimitOption = 50,
    offset: OffsetOption = 0,
    json_output: JsonOption = False,
) -> None:
    """List your backtests, newest first."""
    query = {"status": status, "limit": limit, "offset": offset}
    show_page(ctx, Output(json_output), "/backtests", query, backtests_table)
