"""Pending suite proposals as a per-expectation diff against the live suite (read-only; files only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assay.config import Settings
from assay.errors import ConfigError
from assay.quality.proposal_review import live_path, proposal_files, read_proposal
from assay.quality.suites import suites_dir


def _by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str((x.get("meta") or {}).get("name")): x for x in doc.get("expectations", []) if isinstance(x, dict)}


def _shown(expectation: dict[str, Any] | None) -> str:
    """An expectation as the diff shows it: type and kwargs (meta bookkeeping left out)."""
    if expectation is None:
        return ""
    kept = {k: v for k, v in expectation.items() if k != "meta"}
    return json.dumps(kept, indent=1, sort_keys=True, default=str)


def proposal_diffs(settings: Settings, folder: Path | None = None) -> list[dict[str, Any]]:
    """``[{name, path, items: [{name, change, live, proposed}]}]`` for every readable pending proposal."""
    folder = folder or suites_dir(settings)
    out = []
    for path in proposal_files(folder):
        try:
            p = read_proposal(path)
        except ConfigError:
            continue  # an unreadable file is the CLI's to report (`assay suites list`)
        live_file = live_path(folder, p)
        try:
            live = _by_name(json.loads(live_file.read_text(encoding="utf-8"))) if live_file.is_file() else {}
        except ValueError:
            live = {}
        proposed = _by_name(p.doc)
        changed = set(p.meta.get("changed", []))
        items = [{"name": n, "change": "changed" if n in changed else "added", "live": _shown(live.get(n)),
                  "proposed": _shown(proposed.get(n))} for n in p.pending]
        out.append({"name": p.qualified, "path": str(path.relative_to(folder)), "items": items})
    return out
