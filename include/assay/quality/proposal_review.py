"""A steward's decisions on a proposed suite: accept or reject each suggestion by name.

A proposal (written by :func:`assay.quality.proposals.propose_suite`) is the suite that accepting
everything would give, with ``meta.proposal`` listing the suggestions still pending: ``added``
(new expectations) and ``changed`` (an expectation of the live suite with new arguments).

* :func:`accept_proposal` moves the named suggestions (default: all pending) into the live suite
  -- the live file as it is now, so edits made since the proposal was written are kept -- after
  checking the result with assay's conventions and GX; each accepted expectation records who
  accepted it and when (``meta.accepted_by``, ``meta.accepted_at``).
* :func:`reject_proposal` drops the named suggestions (default: all) from the proposal.

What was not named stays proposed. When nothing is pending any more the proposal file is deleted
and its review item closed by the actor, with every decision in the resolution.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.config import Settings
from assay.errors import ConfigError
from assay.quality.suites import (
    PROPOSED,
    SuiteError,
    build_gx_suite,
    load_suites,
    parse_suite,
    split_name,
    suites_dir,
)


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` to ``path`` atomically (a reader never sees half a suite)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


@dataclass(frozen=True)
class Proposal:
    """A proposal file: where it is, its source, its suite name and what is pending."""

    path: Path
    source: str
    name: str
    doc: dict[str, Any]

    @property
    def meta(self) -> dict[str, Any]:
        value = self.doc.setdefault("meta", {}).setdefault("proposal", {})
        return value if isinstance(value, dict) else {}

    @property
    def pending(self) -> list[str]:
        """Names of the suggestions still waiting for a decision (added, then changed)."""
        return [*self.meta.get("added", []), *self.meta.get("changed", [])]

    @property
    def qualified(self) -> str:
        return f"{self.source}.{self.name}"

    def expectation(self, name: str) -> dict[str, Any]:
        for e in self.doc.get("expectations", []):
            if (e.get("meta") or {}).get("name") == name:
                return dict(e)
        raise ConfigError(f"proposal {self.path}: no expectation named {name!r}")


def proposal_files(folder: Path) -> list[Path]:
    """Every proposal under ``folder``: ``<source>/proposed/*.json`` and the older ``proposed/*.json``."""
    if not folder.is_dir():
        return []
    return sorted([*folder.glob(f"{PROPOSED}/*.json"), *folder.glob(f"*/{PROPOSED}/*.json")])


def read_proposal(path: Path) -> Proposal:
    """Load one proposal file.

    Raises:
        ConfigError: not JSON, or it names no source.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        source = doc["meta"]["assay"]["source"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a readable proposal ({type(exc).__name__}: {exc})") from None
    return Proposal(path=path, source=str(source), name=path.stem, doc=doc)


def find_proposal(folder: Path, name: str) -> Proposal:
    """The proposal called ``name``: a file path, ``source.stem``, ``source/stem`` or a unique stem.

    Raises:
        ConfigError: none, or a bare stem several sources have a proposal for.
    """
    as_path = Path(name)
    if name.endswith(".json") and as_path.is_file():
        return read_proposal(as_path)
    source, stem = split_name(name)
    found = [p for p in map(read_proposal, (f for f in proposal_files(folder) if f.stem == stem))
             if source is None or p.source == source]
    if not found:
        raise ConfigError(f"no proposal for suite {name!r} in {folder} (see `assay suites list`)")
    if len(found) > 1:
        raise ConfigError(f"proposal {name!r} is ambiguous: {', '.join(str(p.path) for p in found)}; "
                          f"name it as <source>.{stem}")
    return found[0]


def live_path(folder: Path, p: Proposal) -> Path:
    """Where the accepted suite goes: the live file it was built from, else ``<source>/<stem>.json``."""
    recorded = p.meta.get("live")
    if isinstance(recorded, str) and recorded and not Path(recorded).is_absolute() and ".." not in Path(recorded).parts:
        return folder / recorded
    return folder / p.source / f"{p.name}.json"


def _chosen(p: Proposal, only: Sequence[str] | None) -> list[str]:
    pending = p.pending
    if not only:
        return pending
    unknown = [n for n in only if n not in pending]
    if unknown:
        raise ConfigError(f"proposal {p.qualified} has no pending suggestion {', '.join(map(repr, unknown))}; "
                          f"pending: {', '.join(pending) or 'none'}")
    return list(dict.fromkeys(only))


def _decide(folder: Path, p: Proposal, names: list[str], decision: str, actor: str, now: dt.datetime) -> None:
    """Take ``names`` off the pending lists; the proposal goes when nothing is pending."""
    meta = p.meta
    for key in ("added", "changed"):
        meta[key] = [n for n in meta.get(key, []) if n not in names]
    decided = meta.setdefault("decided", [])
    decided.extend({"name": n, "decision": decision, "by": actor, "at": now.isoformat()} for n in names)
    if p.pending:
        write_json(p.path, p.doc)
    else:
        p.path.unlink()


def _check_no_clash(folder: Path, live: Path, doc: dict[str, Any]) -> None:
    """The suite about to be written must not claim what another live file claims."""
    from assay.quality.suites import _claim

    spec = _parsed(live, doc)
    for other in load_suites(folder).suites:
        if other.path.resolve() == live.resolve() or other.source != spec.source:
            continue
        if other.name == spec.name or _claim(other) == _claim(spec):
            raise ConfigError(f"proposal not accepted: {live} would clash with {other.path} "
                              f"(both claim {spec.source}.{spec.name} / {_claim(spec)[1]})")


def _parsed(path: Path, doc: dict[str, Any]) -> Any:
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
    try:
        spec = parse_suite(path, data)
        build_gx_suite(spec)
    except SuiteError as exc:
        raise ConfigError(f"proposal not accepted: {exc}") from None
    return spec


def accept_proposal(
    settings: Settings,
    proposal: str,
    *,
    only: Sequence[str] | None = None,
    actor: str = "unknown",
    folder: Path | None = None,
    now: dt.datetime | None = None,
) -> Path:
    """Move the named suggestions (default: every pending one) into the live suite; returns its path.

    Raises:
        ConfigError: no such proposal or suggestion, the resulting suite breaks the conventions, GX
            refuses it, or it would clash with another live file (nothing is written then).
    """
    folder = folder or suites_dir(settings)
    when = now or dt.datetime.now(dt.UTC)
    p = find_proposal(folder, proposal)
    names = _chosen(p, only)
    target = live_path(folder, p)
    if target.exists():
        live = json.loads(target.read_text(encoding="utf-8"))
    else:
        live = {k: v for k, v in p.doc.items() if k != "expectations"}
        live["meta"] = {k: v for k, v in p.doc.get("meta", {}).items() if k != "proposal"}
        live["expectations"] = [e for e in p.doc.get("expectations", [])
                                if (e.get("meta") or {}).get("name") not in p.pending]
    expectations = list(live.get("expectations", []))
    index = {(e.get("meta") or {}).get("name"): i for i, e in enumerate(expectations)}
    for name in names:
        e = p.expectation(name)
        e["meta"] = {**e.get("meta", {}), "accepted_by": actor, "accepted_at": when.isoformat()}
        if name in index:
            expectations[index[name]] = e
        else:
            index[name] = len(expectations)
            expectations.append(e)
    live["expectations"] = expectations
    live.get("meta", {}).pop("proposal", None)
    _check_no_clash(folder, target, live)
    write_json(target, live)
    _decide(folder, p, names, "accepted", actor, when)
    _sync_review_item(settings, p, actor, when)
    return target


def reject_proposal(
    settings: Settings,
    proposal: str,
    *,
    only: Sequence[str] | None = None,
    actor: str = "unknown",
    folder: Path | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Drop the named suggestions (default: all pending) from the proposal; returns what is still pending.

    Raises:
        ConfigError: no such proposal or suggestion.
    """
    folder = folder or suites_dir(settings)
    when = now or dt.datetime.now(dt.UTC)
    p = find_proposal(folder, proposal)
    names = _chosen(p, only)
    target = live_path(folder, p)
    live = json.loads(target.read_text(encoding="utf-8")) if target.exists() else {"expectations": []}
    live_by_name = {(e.get("meta") or {}).get("name"): e for e in live.get("expectations", [])}
    kept = []
    for e in p.doc.get("expectations", []):
        name = (e.get("meta") or {}).get("name")
        if name not in names:
            kept.append(e)
        elif name in live_by_name:  # a rejected change: the proposal shows the live version again
            kept.append(live_by_name[name])
    p.doc["expectations"] = kept
    _decide(folder, p, names, "rejected", actor, when)
    _sync_review_item(settings, p, actor, when)
    return p.pending


# ---- the review item ----------------------------------------------------------------------------
def _review_kind() -> str:
    from assay.catalog.models import ReviewKind

    return ReviewKind.SUGGESTED_SUITE.value


def open_review_item(settings: Settings, asset_id: int, suite: str, path: Path, proposal: dict[str, Any]) -> int:
    """Open (or reopen) the review item of a proposal (kind ``suggested_suite``, ref ``suite:<source>.<stem>``)."""
    from assay.catalog.db import session
    from assay.catalog.models import ReviewItem
    from assay.catalog.upsert import upsert

    kind = _review_kind()
    added, changed = proposal.get("added", []), proposal.get("changed", [])
    summary = f"suggested suite {suite}: {len(added)} new, {len(changed)} changed expectations to review"
    with session(settings.catalog_url()) as s:
        (item_id,) = upsert(s, ReviewItem, [{
            "kind": kind, "ref": f"suite:{suite}", "asset_id": asset_id, "summary": summary,
            "details": {"proposal": str(path), "added": added, "changed": changed,
                        "basis": {k: proposal.get(k) for k in ("runs", "from", "to")}},
            "status": "open", "resolution": None, "closed_by": None, "closed_at": None,
        }], key=["kind", "ref"])
    return int(item_id)


def _sync_review_item(settings: Settings, p: Proposal, actor: str, when: dt.datetime) -> None:
    """Close the proposal's review item once nothing is pending, with every decision and who took it."""
    from sqlalchemy import update

    from assay.catalog.db import session
    from assay.catalog.models import ReviewItem

    kind = _review_kind()
    if p.pending:
        return
    decided = p.meta.get("decided", [])
    resolution = "; ".join(f"{d['decision']} {d['name']} by {d['by']}" for d in decided)[:2000]
    with session(settings.catalog_url()) as s:
        s.execute(update(ReviewItem).where(ReviewItem.kind == kind, ReviewItem.ref == f"suite:{p.qualified}",
                                           ReviewItem.status == "open")
                  .values(status="closed", resolution=resolution or "decided", closed_by=actor, closed_at=when))
