"""The package's shape, checked: no import cycle, no oversized module, no printing outside the CLI,
and the module map in docs/ARCHITECTURE.md is the one the code has.

Imports inside functions count: a lazy import still ties two modules together, it only moves the
failure to run time. ``python tests/unit/test_architecture.py --write`` refreshes the map in the docs.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "include" / "assay"
DOC = ROOT / "docs" / "ARCHITECTURE.md"
#: Longest module allowed; Alembic revisions are generated and exempt.
MAX_LINES = 500
MAP_START, MAP_END = "<!-- module-map:start -->", "<!-- module-map:end -->"


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (top-level and inside functions)."""

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [resolve(a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [resolve(f"{node.module}.{a.name}") for a in node.names]
            else:
                continue
            graph[mod].update(t for t in targets if t and t != mod and t.split(".")[0] == "assay")
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def unit(module: str) -> str:
    """The part of the package a module belongs to: ``assay.quality.run`` -> ``quality``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "assay"


def module_map(graph: dict[str, set[str]]) -> str:
    """Markdown table: each top-level package/module of assay and the ones it imports."""
    deps: dict[str, set[str]] = defaultdict(set)
    for mod, targets in graph.items():
        deps[unit(mod)]  # every unit gets a row
        deps[unit(mod)].update(unit(t) for t in targets if unit(t) != unit(mod))
    rows = ["| module | imports (within assay) |", "|---|---|"]
    for name in sorted(deps):
        if name == "assay":
            continue
        rows.append(f"| `{name}` | {', '.join(f'`{d}`' for d in sorted(deps[name] - {'assay'})) or '—'} |")
    return "\n".join(rows)


def documented_map(text: str) -> str:
    match = re.search(re.escape(MAP_START) + r"\n(.*?)\n" + re.escape(MAP_END), text, re.S)
    return match.group(1) if match else ""


# ---- the checks ------------------------------------------------------------------------------
def test_no_import_cycles():
    assert cycles(import_graph(modules())) == []


def test_cycle_detection_can_fail(tmp_path):
    pkg = tmp_path / "assay"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("def f():\n    from assay.b import y\n")
    (pkg / "b.py").write_text("from assay.a.x import f\ny = f\n")
    assert cycles(import_graph(modules(pkg))) == [["assay.a.x", "assay.b"]]


def test_no_module_over_the_limit():
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if "migrations/versions" not in path.as_posix() and (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


PRINTING = re.compile(r"^\s*(print\(|typer\.echo|sys\.stdout\.write|sys\.stderr\.write)", re.M)


def test_only_the_cli_prints():
    """Domain packages return values and log; user-facing output belongs to assay.cli."""
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] != "cli" and PRINTING.search(path.read_text())
    ]
    assert offenders == []
    assert PRINTING.search("def f():\n    print('x')\n")


#: The only modules outside ``assay.seed`` that may import it: the commands that run the demo seeder.
SEED_RUNNERS = frozenset({"assay.cli.pipeline"})


def seed_importers(graph: dict[str, set[str]]) -> list[str]:
    """Product modules that import ``assay.seed`` (the demo is a user of the contracts, never their source)."""
    return sorted(
        mod for mod, targets in graph.items()
        if not mod.startswith("assay.seed") and mod not in SEED_RUNNERS
        and any(t == "assay.seed" or t.startswith("assay.seed.") for t in targets)
    )


def test_no_product_code_imports_the_demo_seed():
    assert seed_importers(import_graph(modules())) == []
    # The rule can fail.
    assert seed_importers({"assay.training.source": {"assay.seed.schema"}, "assay.seed.contract": {"assay.training"}}) == [
        "assay.training.source"
    ]


def test_architecture_doc_shows_the_module_map():
    assert documented_map(DOC.read_text()) == module_map(import_graph(modules())), (
        "docs/ARCHITECTURE.md's module map is stale: run `python tests/unit/test_architecture.py --write`"
    )


if __name__ == "__main__" and "--write" in sys.argv:
    text = DOC.read_text()
    table = module_map(import_graph(modules()))
    if MAP_START in text:
        text = re.sub(re.escape(MAP_START) + r".*?" + re.escape(MAP_END), lambda _: f"{MAP_START}\n{table}\n{MAP_END}",
                      text, flags=re.S)
    else:
        text += f"\n{MAP_START}\n{table}\n{MAP_END}\n"
    DOC.write_text(text)
    print(table)
