"""GX Data Docs without the network: the CSS/JS/fonts GX's templates load from CDNs, served from a local copy.

GX 1.24's page templates (``great_expectations/render/view/templates``: ``page.j2``,
``index_page.j2``, ``js_script_imports.j2``, ``top_navbar.j2``) load Bootstrap, jQuery, Popper,
bootstrap-table, bootstrap-datepicker, Font Awesome, bootstrap-dark and Vega from public CDNs and
the navbar logo from GX's S3 bucket. Offline the pages are unstyled and the index's table (filled
by bootstrap-table) stays empty. Each of those files is vendored under ``datadocs_static/`` from
the npm package of the exact version the template names (``tools/vendor_datadocs.py`` re-fetches
them with ``npm pack`` and checks the sha256 recorded in ``datadocs_static/MANIFEST.json``), and
:func:`localize` rewrites every page's URLs to ``static/vendor/...`` relative to the site root.

The files reach a browser two ways: the steward app serves ``/data-docs/static/vendor/...`` from
this package, and :func:`install` copies them into a Data Docs folder (for ``file://`` viewing).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

#: The vendored files (package data) and their manifest (package, version, sha256, licence per file).
VENDOR_DIR = Path(__file__).with_name("datadocs_static")
MANIFEST = VENDOR_DIR / "MANIFEST.json"
#: Where the vendored files live in a Data Docs site, relative to its root (GX's own files are in ``static/``).
SITE_PATH = "static/vendor/"

#: npm packages, by the folder they are vendored to: (package, exact version, SPDX licence).
#: Vega's templates ask for the newest major (``vega@5``...); the versions are what npm resolved
#: on 2026-12-05. Each file keeps its path inside its package, so Font Awesome's ``../webfonts/``
#: resolves.
PACKAGES: dict[str, tuple[str, str, str]] = {
    "bootstrap": ("bootstrap", "4.3.1", "MIT"),
    "jquery": ("jquery", "3.7.1", "MIT"),
    "popper.js": ("popper.js", "1.12.9", "MIT"),
    "bootstrap-table": ("bootstrap-table", "1.19.1", "MIT"),
    "bootstrap-datepicker": ("bootstrap-datepicker", "1.9.0", "Apache-2.0"),
    "fontawesome-free": ("@fortawesome/fontawesome-free", "6.6.0", "CC-BY-4.0 AND OFL-1.1 AND MIT"),
    "bootstrap-dark": ("@forevolve/bootstrap-dark", "1.1.0", "MIT"),
    "vega": ("vega", "5.33.1", "BSD-3-Clause"),
    "vega-lite": ("vega-lite", "5.23.0", "BSD-3-Clause"),
    "vega-embed": ("vega-embed", "6.29.0", "BSD-3-Clause"),
}

_FA_FONTS = tuple(f"webfonts/fa-{n}.{ext}" for n in ("brands-400", "regular-400", "solid-900", "v4compatibility")
                  for ext in ("woff2", "ttf"))
#: Files taken from each package (path inside the package); licence files included where shipped
#: (popper.js 1.12.9 and vega 5.33.1 ship none: their licence is in the file header / package.json).
FILES: dict[str, tuple[str, ...]] = {
    "bootstrap": ("dist/css/bootstrap.min.css", "dist/js/bootstrap.min.js", "LICENSE"),
    "jquery": ("dist/jquery.min.js", "LICENSE.txt"),
    "popper.js": ("dist/umd/popper.min.js",),
    "bootstrap-table": ("dist/bootstrap-table.min.css", "dist/bootstrap-table.min.js",
                        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
                        "dist/extensions/filter-control/bootstrap-table-filter-control.min.js", "LICENSE"),
    "bootstrap-datepicker": ("dist/css/bootstrap-datepicker.min.css", "dist/js/bootstrap-datepicker.min.js", "LICENSE"),
    "fontawesome-free": ("css/all.min.css", *_FA_FONTS, "LICENSE.txt"),
    "bootstrap-dark": ("dist/css/bootstrap-prefers-dark.min.css", "LICENSE"),
    "vega": ("build/vega.min.js",),
    "vega-lite": ("build/vega-lite.min.js", "LICENSE"),
    "vega-embed": ("build/vega-embed.min.js", "LICENSE"),
}

_UNPKG_BT = "https://unpkg.com/bootstrap-table@"
#: Every CDN URL in GX 1.24's templates -> the vendored file (folder/path). Minified builds
#: throughout: GX's non-minified ``bootstrap-prefers-dark.css`` and filter-control ``.css`` (and the
#: filter-control CSS of 1.19.0 beside 1.19.1's table) are served by the same package's minified file.
CDN_URLS: dict[str, str] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/dist/js/bootstrap.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js/dist/umd/popper.min.js",
    f"{_UNPKG_BT}1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/dist/bootstrap-table.min.css",
    f"{_UNPKG_BT}1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/dist/bootstrap-table.min.js",
    f"{_UNPKG_BT}1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    f"{_UNPKG_BT}1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    f"{_UNPKG_BT}1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome-free/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "bootstrap-dark/dist/css/bootstrap-prefers-dark.min.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/build/vega-embed.min.js",
}
#: GX's image bucket (navbar logo, footer background); images GX also ships in ``static/images`` are used from there.
_GX_IMAGES = re.compile(r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/([\w.-]+)(\?[^\"')\s]*)?")
_CDN = re.compile("|".join(re.escape(u) for u in sorted(CDN_URLS, key=len, reverse=True)) + r'(?=["\'])')
#: Whatever still points off-site after the rewrite (GX's newsletter and home links, a missing
#: image): the attribute is dropped (a link keeps its text), a CSS ``url()`` becomes ``none``.
_OFFSITE_ATTR = re.compile(r"""\s(?:href|src)=(["'])(?:https?:)?//.*?\1""", re.IGNORECASE | re.DOTALL)
_OFFSITE_CSS = re.compile(r"""url\(\s*(["']?)(?:https?:)?//[^)]*\)""", re.IGNORECASE)
#: A ``<script>``/``<link>`` tag, and the SRI attributes GX gives two CDN files (see :func:`localize`).
_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
_SRI = re.compile(r"""\s(?:integrity|crossorigin)=(["']).*?\1""", re.IGNORECASE)
#: GX's favicon link (``favicon.j2`` counts one directory too few on validation pages).
_FAVICON = re.compile(r'href="(?:\.\./|\./)*static/images/favicon\.ico"')


def _gx_image_names() -> frozenset[str]:
    import great_expectations

    return frozenset(p.name for p in (Path(great_expectations.__file__).parent / "render/view/static/images").iterdir())


def localize(page: str, root: str) -> str:
    """The page with every CDN URL pointing at the vendored copy; ``root`` is the site root relative to the page.

    ``root`` is ``""`` for the index and ``"../../"``-style for deeper pages. Off-site links and
    images nothing local replaces are removed, so the page asks no other origin for anything.
    """
    page = _CDN.sub(lambda m: root + SITE_PATH + CDN_URLS[m.group(0)], page)
    # GX pins Bootstrap's and Popper's JS with SRI + crossorigin; a file:// page's scripts are
    # cross-origin to it, so Chromium refuses them then. The vendored files equal those hashes
    # (tests/datadocs_offline) and the manifest's sha256 stands in for them.
    page = _TAG.sub(lambda m: _SRI.sub("", m.group(0)) if SITE_PATH in m.group(0) else m.group(0), page)
    images = _gx_image_names()

    def _image(m: re.Match[str]) -> str:
        return root + "static/images/" + m.group(1) if m.group(1) in images else m.group(0)

    page = _GX_IMAGES.sub(_image, page)
    page = _FAVICON.sub(f'href="{root}static/images/favicon.ico"', page)
    page = _OFFSITE_CSS.sub("none", page)
    return _OFFSITE_ATTR.sub("", page)


def site_root(renderer_type: str | None, suite_name: str | None) -> str:
    """The site root relative to a page GX writes, as GX's own templates compute it (``top_navbar.j2``).

    Validation pages sit at ``validations/<suite parts>/<run>/<time>/<batch>.html``, suite pages at
    ``expectations/<suite parts>.html``, the index at the root.
    """
    dots = (suite_name or "").count(".")
    if renderer_type and ("ValidationResults" in renderer_type or "ProfilingResults" in renderer_type):
        return "../" * (dots + 4)
    if renderer_type and "ExpectationSuite" in renderer_type:
        return "../" * (dots + 1)
    return ""


def manifest() -> dict[str, Any]:
    """The vendored files' manifest: per file its package, version, path in the package, sha256, licence."""
    data: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return data


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def install(docs_dir: Path) -> Path:
    """Copy the vendored files into a Data Docs folder (``static/vendor``), so ``file://`` pages load them too.

    Files already there with the manifest's sha256 are left alone; the folder is returned.
    """
    target = docs_dir / SITE_PATH
    for rel, entry in manifest()["files"].items():
        dest = target / rel
        if dest.is_file() and sha256(dest) == entry["sha256"]:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(VENDOR_DIR / rel, dest)
    return target
