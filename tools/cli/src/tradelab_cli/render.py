"""What the user sees: rich tables and progress, or plain JSON with ``--json``."""

import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tradelab_cli.client import ApiError, ServerUnreachableError
from tradelab_cli.watch import StateListener, WatchState

PIPE_WIDTH = 200  # tables piped to a file or grep are not cut to 80 columns

HEADLINE_METRICS = (
    ("cagr", "CAGR", "pct"),
    ("annual_volatility", "Annual volatility", "pct"),
    ("sharpe", "Sharpe", "num"),
    ("sortino", "Sortino", "num"),
    ("calmar", "Calmar", "num"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("win_rate", "Win rate", "pct"),
    ("profit_factor", "Profit factor", "num"),
)


def pct(value: Any) -> str:
    """A fraction as a percentage, ``-`` when missing."""
    return "-" if value is None else f"{float(value) * 100:.2f} %"


def num(value: Any, digits: int = 2) -> str:
    """A number with thousands separators, ``-`` when missing."""
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{float(value):,.{digits}f}"


def text(value: Any) -> str:
    """Any value as table text, ``-`` when missing."""
    return "-" if value is None or value == "" else str(value)


def when(value: Any) -> str:
    """An ISO 8601 time as ``YYYY-MM-DD HH:MM``."""
    return "-" if not value else str(value)[:16].replace("T", " ")


def format_problem(error: ApiError) -> str:
    """``title: detail`` (or just one of them when the other is empty or the same)."""
    title, detail = error.title.strip(), error.detail.strip()
    if not detail or detail == title:
        return title or f"HTTP {error.status}"
    return f"{title}: {detail}" if title else detail


class Output:
    """Writes results to stdout (tables, or JSON only) and problems to stderr."""

    def __init__(self, json_mode: bool) -> None:
        self.json_mode = json_mode
        # Resolved at write time from sys.stdout / sys.stderr, so test runners capture them.
        piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
        width = PIPE_WIDTH if piped else None
        self.out = Console(highlight=False, no_color=json_mode, width=width)
        self.err = Console(stderr=True, highlight=False, no_color=json_mode)

    def emit(self, data: Any) -> None:
        """Print ``data`` as JSON (``--json``)."""
        self.out.file.write(json.dumps(data, indent=2, default=str) + "\n")

    def show(self, *renderables: Any) -> None:
        """Print for humans (nothing in JSON mode)."""
        if not self.json_mode:
            self.out.print(*renderables)

    def note(self, message: str) -> None:
        """A remark on stderr (so JSON on stdout stays clean)."""
        self.err.print(message, markup=False)

    def problem(self, error: ApiError) -> None:
        """Report a refused request."""
        if self.json_mode:
            self.emit({"error": {"status": error.status, **error.body, "title": error.title}})
        self.err.print(f"[red]{_escape(format_problem(error))}[/red]")
        if error.status == 401:
            self.err.print("Log in again with: tradelab login", markup=False)

    def unreachable(self, error: ServerUnreachableError) -> None:
        """Report a server that did not answer."""
        if self.json_mode:
            self.emit({"error": {"server": error.server, "detail": error.reason}})
        self.err.print(f"[red]{_escape(str(error))}[/red]")

    def failure(self, message: str) -> None:
        """Report any other reason to stop."""
        self.err.print(f"[red]{_escape(message)}[/red]")

    @contextmanager
    def spinner(self, message: str) -> Iterator[None]:
        """A spinner while waiting (none in JSON mode)."""
        if self.json_mode:
            yield
            return
        with self.err.status(message):
            yield

    @contextmanager
    def run_progress(self, run_id: str) -> Iterator[StateListener]:
        """A progress bar fed by run states; yields the listener to call with each state."""
        if self.json_mode:
            yield lambda _state: None
            return
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.err, transient=True) as progress:
            task = progress.add_task(f"{run_id[:8]} queued", total=1.0, detail="")

            def update(state: WatchState) -> None:
                description = f"{run_id[:8]} {state.status}"
                progress.update(
                    task, completed=state.progress, description=description, detail=_detail(state)
                )

            yield update


