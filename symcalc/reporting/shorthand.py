r"""Shorthand for matrix chains: a name for a repeated argument, textbook groupings.

A derivation of logistic regression repeats ``σ((−y) ⊙ (Xw))`` on every line; a
person writes ``z = −y ⊙ Xw`` once, in words, and then ``σ(z) ⊙ (1 − σ(z))``. This
module finds such arguments of elementwise functions and names them, and brings
matrix results toward the forms of the Matrix Cookbook: signs out of Hadamard
products and to the front of products, and ``diag(a) diag(b)`` as
``diag(a ⊙ b)``. Every regrouping is checked: the regrouped result is kept
only if it equals the original at random values of every symbol.

>>> import sympy as sp
>>> X, w, y = sp.MatrixSymbol("X", 4, 2), sp.MatrixSymbol("w", 2, 1), sp.MatrixSymbol("y", 4, 1)
>>> D = sp.DiagMatrix
>>> tidy(X.T * D(-y) * D(X * w) * D(-y) * X)
X.T*DiagMatrix(HadamardProduct(y, y, X*w))*X
"""

from __future__ import annotations

import random
from typing import Any

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

__all__ = [
    "argument_names",
    "pair_names",
    "shorten",
    "shorten_pairs",
    "tidy",
    "numerically_equal",
]

_NAMES = ("z", "a", "u", "v", "t", "s")


def _elementwise_arguments(exprs: list[Any]) -> list[Any]:
    """Arguments of elementwise functions, columns first (a row is the transpose of a column)."""
    found: list[Any] = []
    for e in exprs:
        if not isinstance(e, sp.Basic):
            continue
        for n in sp.preorder_traversal(e):
            if isinstance(n, ElementwiseApplyFunction):
                arg = n.expr
                if arg.shape[0] == 1 and arg.shape[1] != 1:
                    arg = sp.Transpose(arg).doit()
                if sp.count_ops(arg) > 1 and arg not in found:
                    found.append(arg)
    return found


def argument_names(exprs: list[Any]) -> dict[Any, sp.MatrixSymbol]:
    """A fresh vector name (z, a, u, ...) for each long argument of an elementwise function.

    >>> X, w, y = sp.MatrixSymbol("X", 4, 2), sp.MatrixSymbol("w", 2, 1), sp.MatrixSymbol("y", 4, 1)
    >>> list(argument_names([X.T * sp.hadamard_product(-y, X * w).applyfunc(sp.exp)]).values())
    [z]
    """
    taken = set()
    for e in exprs:
        taken |= {str(s) for s in getattr(e, "free_symbols", set())}
    out: dict[Any, sp.MatrixSymbol] = {}
    free = [n for n in _NAMES if n not in taken]
    for arg, name in zip(_elementwise_arguments(exprs), free):
        out[arg] = sp.MatrixSymbol(name, *arg.shape)
    return out


def _complement_pairs(e: Any) -> list[Any]:
    """Hadamard pairs f ⊙ (1 - f) in e (the logistic variance σ(z) ⊙ (1 - σ(z)))."""
    found = []
    for n in sp.preorder_traversal(e):
        if isinstance(n, sp.HadamardProduct):
            for f in n.args:
                if not isinstance(f, ElementwiseApplyFunction):
                    continue
                one_minus = sp.MatAdd(sp.OneMatrix(*f.shape), sp.MatMul(-1, f)).doit()
                same = [a for a in n.args if a is not f and a.doit() == one_minus]
                if same:
                    found.append(sp.HadamardProduct(f, same[0]))
    return found


def pair_names(exprs: list[Any], taken: set[str]) -> dict[Any, sp.MatrixSymbol]:
    """A vector name for each f ⊙ (1 - f) in shortened expressions (s, for σ(z) ⊙ (1 - σ(z))).

    >>> z = sp.MatrixSymbol("z", 3, 1); f = z.applyfunc(sp.exp)
    >>> list(pair_names([sp.HadamardProduct(z, f, sp.OneMatrix(3, 1) - f)], {"z"}).values())
    [s]
    """
    out: dict[Any, sp.MatrixSymbol] = {}
    free = [n for n in ("s", "r", "q", "p") if n not in taken]
    for e in exprs:
        for pair in _complement_pairs(e) if isinstance(e, sp.Basic) else []:
            if pair not in out and len(out) < len(free):
                out[pair] = sp.MatrixSymbol(free[len(out)], *pair.shape)
    return out


def shorten_pairs(expr: Any, names: dict[Any, sp.MatrixSymbol]) -> Any:
    """``expr`` with each named pair f ⊙ (1 - f) inside a Hadamard product replaced by its name."""
    if not names or not isinstance(expr, sp.Basic):
        return expr

    def swap(n):
        if not isinstance(n, sp.HadamardProduct):
            return n
        for pair, name in names.items():
            a, b = pair.args
            if a in n.args and b in n.args:
                rest = [f for f in n.args if f not in (a, b)]
                return sp.HadamardProduct(*rest, name) if rest else name
        return n

    return expr.replace(lambda n: isinstance(n, sp.HadamardProduct), swap)


def shorten(expr: Any, names: dict[Any, sp.MatrixSymbol]) -> Any:
    """``expr`` with each named argument (or its transpose) replaced by its name."""
    if not names or not isinstance(expr, sp.Basic):
        return expr
    table: dict[Any, Any] = {}
    for arg, z in names.items():
        table[arg] = z
        table[sp.Transpose(arg).doit()] = sp.Transpose(z)
    return expr.xreplace(table)


