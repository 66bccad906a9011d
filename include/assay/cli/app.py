"""``assay``: the one entry point for people and for ``make``.

Each command is a few lines that call a typed function of the package; errors of type
:class:`assay.errors.AssayError` are printed as one clear line and exit with status 2.
"""

from __future__ import annotations

import logging
import sys

import typer

from assay.cli import gate, pipeline, platform, train
from assay.config import get_settings
from assay.errors import AssayError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)

# Registration order is the order `assay --help` lists the commands (groups after commands).
platform.register(app)
pipeline.register(app)
train.register(app)
gate.register(app)


def main() -> None:
    """Run the CLI; an :class:`AssayError` becomes one line ``assay: error: …`` and exit status 2."""
    logging.basicConfig(
        level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        app()
    except AssayError as exc:
        typer.echo(f"assay: error: {exc}", err=True)
        sys.exit(2)
