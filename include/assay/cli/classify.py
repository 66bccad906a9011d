"""``assay classify``: the labelling step, which labels the columns the inventory left pending.

``assay inventory`` (default ``--labels background``) writes the rule labels at once and marks
the columns only the sentence embedding can label; this command computes and writes those labels
(what the inventory DAG's ``label`` task runs). Progress lines (done/total, rate, ETA) come from
``assay.progress.classify``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from assay.cli.output import echo
from assay.config import get_settings


def classify(
    source: Annotated[
        list[str] | None, typer.Option(help="label only this source's columns (repeatable); default: every source")
    ] = None,
) -> None:
    """Label the columns the inventory left pending ("classifying" on the asset pages)."""
    from assay.inventory.labelling import complete_labels

    report = complete_labels(get_settings(), source or None)
    echo(report.summary())


def register(app: typer.Typer) -> None:
    """Add ``classify`` to ``app``."""
    app.command("classify")(classify)
