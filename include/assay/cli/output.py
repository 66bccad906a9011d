"""The one way the CLI writes to the terminal.

Values shown by the CLI come from data (asset and column names, expectation reasons, file names):
a control character in them could move the cursor, recolour or rewrite earlier lines of a
terminal or a CI log (``\\x1b[…``, ``\\r``), and bidirectional controls could reorder what a person
reads. :func:`echo` shows each such character as a visible ``[U+XXXX]``; newlines and tabs stay.
"""

from __future__ import annotations

import re

import typer

#: C0 controls but tab and newline, DEL, C1 controls, and the Unicode bidirectional controls.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    """``text`` with every control character that could act on a terminal made visible."""
    return _CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def echo(message: str, *, err: bool = False) -> None:
    """Print a line for people (stdout, or stderr with ``err``), control characters made visible."""
    typer.echo(terminal_text(message), err=err)
