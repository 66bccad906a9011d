"""``assay promote`` and ``assay registry …`` commands, registered on the main CLI by :func:`register`.

Exit codes of ``assay promote``: 0 pass, 1 fail (the candidate was refused), 2 error (no decision
could be reached, or a store failed; the decision is still recorded where the catalog is reachable).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assay import names

if TYPE_CHECKING:
    from assay.gate.decide import Decision

EXIT_CODES = {"pass": 0, "fail": 1, "error": 2}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain fixed-width table (no colour: it ends up in logs and CI output)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def render_decision(d: Decision) -> str:
    """The decision table: one line per check, then the decision and its reason."""
    head = f"{d.model_name} v{d.version}"
    if d.dry_run:
        head += " (dry run: nothing recorded, no alias moved)"
    elif d.decision_id is not None:
        head += f": decision #{d.decision_id}"
    table = render_table(
        ["check", "observed", "threshold", "verdict"],
        [[c.name, _cell(c.observed), c.threshold, c.verdict.upper() if c.verdict != "pass" else c.verdict]
         for c in d.checks],
    )
    tail = [f"decision: {d.decision}", f"reason:   {d.reason}"]
    if not d.dry_run:
        tail.append(f"{names.CHAMPION}: " + (f"v{d.champion_version}" if d.champion_version else "none"))
    return "\n".join([head, table, *tail])


def render_history(moves: list[dict[str, Any]]) -> str:
    if not moves:
        return "no alias moves recorded"
    return render_table(
        ["moved_at", "alias", "from", "to", "decision", "actor", "reason"],
        [
            [
                m["moved_at"][:19].replace("T", " "),
                m["alias"],
                f"v{m['from_version']}" if m["from_version"] else "-",
                f"v{m['to_version']}",
                f"#{m['decision_id']} {m['decision']}",
                m["actor"],
                m["reason"] if len(m["reason"]) <= 80 else m["reason"][:77] + "...",
            ]
            for m in moves
        ],
    )


def register(app: typer.Typer) -> None:
    """Add the gate and registry commands to ``app`` (imports stay lazy inside each command)."""
    registry_app = typer.Typer(no_args_is_help=True, help="Registry aliases: history and rollback.")
    app.add_typer(registry_app, name="registry")

    @app.command("promote")
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
        typer.echo(render_decision(d))
        raise typer.Exit(EXIT_CODES[d.decision])

    @registry_app.command("history")
    def history_cmd(
        model: Annotated[str, typer.Argument(help="registered model name")],
        alias: Annotated[str | None, typer.Option(help="only this alias (champion, challenger)")] = None,
    ) -> None:
        """Every alias move of MODEL with the decision that justified it, oldest first."""
        from assay.config import get_settings
        from assay.gate.history import history

        typer.echo(render_history(history(get_settings(), model, alias)))

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
        typer.echo(f"{model}: {names.CHAMPION} -> v{to} (decision #{d.decision_id}: {d.reason})")
