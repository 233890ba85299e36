"""The module-level import graph of the symcalc package, and its cycles.

Only imports executed when a module is loaded count (the module body, and ``if`` /
``try`` blocks there); an import inside a function runs later, on the call, and
cannot make a cycle at load time. ``from symcalc.a import b`` counts as an import of
``symcalc.a.b`` when that is a module, else of ``symcalc.a``.

    python scripts/import_graph.py            # the cycles, one per line (exit 1 if any)
    python scripts/import_graph.py --edges    # every edge, "importer -> imported"
    python scripts/import_graph.py --all      # also imports inside functions (call time)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "symcalc"


def module_names(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package: dotted name -> file (a package is its __init__)."""
    out = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``): imports for annotations only."""
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _top_level_imports(tree: ast.Module, all_levels: bool = False):
    """Import nodes run at load time: the body, descending into if / try / with only
    (``all_levels``: also those inside functions and classes). Imports under
    ``if TYPE_CHECKING:`` never run and are left out."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif _is_type_checking(node):
            stack.extend(node.orelse)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.ExceptHandler)) or (
            all_levels and isinstance(node, ast.stmt)
        ):
            stack.extend(c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt))
            stack.extend(getattr(node, "handlers", []))


def _resolve(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def edges(root: Path = ROOT, all_levels: bool = False) -> dict[str, set[str]]:
    """importer -> the symcalc modules it imports at load time (``all_levels``: at any time)."""
    modules = module_names(root)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in _top_level_imports(tree, all_levels):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = _resolve(node, name, path.name == "__init__.py")
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                ]
            for t in targets:
                while t and t not in modules:  # import a.b.c: the deepest known module
                    t = t.rpartition(".")[0]
                if t and t != name and t.startswith(PACKAGE + "."):
                    graph[name].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted.

    >>> cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}})
    [['a', 'b']]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def main(argv: list[str]) -> int:
    graph = edges(all_levels="--all" in argv)
    if "--edges" in argv:
        for a in sorted(graph):
            for b in sorted(graph[a]):
                print(f"{a} -> {b}")
        return 0
    found = cycles(graph)
    for c in found:
        print(" <-> ".join(c))
    if not found:
        print(f"no import cycles among {len(graph)} symcalc modules")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
