"""Where suites live: ``<expectations>/<source>/<asset>.json``, proposals in ``<source>/proposed/``.

The folder is ``ASSAY_EXPECTATIONS_DIR`` (default ``expectations/`` at the project root). Files
directly in it (the layout before suites belonged to a source) are still live; their source is
their ``meta.assay.source``. :mod:`assay.quality.suites` re-exports every name here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from assay.config import Settings
from assay.errors import ConfigError, QualityError

#: File name pattern of a suite (and of its ``name``), and of a source's folder.
SUITE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: Sub-folder (of a source's folder) holding proposals; never loaded as live suites.
PROPOSED = "proposed"


def suites_dir(settings: Settings) -> Path:
    """The suites folder: ``ASSAY_EXPECTATIONS_DIR``, default ``expectations/`` at the project root."""
    return settings.suites_dir


def suite_stem(asset: str) -> str:
    """The file stem (and catalog suite name) of an asset's suite, matching :data:`SUITE_NAME`.

    ``products`` and ``public.products`` give ``products``; another schema stays in the name
    (``staging.products`` gives ``staging_products``) so two schemas of one source never share a
    file; any other character run becomes ``_`` (``feeds/northwind`` gives ``feeds_northwind``).
    """
    text = asset.strip().lower()
    if text.startswith("public."):
        text = text[len("public."):]
    stem = re.sub(r"[^a-z0-9_]+", "_", text).strip("_")
    if not stem:
        raise QualityError(f"asset name {asset!r} gives no usable suite name")
    return stem if stem[0].isalpha() else f"t_{stem}"


def source_folder(folder: Path, source: str) -> Path:
    """``<folder>/<source>``; a source name that cannot be a folder here is an error."""
    if not SUITE_NAME.match(source) or source == PROPOSED:
        raise QualityError(
            f"source name {source!r} cannot name a suites folder (must match {SUITE_NAME.pattern}, not {PROPOSED!r})"
        )
    return folder / source


def suite_path(settings: Settings, source: str, asset: str, *, folder: Path | None = None) -> Path:
    """Where the live suite of ``asset`` of ``source`` lives: ``<expectations>/<source>/<stem>.json``."""
    return source_folder(folder or suites_dir(settings), source) / f"{suite_stem(asset)}.json"


def proposal_path(settings: Settings, source: str, asset: str, *, folder: Path | None = None) -> Path:
    """Where a proposed suite waits for a steward: ``<expectations>/<source>/proposed/<stem>.json``."""
    return source_folder(folder or suites_dir(settings), source) / PROPOSED / f"{suite_stem(asset)}.json"


def suite_files(folder: Path) -> list[tuple[Path, str | None]]:
    """Live suite files under ``folder``: ``(path, source folder)``, flat files with ``None``.

    ``proposed/`` folders (of the root or of a source) and hidden folders are not live.
    """
    if not folder.is_dir():
        return []
    files: list[tuple[Path, str | None]] = [(p, None) for p in sorted(folder.glob("*.json")) if p.is_file()]
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if sub.name == PROPOSED or sub.name.startswith("."):
            continue
        files.extend((p, sub.name) for p in sorted(sub.glob("*.json")) if p.is_file())
    return files


def declared_source(path: Path) -> str | None:
    """``meta.assay.source`` of a suite file, or ``None`` when the file cannot say."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        source = doc["meta"]["assay"]["source"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return source if isinstance(source, str) else None


def split_name(name: str) -> tuple[str | None, str]:
    """``source.stem`` or ``source/stem`` as (source, stem); a bare stem as (None, stem)."""
    for sep in ("/", "."):
        if sep in name:
            source, _, stem = name.partition(sep)
            return source, stem
    return None, name


def live_suite_path(folder: Path, name: str, source: str | None = None) -> Path:
    """The live file of the suite called ``name`` (``stem``, ``source.stem`` or ``source/stem``).

    Raises:
        ConfigError: no such suite, or a bare stem that several sources' folders hold.
    """
    named_source, stem = split_name(name)
    source = source or named_source
    found = [
        path for path, src in suite_files(folder)
        if path.stem == stem and (source is None or (src or declared_source(path)) == source)
    ]
    if not found:
        where = f" of source {source!r}" if source else ""
        raise ConfigError(f"no suite {stem!r}{where} in {folder}")
    if len(found) > 1:
        raise ConfigError(f"suite {name!r} is ambiguous: {', '.join(map(str, found))}; name it as <source>.{stem}")
    return found[0]
