"""The quick backtest's form: JSON fields parsed and checked up front, pnl added to the curve."""

import pytest

from tradelab_contracts.engine import EngineOptions
from tradelab_gateway.api.problems import ProblemError
from tradelab_gateway.api.quick_schemas import QuickBacktestForm, with_pnl


def refusal(fields: dict[str, str]) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        QuickBacktestForm.parse(fields)
    assert caught.value.status == 422
    assert caught.value.code == "validation_error"
    return caught.value


def test_only_the_strategy_is_required_and_everything_else_has_a_default() -> None:
    form = QuickBacktestForm.parse({"strategy": "sma_cross"})
    assert form.parameters == {}
    assert form.options == EngineOptions()
    assert (form.points, form.max_trades) == (1000, 1000)
    declared = form.declaration()
    assert (declared.timeframe, declared.timezone, declared.column_mapping) == (None, "UTC", {})


def test_json_fields_are_decoded_and_numbers_read_from_text() -> None:
    form = QuickBacktestForm.parse(
        {
            "strategy": "sma_cross",
            "parameters": '{"fast": 10, "slow": 50}',
            "options": '{"fee_rate": 0.001}',
            "timezone": "America/New_York",
            "column_mapping": '{"Date": "time"}',
            "points": "250",
            "max_trades": "0",
        }
    )
    assert form.parameters == {"fast": 10, "slow": 50}
    assert form.options.fee_rate == 0.001
    assert form.points == 250
    assert form.max_trades == 0
    assert form.declaration().column_mapping == {"Date": "time"}


def test_a_missing_strategy_and_malformed_json_are_listed_together() -> None:
    problem = refusal({"parameters": "{fast: 10"})
    fields = {e["field"] for e in problem.extra["errors"]}
    assert fields == {"strategy", "parameters"}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"options": '{"fee_rate": -1}'}, "options.fee_rate"),
        ({"options": '{"leverage": 5}'}, "options.leverage"),
        ({"parameters": "[1, 2]"}, "parameters"),
        ({"points": "1"}, "points"),
        ({"max_trades": "20000"}, "max_trades"),
        ({"paramters": "{}"}, "paramters"),
    ],
)
def test_invalid_fields_are_refused_naming_the_field(fields: dict[str, str], field: str) -> None:
    problem = refusal({"strategy": "sma_cross", **fields})
    assert [e["field"] for e in problem.extra["errors"]] == [field]


def test_pnl_is_equity_less_initial_cash_and_only_chart_columns_are_kept() -> None:
    rows = [
        {"time": "t0", "close": 10.0, "equity": 1000.0, "cash": 1000.0, "drawdown": 0.0},
        {"time": "t1", "close": 9.0, "equity": 950.5, "cash": 0.0, "drawdown": -0.0495},
    ]
    points = with_pnl(rows, 1000.0)
    assert [p["pnl"] for p in points] == [0.0, -49.5]
    assert set(points[0]) == {"time", "close", "equity", "drawdown", "pnl"}
