"""``tradelab optimize run`` options as the request's search: parameter space, constraints,
objective, search method and walk-forward scheme. Pure, so a mistake is refused before the server
is contacted."""

import re
from typing import Any

from tradelab_cli.params import Value, parse_value

OBJECTIVE_METRICS = ("final_equity", "total_return", "max_drawdown", "sharpe", "trades", "exposure")
WALK_FORWARD_MODES = ("rolling", "anchored")
CONSTRAINT = re.compile(r"^\s*([A-Za-z_]\w*)\s*(<=|>=|!=|<|>)\s*(\S+?)\s*$")
NAME = re.compile(r"^[A-Za-z_]\w*$")

Number = int | float


class SearchSpecError(ValueError):
    """An option that does not describe a search."""


def _number(text: str, what: str) -> Number:
    value = parse_value(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SearchSpecError(f"{what} must be a number, got {text!r}")
    return value


def _named(item: str, form: str) -> tuple[str, str]:
    name, sep, raw = item.partition("=")
    name = name.strip()
    if not sep or not NAME.match(name):
        raise SearchSpecError(f"expected {form}, got {item!r}")
    return name, raw


def parse_range(item: str) -> tuple[str, dict[str, Number]]:
    """``fast=5:50:5`` as ``("fast", {"start": 5, "stop": 50, "step": 5})``; the step defaults
    to 1."""
    name, raw = _named(item, "name=START:STOP[:STEP], e.g. fast=5:50:5")
    parts = raw.split(":")
    if len(parts) not in {2, 3}:
        raise SearchSpecError(f"expected name=START:STOP[:STEP], e.g. fast=5:50:5, got {item!r}")
    start, stop = _number(parts[0], f"{name} start"), _number(parts[1], f"{name} stop")
    step = _number(parts[2], f"{name} step") if len(parts) == 3 else 1
    if step <= 0:
        raise SearchSpecError(f"{name} step must be above 0, got {step}")
    if stop < start:
        raise SearchSpecError(f"{name} stop {stop} is below its start {start}")
    return name, {"start": start, "stop": stop, "step": step}


def parse_values(item: str) -> tuple[str, list[Value]]:
    """``source=close,open`` as ``("source", ["close", "open"])`` (numbers and booleans typed)."""
    name, raw = _named(item, "name=A,B,..., e.g. source=close,open")
    texts = [t.strip() for t in raw.split(",")]
    if not all(texts):
        raise SearchSpecError(f"{name} has an empty value in {raw!r}")
    return name, [parse_value(t) for t in texts]


def parameter_space(ranges: list[str], values: list[str]) -> dict[str, Any]:
    """The parameter space of every ``--range`` and ``--values``; each parameter once."""
    space: dict[str, Any] = {}
    for name, searched in [*map(parse_range, ranges), *map(parse_values, values)]:
        if name in space:
            raise SearchSpecError(f"parameter {name!r} given twice")
        space[name] = searched
    if not space:
        raise SearchSpecError("give at least one --range or --values")
    return space


def parse_constraint(text: str, names: set[str]) -> dict[str, Any]:
    """``fast<slow`` as ``{"left": "fast", "op": "<", "right": "slow"}``; the right side is a
    number or a parameter, and every parameter named must be in ``names``."""
    match = CONSTRAINT.match(text)
    if match is None:
        raise SearchSpecError(
            f"expected NAME OP VALUE with OP one of < <= > >= !=, e.g. fast<slow, got {text!r}"
        )
    left, op, raw = match.groups()
    right: Value = parse_value(raw)
    if isinstance(right, bool) or (isinstance(right, str) and not NAME.match(right)):
        raise SearchSpecError(f"{raw!r} in {text!r} is neither a number nor a parameter name")
    for name in (left, right if isinstance(right, str) else None):
        if name is not None and name not in names:
            raise SearchSpecError(f"{text!r} names {name!r}, which is not a searched parameter")
    return {"left": left, "op": op, "right": right}


def objective(metric: str, minimize: bool) -> dict[str, str]:
    """The objective: one of ``OBJECTIVE_METRICS``, maximised unless ``minimize``."""
    if metric not in OBJECTIVE_METRICS:
        raise SearchSpecError(f"objective must be one of {', '.join(OBJECTIVE_METRICS)}")
    return {"metric": metric, "direction": "minimize" if minimize else "maximize"}


def search_method(random: int | None, seed: int | None) -> dict[str, Any]:
    """A grid search, or ``random`` combinations drawn with ``seed`` (drawn by the server if
    None)."""
    if random is None:
        if seed is not None:
            raise SearchSpecError("--seed only applies to --random")
        return {"kind": "grid"}
    if random < 1:
        raise SearchSpecError(f"--random must be at least 1, got {random}")
    search: dict[str, Any] = {"kind": "random", "n_samples": random}
    if seed is not None:
        search["seed"] = seed
    return search


def parse_walk_forward(text: str) -> dict[str, Any]:
    """``rolling:500:250`` or ``anchored:500:250:100`` (training, test and optional step bars)
    as the walk-forward scheme."""
    form = (
        "MODE:TRAIN_BARS:TEST_BARS[:STEP_BARS] with MODE rolling or anchored, e.g. rolling:500:250"
    )
    mode, *bars = text.strip().split(":")
    if mode not in WALK_FORWARD_MODES or len(bars) not in {2, 3}:
        raise SearchSpecError(f"expected {form}, got {text!r}")
    if not all(b.strip().isdigit() for b in bars):
        raise SearchSpecError(f"walk-forward bar counts must be whole numbers, got {text!r}")
    train, test, *step = (int(b) for b in bars)
    if train < 2 or test < 1 or (step and step[0] < 1):
        raise SearchSpecError(f"need 2+ training bars, 1+ test bars and steps, got {text!r}")
    scheme: dict[str, Any] = {"mode": mode, "train_bars": train, "test_bars": test}
    if step:
        scheme["step_bars"] = step[0]
    return scheme
