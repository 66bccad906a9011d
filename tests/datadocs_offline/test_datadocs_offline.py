"""Data Docs that work offline (#15.4): GX's CDN CSS/JS vendored, every page pointing at the local copy.

After a real quality run (a seeded shop with a defect day: SQL tables and pandas-read file feeds),
no page under the Data Docs folder names an http(s) URL, every local file a page references exists
(the vendored ones byte-equal to ``datadocs_static/MANIFEST.json``), and validation pages name
their data asset. The browser half (``test_datadocs_browser.py``) opens the pages in chromium
with every non-local request refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.worlds import ShopWorld

from assay.quality import docs_assets

_REF = re.compile(r"""\s(?:src|href)=(["'])(.*?)\1""", re.DOTALL)
_CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)""")
GX_TEMPLATES = Path(__import__("great_expectations").__file__).parent / "render/view/templates"


def pages(world: ShopWorld) -> list[Path]:
    found = sorted(world.settings.data_docs_dir.rglob("*.html"))
    assert found, f"no Data Docs page under {world.settings.data_docs_dir}"
    return found


def local_refs(page: Path) -> list[str]:
    """The page's src/href values that name a file (not an anchor, a script URL or a query)."""
    return [v for _, v in _REF.findall(page.read_text(encoding="utf-8"))
            if v and not v.startswith(("#", "javascript:", "mailto:", "data:"))]


