"""Re-fetch the vendored Data Docs assets with ``npm pack`` and verify (or write) their sha256 manifest.

The files GX's Data Docs templates load from CDNs are vendored in
``include/assay/quality/datadocs_static/`` (see :mod:`assay.quality.docs_assets` for the list,
the exact versions and the CDN URL each file replaces). This script downloads each package's
tarball from the npm registry (``npm pack <package>@<version>``, no project needed) and

* by default checks that every vendored file and the manifest's sha256 equal the file in the
  freshly downloaded tarball (exit 1 on a mismatch, naming the file);
* with ``--write`` (re)writes the vendored files and ``MANIFEST.json`` (package, version, tarball
  sha256 and npm integrity, per file its path in the package, sha256 and licence).

    .venv/bin/python tools/vendor_datadocs.py [--write]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

from assay.quality.docs_assets import CDN_URLS, FILES, MANIFEST, PACKAGES, VENDOR_DIR  # noqa: E402


def _pack(spec: str, dest: Path) -> tuple[Path, dict[str, Any]]:
    """``npm pack`` one package version into ``dest``: the tarball and npm's metadata for it."""
    out = subprocess.run(["npm", "pack", "--json", "--silent", "--pack-destination", str(dest), spec],
                         check=True, capture_output=True, text=True, timeout=300).stdout
    meta = json.loads(out)[0]
    return dest / meta["filename"], meta


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Download, compare (or write); 0 when every file matches."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the vendored files and MANIFEST.json")
    args = parser.parse_args(argv)
    old = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"files": {}}
    packages: dict[str, Any] = {}
    files: dict[str, Any] = {}
    bad: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for folder, (name, version, licence) in PACKAGES.items():
            tarball, meta = _pack(f"{name}@{version}", Path(tmp))
            if meta["version"] != version:
                bad.append(f"{name}: npm gave {meta['version']}, expected {version}")
            packages[folder] = {"package": name, "version": version, "license": licence,
                                "tarball_sha256": _sha(tarball.read_bytes()), "npm_integrity": meta["integrity"]}
            with tarfile.open(tarball) as tar:
                for member in FILES[folder]:
                    extracted = tar.extractfile(f"package/{member}")
                    if extracted is None:
                        raise SystemExit(f"{name}@{version}: {member} is not a file in the tarball")
                    data = extracted.read()
                    rel = f"{folder}/{member}"
                    files[rel] = {"package": name, "version": version, "path": member,
                                  "sha256": _sha(data), "license": licence}
                    local = VENDOR_DIR / rel
                    if args.write:
                        local.parent.mkdir(parents=True, exist_ok=True)
                        local.write_bytes(data)
                        continue
                    recorded = old["files"].get(rel, {}).get("sha256")
                    if recorded != files[rel]["sha256"]:
                        bad.append(f"{rel}: manifest sha256 {recorded} != npm {files[rel]['sha256']}")
                    if not local.is_file() or _sha(local.read_bytes()) != files[rel]["sha256"]:
                        bad.append(f"{local}: differs from {name}@{version}/{member}")
            print(f"{name}@{version}: {len(FILES[folder])} files, tarball sha256 {packages[folder]['tarball_sha256']}")
    if args.write:
        manifest = {"generated_by": "tools/vendor_datadocs.py --write", "packages": packages, "files": files,
                    "cdn_urls": CDN_URLS}
        MANIFEST.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        print(f"wrote {len(files)} files and {MANIFEST}")
        return 0
    for line in bad:
        print("MISMATCH", line)
    print("ok: every vendored file matches npm and the manifest" if not bad else f"{len(bad)} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
