r"""The objective as the user wrote it: the file's text parsed without evaluation.

SymPy evaluates as it builds (``-1/2*(x - mu)`` becomes ``mu/2 - x/2``); a report
shows the objective in the user's own order and grouping. The text is read by
symcalc's own parser (never ``eval``) with SymPy's evaluation switched off; the
nested sums and products the parser builds are flattened, and the result is
used only when it equals the objective the engine differentiated. Matrix
problems, whose shapes the parser must evaluate to check, keep the evaluated form.

>>> import symcalc as sc
>>> p = sc.load_problem('objective = "x^3 - 3*x + y^2"\nvariables = {x="scalar", y="scalar"}')
>>> written_latex(p)
'x^{3} - 3 x + y^{2}'
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from symcalc.printing.latex import latex

__all__ = ["written_objective", "written_latex"]


def _flat(e: Any) -> Any:
    """Nested unevaluated sums and products as one sum or product each, still unevaluated."""
    if not isinstance(e, sp.Basic) or not e.args or isinstance(e, sp.MatrixBase):
        return e
    args = [_flat(a) for a in e.args]
    if isinstance(e, (sp.Add, sp.Mul)):
        out: list[Any] = []
        for a in args:
            out += list(a.args) if type(a) is type(e) else [a]
        return type(e)(*out, evaluate=False)
    try:
        return e.func(*args, evaluate=False)
    except TypeError:
        return e.func(*args)


def written_objective(p) -> Any | None:
    """The objective in the user's form, or None (matrix notation, or it would not match)."""
    from symcalc.parsing.parser import parse

    if p.notation == "matrix" or not p.objective_text or p.objective is None:
        return None
    names = {v.name: v.symbol for v in p.variables + p.constants}
    try:
        with sp.evaluate(False):
            shown = _flat(parse(p.objective_text, names))
        same = sp.expand(sp.sympify(shown, strict=True).doit() - p.objective) == 0
    except Exception:  # noqa: BLE001 - the user's form is a nicety: fall back to the evaluated one
        return None
    return shown if same else None


def written_latex(p) -> str | None:
    """LaTeX of :func:`written_objective`, in the written order (None when there is none)."""
    shown = written_objective(p)
    return None if shown is None else latex(shown, order="none")
