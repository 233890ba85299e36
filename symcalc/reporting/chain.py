r"""A derivation in the form people write: one aligned equality chain per derivative.

The engine records every rule application (:attr:`Derivation.steps`); a person
writes the differential, brings it to the form :math:`\operatorname{tr}(G^\top
\mathrm{d}X)` and reads the gradient off, each line's rule in the margin. This
module groups the steps into those lines: the differential rules of a phase
become one line, the canonical moves (cyclic trace, transpose, Hadamard) one
line, the identification one, a simplification one. The Hessian is the
differential of the gradient, in one chain (not one per entry). The full list of
steps stays available for the appendix.

>>> import symcalc as sc
>>> study = sc.load_problem('objective = "x^2 + 3*x*y"\nvariables = {x="scalar", y="scalar"}').run()
>>> [c["title"] for c in chains(study.derivations["objective"], study.results)]
['Gradient', 'Hessian']
>>> [len(c["rows"]) for c in chains(study.derivations["objective"], study.results)]
[2, 2]
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from symcalc.printing.latex import equation, latex, options
from symcalc.printing.texsafe import escape_text
from symcalc.records import Derivation, Step
from symcalc.reporting.tex import WIDTH, TeX, display

__all__ = ["chains", "chain_lines", "textbook_form"]

_MARGIN = 24  # characters the rule's name takes in the margin


def _phases(d: Derivation) -> tuple[list[Step], list[Step]]:
    """(gradient steps, Hessian steps): split at the 'Hessian from the gradient' theorem."""
    for k, s in enumerate(d.steps):
        if s.rule.name == "hessian_from_gradient":
            return d.steps[:k], d.steps[k + 1 :]
    return list(d.steps), []


def _is_math(x: Any) -> bool:
    return isinstance(x, (sp.Basic, sp.MatrixBase))


_DROP = (" rule", " property", "the ", "of a ", "of ")


def _short(title: str) -> str:
    """A rule's title, short enough for the margin: 'Cyclic property of the trace' -> 'cyclic trace'."""
    t = title.lower()
    for w in _DROP:
        t = t.replace(w, " ")
    return " ".join(t.split())


def _titles(steps: list[Step], most: int = 2) -> str:
    """The distinct rules of some steps, as a short phrase for the margin (all in the appendix)."""
    seen: list[str] = []
    for s in steps:
        t = _short(s.rule.title or s.rule.name)
        if t not in seen:
            seen.append(t)
    shown = seen[:1]
    for t in seen[1:most]:
        if len(", ".join(shown + [t])) > _MARGIN + 8:
            break
        shown.append(t)
    return ", ".join(shown) + (", ..." if len(seen) > len(shown) else "")


def textbook_form(expr: Any) -> Any:
    """A scalar or explicit matrix brought toward a textbook form (together, factored), when
    that is shorter and provably equal; anything else unchanged.

    >>> x, y, nu = sp.symbols("x y nu", positive=True)
    >>> g = 2 * x * (-nu / 2 - 1) / (nu * (1 + (x**2 + y**2) / nu))
    >>> textbook_form(g)
    -x*(nu + 2)/(nu + x**2 + y**2)
    """
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(textbook_form)
    if not isinstance(expr, sp.Expr) or isinstance(expr, sp.MatrixExpr):
        return expr
    try:
        candidate = sp.factor(sp.cancel(sp.together(expr)))
    except (sp.PolynomialError, NotImplementedError, TypeError):
        return expr
    shorter = sp.count_ops(candidate) < sp.count_ops(expr)
    if shorter and sp.cancel(candidate - expr) == 0:
        return candidate
    return expr


def _row(lhs: str, rhs: Any, rule: str) -> dict:
    return dict(lhs=lhs, rhs=rhs, rule=rule)


def _gradient_rows(steps: list[Step], gradient: Any) -> list[dict]:
    rows = []
    diff = [s for s in steps if s.note == "differential"]
    canon = [s for s in steps if s.note == "canonical" and s.rule.kind == "canonical"]
    ident = [s for s in steps if s.rule.kind == "identification"]
    if diff:
        rows.append(_row(r"\mathrm{d}L", diff[-1].after, _titles(diff)))
    if canon and ident and _is_math(ident[0].before):
        rows.append(_row("", ident[0].before, _titles(canon)))
    if ident:
        rows.append(_row(r"\Longrightarrow\quad \nabla L", ident[-1].after, _titles(ident)))
    simp = [s for s in steps if s.note == "simplify"]
    last = rows[-1]["rhs"] if rows else None
    if simp and simp[-1].after != last:
        rows.append(_row("", simp[-1].after, _titles(simp)))
    return _finish(rows, gradient)


def _hessian_rows(steps: list[Step], gradient: Any, hessian: Any) -> list[dict]:
    rows = []
    ident = [s for s in steps if s.rule.kind == "identification"]
    work = [s for s in steps if s.rule.kind in ("linear", "product", "chain", "specific")]
    if isinstance(hessian, sp.MatrixBase) and len(ident) > 1:  # entry by entry
        before = [k for k, s in enumerate(steps) if s.rule.kind == "identification"]
        diffs = [steps[k - 1].after for k in before if k > 0]
        if len(diffs) == len(ident):
            rows.append(_row(r"\mathrm{d}\nabla L", sp.Matrix(diffs), _titles(work)))
        rows.append(_row(r"\Longrightarrow\quad \nabla^2 L", hessian, "identification"))
        return _finish(rows, hessian)
    top = [s for s in work if s.before == gradient]
    if top:
        rows.append(_row(r"\mathrm{d}\nabla L", top[-1].after, _titles(work)))
    elif work:
        rows.append(_row(r"\mathrm{d}\nabla L", work[-1].after, _titles(work)))
    canon = [s for s in steps if s.rule.kind == "canonical"]
    if ident:
        rule = _titles(canon + ident) if canon else _titles(ident)
        rows.append(_row(r"\Longrightarrow\quad \nabla^2 L", ident[-1].after, rule))
    return _finish(rows, hessian)


