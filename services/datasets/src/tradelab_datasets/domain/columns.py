"""Map a file's column names onto the canonical bar columns.

Canonical columns are ``time, open, high, low, close, volume``. Names match case- and
whitespace-insensitively (``_`` and ``-`` count as spaces) against common aliases; an explicit
``column_mapping`` from the declaration wins over aliases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tradelab_contracts.datasets import DatasetRejectReason
from tradelab_datasets.domain.errors import IngestError

TIME = "time"
PRICE_COLUMNS = ("open", "high", "low", "close")
VALUE_COLUMNS = (*PRICE_COLUMNS, "volume")
CANONICAL = (TIME, *VALUE_COLUMNS)

# Ordered: earlier aliases are preferred when a file has several candidates.
_ALIASES: dict[str, tuple[str, ...]] = {
    TIME: ("timestamp", "datetime", "date time", "time stamp", "ts", "open time", "date", "time"),
    "open": ("open", "o", "open price"),
    "high": ("high", "h", "high price"),
    "low": ("low", "l", "low price"),
    "close": ("close", "c", "last", "price", "close price", "last price"),
    "volume": ("volume", "vol", "v", "qty", "quantity"),
}
# Adjusted close only stands in for close when the file has no plain close.
_ADJUSTED_CLOSE = ("adj close", "adjclose", "adjusted close")
# pandas' to_csv writes the index under an empty name (GOOG.csv does) or "Unnamed: 0".
_UNNAMED_FIRST = re.compile(r"^(|unnamed: ?0|index)$")
_POSITIONAL = re.compile(r"^column_\d+$")
_POSITIONAL_LAYOUTS: dict[int, tuple[str, ...]] = {
    2: (TIME, "close"),
    5: (TIME, *PRICE_COLUMNS),
    6: CANONICAL,
}


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Where each canonical column comes from.

    Attributes
    ----------
    sources
        Canonical name -> source column name, for the canonical columns found.
    time_of_day
        A separate time-of-day column to join to a date-only ``time`` column, if the file
        splits them (``Date,Time,...`` exports).
    adjusted_close
        Whether ``close`` was taken from an adjusted-close column.
    """

    sources: dict[str, str]
    time_of_day: str | None = None
    adjusted_close: bool = False


def key(name: str) -> str:
    """Normalise a column name for matching: lower case, ``_``/``-``/runs of blanks -> one space."""
    return " ".join(re.split(r"[\s_\-]+", name.strip().lower())).strip()


def resolve_columns(names: Sequence[str], column_mapping: Mapping[str, str]) -> ColumnMap:
    """Find the source of each canonical column in ``names``.

    Parameters
    ----------
    names
        Column names of the file, in order; ``column_1``... for files without a header.
    column_mapping
        From the declaration. The contract's direction is file column -> canonical name; the
        reverse (canonical name -> file column) is accepted when only the key is canonical.

    Raises
    ------
    IngestError
        ``NO_TIME_COLUMN``, ``NO_CLOSE_COLUMN``, or ``UNSUPPORTED_FORMAT`` for a mapping that
        names a column the file does not have.
    """
    sources = _explicit_sources(names, column_mapping)
    if not sources and names and all(_POSITIONAL.match(name) for name in names):
        layout = _POSITIONAL_LAYOUTS.get(len(names), ())
        sources = dict(zip(layout, names, strict=False))
    free = [name for name in names if name not in set(sources.values())]
    _match_aliases(sources, free)
    time_of_day = _split_time_of_day(sources, free)
    adjusted = _fall_back_to_adjusted_close(sources, free)
    if TIME not in sources and names and names[0] in free and _UNNAMED_FIRST.match(key(names[0])):
        sources[TIME] = names[0]
    _require(sources, names)
    ordered = {canonical: sources[canonical] for canonical in CANONICAL if canonical in sources}
    return ColumnMap(ordered, time_of_day, adjusted)


def _match_aliases(sources: dict[str, str], free: list[str]) -> None:
    """Assign each canonical column not yet mapped the first free column with an alias name."""
    for canonical in CANONICAL:
        if canonical not in sources:
            found = _first_alias(free, _ALIASES[canonical])
            if found is not None:
                sources[canonical] = found
                free.remove(found)


def _fall_back_to_adjusted_close(sources: dict[str, str], free: list[str]) -> bool:
    if "close" in sources:
        return False
    found = _first_alias(free, _ADJUSTED_CLOSE)
    if found is None:
        return False
    sources["close"] = found
    free.remove(found)
    return True


def _explicit_sources(names: Sequence[str], column_mapping: Mapping[str, str]) -> dict[str, str]:
    sources: dict[str, str] = {}
    for left, right in column_mapping.items():
        if key(right) in CANONICAL:
            source, canonical = left, key(right)
        elif key(left) in CANONICAL:
            source, canonical = right, key(left)
        else:
            raise IngestError(
                DatasetRejectReason.UNSUPPORTED_FORMAT,
                f"column_mapping entry {left!r}: {right!r} names no canonical column "
                f"(one of {', '.join(CANONICAL)}).",
            )
        sources[canonical] = _find_source(names, source)
    return sources


def _find_source(names: Sequence[str], source: str) -> str:
    if source in names:
        return source
    matches = [name for name in names if key(name) == key(source)]
    if not matches:
        raise IngestError(
            DatasetRejectReason.UNSUPPORTED_FORMAT,
            f"column_mapping names column {source!r}, which the file does not have "
            f"(columns: {_listing(names)}).",
        )
    return matches[0]


def _first_alias(names: Sequence[str], aliases: Sequence[str]) -> str | None:
    keyed = {key(name): name for name in reversed(names)}  # reversed: first occurrence wins
    return next((keyed[alias] for alias in aliases if alias in keyed), None)


def _split_time_of_day(sources: dict[str, str], free: list[str]) -> str | None:
    """Pair a ``Date`` time column with a separate ``Time`` column, if there is one."""
    if key(sources.get(TIME, "")) != "date":
        return None
    time_of_day = _first_alias(free, ("time",))
    if time_of_day is not None:
        free.remove(time_of_day)
    return time_of_day


def _require(sources: Mapping[str, str], names: Sequence[str]) -> None:
    if TIME not in sources:
        raise IngestError(
            DatasetRejectReason.NO_TIME_COLUMN,
            f"No time column found (columns: {_listing(names)}). Name it date, datetime, "
            "timestamp or time, or declare it in column_mapping.",
        )
    if "close" not in sources:
        raise IngestError(
            DatasetRejectReason.NO_CLOSE_COLUMN,
            f"No close column found (columns: {_listing(names)}). Name it close, adj close, "
            "last or price, or declare it in column_mapping.",
        )


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:20])
    return shown + (f" and {len(names) - 20} more" if len(names) > 20 else "") or "none"
