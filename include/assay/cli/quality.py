"""``assay quality``, ``assay suggest`` and ``assay suites …``: validation and the steward's suites.

Exit codes of ``assay quality``: 0 every partition validated, 1 an unwaived critical failure or a
partition that could not be validated (the summary says which), 2 an error before validating
(bad option, unknown source or asset), 3 nothing to validate for the date (see
:mod:`assay.cli.scope`; ``--allow-empty`` makes it 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from assay.cli import render
from assay.cli.output import echo
from assay.cli.scope import (
    ALLOW_EMPTY_HELP,
    DATE_HELP,
    EMPTY_EXIT,
    cli_run_key,
    nothing_validated,
    os_user,
    parse_day,
)
from assay.config import get_settings

if TYPE_CHECKING:
    from assay.quality.proposal_review import Proposal

suites_app = typer.Typer(no_args_is_help=True, help="Live suites and proposals, per source: list, show, accept, reject.")

ACTOR_HELP = "who decides (recorded in the suite and on the review item); default: the OS user"
ONLY_HELP = "a suggestion's meta.name (repeatable); default: every pending suggestion"


def quality(
    date: Annotated[str | None, typer.Option(help=DATE_HELP)] = None,
    source: Annotated[str | None, typer.Option(help="validate only this source's suites; default: every source")] = None,
    asset: Annotated[
        list[str] | None, typer.Option(help="asset, file target or suite name (repeatable); default: all")
    ] = None,
    result_format: Annotated[str, typer.Option(help="GX result format: BOOLEAN_ONLY, BASIC, SUMMARY, COMPLETE")] = "SUMMARY",
    allow_empty: Annotated[bool, typer.Option("--allow-empty", help=ALLOW_EMPTY_HELP)] = False,
) -> None:
    """Validate the suites on the date's partitions (what the `quality` DAG runs) and print a summary."""
    from assay.quality import run_quality

    day = parse_day(date)
    run_key = cli_run_key("quality", day, [source] if source else None, asset)
    echo(f"quality of {day} ({run_key}): validating ...")
    report = run_quality(
        get_settings(), day, run_key, assets=asset or None, result_format=result_format,
        raise_on_failure=False, source=source,
        progress=lambda p: echo(render.quality_progress_line(p)),
    )
    for line in render.quality_report_lines(report):
        echo(line)
    if nothing_validated(report):
        echo(f"assay: NOTHING TO DO: no partition of {day} had a row to validate"
             + ("" if allow_empty else f" (exit {EMPTY_EXIT}; --allow-empty to accept)"), err=True)
        if not allow_empty:
            raise typer.Exit(EMPTY_EXIT)
    if not report.ok:
        raise typer.Exit(1)


def suggest(
    asset: Annotated[str, typer.Argument(help="table (name or schema.table) or file asset (folder/file)")],
    source: Annotated[str | None, typer.Option(help="the asset's source; needed when several sources have the name")] = None,
    date: Annotated[str | None, typer.Option(help="last profiled day to learn from, YYYY-MM-DD; default: the newest")] = None,
    lookback_days: Annotated[int, typer.Option(help="days of profiles to learn from, ending at --date")] = 28,
) -> None:
    """Suggest expectations from the asset's profiles: write a proposal and open a review item."""
    from assay.quality.proposal_review import read_proposal
    from assay.quality.proposals import propose_suite

    settings = get_settings()
    end = parse_day(date) if date else None
    path = propose_suite(settings, asset, source=source, lookback_days=lookback_days, end=end)
    p = read_proposal(path)
    echo(f"proposal written: {path}")
    for line in render.proposal_lines(p, _live_doc(p)):
        echo(line)
    echo(f"accept with `assay suites accept {p.qualified} [--only NAME ...]`, or reject with `assay suites reject`")


def _live_doc(p: Proposal) -> dict[str, Any] | None:
    """The live suite a proposal builds on, as it is now (``None``: the proposal starts a suite)."""
    import json

    from assay.quality.proposal_review import live_path

    live = live_path(get_settings().suites_dir, p)
    return json.loads(live.read_text(encoding="utf-8")) if live.exists() else None