def _finish(rows: list[dict], result: Any) -> list[dict]:
    """Close the chain on the result as the study states it, then on its textbook form."""
    if result is None:
        return rows
    last = rows[-1]["rhs"] if rows else None
    if last is not None and _is_math(last) and _is_math(result) and last != result:
        rows.append(_row("", result, "simplify"))
        last = result
    nicer = textbook_form(result)
    if nicer != result:
        rows.append(_row("", nicer, "collect, factor"))
    return rows


def _uses_cotangent(steps: list[Step]) -> bool:
    names = set()
    for s in steps:
        for x in (s.before, s.after):
            names |= {getattr(a, "name", "") for a in getattr(x, "free_symbols", set())}
    return "C" in names


def chain_lines(rows: list[dict], differentials: set[str]) -> str:
    r"""The align* body of a chain: ``lhs &= rhs`` rows, each rule set in the margin (\tag*)."""
    body = []
    with options(differentials=differentials, long_columns_as_rows=4, show_scalar_trace=True):
        name = ""
        for row in rows:
            lhs = row["lhs"]
            if lhs:
                name = lhs.replace(r"\Longrightarrow\quad ", "")
            elif isinstance(row["rhs"], sp.MatrixBase):  # entries need the matrix's name
                lhs = name
            part = equation(lhs, row["rhs"], width=WIDTH - _MARGIN)
            lines = part.split("\\\\\n")
            tag = r"\tag*{\small " + escape_text(row["rule"]) + "}" if row["rule"] else ""
            body.append(lines[0] + tag)
            body += [line + r"\notag" if r"\tag" not in line else line for line in lines[1:]]
    return "\\\\\n".join(body)


def chains(d: Derivation, results: dict) -> list[dict]:
    """The gradient's chain and the Hessian's, as (title, words, rows, display, lines)."""
    grad_steps, hess_steps = _phases(d)
    wrt = d.wrt if isinstance(d.wrt, (list, tuple)) else [d.wrt]
    differentials = {"d" + getattr(w, "name", str(w)) for w in wrt}
    gradient, hessian = results.get("gradient"), results.get("hessian")
    if results.get("jacobian") is not None and any(s.note == "jacobian" for s in d.steps):
        return [_jacobian_chain(d.steps, results["jacobian"], differentials)]
    out = []
    if grad_steps:
        rows = _gradient_rows(grad_steps, gradient)
        words = (
            "The differential of the objective, term by term; then brought to the form "
            r"$\operatorname{tr}(G^\top \mathrm{d}x) = G^\top \mathrm{d}x$, from which the "
            r"gradient $G = \nabla L$ is read off. The margin names each line's rules; the "
            "appendix lists every rule application."
        )
        out.append(_chain("Gradient", words, rows, differentials))
    if hess_steps and hessian is not None:
        rows = _hessian_rows(hess_steps, gradient, hessian)
        words = r"The Hessian is the differential of the gradient: $\mathrm{d}\nabla L = \nabla^2 L\,\mathrm{d}x$."
        if _uses_cotangent(hess_steps):
            words += (
                r" To read $\nabla^2 L$ off, pair $\mathrm{d}\nabla L$ with a constant vector $C$ "
                r"of the shape of $\nabla L$ (a cotangent): $\operatorname{tr}(C^\top\mathrm{d}\nabla L)$ "
                r"is a scalar differential, and bringing it to the form "
                r"$\operatorname{tr}(C^\top H\,\mathrm{d}x)$ identifies $H = \nabla^2 L$."
            )
        out.append(_chain("Hessian", words, rows, differentials))
    return out


def _jacobian_chain(steps: list[Step], jacobian: Any, differentials: set[str]) -> dict:
    """A vector field: the differential of each component, then the Jacobian read off."""
    marks = [k for k, s in enumerate(steps) if s.rule.kind == "identification"]
    diffs = [steps[k - 1].after for k in marks if k > 0]
    work = [s for s in steps if s.rule.kind != "identification"]
    rows = []
    if diffs and len(diffs) == len(marks):
        rows.append(_row(r"\mathrm{d}F", sp.Matrix(diffs), _titles(work)))
    rows.append(_row(r"\Longrightarrow\quad J_F", jacobian, "identification"))
    words = (
        r"The differential of each component $F_i$; the coefficient of $\mathrm{d}x_j$ in "
        r"$\mathrm{d}F_i$ is the entry $(i, j)$ of the Jacobian: $\mathrm{d}F = J_F\,\mathrm{d}x$."
    )
    return _chain("Jacobian", words, _finish(rows, jacobian), differentials)


def _chain(title: str, words: str, rows: list[dict], differentials: set[str]) -> dict:
    body = chain_lines(rows, differentials)
    with options(differentials=differentials, show_scalar_trace=True):
        shown = [
            dict(lhs=TeX(r["lhs"]), rhs=TeX(latex(r["rhs"])), rule=r["rule"])
            for r in rows
            if _is_math(r["rhs"])
        ]
    return dict(
        title=title,
        words=TeX(words),
        rows=shown,
        display=display(body, lines_fit=True),  # \tag needs align*, never aligned
        lines=body.count("\\\\\n") + 1 if body else 0,
    )
