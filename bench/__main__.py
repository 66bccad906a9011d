"""Run every benchmark in turn (`make bench`); each prints its own figures and ratios.

Pass `--quick` for smaller data (a smoke run, not the published figures).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

QUICK = {
    "inventory_bench": ["--tables", "200", "--no-embeddings"],
    "profile_bench": ["--rows", "500000"],
    "pii_scan_bench": ["--rows", "200000"],
    "quality_bench": ["--rows", "500000", "--day-rows", "40000"],
    "train_bench": ["--steps", "20"],
}


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    failed = []
    for mod in sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])):
        if not mod.endswith("_bench"):
            continue
        print(f"\n===== bench.{mod} =====", flush=True)
        module = importlib.import_module(f"bench.{mod}")
        code = module.main(QUICK.get(mod, []) if quick else [])
        if code:
            failed.append(mod)
    if failed:
        print(f"\nbenchmarks that missed a target or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
