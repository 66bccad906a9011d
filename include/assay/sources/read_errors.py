"""Errors of a landing file that pyarrow refused, found again line by line so they name the line.

pyarrow says *that* a row is ragged or a JSON line is broken, not always *where*; these functions
re-read the file with the standard library to name the first offending line.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from assay.errors import SourceError
from assay.sources.sniff import FileFormat, csv_reader


def ragged_row_error(path: Path, fmt: FileFormat, cause: Exception) -> SourceError:
    """Find the first line whose field count differs from the first record's and name it."""
    assert fmt.delimiter is not None
    with path.open(encoding=fmt.encoding or "utf-8", newline="") as fh:
        reader = csv_reader(fh, fmt.delimiter, fmt.quote, strict=False)
        expected: int | None = None
        try:
            for record in reader:
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue  # pyarrow skips blank lines too
                if expected is None:
                    expected = len(record)
                    continue
                if len(record) != expected:
                    what = "the header" if fmt.has_header else "the first line"
                    return SourceError(
                        f"{path}: line {reader.line_num} has {len(record)} fields, expected {expected} "
                        f"(as in {what}); delimiter {fmt.delimiter!r}"
                    )
        except csv.Error as exc:
            return SourceError(f"{path}: line {reader.line_num}: {exc}")
    return SourceError(f"{path}: cannot parse as {fmt.kind.upper()}: {cause}")


def json_line_error(path: Path, fmt: FileFormat, cause: Exception) -> SourceError:
    """Find the first line that is not a JSON object and name it."""
    with path.open(encoding=fmt.encoding or "utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                return SourceError(f"{path}: line {number} is not valid JSON: {exc.args[0]}")
            if not isinstance(value, dict):
                return SourceError(f"{path}: line {number} is a JSON {type(value).__name__}, not an object")
    return SourceError(f"{path}: cannot read as JSON Lines: {cause}")
