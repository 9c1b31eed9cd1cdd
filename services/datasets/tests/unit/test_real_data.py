"""Real daily GOOG bars (2004-2013, from the ``backtesting`` package) ingest cleanly."""

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

from tradelab_datasets.domain import ingest_file


def independent_reading(path: Path) -> tuple[int, list[str]]:
    """Count data rows and collect dates with the standard library alone."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle) if row]
    return len(rows) - 1, [row[0] for row in rows[1:]]


def test_goog_ingests_every_row_as_daily_bars(goog_csv: Path) -> None:
    expected_rows, dates = independent_reading(goog_csv)
    result = ingest_file(goog_csv)
    assert result.rows == expected_rows == 2148
    assert result.timeframe == "1d"
    assert result.start == datetime(2004, 8, 19, tzinfo=UTC)
    assert result.start.date() == date.fromisoformat(min(dates))
    assert result.end.date() == date.fromisoformat(max(dates))
    assert result.columns == ["time", "open", "high", "low", "close", "volume"]


def test_goog_scores_above_90_with_holidays_not_counted_as_gaps(goog_csv: Path) -> None:
    result = ingest_file(goog_csv)
    assert result.quality.score > 90
    gaps = result.quality.component("gaps")
    # Nine years of weekends and exchange holidays are closures, not missing bars.
    assert gaps.counts["closures"] > 400
    assert gaps.counts["missing_bars"] < 10


def test_goog_prices_match_the_file(goog_csv: Path) -> None:
    with goog_csv.open(newline="", encoding="utf-8") as handle:
        first = next(csv.DictReader(handle))
    bar = ingest_file(goog_csv).frame.row(0, named=True)
    assert bar["open"] == float(first["Open"])
    assert bar["close"] == float(first["Close"])
    assert bar["volume"] == float(first["Volume"])


def test_goog_summary_is_json_serialisable(goog_csv: Path) -> None:
    summary = json.loads(json.dumps(ingest_file(goog_csv).summary()))
    assert summary["rows"] == 2148
    assert len(summary["content_sha256"]) == 64