@suites_app.command("list")
def suites_list(
    source: Annotated[str | None, typer.Option(help="only this source; default: every source")] = None,
) -> None:
    """List the live suites and open proposals of each source."""
    from assay.quality.proposal_review import proposal_files, read_proposal
    from assay.quality.suites import load_suites

    folder = get_settings().suites_dir
    loaded = load_suites(folder)
    proposals = [read_proposal(f) for f in proposal_files(folder)]
    for line in render.suites_lines(folder, loaded, proposals, source):
        echo(line)


@suites_app.command("show")
def suites_show(
    name: Annotated[str, typer.Argument(help="suite or proposal: stem, source.stem or source/stem")],
    proposal: Annotated[bool, typer.Option("--proposal", help="show the proposal even when a live suite has the name")] = False,
) -> None:
    """Show a suite's expectations (dimension, severity); a proposal shows what it adds or changes."""
    from assay.errors import ConfigError
    from assay.quality.proposal_review import find_proposal
    from assay.quality.suites import load_suites, split_name

    folder = get_settings().suites_dir
    loaded = load_suites(folder)
    if not proposal:
        try:
            spec = loaded.get(name)
        except KeyError as exc:
            why = str(exc.args[0])
        else:
            for line in render.suite_lines(spec):
                echo(line)
            return
    try:
        p = find_proposal(folder, name)
    except ConfigError:
        if proposal:
            raise
        broken = [str(e) for e in loaded.errors if e.suite_name == split_name(name)[1]]
        detail = f" ({why})" if why != name else " (see `assay suites list`)"
        raise ConfigError("; ".join(broken) or f"no suite or proposal {name!r} in {folder}{detail}") from None
    for line in render.proposal_lines(p, _live_doc(p)):
        echo(line)


@suites_app.command("accept")
def suites_accept(
    proposal: Annotated[str, typer.Argument(help="the proposal: stem, source.stem, source/stem or its file")],
    only: Annotated[list[str] | None, typer.Option(help=ONLY_HELP)] = None,
    actor: Annotated[str | None, typer.Option(help=ACTOR_HELP)] = None,
) -> None:
    """Accept suggestions of a proposal into the live suite; the others stay proposed."""
    from assay.quality.proposal_review import accept_proposal, find_proposal

    folder = get_settings().suites_dir
    before = find_proposal(folder, proposal)
    names = list(only) if only else before.pending
    who = actor or os_user()
    live = accept_proposal(get_settings(), proposal, only=only or None, actor=who)
    echo(f"accepted into {live} by {who}: {', '.join(names) or 'nothing pending'}")
    left = [n for n in before.pending if n not in names]
    echo(f"still proposed in {before.path}: {', '.join(left)}" if left else "proposal closed: nothing pending")


@suites_app.command("reject")
def suites_reject(
    proposal: Annotated[str, typer.Argument(help="the proposal: stem, source.stem, source/stem or its file")],
    only: Annotated[list[str] | None, typer.Option(help=ONLY_HELP)] = None,
    actor: Annotated[str | None, typer.Option(help=ACTOR_HELP)] = None,
) -> None:
    """Reject suggestions of a proposal (default: all); the others stay proposed."""
    from assay.quality.proposal_review import find_proposal, reject_proposal

    folder = get_settings().suites_dir
    before = find_proposal(folder, proposal)
    who = actor or os_user()
    left = reject_proposal(get_settings(), proposal, only=only or None, actor=who)
    rejected = [n for n in before.pending if n not in left]
    echo(f"rejected by {who}: {', '.join(rejected) or 'nothing pending'}")
    echo(f"still proposed in {before.path}: {', '.join(left)}" if left else "proposal closed: nothing pending")


def register(app: typer.Typer) -> None:
    """Add ``quality``, ``suggest`` and the ``suites`` group to ``app``."""
    app.command("quality")(quality)
    app.command("suggest")(suggest)
    app.add_typer(suites_app, name="suites")
