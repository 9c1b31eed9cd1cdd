"""The comparison chart: one line per run, growth of 1, thinned but with its ends and extremes."""

import numpy as np

from tradelab_analytics.domain.compare import NormalisedCurve, compare_figure

DAY_NS = 86_400 * 10**9


def curve(label: str, growth: list[float]) -> NormalisedCurve:
    times = np.arange(len(growth), dtype=np.int64) * DAY_NS
    return NormalisedCurve(label, times, np.asarray(growth, dtype=np.float64))


def test_one_line_per_run_in_order_with_its_values() -> None:
    figure = compare_figure([curve("a", [1.0, 1.1, 1.2]), curve("b", [1.0, 0.9, 0.95])])
    lines = figure["data"]
    assert [line["name"] for line in lines] == ["a", "b"]
    assert lines[0]["y"] == [1.0, 1.1, 1.2]
    assert lines[1]["y"] == [1.0, 0.9, 0.95]
    assert lines[0]["x"][0].startswith("1970-01-01T00:00:00")
    assert lines[1]["x"][2].startswith("1970-01-03")


def test_long_curves_are_thinned_keeping_ends_and_extremes() -> None:
    rng = np.random.default_rng(3)
    growth = np.cumprod(1 + rng.normal(0, 0.01, 50_000))
    figure = compare_figure([curve("long", growth.tolist())], max_points=500)
    line = figure["data"][0]
    assert len(line["y"]) <= 500
    assert line["y"][0] == growth[0]
    assert line["y"][-1] == growth[-1]
    assert max(line["y"]) == growth.max()
    assert min(line["y"]) == growth.min()
