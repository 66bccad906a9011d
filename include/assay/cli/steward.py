"""``assay steward …``: the steward's review queue, waivers, overrides, suggestions, rollback and audit.

Every command calls :mod:`assay.steward.service` (the same service the steward pages use) as the
acting user: ``--actor``, default the OS user. Bad input is one line ``assay: error: …``, exit 2.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated

import typer

from assay.cli.output import echo
from assay.cli.render import render_table
from assay.cli.scope import os_user, parse_day
from assay.config import get_settings

if TYPE_CHECKING:
    from assay.steward.service import ItemView, WaiverView

steward_app = typer.Typer(no_args_is_help=True, help=(
    "The steward's review queue, waivers, classification overrides, suggested suites, rollback and audit "
    "trail. Every action is recorded with the acting user (--actor, default: the OS user)."))

Actor = Annotated[str | None, typer.Option("--actor", help="who acts (recorded in the audit); default: the OS user")]
Comment = Annotated[str | None, typer.Option("--comment", help="a note kept with the action")]


def _who(actor: str | None) -> str:
    return actor or os_user()


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _item_rows(items: list[ItemView]) -> str:
    return render_table(
        ["id", "kind", "state", "asset", "assignee", "updated", "summary"],
        [[str(i.id), i.kind, i.state, i.asset, i.assigned_to or "-", _when(i.updated_at), i.summary[:100]]
         for i in items])


def _item_line(i: ItemView) -> str:
    line = f"review item {i.id} ({i.kind}, {i.asset}): {i.state}"
    if i.assigned_to:
        line += f", assigned to {i.assigned_to}"
    if i.resolution_reason:
        line += f", resolved {i.resolution_reason} by {i.closed_by}" + (f": {i.resolution}" if i.resolution else "")
    if i.waiver_id is not None:
        line += f"; waiver #{i.waiver_id} created"
    return line


def _waiver_rows(ws: list[WaiverView]) -> str:
    return render_table(
        ["id", "asset", "suite", "expectation", "from", "until", "by", "revoked", "covered", "reason"],
        [[str(w.id), w.asset, w.suite, w.expectation, w.valid_from.date().isoformat(),
          w.valid_until.date().isoformat() if w.valid_until else "-", w.created_by,
          f"{w.revoked_by} {_when(w.revoked_at)}" if w.revoked_at else "-",
          f"{w.covered_count}" + (f" ({', '.join(map(str, w.covered_result_ids[:5]))})" if w.covered_result_ids else ""),
          w.reason[:60]] for w in ws])


@steward_app.command("items")
def items_cmd(
    status: Annotated[str, typer.Option(help="open, closed, all, or a state: new, acknowledged, assigned")] = "open",
    kind: Annotated[str | None, typer.Option(help="quality_failure, anomaly, pii_finding, suggested_suite, ...")] = None,
    asset: Annotated[str | None, typer.Option(help="asset id, name, schema.name or folder/file")] = None,
    assignee: Annotated[str | None, typer.Option(help="only items assigned to this user")] = None,
    limit: Annotated[int, typer.Option(help="rows per page")] = 50,
    offset: Annotated[int, typer.Option(help="rows to skip")] = 0,
) -> None:
    """The review queue: items matching the filters, newest first."""
    from assay.steward.service import list_items

    page = list_items(get_settings(), status=status, kind=kind, asset=asset, assignee=assignee, limit=limit,
                      offset=offset)
    if not page.items:
        echo(f"no {status} review items match")
        return
    echo(_item_rows(page.items))
    echo(f"{offset + 1}-{offset + len(page.items)} of {page.total}")


@steward_app.command("ack")
def ack_cmd(item: Annotated[int, typer.Argument(help="review item id")], comment: Comment = None,
            actor: Actor = None) -> None:
    """Acknowledge a review item (acknowledging twice changes nothing)."""
    from assay.steward.service import acknowledge

    echo(_item_line(acknowledge(get_settings(), _who(actor), item, comment)))


@steward_app.command("assign")
def assign_cmd(item: Annotated[int, typer.Argument(help="review item id")],
               user: Annotated[str, typer.Argument(help="who takes it")], comment: Comment = None,
               actor: Actor = None) -> None:
    """Assign a review item to USER."""
    from assay.steward.service import assign

    echo(_item_line(assign(get_settings(), _who(actor), item, user, comment)))


@steward_app.command("resolve")
def resolve_cmd(
    item: Annotated[int, typer.Argument(help="review item id")],
    reason: Annotated[str, typer.Option("--reason", help="expected, false_positive, missing_data, duplicates, "
                                        "out_of_bounds, fixed, other (other needs --comment)")],
    comment: Comment = None,
    waive_until: Annotated[str | None, typer.Option(help="with --reason expected: also waive the item's "
                                                    "expectation until this day (YYYY-MM-DD, exclusive)")] = None,
    waive_from: Annotated[str | None, typer.Option(help="first partition the waiver covers; default: the item's day")] = None,
    actor: Actor = None,
) -> None:
    """Resolve a review item with a reason code; `expected` + --waive-until also waives, in one step."""
    from assay.steward.service import WaiverRequest, resolve

    waiver = None
    if waive_until is not None:
        waiver = WaiverRequest(None, None, None, parse_day(waive_from) if waive_from else None, None,
                               parse_day(waive_until), comment)
    elif waive_from is not None:
        raise typer.BadParameter("--waive-from needs --waive-until (a waiver's expiry is required)")
    echo(_item_line(resolve(get_settings(), _who(actor), item, reason, comment, waiver)))


@steward_app.command("waive")
def waive_cmd(
    asset: Annotated[str, typer.Argument(help="table name, folder/file, or asset id")],
    suite: Annotated[str, typer.Argument(help="suite name (stem or source.stem)")],
    expectation: Annotated[str, typer.Argument(help="the expectation's meta.name")],
    start: Annotated[str, typer.Option("--from", help="first partition (day) covered, YYYY-MM-DD")],
    until: Annotated[str, typer.Option("--until", help="expiry: covers nothing from this day on (required)")],
    reason: Annotated[str, typer.Option("--reason", help="why (shown with every covered result)")],
    to: Annotated[str | None, typer.Option("--to", help="last partition covered; default: the day before --until")] = None,
    actor: Actor = None,
) -> None:
    """Waive EXPECTATION of SUITE on ASSET for the partitions --from .. --to, until --until."""
    from assay.steward.service import WaiverRequest, waive

    req = WaiverRequest(int(asset) if asset.isdigit() else asset, suite, expectation, parse_day(start),
                        parse_day(to) if to else None, parse_day(until), reason)
    w = waive(get_settings(), _who(actor), req)
    echo(f"waiver #{w.id}: {w.expectation} of {w.suite} on {w.asset} from {w.valid_from.date()} until "
         f"{w.valid_until.date() if w.valid_until else '-'} by {w.created_by}")


@steward_app.command("revoke")
def revoke_cmd(waiver: Annotated[int, typer.Argument(help="waiver id")], comment: Comment = None,
               actor: Actor = None) -> None:
    """Revoke a waiver: later runs no longer honour it (recorded results keep their mark)."""
    from assay.steward.service import revoke_waiver

    w = revoke_waiver(get_settings(), _who(actor), waiver, comment)
    echo(f"waiver #{w.id} ({w.expectation} on {w.asset}) revoked by {w.revoked_by}")


@steward_app.command("waivers")
def waivers_cmd(
    all_: Annotated[bool, typer.Option("--all", help="include revoked waivers")] = False,
) -> None:
    """Waivers, newest first, with the expectation results each one covered."""
    from assay.steward.service import list_waivers

    ws = list_waivers(get_settings(), include_revoked=all_)
    echo(_waiver_rows(ws) if ws else "no waivers")


@steward_app.command("override")
def override_cmd(
    asset: Annotated[str, typer.Argument(help="asset id, name or schema.name")],
    column: Annotated[str, typer.Argument(help="column name")],
    kind: Annotated[str, typer.Option(help="pii or semantic")] = "pii",
    label: Annotated[str | None, typer.Option(help="the label; 'none' = no label of this kind (not PII)")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="remove the steward's label (the automatic one counts)")] = False,
    reason: Annotated[str | None, typer.Option(help="why (kept with the label)")] = None,
    actor: Actor = None,
) -> None:
    """Set the steward's classification of COLUMN (wins over the automatic one), or --clear it."""
    from assay.steward.service import StewardError, override_classification

    if (label is None) == (not clear):
        raise StewardError(f"{asset}.{column}: give either --label or --clear")
    o = override_classification(get_settings(), _who(actor), asset, column, kind, None if clear else label, reason)
    echo(f"{asset}.{column} {o.kind}: steward label {o.label or '(cleared)'}; effective {o.effective_label or 'none'}")


