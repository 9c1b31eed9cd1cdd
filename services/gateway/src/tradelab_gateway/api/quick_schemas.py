"""Form fields and answer of ``POST /api/v1/backtests/quick`` (the synchronous backtest)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, Json, ValidationError

from tradelab_contracts.datasets import DatasetDeclaration
from tradelab_contracts.engine import BacktestSummary, EngineOptions
from tradelab_gateway.api.problems import invalid_fields

DEFAULT_POINTS = 1000
MAX_POINTS = 100_000
DEFAULT_TRADES = 1000
MAX_TRADES = 10_000


class QuickBacktestForm(BaseModel):
    """The multipart form's text fields (the CSV itself is the ``file`` part).

    JSON-valued fields are JSON text, as multipart forms carry strings only.
    """

    model_config = ConfigDict(extra="forbid")

    strategy: str = Field(min_length=1, max_length=64, description="Name from /strategies.")
    parameters: Json[dict[str, Any]] = Field(
        default_factory=dict, description="JSON object of strategy parameters; defaults fill gaps."
    )
    options: Json[EngineOptions] = Field(
        default_factory=EngineOptions, description="JSON object of engine options (fees, ...)."
    )
    timeframe: str | None = Field(
        default=None, max_length=16, description="Bar size claimed, e.g. '1d'; detected anyway."
    )
    timezone: str = Field(
        default="UTC", min_length=1, max_length=64, description="IANA zone of naive timestamps."
    )
    column_mapping: Json[dict[str, str]] = Field(
        default_factory=dict, description="JSON object: file column -> canonical column."
    )
    points: int = Field(
        default=DEFAULT_POINTS,
        ge=2,
        le=MAX_POINTS,
        description="Most equity points returned, thinned evenly (first and last bar kept).",
    )
    max_trades: int = Field(
        default=DEFAULT_TRADES, ge=0, le=MAX_TRADES, description="Most trades returned (first)."
    )

    @classmethod
    def parse(cls, fields: dict[str, str]) -> "QuickBacktestForm":
        """Validate the form's text fields; every problem is one 422 listing them all."""
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]) or "form", "message": e["msg"]}
                for e in exc.errors()
            ]
            raise invalid_fields(errors) from exc

    def declaration(self) -> DatasetDeclaration:
        """What the uploader said about the file, as a dataset upload declares it."""
        return DatasetDeclaration(
            timeframe=self.timeframe, timezone=self.timezone, column_mapping=self.column_mapping
        )


def with_pnl(rows: list[dict[str, Any]], initial_cash: float) -> list[dict[str, Any]]:
    """Reduce equity rows to time, close, equity, drawdown and pnl (equity - initial cash)."""
    return [
        {
            "time": row["time"],
            "close": row["close"],
            "equity": row["equity"],
            "drawdown": row["drawdown"],
            "pnl": row["equity"] - initial_cash,
        }
        for row in rows
    ]


class QuickTradesPublic(BaseModel):
    """The first trades of a quick backtest (the open one at the end, if any, included)."""

    total: int = Field(description="Trades in the whole run, open one included")
    items: list[dict[str, Any]]


class QuickBacktestPublic(BaseModel):
    """A quick backtest's result, answered in the same request; nothing is stored."""

    strategy: str
    parameters: dict[str, Any] = Field(description="Validated parameters, defaults filled in")
    options: EngineOptions
    timeframe: str = Field(description="Detected bar size, used for annualising")
    rows: int = Field(description="Bars in the file after normalisation")
    start: datetime
    end: datetime
    quality_score: float = Field(description="Data quality 0-100, as for a dataset upload")
    warnings: list[str] = Field(description="Remarks on the file (e.g. declared timeframe)")
    summary: BacktestSummary
    pnl: float = Field(description="Final equity minus initial cash")
    total_points: int = Field(description="Bars in the full equity curve")
    equity: list[dict[str, Any]] = Field(
        description="time, close, equity, drawdown (<= 0, from the running peak), pnl"
    )
    trades: QuickTradesPublic
    elapsed_s: float = Field(description="Seconds spent once the file was received")
