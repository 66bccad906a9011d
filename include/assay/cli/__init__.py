"""The ``assay`` command line: one Typer app (:mod:`assay.cli.app`) and its command groups."""

from assay.cli.app import main

__all__ = ["main"]
