"""``assay promote`` and ``assay registry …``: the promotion gate and the registry aliases.

Exit codes of ``assay promote``: 0 pass, 1 fail (the candidate was refused), 2 error (no decision
could be reached, or a store failed; the decision is still recorded where the catalog is reachable).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from assay import names
from assay.cli.output import echo
from assay.cli.render import render_decision, render_history

EXIT_CODES = {"pass": 0, "fail": 1, "error": 2}

registry_app = typer.Typer(no_args_is_help=True, help="Registry aliases: history and rollback.")


def promote(
    model: Annotated[str, typer.Argument(help=f"registered model name, e.g. {names.MODEL_NAME}")],
    version: Annotated[str, typer.Argument(help="the exact model version to judge")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="decide and print; record and move nothing")] = False,
    policy: Annotated[Path | None, typer.Option(help="policy file; default config/promotion_policy.yaml")] = None,
    actor: Annotated[str, typer.Option(help="who asks (recorded with the decision)")] = "cli",
    now: Annotated[str | None, typer.Option(help="decision time, ISO 8601 UTC; default now")] = None,
) -> None:
    """Run the promotion gate on MODEL VERSION and print the decision table."""
    from assay.config import get_settings
    from assay.gate.run import run_gate

    when = dt.datetime.fromisoformat(now) if now else dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    d = run_gate(
        get_settings(), model, version, actor=actor, run_key=f"cli/{when.isoformat()}", now=when,
        dry_run=dry_run, policy_path=policy,
    )
    echo(render_decision(d))
    raise typer.Exit(EXIT_CODES[d.decision])


@registry_app.command("history")
def history_cmd(
    model: Annotated[str, typer.Argument(help="registered model name")],
    alias: Annotated[str | None, typer.Option(help="only this alias (champion, challenger)")] = None,
) -> None:
    """Every alias move of MODEL with the decision that justified it, oldest first."""
    from assay.config import get_settings
    from assay.gate.history import history

    echo(render_history(history(get_settings(), model, alias)))


@registry_app.command("rollback")
def rollback_cmd(
    model: Annotated[str, typer.Argument(help="registered model name")],
    to: Annotated[str, typer.Option("--to", help="version to move champion back to")],
    reason: Annotated[str | None, typer.Option(help="why (recorded)")] = None,
    actor: Annotated[str, typer.Option(help="who asks (recorded)")] = "cli",
) -> None:
    """Move champion back to a version that has a recorded passing decision (recorded as a decision)."""
    from assay.config import get_settings
    from assay.gate.run import rollback

    d = rollback(get_settings(), model, to, actor=actor, reason=reason,
                 run_key=f"cli/rollback/{dt.datetime.now(dt.UTC).isoformat()}")
    echo(f"{model}: {names.CHAMPION} -> v{to} (decision #{d.decision_id}: {d.reason})")


def register(app: typer.Typer) -> None:
    """Add ``promote`` and the ``registry`` group to ``app``."""
    app.command("promote")(promote)
    app.add_typer(registry_app, name="registry")
