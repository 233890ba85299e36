r"""The objective as the user wrote it: the file's text parsed without evaluation.

SymPy evaluates as it builds (``-1/2*(x - mu)`` becomes ``mu/2 - x/2``); a report
shows the objective in the user's own order and grouping. The text is read by
symcalc's own parser (never ``eval``) with SymPy's evaluation switched off; the
nested sums and products the parser builds are flattened. Where the parser cannot
build a matrix objective unevaluated, the evaluated one is regrouped the way people
write it (common constants factored out of sums, out of transposes and to the
front of products; sums with the variable first). Either form is used only when it
is proven equal to the objective the engine differentiated.

>>> import symcalc as sc
>>> p = sc.load_problem('objective = "x^3 - 3*x + y^2"\nvariables = {x="scalar", y="scalar"}')
>>> written_latex(p)
'x^{3} - 3 x + y^{2}'
>>> import sympy as sp
>>> x, mu = sp.MatrixSymbol("x", 2, 1), sp.MatrixSymbol("mu", 2, 1)
>>> latex(regrouped((mu / 2 - x / 2).T * (x - mu), {x}), order="none")
'- \\frac{1}{2} \\left(x - \\mu\\right)^\\top \\left(x - \\mu\\right)'
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from symcalc.printing.latex import latex

__all__ = ["written_objective", "written_latex", "regrouped", "proven_equal"]


def _numbers_first(args: list[Any]) -> list[Any]:
    """A product's factors with its numbers multiplied into one leading coefficient."""
    numbers = [a for a in args if isinstance(a, sp.Number)]
    rest = [a for a in args if not isinstance(a, sp.Number)]
    if len(numbers) < 2:
        return numbers + rest
    c = sp.Mul(*numbers)  # evaluated: -1 * 1/2 is -1/2
    return ([] if c == 1 else [c]) + rest


def _flat(e: Any) -> Any:
    """Nested unevaluated sums and products as one sum or product each, still unevaluated."""
    if not isinstance(e, sp.Basic) or not e.args or isinstance(e, sp.MatrixBase):
        return e
    args = [_flat(a) for a in e.args]
    if isinstance(e, (sp.Add, sp.Mul)):
        out: list[Any] = []
        for a in args:
            out += list(a.args) if type(a) is type(e) else [a]
        if isinstance(e, sp.Add):
            out = [a for a in out if a != 0] or [sp.Integer(0)]
        if isinstance(e, sp.Mul):
            out = _numbers_first(out)
        if len(out) == 1:
            return out[0]
        return type(e)(*out, evaluate=False)
    try:
        return e.func(*args, evaluate=False)
    except TypeError:
        return e.func(*args)


# --- regrouping an evaluated matrix objective ---------------------------------------------


def _coeff(t: Any) -> tuple[Any, Any]:
    """(number, rest) of a term: 1/2*mu^T is (1/2, mu^T)."""
    if isinstance(t, sp.MatMul):
        c, rest = t.as_coeff_mmul()
        return c, (rest.args[0] if len(rest.args) == 1 else sp.MatMul(*rest.args))
    return sp.Integer(1), t


def _has(t: Any, variables: set) -> bool:
    return bool(getattr(t, "free_symbols", set()) & variables)


def _sum_first(terms: list[Any], variables: set) -> list[Any]:
    """Terms with the variable first, positive ones before negative ones (x - mu, not -mu + x)."""

    def key(t):
        negative = bool(t.could_extract_minus_sign()) if (t.is_Mul or t.is_MatMul) else False
        return (negative, not _has(t, variables))

    return sorted(terms, key=key)


def _regroup_sum(e: sp.MatAdd, variables: set) -> Any:
    """c*(a + b) from c*a + c*b; (a + b)^T from a^T + b^T."""
    pairs = [_coeff(t) for t in e.args]
    c = sp.gcd([abs(k) for k, _ in pairs]) if all(k.is_Rational for k, _ in pairs) else 1
    if c != 1 or all(
        k.is_negative for k, _ in pairs
    ):  # a common factor, its sign from the variable
        lead = [k for k, t in pairs if _has(t, variables)] or [pairs[0][0]]
        c = -c if lead[0].is_negative else c
    terms = [(k / c) * t if k != c else t for k, t in pairs]
    terms = [sp.MatMul(-1, t.args[1]) if _is_minus(t) else t for t in terms]
    if all(isinstance(_bare(t), sp.Transpose) for t in terms):  # a^T - b^T = (a - b)^T
        inner = [sp.MatMul(-1, _bare(t).arg) if _is_minus(t) else t.arg for t in terms]
        body: Any = sp.Transpose(sp.MatAdd(*_sum_first(inner, variables)))
    else:
        body = sp.MatAdd(*_sum_first(terms, variables))
    return body if c == 1 else sp.MatMul(c, body)


