"""``assay promote`` and ``assay registry …`` commands, registered on the main CLI by :func:`register`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the gate and registry commands to ``app`` (imports stay lazy inside each command)."""