def _detail(state: WatchState) -> str:
    """Bars simulated (backtests), or combinations evaluated and the best so far."""
    if state.bars_total:
        return f"{num(state.bars_done or 0)}/{num(state.bars_total)} bars"
    if state.total:
        best = "" if state.best_value is None else f", best {num(state.best_value, 4)}"
        return f"{num(state.evaluated or 0)}/{num(state.total)} combinations{best}"
    return ""


def _escape(message: str) -> str:
    return message.replace("[", r"\[")


def key_value_table(rows: Sequence[tuple[str, str]], title: str | None = None) -> Table:
    """Two columns: names and values."""
    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        table.add_row(name, value)
    return table


def summary_table(summary: Mapping[str, Any]) -> Table:
    """The headline results of a completed run."""
    rows = [
        ("Final equity", num(summary.get("final_equity"))),
        ("Total return", pct(summary.get("total_return"))),
        ("Max drawdown", pct(summary.get("max_drawdown"))),
        ("Sharpe", num(summary.get("sharpe"))),
        ("Trades", num(summary.get("trades"))),
        ("Exposure", pct(summary.get("exposure"))),
        ("Fees", num(summary.get("fees_paid"))),
    ]
    return key_value_table(rows, title="Results")


def metrics_table(metrics: Mapping[str, Any]) -> Table:
    """A few headline analytics metrics."""
    rows = [
        (label, pct(metrics.get(key)) if kind == "pct" else num(metrics.get(key)))
        for key, label, kind in HEADLINE_METRICS
        if key in metrics
    ]
    return key_value_table(rows, title="Analytics")


def inline(values: Mapping[str, Any] | None) -> str:
    """Parameters as ``k=v, k=v``, ``-`` when there are none."""
    return ", ".join(f"{k}={v}" for k, v in (values or {}).items()) or "-"


def run_table(run: Mapping[str, Any]) -> Table:
    """One run: status, progress, what was run."""
    rows = [
        ("Run", text(run.get("id"))),
        ("Status", text(run.get("status"))),
        ("Progress", pct(run.get("progress"))),
        ("Strategy", text(run.get("strategy"))),
        ("Parameters", inline(run.get("parameters"))),
        ("Dataset", text(run.get("dataset_id"))),
        ("Cached", "yes" if run.get("cached") else "no"),
        ("Created", text(run.get("created_at"))),
        ("Finished", text(run.get("finished_at"))),
    ]
    if run.get("failure_message") or run.get("failure_reason"):
        failure = f"{text(run.get('failure_message'))} ({text(run.get('failure_reason'))})"
        rows.append(("Failure", failure))
    return key_value_table(rows)


def datasets_table(items: Sequence[Mapping[str, Any]]) -> Table:
    """Datasets, one per row."""
    table = Table(title="Datasets", box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True, min_width=36)  # ids must stay whole to be copied
    for column in ("name", "symbol", "timeframe", "rows", "status", "created"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for d in items:
        table.add_row(
            text(d.get("id")),
            text(d.get("name") or d.get("filename")),
            text(d.get("symbol")),
            text(d.get("timeframe")),
            num(d.get("rows")),
            text(d.get("status")),
            when(d.get("created_at")),
        )
    return table


def dataset_table(dataset: Mapping[str, Any]) -> Table:
    """One dataset: id, status, rows, timeframe."""
    rows = [
        ("Dataset", text(dataset.get("id"))),
        ("Status", text(dataset.get("status"))),
        ("Rows", num(dataset.get("rows"))),
        ("Timeframe", text(dataset.get("timeframe"))),
    ]
    return key_value_table(rows)


def backtests_table(items: Sequence[Mapping[str, Any]]) -> Table:
    """Runs, one per row."""
    table = Table(title="Backtests", box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True, min_width=36)
    for column in ("strategy", "parameters", "status", "progress", "return", "created"):
        table.add_column(column, justify="right" if column in {"progress", "return"} else "left")
    for run in items:
        summary = run.get("summary") or {}
        table.add_row(
            text(run.get("id")),
            text(run.get("strategy")),
            inline(run.get("parameters")),
            text(run.get("status")),
            pct(run.get("progress")),
            pct(summary.get("total_return")),
            when(run.get("created_at")),
        )
    return table
