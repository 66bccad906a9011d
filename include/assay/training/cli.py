"""``assay train …`` commands, registered on the main CLI by :func:`register`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the training commands to ``app`` (imports stay lazy inside each command)."""