# --- textbook groupings -------------------------------------------------------------------


def _split(e: Any) -> tuple[Any, Any]:
    """(number, matrix) of a factor: -y is (-1, y)."""
    if isinstance(e, sp.MatMul):
        c, rest = e.as_coeff_mmul()
        return c, (rest.args[0] if len(rest.args) == 1 else sp.MatMul(*rest.args))
    return sp.Integer(1), e


def _with(c: Any, body: Any) -> Any:
    return body if c == 1 else sp.MatMul(c, body)


def _hadamard(args: list[Any]) -> Any:
    """A Hadamard product with its numbers pulled out and its plain symbols first."""
    c, factors = sp.Integer(1), []
    for a in args:
        k, m = _split(a)
        c *= k
        factors += list(m.args) if isinstance(m, sp.HadamardProduct) else [m]
    factors.sort(key=lambda f: not isinstance(f, sp.MatrixSymbol))
    return _with(c, sp.HadamardProduct(*factors))


def _product(args: list[Any]) -> Any:
    """A matrix product with numbers in front and neighbouring diagonals merged."""
    c, factors = sp.Integer(1), []
    for a in args:
        if isinstance(a, sp.Number):  # -1 * (-y) is y, never "- -y"
            c *= a
            continue
        k, m = _split(a)
        c *= k
        if isinstance(m, sp.DiagMatrix):
            k2, v = _split(m.args[0])
            c *= k2
            m = sp.DiagMatrix(v)
        if factors and isinstance(m, sp.DiagMatrix) and isinstance(factors[-1], sp.DiagMatrix):
            prev = factors.pop()
            merged = _hadamard([prev.args[0], m.args[0]])
            k3, v = _split(merged)
            c *= k3
            m = sp.DiagMatrix(v)
        for f in m.args if isinstance(m, sp.MatMul) else [m]:
            if isinstance(f, sp.Number):
                c *= f
            else:
                factors.append(f)
    body = factors[0] if len(factors) == 1 else sp.MatMul(*factors)
    return _with(c, body)


def _regroup(e: Any) -> Any:
    if not isinstance(e, sp.MatrixExpr) or not e.args or isinstance(e, ElementwiseApplyFunction):
        return e  # a function's argument stays as derived (it is named as a whole)
    args = [_regroup(a) for a in e.args]
    if isinstance(e, sp.HadamardProduct):
        return _hadamard(args)
    if isinstance(e, sp.MatMul):
        return _product(args)
    try:
        return e.func(*args)
    except (TypeError, ValueError):
        return e


def tidy(expr: Any) -> Any:
    """``expr`` in a textbook grouping when that is provably (numerically) equal, else unchanged."""
    if not isinstance(expr, sp.MatrixExpr) or not expr.atoms(sp.MatrixSymbol):
        return expr
    nicer = _regroup(expr)
    return nicer if nicer != expr and numerically_equal(nicer, expr) else expr


# --- the check ----------------------------------------------------------------------------


def _random_values(exprs: list[Any], rng: random.Random) -> tuple[dict, dict]:
    """(sizes, values): small sizes for symbolic dimensions; random entries for every symbol
    (square matrices made positive definite, so inverses and log-determinants exist)."""
    syms = set().union(*(e.atoms(sp.MatrixSymbol) for e in exprs))
    dims = {d for s in syms for d in s.shape if isinstance(d, sp.Symbol)}
    sizes = {d: k + 2 for k, d in enumerate(sorted(dims, key=str))}
    values: dict = {}
    for s in syms:
        r, c = (int(sp.sympify(d, strict=True).subs(sizes)) for d in s.shape)
        M = sp.Matrix(r, c, lambda i, j: sp.Float(rng.uniform(-1, 1)))
        if r == c:
            M = M * M.T + r * sp.eye(r)
        values[s.subs(sizes) if sizes else s] = sp.ImmutableMatrix(M)
    scalars = set().union(*(e.free_symbols for e in exprs)) - syms - dims
    for x in scalars:
        if isinstance(x, sp.Symbol):
            values[x] = sp.Float(rng.uniform(0.5, 1.5))
    return sizes, values


def _evaluated(e: Any, sizes: dict, values: dict) -> sp.Matrix:
    e = e.subs(sizes) if sizes else e
    out = e.xreplace(values).doit()
    out = out.as_explicit() if isinstance(out, sp.MatrixExpr) else out
    return sp.Matrix(out).evalf() if isinstance(out, sp.MatrixBase) else sp.Matrix([[out]]).evalf()


def numerically_equal(a: Any, b: Any, trials: int = 2, tol: float = 1e-9) -> bool:
    """Whether two matrix expressions agree at random values of their symbols (False when they
    cannot be evaluated).

    >>> A = sp.MatrixSymbol("A", 2, 2)
    >>> numerically_equal(sp.DiagMatrix(sp.MatrixSymbol("v", 2, 1)) * A, A), numerically_equal(A.T * A, A.T * A)
    (False, True)
    """
    rng = random.Random(20261202)
    try:
        for _ in range(trials):
            sizes, values = _random_values([a, b], rng)
            x, y = _evaluated(a, sizes, values), _evaluated(b, sizes, values)
            if x.shape != y.shape or any(
                abs(complex(v)) > tol * (1 + abs(complex(u))) for u, v in zip(x, x - y)
            ):
                return False
    except Exception:  # noqa: BLE001 - not evaluable here: the regrouping is not used
        return False
    return True