@steward_app.command("accept")
def accept_cmd(
    proposal: Annotated[str, typer.Argument(help="the proposal: stem, source.stem or source/stem")],
    only: Annotated[list[str] | None, typer.Option(help="a suggestion's name (repeatable); default: all pending")] = None,
    actor: Actor = None,
) -> None:
    """Accept suggestions of a proposed suite into the live suite."""
    from assay.steward.service import accept_suggestion

    d = accept_suggestion(get_settings(), _who(actor), proposal, only)
    echo(f"{d.proposal}: accepted {', '.join(d.names) or 'nothing'} into {d.live_path}; "
         f"pending: {', '.join(d.pending) or 'none (review item closed)'}")


@steward_app.command("reject")
def reject_cmd(
    proposal: Annotated[str, typer.Argument(help="the proposal: stem, source.stem or source/stem")],
    only: Annotated[list[str] | None, typer.Option(help="a suggestion's name (repeatable); default: all pending")] = None,
    actor: Actor = None,
) -> None:
    """Reject suggestions of a proposed suite."""
    from assay.steward.service import reject_suggestion

    d = reject_suggestion(get_settings(), _who(actor), proposal, only)
    echo(f"{d.proposal}: rejected {', '.join(d.names) or 'nothing'}; "
         f"pending: {', '.join(d.pending) or 'none (review item closed)'}")


