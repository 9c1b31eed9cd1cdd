"""``tradelab optimize run``, ``show``, ``list``, ``cancel`` and ``walk-forward``."""

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from tradelab_cli.client import ApiClient
from tradelab_cli.commands.options import (
    DatasetOption,
    FeeOption,
    InitialCashOption,
    LimitOption,
    OffsetOption,
    SlippageOption,
    StatusOption,
    StrategyOption,
    engine_options,
    show_page,
)
from tradelab_cli.optimization_tables import (
    folds_table,
    optimization_table,
    optimizations_table,
    out_of_sample_table,
    results_table,
)
from tradelab_cli.render import Output, num
from tradelab_cli.search_space import (
    SearchSpecError,
    objective,
    parameter_space,
    parse_constraint,
    parse_walk_forward,
    search_method,
)
from tradelab_cli.session import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    JsonOption,
    handle_errors,
    session_of,
)
from tradelab_cli.watch import WatchState, state_of_job, watch_run

app = typer.Typer(
    help="Search strategy parameters, watch the search, inspect its results.",
    no_args_is_help=True,
)
T = TypeVar("T")
TopOption = Annotated[int, typer.Option("--top", min=1, max=1000, help="Results shown.")]


def _checked(hint: str, parse: Callable[[], T]) -> T:
    """``parse()``, its refusal turned into a usage error naming the option."""
    try:
        return parse()
    except SearchSpecError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from exc


def _results_fold(optimization: dict[str, Any]) -> int | None:
    """The fold whose results are shown: with walk-forward the last one, whose training
    window's best is the optimisation's best (the combination to trade next)."""
    if not optimization.get("walk_forward"):
        return None
    return max(int(optimization.get("folds") or 1) - 1, 0)


def _view(api: ApiClient, optimization: dict[str, Any], top: int) -> dict[str, Any]:
    """The optimisation, its ``top`` results and, with walk-forward, its folds."""
    path = f"/optimizations/{optimization['id']}"
    fold = _results_fold(optimization)
    page: dict[str, Any] = api.get(f"{path}/results", {"limit": top, "fold": fold})
    report = None
    if fold is not None:
        full: dict[str, Any] = api.get(f"{path}/walk-forward", {"max_points": 2})
        report = {"folds": full.get("folds") or [], "out_of_sample": full.get("out_of_sample")}
    items = page.get("items") or []
    return {"optimization": optimization, "results": items, "walk_forward": report}


def _show_view(out: Output, view: dict[str, Any]) -> None:
    optimization, items, report = view["optimization"], view["results"], view["walk_forward"]
    out.show(optimization_table(optimization))
    metric = str((optimization.get("objective") or {}).get("metric") or "objective")
    if items:
        fold = _results_fold(optimization)
        where = "" if fold is None else f" of fold {fold} (training window)"
        out.show(results_table(items, metric, f"Top {len(items)}{where}"))
    if report:
        _show_walk_forward(out, report)


def _show_walk_forward(out: Output, report: dict[str, Any]) -> None:
    out.show(folds_table(report.get("folds") or []))
    if report.get("out_of_sample"):
        out.show(out_of_sample_table(report["out_of_sample"]))
    else:
        out.show("Out of sample: once every fold is done.")


def _report_end(out: Output, result: dict[str, Any], state: WatchState) -> None:
    optimization = result["optimization"]
    if out.json_mode:
        out.emit(result)
    else:
        _show_view(out, result)
    if optimization.get("status") in {"failed", "cancelled"}:
        failure = optimization.get("failure_message") or state.failure
        why = f": {failure}" if failure else ""
        out.failure(f"Optimisation {optimization['id']} {optimization['status']}{why}")
        raise typer.Exit(EXIT_FAILED)


def _detached(out: Output, optimization_id: str, state: WatchState) -> None:
    if out.json_mode:
        out.emit({"id": optimization_id, "status": state.status, "detached": True})
    out.note(
        f"Stopped waiting; optimisation {optimization_id} goes on. "
        f"See: tradelab optimize show {optimization_id}"
    )
    raise typer.Exit(EXIT_INTERRUPTED)


