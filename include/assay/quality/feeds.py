"""Supplier feed files as pandas DataFrames for GX, with facts about the file itself.

A feed is read with :mod:`assay.sources.files` (the same reader inventory and profiling use), so
the delimiter and byte-order mark are found from the bytes. What the reader tolerates is still a
defect of the delivery, so each row carries three constant *file fact* columns the feed suite
checks like any other column:

* ``_file_layout``: ``<kind the name promises>/<delimiter found>`` -- ``csv/comma``,
  ``tsv/tab``, ``csv/semicolon`` (a ``;`` file named ``.csv``), ``parquet``, ``jsonl``;
* ``_file_encoding``: ``utf-8`` or ``not-utf-8``. A file that is not UTF-8 is refused by the
  reader; it is transcoded from Windows-1252 (a superset of Latin-1, the usual culprit) so the rest
  of the suite still runs, and the fact records that it had to be;
* ``_file_bom``: whether the file starts with a UTF-8 byte-order mark.

Columns the source declares (``columns: {zip: string}``) are read in their declared type, as the
inventory and profiling read them; why a column has its type (declared, or kept as text for its
leading zeros) is in ``facts["type_notes"]``. Decimal columns become float64 and timestamps
without a zone are taken as UTC, so range and freshness expectations compare like with like
across the four formats.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.errors import SourceError

FACT_COLUMNS: tuple[str, ...] = ("_file_layout", "_file_encoding", "_file_bom")
_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
#: Encoding tried for text that is not UTF-8.
FALLBACK_ENCODING = "cp1252"


@dataclass
class FeedFrame:
    """A feed file read for validation.

    Attributes:
        frame: the rows plus the file fact columns.
        path: the file; ``None`` when the partition has no file (``frame`` then has no rows).
        facts: the file facts (also in the frame), plus the sniffed format.
        notes: what the reader had to do (transcoding), for the run's statistics.
    """

    frame: Any
    path: Path | None
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def layout_of(path: Path, kind: str, delimiter: str | None) -> str:
    """``<kind the file name promises>/<delimiter found>``, or the kind for binary/JSON formats."""
    from assay.sources import files

    promised = files.kind_for_name(path) or kind
    if delimiter is None:
        return promised
    return f"{promised}/{_DELIMITER_NAMES.get(delimiter, repr(delimiter))}"


def _to_pandas(table: Any) -> Any:
    """Arrow to pandas with decimals as float64 and every timestamp zoned (UTC when naive)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for f, col in zip(table.schema, table.columns, strict=True):
        if pa.types.is_decimal(f.type):
            col = pc.cast(col, pa.float64())
        elif pa.types.is_timestamp(f.type) and f.type.tz is None:
            col = pc.cast(col, pa.timestamp(f.type.unit, tz="UTC"))
        columns.append(col)
    return pa.table(columns, names=table.column_names).to_pandas()


def read_feed(path: Path, types: Mapping[str, str] | None = None) -> FeedFrame:
    """Read one feed file, transcoding it when it is not UTF-8.

    Args:
        path: the file.
        types: ``{column: declared type}`` of the file (``FileSource.column_types``).

    Raises:
        SourceError: the file cannot be read even after transcoding (ragged rows, bad JSON, a
            value that does not fit its declared type...).
    """
    from assay.sources import files
    from assay.sources.column_types import type_notes

    notes: list[str] = []
    encoding = "utf-8"
    if files.kind_for_name(path) != "parquet":
        try:
            files.check_utf8(path)
        except SourceError as exc:
            encoding = "not-utf-8"
            notes.append(f"{exc}; read as {FALLBACK_ENCODING} for the remaining checks")
    if encoding == "utf-8":
        fmt = files.sniff(path)
        table = files.read_table(path, fmt, types=types)
    else:
        with tempfile.TemporaryDirectory(prefix="assay-feed-") as tmp:
            copy = Path(tmp) / path.name
            copy.write_bytes(path.read_bytes().decode(FALLBACK_ENCODING, errors="replace").encode("utf-8"))
            fmt = files.sniff(copy)
            table = files.read_table(copy, fmt, types=types)
    facts = {
        "_file_layout": layout_of(path, fmt.kind, fmt.delimiter),
        "_file_encoding": encoding,
        "_file_bom": bool(fmt.has_bom),
    }
    frame = _to_pandas(table)
    for name, value in facts.items():
        frame[name] = value
    facts_out = {**facts, "format": fmt.as_dict(), "type_notes": type_notes(table)}
    return FeedFrame(frame=frame, path=path, facts=facts_out, notes=notes)


def missing_feed(columns: list[str]) -> FeedFrame:
    """The partition of a feed that did not arrive: no rows, the columns the suite names.

    Validating it like an empty table makes the suite's row-count expectation report the missing
    day, exactly as an empty day of a SQL table does.
    """
    import pandas as pd

    names = list(dict.fromkeys([*columns, *FACT_COLUMNS]))
    return FeedFrame(frame=pd.DataFrame({c: pd.Series([], dtype="object") for c in names}), path=None,
                     notes=["no file for this partition"])