@steward_app.command("rollback")
def rollback_cmd(
    model: Annotated[str, typer.Argument(help="registered model name")],
    version: Annotated[str | None, typer.Argument(help="version to make champion; omit to list the choices")] = None,
    reason: Annotated[str | None, typer.Option(help="why (recorded with the decision)")] = None,
    actor: Actor = None,
) -> None:
    """Move champion back to a version with a passing gate decision (without VERSION: list those versions)."""
    from assay.steward.service import rollback_model, rollback_options

    if version is None:
        options = rollback_options(get_settings(), model)
        echo(f"{model}: versions with a passing decision: {', '.join(options) or 'none'}")
        return
    r = rollback_model(get_settings(), _who(actor), model, version, reason)
    echo(f"{r.model_name}: champion -> v{r.version} (decision #{r.decision_id}: {r.reason})")


@steward_app.command("audit")
def audit_cmd(
    item: Annotated[int | None, typer.Option("--item", help="only this review item's actions")] = None,
    target_kind: Annotated[str | None, typer.Option(help="review_item, waiver, classification, proposal, model")] = None,
    target_id: Annotated[str | None, typer.Option(help="the target's id")] = None,
    limit: Annotated[int, typer.Option(help="rows, newest first")] = 100,
) -> None:
    """The steward audit trail: who did what, when, with the state before and after (PII masked)."""
    from assay.steward.service import audit_log

    if item is not None:
        target_kind, target_id = "review_item", str(item)
    rows = audit_log(get_settings(), target_kind=target_kind, target_id=target_id, limit=limit)
    if not rows:
        echo("no audit rows match")
        return
    echo(render_table(
        ["id", "at", "actor", "action", "target", "comment", "after"],
        [[str(a.id), _when(a.at), a.actor, a.action, f"{a.target_kind} {a.target_id}", (a.comment or "-")[:40],
          json.dumps(a.after, sort_keys=True, default=str)[:80]] for a in rows]))


def register(app: typer.Typer) -> None:
    """Add the ``steward`` group to ``app``."""
    app.add_typer(steward_app, name="steward")