@app.command("run")
@handle_errors
def run(
    ctx: typer.Context,
    dataset: DatasetOption,
    strategy: StrategyOption,
    ranges: Annotated[
        list[str] | None,
        typer.Option("--range", help="Parameter range name=START:STOP[:STEP] (repeatable)."),
    ] = None,
    values: Annotated[
        list[str] | None,
        typer.Option("--values", help="Parameter choices name=A,B,C (repeatable)."),
    ] = None,
    constraints: Annotated[
        list[str] | None,
        typer.Option("--constraint", help="Skip combinations unless e.g. 'fast<slow' holds."),
    ] = None,
    objective_metric: Annotated[
        str,
        typer.Option(
            "--objective",
            help="final_equity, total_return, max_drawdown, sharpe, trades or exposure.",
        ),
    ] = "sharpe",
    minimize: Annotated[
        bool, typer.Option("--minimize", help="Smaller objective is better.")
    ] = False,
    min_trades: Annotated[
        int | None, typer.Option("--min-trades", min=0, help="Fewer trades: not ranked.")
    ] = None,
    random: Annotated[
        int | None, typer.Option("--random", help="Evaluate N random combinations, not all.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, help="Seed of --random (else drawn).")
    ] = None,
    fee: FeeOption = None,
    slippage_bps: SlippageOption = None,
    initial_cash: InitialCashOption = None,
    walk_forward: Annotated[
        str | None,
        typer.Option(
            "--walk-forward",
            help="Walk-forward MODE:TRAIN_BARS:TEST_BARS[:STEP_BARS], MODE rolling or "
            "anchored, e.g. rolling:500:250. Optimise on each training window, test on the next.",
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Follow the search until it ends.")
    ] = True,
    top: TopOption = 10,
    json_output: JsonOption = False,
) -> None:
    """Start a parameter search, follow it live, then show the best and the top results."""
    out = Output(json_output)
    space = _checked("--range / --values", lambda: parameter_space(ranges or [], values or []))
    body: dict[str, Any] = {
        "dataset_id": dataset,
        "strategy": strategy,
        "parameter_space": space,
        "search": _checked("--random / --seed", lambda: search_method(random, seed)),
        "objective": _checked("--objective", lambda: objective(objective_metric, minimize)),
        "constraints": _checked(
            "--constraint", lambda: [parse_constraint(c, set(space)) for c in constraints or []]
        ),
        "min_trades": min_trades,
        "options": engine_options(fee, slippage_bps, initial_cash),
    }
    if walk_forward is not None:
        body["walk_forward"] = _checked("--walk-forward", lambda: parse_walk_forward(walk_forward))
    with session_of(ctx).client() as api:
        submitted: dict[str, Any] = api.submit("/optimizations", body)
        optimization_id = str(submitted["id"])
        folds = f" in {submitted['folds']} folds" if submitted.get("folds") else ""
        out.show(
            f"Optimisation [bold]{optimization_id}[/bold] {submitted.get('status')}: "
            f"{num(submitted.get('total'))} combinations{folds}"
        )
        if not wait:
            if out.json_mode:
                out.emit({"optimization": submitted})
            return
        state = state_of_job(submitted, kind="optimization")
        try:
            with out.run_progress(optimization_id) as on_state:
                on_state(state)
                state = watch_run(api, state, on_state)
        except KeyboardInterrupt:
            _detached(out, optimization_id, state)
        view = _view(api, api.get(f"/optimizations/{optimization_id}"), top)
    watched = {"transport": state.transport, "progress_events": state.progress_events}
    _report_end(out, {**view, **watched}, state)


@app.command("show")
@handle_errors
def show(
    ctx: typer.Context,
    optimization_id: Annotated[str, typer.Argument(help="Optimisation id.")],
    top: TopOption = 10,
    json_output: JsonOption = False,
) -> None:
    """Show an optimisation: progress, the best so far, the top results, walk-forward folds."""
    out = Output(json_output)
    with session_of(ctx).client() as api:
        view = _view(api, api.get(f"/optimizations/{optimization_id}"), top)
    if out.json_mode:
        out.emit(view)
    else:
        _show_view(out, view)


@app.command("list")
@handle_errors
def list_optimizations(
    ctx: typer.Context,
    status: StatusOption = None,
    limit: LimitOption = 50,
    offset: OffsetOption = 0,
    json_output: JsonOption = False,
) -> None:
    """List your optimisations, newest first."""
    query = {"status": status, "limit": limit, "offset": offset}
    show_page(ctx, Output(json_output), "/optimizations", query, optimizations_table)


@app.command("cancel")
@handle_errors
def cancel(
    ctx: typer.Context,
    optimization_id: Annotated[str, typer.Argument(help="Optimisation id.")],
    json_output: JsonOption = False,
) -> None:
    """Stop a queued or running optimisation (what was evaluated stays)."""
    out = Output(json_output)
    with session_of(ctx).client() as api:
        optimization: dict[str, Any] = api.post(f"/optimizations/{optimization_id}/cancel")
    if out.json_mode:
        out.emit(optimization)
        return
    out.show(f"Optimisation {optimization.get('id')} {optimization.get('status')}")


@app.command("walk-forward")
@handle_errors
def walk_forward_report(
    ctx: typer.Context,
    optimization_id: Annotated[str, typer.Argument(help="Optimisation id.")],
    max_points: Annotated[
        int | None,
        typer.Option(
            min=2,
            help="Out-of-sample equity points in --json, at most (the server's default, 2,000 "
            "or its GATEWAY_EQUITY_MAX_POINTS if lower, when absent).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Show a walk-forward optimisation's folds and out-of-sample results."""
    out = Output(json_output)
    with session_of(ctx).client() as api:
        query = {} if max_points is None else {"max_points": max_points}
        report: dict[str, Any] = api.get(f"/optimizations/{optimization_id}/walk-forward", query)
    if out.json_mode:
        out.emit(report)
        return
    _show_walk_forward(out, report)
