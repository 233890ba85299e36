"""The public API: every name resolves, and stage functions stay functions."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import symcalc as sc


@pytest.mark.parametrize("name", sorted(sc._API))
def test_every_public_name_resolves(name):
    assert getattr(sc, name) is not None


def test_stage_functions_stay_functions_after_every_module_is_imported():
    """No module shadows a public function: the stage packages are named with nouns, and
    symcalc/__init__.py patches nothing (no module-class swap)."""
    code = (
        "import pkgutil, importlib, types, symcalc as sc\n"
        "for m in pkgutil.walk_packages(sc.__path__, 'symcalc.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = [n for n in sc.__all__ if isinstance(getattr(sc, n), types.ModuleType)]\n"
        "print(bad, type(sc).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] module"


def test_public_names_map_to_their_stage_modules():
    for name, module in sc._API.items():
        assert getattr(importlib.import_module(f"symcalc.{module}"), name) is getattr(sc, name)
    assert not (set(sc._API.values()) & set(sc._API)), "a module named like a public function"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'gradiant'"):
        sc.gradiant  # noqa: B018


def test_the_explicit_reexports_and_the_lazy_table_name_the_same_objects():
    """symcalc/__init__.py lists each public name twice (the lazy table, the TYPE_CHECKING
    re-exports for type checkers): they must agree, and every name must resolve."""
    import ast
    from pathlib import Path

    import symcalc

    tree = ast.parse(Path(symcalc.__file__).read_text(encoding="utf-8"))
    block = next(
        n
        for n in tree.body
        if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING"
    )
    explicit = {
        alias.asname: node.module.removeprefix("symcalc.")
        for node in block.body
        for alias in node.names
        if isinstance(node, ast.ImportFrom)
    }
    assert explicit == symcalc._API
    for name, module in symcalc._API.items():
        assert getattr(symcalc, name) is getattr(importlib.import_module(f"symcalc.{module}"), name)
