"""The package layers (STYLE.md section 3, issue 13): artifacts at the bottom, no import cycles, a thin CLI.

Imports are read with `ast` from the source, including those inside functions (lazy imports still
make a dependency) and under `if TYPE_CHECKING:`. Nodes are the modules and subpackages directly under
`gendef_core` (``gendef_core/X.py`` and ``gendef_core/X/`` are both ``gendef_core.X``).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "gendef_core"

# What gendef_core.artifacts may import: the bottom of the library (errors, events, the version in
# gendef_core/__init__.py) and the pure geometry of warp.py; nothing that reads media, renders or trains.
ARTIFACTS_MAY_IMPORT = {"gendef_core", "gendef_core.errors", "gendef_core.events", "gendef_core.warp",
                        "gendef_core.artifacts"}
# What the CLI may import (STYLE.md section 3), plus gendef_core itself for __version__.
CLI_MAY_IMPORT = {"gendef_core", "gendef_core.api", "gendef_core.config", "gendef_core.errors",
                  "gendef_core.artifacts", "gendef_core.events"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, module: str, *, is_package: bool = False) -> list[tuple[str, int]]:
    """Every module that the code `source` of `module` imports anywhere (absolute names, relative imports
    resolved), with the line number."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):  # walks into functions and `if TYPE_CHECKING:` blocks too
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            # `from gendef_core import api` imports the module gendef_core.api; `from x.y import name` imports x.y
            found += [(f"{base}.{alias.name}" if base == PACKAGE else base, node.lineno) for alias in node.names]
    return found


def _node(module: str) -> str | None:
    """The graph node of a gendef_core module: ``gendef_core.X`` for anything under X, None outside."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1 or not ((ROOT / PACKAGE / parts[1]).is_dir() or (ROOT / PACKAGE / f"{parts[1]}.py").is_file()):
        return PACKAGE  # the package itself (e.g. `from gendef_core import __version__`)
    return f"{PACKAGE}.{parts[1]}"


def _edges(package: str) -> dict[tuple[str, str], list[str]]:
    """(importer node, imported node) -> where, for every import of gendef_core by the files of `package`."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted((ROOT / package).rglob("*.py")):
        src = (_node(_module_name(path)) or PACKAGE) if package == PACKAGE else package
        for module, line in _imports(path.read_text(), _module_name(path), is_package=path.name == "__init__.py"):
            dst = _node(module)
            where = f"{path.relative_to(ROOT)}:{line} ({module})"
            if dst is not None and dst != src and where not in edges[(src, dst)]:
                edges[(src, dst)].append(where)
    return edges


def _cycles(edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_artifacts_import_nothing_above_them() -> None:
    bad = [f"{dst}: {', '.join(where)}" for (src, dst), where in _edges(PACKAGE).items()
           if src == "gendef_core.artifacts" and dst not in ARTIFACTS_MAY_IMPORT]
    assert not bad, "gendef_core.artifacts imports:\n" + "\n".join(bad)


def test_no_import_cycle_between_gendef_core_modules() -> None:
    edges = _edges(PACKAGE)
    report = []
    for component in _cycles(edges):
        report.append(" <-> ".join(component))
        report += [f"  {a} -> {b}: {', '.join(where)}" for (a, b), where in sorted(edges.items())
                   if a in component and b in component]
    assert not report, "import cycles:\n" + "\n".join(report)


def test_cli_imports_only_the_public_layer() -> None:
    bad = [f"{dst}: {', '.join(where)}" for (_, dst), where in _edges("gendef_cli").items()
           if dst not in CLI_MAY_IMPORT]
    assert not bad, "gendef_cli imports:\n" + "\n".join(bad)


def test_the_checks_see_lazy_relative_and_type_checking_imports() -> None:
    code = ("from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from gendef_core.data.images import to_uint8\n"
            "def f():\n    from gendef_core import render\n    from . import common\n"
            "    from ..edit import composite\n")
    found = [m for m, _ in _imports(code, "gendef_core.artifacts.clip")]
    assert found == ["typing", "gendef_core.data.images", "gendef_core.render", "gendef_core.artifacts",
                     "gendef_core.edit"]
    assert [_node(m) for m in found] == [None, "gendef_core.data", "gendef_core.render", "gendef_core.artifacts",
                                         "gendef_core.edit"]
    assert _node("gendef_core.__version__") == "gendef_core"
    assert _cycles({("a", "b"): [], ("b", "c"): [], ("c", "a"): [], ("c", "d"): []}) == [["a", "b", "c"]]


def _module_exists(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _module_edges() -> dict[tuple[str, str], list[str]]:
    """(module, module) -> where, for every import between two modules of gendef_core (``from x import y``
    counts as an import of module x.y when y is a module, else of x)."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        src = _module_name(path)
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.ImportFrom | ast.Import):
                continue
            names = []
            for module, _ in _imports(ast.unparse(node), src, is_package=path.name == "__init__.py"):
                names.append(module)
            if isinstance(node, ast.ImportFrom):
                base = names[0] if names else ""
                names = [f"{base}.{a.name}" if _module_exists(f"{base}.{a.name}") else base for a in node.names]
            for dst in names:
                if dst.split(".")[0] == PACKAGE and dst != src and _module_exists(dst):
                    edges[(src, dst)].append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return edges


def test_no_import_cycle_between_modules() -> None:
    """Not even inside a package (issue 13: data.synth <-> data.synth_pan was one, behind a lazy import)."""
    edges = _module_edges()
    assert ("gendef_core.data.synth", "gendef_core.data.synth_pan") in edges       # the graph sees imports
    report = []
    for component in _cycles(edges):
        report.append(" <-> ".join(component))
        report += [f"  {a} -> {b}: {', '.join(where)}" for (a, b), where in sorted(edges.items())
                   if a in component and b in component]
    assert not report, "module import cycles:\n" + "\n".join(report)
