"""Fast element-wise differentiation through SymEngine, with SymPy as the fallback.

SymPy stays the object model users see; SymEngine (C++) only does the heavy
differentiation. Two savings on top of the faster library:

* the Hessian is taken from the gradient (not by re-differentiating f for each
  entry), upper triangle only, mirrored;
* an entry is differentiated only by the variables it contains; the others are
  structural zeros, so the cost follows the non-zeros.

>>> import sympy as sp
>>> x, y = sp.symbols("x y")
>>> g = gradient_entries(x**2 * y + sp.sin(y), [x, y])
>>> g
[2*x*y, x**2 + cos(y)]
>>> hessian_from_gradient(g, [x, y])
Matrix([
[2*y,     2*x],
[2*x, -sin(y)]])
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp


def _symengine_classes() -> tuple[type, ...]:
    """The registry's functions SymEngine differentiates natively."""
    from symcalc.expr.registry import REGISTRY

    return REGISTRY.classes(symengine=True)


def _symengine():
    try:
        import symengine
    except ImportError:  # pragma: no cover - symengine is a dependency
        return None
    return symengine


def _symengine_can_take(expr: sp.Basic) -> bool:
    """True when every function in ``expr`` is one SymEngine knows natively."""
    safe = _symengine_classes()
    for fn in expr.atoms(sp.Function):
        if not isinstance(fn, safe):
            return False
    return not expr.has(sp.Derivative, sp.Integral, sp.Piecewise, sp.MatrixSymbol)


def _restorer(original: sp.Basic) -> dict[sp.Symbol, sp.Symbol]:
    """SymEngine drops assumptions (real=True, positive=True): map the plain
    symbols it gives back to the user's own."""
    return {sp.Symbol(s.name): s for s in original.free_symbols if isinstance(s, sp.Symbol)}


def _to_sympy(se_exprs, original: sp.Basic) -> list[sp.Expr]:
    back = _restorer(original)
    return [sp.sympify(e, strict=True).xreplace(back) for e in se_exprs]


def _refuse_undefined(f: sp.Basic) -> None:
    """An undefined function (``sp.Function("f")``) has no derivative symcalc could state."""
    from sympy.core.function import AppliedUndef

    from symcalc.errors import NoRuleError

    undefined = sorted({type(a).__name__ for a in f.atoms(AppliedUndef)})
    if undefined:
        raise NoRuleError(
            f"no differentiation rule for the undefined function {', '.join(undefined)} "
            f"(in {sp.sstr(f)[:120]}); symcalc cannot differentiate this construct"
        )


def gradient_entries(f: sp.Expr, syms: Sequence[sp.Symbol]) -> list[sp.Expr]:
    """The partial derivatives of ``f`` by each of ``syms`` (as SymPy expressions).

    ``f`` is first brought to the registry's canonical form (``Max(0, t)`` -> ``relu(t)``,
    ``Abs`` -> ``abs``), so that every route differentiates the same functions:

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> gradient_entries(sp.Max(0, x*y - 1), [x, y])
    [y*heaviside(x*y - 1), x*heaviside(x*y - 1)]

    The entries are written as a person writes them (``sign(t)/|t|`` is ``1/t``:
    :func:`symcalc.expr.canonical.canonical_result`), as on every other route.
    """
    from symcalc.expr.canonical import canonical_result
    from symcalc.expr.registry import canonical

    f = canonical(f)
    _refuse_undefined(f)
    free = f.free_symbols
    se = _symengine()
    if se is not None and _symengine_can_take(f):
        fe = se.sympify(f)
        out = [fe.diff(se.sympify(s)) if s in free else se.Integer(0) for s in syms]
        entries = _refuse_unevaluated(_to_sympy(out, f))
    else:
        entries = _refuse_unevaluated([sp.diff(f, s) if s in free else sp.S.Zero for s in syms])
    return [canonical_result(e) for e in entries]


def _refuse_unevaluated(entries: list[sp.Expr]) -> list[sp.Expr]:
    """Never a silent ``Derivative``: a function with no derivative is a NoRuleError naming it."""
    from symcalc.errors import NoRuleError

    for e in entries:
        for d in e.atoms(sp.Derivative):
            inner = d.expr
            name = type(inner).__name__ if isinstance(inner, sp.Basic) else str(inner)
            raise NoRuleError(
                f"no differentiation rule for {name} ({sp.sstr(inner)[:120]}); "
                "symcalc cannot differentiate this construct"
            )
    return entries


def hessian_from_gradient(grad: Sequence[sp.Expr], syms: Sequence[sp.Symbol]) -> sp.Matrix:
    """The symmetric Hessian: upper triangle of d grad_i / d x_j, mirrored."""
    n = len(syms)
    H = sp.zeros(n, n)
    se = _symengine()
    use_se = se is not None and all(_symengine_can_take(g) for g in grad)
    se_syms = [se.sympify(s) for s in syms] if use_se else None
    back = _restorer(sp.Add(*grad, *syms)) if use_se else {}
    for i, g in enumerate(grad):
        free = g.free_symbols
        if not free:
            continue
        gi = se.sympify(g) if use_se else g
        for j in range(i, n):
            if syms[j] not in free:
                continue
            d = gi.diff(se_syms[j]) if se_syms is not None else sp.diff(g, syms[j])
            H[i, j] = sp.sympify(d, strict=True).xreplace(back) if use_se else d
            H[j, i] = H[i, j]
    return H


def jacobian_entries(F: Sequence[sp.Expr], syms: Sequence[sp.Symbol]) -> sp.Matrix:
    """The m x n Jacobian dF_i / dx_j, skipping variables an entry does not contain."""
    rows = [gradient_entries(Fi, syms) for Fi in F]
    return sp.Matrix(rows) if rows else sp.zeros(0, len(syms))