def _is_minus(t: Any) -> bool:
    return isinstance(t, sp.MatMul) and len(t.args) == 2 and t.args[0] == -1


def _bare(t: Any) -> Any:
    return t.args[1] if _is_minus(t) else t


def _lift(args: list[Any]) -> list[Any]:
    """A product's factors with the numbers of inner products (and transposes) moved to the front."""
    out: list[Any] = []
    for a in args:
        if isinstance(a, sp.Transpose) and isinstance(a.arg, sp.MatMul) and _coeff(a.arg)[0] != 1:
            c, rest = _coeff(a.arg)
            out += [c, sp.Transpose(rest)]
        elif isinstance(a, sp.MatMul):
            out += list(a.args)
        else:
            out.append(a)
    return _numbers_first(out)


def regrouped(e: Any, variables: set) -> Any:
    """``e`` regrouped as people write it (unevaluated); equal to ``e`` by construction."""
    if not isinstance(e, sp.Basic) or not e.args:
        return e
    args = [regrouped(a, variables) for a in e.args]
    if isinstance(e, sp.MatAdd):
        return _regroup_sum(sp.MatAdd(*args), variables)
    if isinstance(e, sp.MatMul):
        lifted = _lift(args)
        return lifted[0] if len(lifted) == 1 else sp.MatMul(*lifted)
    if isinstance(e, sp.Transpose) and isinstance(args[0], sp.MatMul) and _coeff(args[0])[0] != 1:
        c, rest = _coeff(args[0])
        return sp.MatMul(c, sp.Transpose(rest))
    if isinstance(e, sp.Add):
        return sp.Add(*_sum_first(args, variables), evaluate=False)
    if isinstance(e, sp.Mul):
        out = _numbers_first(args)
        return out[0] if len(out) == 1 else sp.Mul(*out, evaluate=False)
    try:
        return e.func(*args, evaluate=False)
    except TypeError:
        return e.func(*args)


# --- proof --------------------------------------------------------------------------------


def _explicit(e: Any) -> Any:
    """``e`` with every matrix symbol written out entry by entry (concrete sizes only)."""
    syms = [s for s in e.atoms(sp.MatrixSymbol)]
    if not all(all(getattr(d, "is_Integer", False) for d in s.shape) for s in syms):
        raise ValueError("symbolic sizes")
    out = e.xreplace({s: sp.ImmutableMatrix(s.as_explicit()) for s in syms}).doit()
    return out[0, 0] if isinstance(out, sp.MatrixBase) and out.shape == (1, 1) else out


def proven_equal(shown: Any, objective: Any) -> bool:
    """Whether the displayed form equals the objective: structurally after evaluation, or entry
    by entry at the problem's (concrete) sizes.

    >>> x = sp.MatrixSymbol("x", 2, 1)
    >>> proven_equal(sp.MatMul(sp.Rational(1, 2), x.T * x), (x.T / 2) * x)
    True
    """
    try:
        if sp.expand(sp.sympify(shown, strict=True).doit() - objective.doit()) == 0:
            return True
    except Exception:  # noqa: BLE001 - matrix differences may not expand: try entry by entry
        pass
    try:
        return sp.simplify(sp.expand(_explicit(shown) - _explicit(objective))) == 0
    except Exception:  # noqa: BLE001 - not provable here: the evaluated form is shown instead
        return False


def _parsed(p) -> Any | None:
    from symcalc.parsing.parser import parse

    names = {v.name: v.symbol for v in p.variables + p.constants}
    try:
        with sp.evaluate(False):
            return _flat(parse(p.objective_text, names))
    except Exception:  # noqa: BLE001 - SymPy's simplify fails on unevaluated sizes (matrices)
        return None


def written_objective(p) -> Any | None:
    """The objective in the user's form, or None (it could not be proven equal)."""
    if not p.objective_text or p.objective is None:
        return None
    shown = _parsed(p)
    if shown is None and p.notation == "matrix":
        shown = regrouped(p.objective, {v.symbol for v in p.variables})
    if shown is None or shown == p.objective:
        return shown
    return shown if proven_equal(shown, p.objective) else None


def written_latex(p) -> str | None:
    """LaTeX of :func:`written_objective`, in the written order (None when there is none)."""
    shown = written_objective(p)
    return None if shown is None else latex(shown, order="none")
