"""Rich tables of an optimisation: its state and best, top results, walk-forward folds."""

from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.table import Table

from tradelab_cli.render import inline, key_value_table, num, pct, text, when

METRICS = (
    ("final_equity", "Final equity"),
    ("total_return", "Total return"),
    ("max_drawdown", "Max drawdown"),
    ("sharpe", "Sharpe"),
    ("trades", "Trades"),
    ("exposure", "Exposure"),
)
FRACTIONS = frozenset({"total_return", "max_drawdown", "exposure"})
RESULT_COLUMNS = ("total_return", "max_drawdown", "sharpe", "trades")


def metric(key: str, value: Any) -> str:
    """A sweep metric as text: fractions as percentages, trades as a whole number."""
    if value is None:
        return "-"
    if key in FRACTIONS:
        return pct(value)
    if key == "trades":
        return num(round(float(value)))
    return num(value, 4 if key == "sharpe" else 2)


def _objective(optimization: Mapping[str, Any]) -> tuple[str, str]:
    goal = optimization.get("objective") or {}
    return str(goal.get("metric") or "objective"), str(goal.get("direction") or "maximize")


def optimization_table(optimization: Mapping[str, Any]) -> Table:
    """One optimisation: status, progress, what is searched, the best so far."""
    name, direction = _objective(optimization)
    rows = [
        ("Optimisation", text(optimization.get("id"))),
        ("Status", text(optimization.get("status"))),
        ("Progress", f"{num(optimization.get('evaluated'))}/{num(optimization.get('total'))}"),
        ("Strategy", text(optimization.get("strategy"))),
        ("Dataset", text(optimization.get("dataset_id"))),
        ("Search", text((optimization.get("search") or {}).get("kind"))),
        ("Objective", f"{direction} {name}"),
        ("Best parameters", inline(optimization.get("best_parameters"))),
        (f"Best {name}", metric(name, optimization.get("best_value"))),
        ("Created", when(optimization.get("created_at"))),
        ("Finished", when(optimization.get("finished_at"))),
    ]
    if optimization.get("skipped"):
        rows.insert(3, ("Skipped", num(optimization["skipped"])))
    if optimization.get("failure_message"):
        rows.append(("Failure", text(optimization["failure_message"])))
    return key_value_table(rows)


def results_table(items: Sequence[Mapping[str, Any]], objective_metric: str, title: str) -> Table:
    """Evaluated combinations, one per row: parameters, objective, headline metrics; ``*`` marks
    those not ranked (fewer trades than ``min_trades``)."""
    names = list(dict.fromkeys(k for item in items for k in item.get("parameters") or {}))
    others = [column for column in RESULT_COLUMNS if column != objective_metric]
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("#", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column(objective_metric, justify="right", style="bold")
    for column in others:
        table.add_column(column, justify="right")
    for rank, item in enumerate(items, start=1):
        parameters, metrics = item.get("parameters") or {}, item.get("metrics") or {}
        table.add_row(
            f"{rank}" if item.get("ranked", True) else f"{rank}*",
            *(text(parameters.get(name)) for name in names),
            metric(objective_metric, item.get("objective")),
            *(metric(column, metrics.get(column)) for column in others),
        )
    return table


def _span(fold: Mapping[str, Any], window: str) -> str:
    return f"{when(fold.get(f'{window}_start'))[:10]} - {when(fold.get(f'{window}_end'))[:10]}"


def folds_table(folds: Sequence[Mapping[str, Any]]) -> Table:
    """Walk-forward folds: windows, the training window's best, its in- and out-of-sample
    results."""
    table = Table(title="Walk-forward folds", box=box.SIMPLE_HEAD)
    table.add_column("fold", justify="right")
    table.add_column("train", no_wrap=True)
    table.add_column("test", no_wrap=True)
    table.add_column("best")
    for column in ("train ret", "test ret", "test sharpe", "test trades"):
        table.add_column(column, justify="right")
    for fold in folds:
        train, test = fold.get("train_metrics") or {}, fold.get("test_metrics") or {}
        table.add_row(
            text(fold.get("fold_index")),
            _span(fold, "train"),
            _span(fold, "test"),
            inline(fold.get("best_parameters")) if fold.get("done") else "running",
            metric("total_return", train.get("total_return")),
            metric("total_return", test.get("total_return")),
            metric("sharpe", test.get("sharpe")),
            metric("trades", test.get("trades")),
        )
    return table


def out_of_sample_table(metrics: Mapping[str, Any]) -> Table:
    """Metrics of the stitched out-of-sample equity."""
    rows = [(label, metric(key, metrics.get(key))) for key, label in METRICS if key in metrics]
    return key_value_table(rows, title="Out of sample")


def optimizations_table(items: Sequence[Mapping[str, Any]]) -> Table:
    """Optimisations, one per row."""
    table = Table(title="Optimisations", box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True, min_width=36)  # ids must stay whole to be copied
    for column in ("strategy", "status", "evaluated", "objective", "best", "created"):
        table.add_column(column, justify="right" if column in {"evaluated", "best"} else "left")
    for item in items:
        name, direction = _objective(item)
        table.add_row(
            text(item.get("id")),
            text(item.get("strategy")),
            text(item.get("status")),
            f"{num(item.get('evaluated'))}/{num(item.get('total'))}",
            f"{direction[:3]} {name}",
            metric(name, item.get("best_value")),
            when(item.get("created_at")),
        )
    return table