# ---- the vendored copy ------------------------------------------------------------------------------
def test_every_cdn_url_in_gx_templates_is_vendored():
    urls = set()
    for template in GX_TEMPLATES.glob("*.j2"):
        for tag in re.findall(r"<(?:script|link)\b[^>]*>", template.read_text(encoding="utf-8")):
            urls.update(re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", tag))
    assert urls, f"no CDN URL found in {GX_TEMPLATES}: has GX changed its templates?"
    assert urls <= set(docs_assets.CDN_URLS), f"not vendored: {sorted(urls - set(docs_assets.CDN_URLS))}"
    files = docs_assets.manifest()["files"]
    assert set(docs_assets.CDN_URLS.values()) <= set(files)


def test_vendored_files_equal_the_sri_hashes_gx_pins():
    """GX pins two CDN files by SRI; localize drops the attribute (file:// refuses it), the bytes are the same."""
    import base64
    import hashlib

    pinned = re.findall(r"""src=["'](https?://[^"']+)["'][^>]*integrity=["']sha384-([^"']+)""",
                        (GX_TEMPLATES / "js_script_imports.j2").read_text(encoding="utf-8"))
    assert len(pinned) == 2, pinned
    for url, digest in pinned:
        data = (docs_assets.VENDOR_DIR / docs_assets.CDN_URLS[url]).read_bytes()
        assert base64.b64encode(hashlib.sha384(data).digest()).decode() == digest, url


def test_vendored_files_match_the_manifest_and_carry_licences():
    manifest = docs_assets.manifest()
    for rel, entry in manifest["files"].items():
        path = docs_assets.VENDOR_DIR / rel
        assert path.is_file(), f"{path} listed in {docs_assets.MANIFEST} but missing"
        assert docs_assets.sha256(path) == entry["sha256"], f"{path} differs from the manifest"
        assert entry["license"] and entry["version"]
    for folder, pkg in manifest["packages"].items():
        assert pkg["license"] and pkg["tarball_sha256"] and pkg["npm_integrity"].startswith("sha512-")
        shipped = [f for f in docs_assets.FILES[folder] if f.upper().startswith("LICENSE")]
        # popper.js 1.12.9 and vega 5.33.1 ship no licence file (MIT in the file header / BSD-3-Clause).
        assert shipped or folder in {"popper.js", "vega"}, f"{folder}: no licence file vendored"
    # Font Awesome's CSS finds its fonts next to it, as in the package.
    css = (docs_assets.VENDOR_DIR / "fontawesome-free/css/all.min.css").read_text(encoding="utf-8")
    for ref in set(_CSS_URL.findall(css)):
        assert (docs_assets.VENDOR_DIR / "fontawesome-free/css" / ref).resolve().is_file(), ref


def test_localize_leaves_nothing_off_site_and_keeps_escaped_text():
    page = ('<link href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css">'
            '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'
            '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1">'
            '<div style="background: url(\'https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/x.png\')">'
            '<a href="https://greatexpectations.io/newsletter?x=1">Subscribe</a>'
            '<td>&lt;a href=&quot;https://evil.example&quot;&gt;</td>')
    out = docs_assets.localize(page, "../../")
    assert 'href="../../static/vendor/bootstrap/dist/css/bootstrap.min.css"' in out
    assert 'src="../../static/vendor/vega/build/vega.min.js"' in out
    assert 'src="../../static/images/logo-long.png"' in out
    assert "background: none" in out and "<a>Subscribe</a>" in out
    sri = '<script src="https://code.jquery.com/jquery-3.7.1.min.js" integrity="sha384-x" crossorigin="anonymous">'
    assert docs_assets.localize(sri, "") == '<script src="static/vendor/jquery/dist/jquery.min.js">'

    # A value shown as text (escaped by docs_view) is text, not a reference: left as it is.
    assert "&lt;a href=&quot;https://evil.example&quot;&gt;" in out
    assert not re.search(r"""(?:src|href)=["']https?:""", out)


# ---- after a real quality run -----------------------------------------------------------------------
@pytest.mark.integration
def test_no_page_references_another_origin(docs_world):
    for page in pages(docs_world):
        text = page.read_text(encoding="utf-8")
        for scheme in ("https://", "http://"):
            assert scheme not in text, f"{page}: {text[max(0, text.find(scheme) - 80):text.find(scheme) + 120]}"


@pytest.mark.integration
def test_every_referenced_local_file_exists_and_vendored_ones_match_the_manifest(docs_world):
    docs = docs_world.settings.data_docs_dir
    docs_assets.install(docs)  # for file:// viewing; the steward app serves the package's copy
    files = docs_assets.manifest()["files"]
    vendor = (docs / docs_assets.SITE_PATH).resolve()
    seen_vendored: set[str] = set()
    for page in pages(docs_world):
        for ref in local_refs(page):
            target = (page.parent / ref.split("?")[0].split("#")[0]).resolve()
            assert target.is_relative_to(docs.resolve()), f"{page}: {ref} leaves the Data Docs folder"
            if target.is_relative_to(vendor):
                rel = target.relative_to(vendor).as_posix()
                assert rel in files, f"{page}: {ref} is not a vendored file"
                assert docs_assets.sha256(docs_assets.VENDOR_DIR / rel) == files[rel]["sha256"]
                assert docs_assets.sha256(target) == files[rel]["sha256"], f"{target} differs from the manifest"
                seen_vendored.add(rel)
            else:
                assert target.exists(), f"{page}: {ref} -> {target} does not exist"
    assert "jquery/dist/jquery.min.js" in seen_vendored and "bootstrap/dist/css/bootstrap.min.css" in seen_vendored


def _validation_pages(world: ShopWorld, kind: str) -> list[tuple[Path, str]]:
    """(page, asset) of the validation pages of SQL tables (``shop-…``) or file feeds (``files-…``)."""
    found = []
    for page in sorted((world.settings.data_docs_dir / "validations").rglob("*.html")):
        source, _, asset = page.stem.partition("-")
        if (source == "files") == (kind == "files"):
            found.append((page, asset))
    assert found, f"no {kind} validation page under {world.settings.data_docs_dir}"
    return found


@pytest.mark.integration
def test_sql_validation_pages_name_their_asset(docs_world):
    for page, asset in _validation_pages(docs_world, "sql"):
        text = page.read_text(encoding="utf-8")
        assert "Data asset: None" not in text and f"Data asset: {asset}<" in text, page


@pytest.mark.integration
def test_file_feed_validation_pages_name_their_asset(docs_world):
    for page, asset in _validation_pages(docs_world, "files"):
        text = page.read_text(encoding="utf-8")
        assert "Data asset: None" not in text and f"Data asset: {asset}<" in text, page


def test_name_data_asset_copies_the_batch_definition_s_asset_into_the_spec():
    from types import SimpleNamespace

    from assay.quality.docs_view import name_data_asset

    pandas = SimpleNamespace(meta={"batch_spec": {"batch_data": "PandasDataFrame"},
                                   "active_batch_definition": {"data_asset_name": "feeds.cascade"}})
    assert name_data_asset(pandas).meta["batch_spec"]["data_asset_name"] == "feeds.cascade"
    sql = SimpleNamespace(meta={"batch_spec": {"data_asset_name": "impressions"},
                                "active_batch_definition": {"data_asset_name": "other"}})
    assert name_data_asset(sql).meta["batch_spec"]["data_asset_name"] == "impressions"
