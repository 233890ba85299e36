"""Reading a claim: the names it may use, text or SymPy objects, and shapes to compare."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy as sp
from sympy import MatrixBase, MatrixExpr, MatrixSymbol
from sympy.core.sympify import _sympify

from symcalc.errors import InputError, InputTypeError, ShapeError
from symcalc.inputs import as_expr, as_matrix, reject_text
from symcalc.parsing.parser import parse_any


# ======================================================================================
# Names: what a claim may refer to
# ======================================================================================
def _label(k) -> str:
    """The name of a Symbol or MatrixSymbol (or the text of anything else)."""
    return getattr(k, "name", str(k))


def _names_of(*objs) -> dict[str, Any]:
    """name -> Symbol / MatrixSymbol found in the objects (including matrix sizes)."""
    table: dict[str, Any] = {}
    for o in objs:
        if o is None:
            continue
        if isinstance(o, (list, tuple)):
            table.update({k: v for k, v in _names_of(*o).items() if k not in table})
            continue
        if not isinstance(o, sp.Basic):
            continue
        if isinstance(o, (sp.Symbol, MatrixSymbol)):
            table.setdefault(o.name, o)
        for m in o.atoms(MatrixSymbol):
            table.setdefault(m.name, m)
            for d in m.shape:
                for s in _sympify(d).free_symbols:
                    table.setdefault(s.name, s)
        for s in o.free_symbols:
            if isinstance(s, sp.Symbol) and not isinstance(s, sp.Dummy):
                table.setdefault(s.name, s)
    return table


def _rebind(expr, table: Mapping[str, Any]):
    """Replace symbols of a SymPy claim by the problem's symbols of the same name."""
    if not isinstance(expr, sp.Basic):
        return expr
    mapping = {}
    for m in expr.atoms(MatrixSymbol):
        target = table.get(m.name)
        if target is not None and target != m and isinstance(target, MatrixSymbol):
            mapping[m] = target
    for s in expr.free_symbols:
        target = table.get(getattr(s, "name", None))
        if (
            isinstance(s, sp.Symbol)
            and target is not None
            and target != s
            and isinstance(target, sp.Symbol)
        ):
            mapping[s] = target
    return expr.xreplace(mapping) if mapping else expr


def _as_object(obj, what):
    """A user's SymPy object, number or list of them (a column or rows): never text."""
    reject_text(obj, what)
    try:
        if isinstance(obj, (list, tuple)):
            return as_matrix(obj, what, exact_floats=True)
        return as_expr(obj, what, exact_floats=True)
    except InputTypeError as exc:  # not text: the wrong kind of object
        raise InputError(
            f"{exc} (verify reads SymPy objects, numbers, lists of them, or the claim as text)"
        ) from None


def _read_claim(claim, table, syntax):
    if isinstance(claim, str):
        return parse_any(claim, table, allow_undeclared=False, syntax=syntax)
    if isinstance(claim, (list, tuple)):
        # entries may be text too: ["2x", "3y^2"] or [["2", "0"], ["0", "6y"]]
        claim = [_read_entries(c, table, syntax) for c in claim]
    return _rebind(_as_object(claim, "the claim"), table)


def _read_entries(entry, table, syntax):
    if isinstance(entry, str):
        return parse_any(entry, table, allow_undeclared=False, syntax=syntax)
    if isinstance(entry, (list, tuple)):
        return [_read_entries(e, table, syntax) for e in entry]
    return entry


# ======================================================================================
# Shapes
# ======================================================================================
def _is_matrix(v) -> bool:
    return isinstance(v, (MatrixExpr, MatrixBase))


def _scalarize(v):
    if isinstance(v, MatrixBase) and v.shape == (1, 1):
        return v[0, 0]
    if isinstance(v, MatrixExpr) and v.shape == (1, 1):
        return sp.Trace(v)
    return v


def _shape_text(v) -> str:
    if not _is_matrix(v):
        return "a scalar"
    return f"a {v.shape[0]} x {v.shape[1]} matrix"


def _align_shapes(claim, truth):
    """(claim, truth, note): equal shapes, a row read as a column, or a ShapeError."""
    claim, truth = _scalarize(claim), _scalarize(truth)
    if _is_matrix(claim) != _is_matrix(truth):
        raise ShapeError(f"the claim is {_shape_text(claim)} but the truth is {_shape_text(truth)}")
    if not _is_matrix(claim):
        return claim, truth, ""
    (r1, c1), (r2, c2) = claim.shape, truth.shape
    if _same(r1, r2) and _same(c1, c2):
        return claim, truth, ""
    if _same(r1, c2) and _same(c1, r2) and (c1 == 1 or r1 == 1):
        return claim.T, truth, "the claim was written as a row and read as a column"
    if _maybe_same(r1, r2) and _maybe_same(c1, c2):
        return claim, truth, ""
    raise ShapeError(f"the claim is {_shape_text(claim)} but the truth is {_shape_text(truth)}")


def _same(a, b) -> bool:
    return sp.simplify(_sympify(a) - _sympify(b)) == 0


def _maybe_same(a, b) -> bool:
    """Sizes that can be equal (n and 3, m and n)."""
    a, b = _sympify(a), _sympify(b)
    return not (a.is_Integer and b.is_Integer and a != b)
