"""Recognise what an upload is before reading it in full: Parquet or delimited text, and how.

Only a prefix of the file is examined, so sniffing costs the same for 1 kB and 1 GB uploads.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tradelab_contracts.datasets import DatasetRejectReason
from tradelab_datasets.domain.errors import IngestError

SAMPLE_BYTES = 64 * 1024
SEPARATORS = (",", ";", "\t", "|")
PARQUET_MAGIC = b"PAR1"
_UTF8_BOM = codecs.BOM_UTF8
_MAX_SAMPLE_LINES = 50
# Formats people upload by mistake; naming them beats a generic "not UTF-8".
_FOREIGN_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an Excel workbook?); export it as CSV",
    b"\x1f\x8b": "a gzip archive; decompress it first",
    b"\xd0\xcf\x11\xe0": "a legacy Office document; export it as CSV",
    b"%PDF": "a PDF document",
}
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "-"})


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What sniffing found out about a file.

    Attributes
    ----------
    format
        ``"csv"`` for delimited text, ``"parquet"`` for Parquet.
    separator
        Field delimiter of a CSV file.
    has_header
        Whether the first line holds column names.
    header
        Column names as polars will report them (``column_1``... when there is no header).
    decimal_comma
        Whether numbers use a decimal comma (``;``-separated European exports).
    """

    format: Literal["csv", "parquet"]
    separator: str = ","
    has_header: bool = True
    header: tuple[str, ...] = ()
    decimal_comma: bool = False


def sniff_file(path: Path) -> Sniffed:
    """Read the start of ``path`` and sniff it; see `sniff_bytes`."""
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    return sniff_bytes(sample, complete=len(sample) < SAMPLE_BYTES)


def sniff_bytes(sample: bytes, *, complete: bool = True) -> Sniffed:
    """Detect format, separator, header and decimal mark from the first bytes of a file.

    Parameters
    ----------
    sample
        The first bytes of the file (all of it when ``complete``).
    complete
        Whether ``sample`` is the whole file; otherwise its last, possibly cut, line is ignored.

    Raises
    ------
    IngestError
        ``EMPTY_FILE``, ``NOT_UTF8`` or ``UNSUPPORTED_FORMAT``.
    """
    if sample.startswith(PARQUET_MAGIC):
        return Sniffed(format="parquet")
    _reject_foreign_binary(sample)
    lines = _sample_lines(decode_sample(sample, complete=complete), complete=complete)
    if not lines:
        raise IngestError(DatasetRejectReason.EMPTY_FILE, "The file is empty.")
    separator = detect_separator(lines)
    rows = list(csv.reader(lines, delimiter=separator))
    has_header = looks_like_header(rows[0])
    header = tuple(rows[0]) if has_header else tuple(f"column_{i + 1}" for i in range(len(rows[0])))
    data_rows = rows[1:] if has_header else rows
    decimal_comma = separator == ";" and any(
        _DECIMAL_COMMA.match(field.strip()) for row in data_rows for field in row[1:]
    )
    return Sniffed("csv", separator, has_header, header, decimal_comma)


def decode_sample(sample: bytes, *, complete: bool) -> str:
    """Decode a prefix as UTF-8 (BOM stripped) or reject it as binary / another encoding."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise IngestError(
            DatasetRejectReason.NOT_UTF8, "The file is UTF-16 encoded; save it as UTF-8."
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        # final=False lets a multi-byte character cut at the sample boundary pass.
        text = decoder.decode(sample.removeprefix(_UTF8_BOM), final=complete)
    except UnicodeDecodeError as exc:
        raise IngestError(
            DatasetRejectReason.NOT_UTF8,
            f"The file is not valid UTF-8 (byte 0x{sample[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8.",
        ) from exc
    if "\x00" in text:
        # NUL is valid UTF-8 but never appears in a text export: this is a binary file.
        raise IngestError(
            DatasetRejectReason.NOT_UTF8, "The file is binary, not UTF-8 text (CSV) or Parquet."
        )
    return text


def detect_separator(lines: list[str]) -> str:
    """Pick the delimiter among ``, ; TAB |`` that splits the lines most consistently.

    A delimiter giving the same field count (at least 2) on every sampled line wins; among
    those, the one giving most fields. Files with one column fall back to ``,``.
    """
    best, best_key = ",", (False, 1)
    for separator in SEPARATORS:
        counts = [len(row) for row in csv.reader(lines, delimiter=separator)]
        if counts[0] < 2:
            continue
        key = (all(count == counts[0] for count in counts), counts[0])
        if key > best_key:
            best, best_key = separator, key
    return best


def looks_like_header(fields: list[str]) -> bool:
    """Tell a header from data: a header has at least one field that is no number or date."""
    return any(not _is_value(field) for field in fields)


def _is_value(field: str) -> bool:
    text = field.strip()
    return (
        text.lower() in _MISSING_MARKERS
        or _NUMBER.match(text) is not None
        or _DATE_LIKE.match(text) is not None
    )


def _sample_lines(text: str, *, complete: bool) -> list[str]:
    lines = text.splitlines()
    if not complete and lines:
        lines.pop()  # probably cut in the middle
    return [line for line in lines if line.strip()][:_MAX_SAMPLE_LINES]


def _reject_foreign_binary(sample: bytes) -> None:
    for magic, what in _FOREIGN_MAGIC.items():
        if sample.startswith(magic):
            raise IngestError(
                DatasetRejectReason.UNSUPPORTED_FORMAT,
                f"The file is {what}; upload CSV or Parquet.",
            )
