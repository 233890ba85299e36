r"""A derivation in the form people write: one aligned equality chain per derivative.

The engine records every rule application (:attr:`Derivation.steps`); a person
writes the differential, brings it to the form :math:`\operatorname{tr}(G^\top
\mathrm{d}X)` and reads the gradient off, each line's rule in the margin. This
module groups the steps into those lines: the differential rules of a phase
become one line, the canonical moves (cyclic trace, transpose, Hadamard) one
line, the identification one, a simplification one. The Hessian is the
differential of the gradient, in one chain (not one per entry). The gradient's
chain opens on the differential of the objective as written; long arguments of
elementwise functions get a name introduced in words (``z = (-y) ⊙ (Xw)``), and
the lines are regrouped toward textbook forms (:mod:`symcalc.reporting.shorthand`).
Each line's margin names its rules and their references. The full list of steps
stays available for the appendix.

>>> import symcalc as sc
>>> study = sc.load_problem('objective = "x^2 + 3*x*y"\nvariables = {x="scalar", y="scalar"}').run()
>>> [c["title"] for c in chains(study.derivations["objective"], study.results)]
['Gradient', 'Hessian']
>>> [len(c["rows"]) for c in chains(study.derivations["objective"], study.results)]
[3, 2]
>>> chains(study.derivations["objective"], study.results)[0]["rows"][0]["rhs"]
'\\mathrm{d}\\left(x^{2} + 3 x y\\right)'
"""

from __future__ import annotations

import re
from typing import Any

import sympy as sp

from symcalc.printing.latex import equation, latex, options
from symcalc.printing.texsafe import escape_text
from symcalc.records import Derivation, Step
from symcalc.reporting.shorthand import (
    argument_names,
    numerically_equal,
    pair_names,
    shorten,
    shorten_pairs,
    tidy,
)
from symcalc.reporting.tex import WIDTH, TeX, display, visible_width
from symcalc.reporting.written import regrouped

__all__ = ["chains", "chain_lines", "textbook_form", "displayed_form", "in_shorthand"]

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


#: margin names of the longest titles
_SHORTER = {
    "hadamard product inside a trace": "Hadamard in a trace",
    "first identification theorem": "identification",
    "identification partial derivatives": "identification",
    "identification jacobian": "identification",
    "linearity trace": "trace is linear",
}


def _short(title: str) -> str:
    """A rule's title, short enough for the margin: 'Cyclic property of the trace' -> 'cyclic trace'."""
    t = title.lower()
    for w in _DROP:
        t = t.replace(w, " ")
    t = " ".join(t.split())
    return _SHORTER.get(t, t)


#: how the margin cites the references (the words under each chain spell them out)
_SOURCES = (("Matrix Cookbook ", "MC "), ("Magnus & Neudecker, ", "MN "), ("Table ", "T. "))


def _cite(ref: str) -> str:
    """A reference, short for the margin: 'Matrix Cookbook (38)' -> 'MC (38)'.

    >>> _cite("Magnus & Neudecker, Table 9.2")
    'MN T. 9.2'
    """
    for long, short in _SOURCES:
        ref = ref.replace(long, short)
    return ref


def _refs(steps: list[Step]) -> list[str]:
    seen: list[str] = []
    for s in steps:
        r = _cite(s.rule.ref) if s.rule.ref else ""
        if r and r not in seen:
            seen.append(r)
    return seen


def _titles(steps: list[Step]) -> str:
    """The distinct rules of some steps and their references, in full, for the margin (which
    wraps a long note over lines; every application, in full, is in the appendix)."""
    seen: list[str] = []
    for s in steps:
        t = _short(s.rule.title or s.rule.name)
        if t not in seen:
            seen.append(t)
    refs = _refs(steps)
    return ", ".join(seen) + ("; " + ", ".join(refs) if refs else "")


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


def displayed_form(expr: Any) -> Any:
    """:func:`textbook_form`, and for an explicit matrix its common factor in front (unevaluated,
    for display only).

    >>> x, y = sp.symbols("x y")
    >>> displayed_form(sp.Matrix([[x / (x + x * y)], [2 / (1 + y)]]))
    1/(y + 1)*Matrix([
    [1],
    [2]])
    """
    nicer = textbook_form(expr)
    if not isinstance(nicer, sp.MatrixBase):
        return nicer
    factored = _factored_out(nicer)
    fits = visible_width(latex(factored)) <= WIDTH - _MARGIN  # else entry by entry, unfactored
    return factored if fits or factored is nicer else nicer


def _factored_out(M: sp.MatrixBase) -> Any:
    r"""An explicit matrix with the factor common to its entries in front, unevaluated:
    :math:`\frac{\nu + 2}{(\nu + x^2)^2} [\dots]`; the matrix itself when nothing is common.

    >>> x, y = sp.symbols("x y")
    >>> _factored_out(sp.Matrix([[2 * x / (1 + y)], [4 / (1 + y)]]))
    (2/(y + 1))*Matrix([
    [x],
    [2]])
    """
    pairs = [sp.fraction(sp.factor(e)) for e in M]
    if len(pairs) < 2 or any(e.has(sp.Piecewise) for e in M):
        return M
    nums, dens = [n for n, _ in pairs], [d for _, d in pairs]
    top = sp.gcd_list([n for n in nums if n != 0]) if any(n != 0 for n in nums) else 1
    bottom = dens[0] if all(sp.expand(d - dens[0]) == 0 for d in dens) else 1
    c = sp.factor(top / bottom)
    first = next((n for n in nums if n != 0), 1)
    if (first / top).could_extract_minus_sign():  # -c [x; y], not c [-x; -y]
        c = -c
    if c == 1 or c == -1 or not c.free_symbols and c.is_Integer:
        return M
    inner = sp.ImmutableMatrix(M.shape[0], M.shape[1], [_collected(sp.cancel(e / c)) for e in M])
    shown = sp.MatMul(c, inner)
    if any(sp.cancel(a - b) != 0 for a, b in zip(sp.Matrix(c * inner), M)):
        return M
    return shown


def _collected(e: Any) -> Any:
    """An entry factored; a differential ``a dx + b dy`` collected on dx, dy with a, b factored.

    >>> x, y, dx, dy = sp.symbols("x y dx dy")
    >>> _collected(x**2 * dx - y**2 * dx + 2 * x * y * dy)
    dx*(x - y)*(x + y) + 2*dy*x*y
    """
    names = {getattr(s, "name", "") for s in e.free_symbols}
    ds = [s for s in e.free_symbols if s.name.startswith("d") and s.name[1:] in names]
    if not ds:
        return sp.factor(e)
    return sp.collect(sp.expand(e), sorted(ds, key=str), sp.factor)


def _row(lhs: str, rhs: Any, rule: str) -> dict:
    return dict(lhs=lhs, rhs=rhs, rule=rule)


def _gradient_rows(
    steps: list[Step], gradient: Any, f: str = "L", nabla: str = r"\nabla"
) -> list[dict]:
    rows = []
    diff = [s for s in steps if s.note == "differential"]
    canon = [s for s in steps if s.note == "canonical" and s.rule.kind == "canonical"]
    ident = [s for s in steps if s.rule.kind == "identification"]
    if diff:
        rows.append(_row(r"\mathrm{d}" + f, diff[-1].after, _titles(diff)))
    if canon and ident and _is_math(ident[0].before):
        rows.append(_row("", ident[0].before, _titles(canon)))
    if ident:
        rows.append(
            _row(r"\Longrightarrow\quad " + nabla + " " + f, ident[-1].after, _titles(ident))
        )
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
            shown = _times_differentials(sp.Matrix(diffs), hessian)
            rows.append(_row(r"\mathrm{d}\nabla L", shown, _titles(work)))
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


def _times_differentials(d_grad: sp.Matrix, hessian: Any) -> Any:
    r"""d∇L as the Hessian's textbook form times the column of differentials (``H dx``), when
    that is what it is; else d∇L itself.

    >>> x, y, dx, dy = sp.symbols("x y dx dy")
    >>> _times_differentials(sp.Matrix([2 * y * dy, 2 * y * dx + 2 * x * dy]), sp.Matrix([[0, 2 * y], [2 * y, 2 * x]]))
    Matrix([
    [  0, 2*y],
    [2*y, 2*x]])*Matrix([
    [dx],
    [dy]])
    """
    if not isinstance(hessian, sp.MatrixBase) or hessian.shape[0] != d_grad.shape[0]:
        return d_grad
    names = {getattr(s, "name", "") for s in d_grad.free_symbols}
    ds = {s.name: s for s in d_grad.free_symbols if s.name[:1] == "d" and s.name[1:] in names}
    variables = sorted((s for s in hessian.free_symbols | d_grad.free_symbols), key=str)
    order = [ds.get("d" + v.name) for v in variables if "d" + v.name in ds]
    if len(order) != hessian.shape[1]:
        return d_grad
    column = sp.ImmutableMatrix(order)
    if any(sp.cancel(a - b) != 0 for a, b in zip(hessian * column, d_grad)):
        return d_grad
    shown = displayed_form(hessian)
    if visible_width(latex(shown)) > WIDTH - _MARGIN:  # too wide for one line: d∇L as it is
        return d_grad
    return sp.MatMul(shown, column)


def _finish(rows: list[dict], result: Any) -> list[dict]:
    """Close the chain on the result as the study states it, then on its textbook form."""
    if result is None:
        return rows
    last = rows[-1]["rhs"] if rows else None
    if last is not None and _is_math(last) and _is_math(result) and last != result:
        rows.append(_row("", result, "simplify"))
    nicer = displayed_form(result)
    if nicer != result and rows:  # the result read off in its textbook form, on the same line
        rows[-1] = dict(rows[-1], rhs=nicer, rule=_join(rows[-1]["rule"], "factored"))
    elif nicer != result:
        rows.append(_row("", nicer, "collect, factor"))
    return rows


def _join(rule: str, more: str) -> str:
    head, _, refs = rule.partition("; ")
    return f"{head}, {more}" + (f"; {refs}" if refs else "")


def _uses_cotangent(steps: list[Step]) -> bool:
    names = set()
    for s in steps:
        for x in (s.before, s.after):
            names |= {getattr(a, "name", "") for a in getattr(x, "free_symbols", set())}
    return "C" in names


_REF_SPACE = re.compile(r"\b(MC|MN|T\.|ch\.) (?=[(\d]|T\.|ch\.)")


def _margin_note(rule: str) -> str:
    r"""A row's rules in the margin: ``\tag*`` with the note in ``\rulenote`` (the preamble's
    macro: one line when it fits, else wrapped, flush right, in a box of the margin's width).

    >>> _margin_note("transpose, sum; MC (44)")
    '\\tag*{\\small\\rulenote transpose, sum; MC\xa0(44)\\endrulenote}'
    """
    note = _REF_SPACE.sub("\\1\u00a0", escape_text(rule))  # "MC (38)" never split over lines
    return r"\tag*{\small\rulenote " + note + r"\endrulenote}"


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
            if isinstance(row["rhs"], str):  # already LaTeX: d(the objective as written)
                part = f"{lhs} &= {row['rhs']}"
            else:
                part = equation(lhs, row["rhs"], width=WIDTH - _MARGIN)
            lines = part.split("\\\\\n")
            tag = _margin_note(row["rule"]) if row["rule"] else ""
            body.append(lines[0] + tag)
            body += [line + r"\notag" if r"\tag" not in line else line for line in lines[1:]]
    return "\\\\\n".join(body)


def _opening(written: str | None, rows: list[dict], f: str = "L") -> list[dict]:
    """The chain opened on d(objective as written), when it fits on its line."""
    if not written or not rows or visible_width(written) > WIDTH - 12:
        return rows
    first = dict(rows[0], lhs="")
    return [
        _row(r"\mathrm{d}" + f, TeX(r"\mathrm{d}\left(" + written + r"\right)"), "as written"),
        first,
    ] + rows[1:]


def _as_written(e: Any, variables: set) -> Any:
    """A matrix line regrouped as people write it (constants out of sums and transposes), when
    that checks equal at random values; else the line itself."""
    if not isinstance(e, sp.Basic) or not e.atoms(sp.MatrixSymbol) or isinstance(e, sp.MatrixBase):
        return e
    nicer = regrouped(e, variables)
    return nicer if nicer != e and numerically_equal(nicer, e) else e


def _regrouped_row(e: Any, variables: set) -> Any:
    """A chain's line (or a result) in its textbook grouping."""
    if isinstance(e, sp.MatrixBase):
        return displayed_form(e)
    return tidy(_as_written(e, variables)) if _is_math(e) else e


def in_shorthand(expr: Any, shorthand: dict | None) -> Any:
    """A result written with the names its chain introduced (``z``, ``s``, ...), so that the
    results section reads as the chain above it; ``expr`` itself when there are none.

    >>> X, w, y = (sp.MatrixSymbol(n, *s) for n, s in (("X", (4, 2)), ("w", (2, 1)), ("y", (4, 1))))
    >>> z = sp.MatrixSymbol("z", 4, 1)
    >>> shown = in_shorthand(X.T * sp.hadamard_product(-y, X * w).applyfunc(sp.exp), dict(names={sp.hadamard_product(-y, X * w): z}, pairs={}, variables={w}))
    >>> from symcalc.printing.text import text
    >>> text(shown)
    'X.T*exp(z)'
    """
    if not shorthand or not _is_math(expr):
        return expr
    e = _regrouped_row(expr, shorthand["variables"])
    return shorten_pairs(shorten(e, shorthand["names"]), shorthand["pairs"]) if _is_math(e) else e


def _shortened(
    groups: list[list[dict]], results: dict, variables: set = frozenset()
) -> tuple[list[list[dict]], str, dict]:
    """Rows in textbook groupings, with long arguments of elementwise functions named; the
    sentence that introduces the names; and the names (for :func:`in_shorthand`)."""

    def regroup(e: Any) -> Any:
        return _regrouped_row(e, variables)

    groups = [[dict(r, rhs=regroup(r["rhs"])) for r in rows] for rows in groups]
    exprs = [r["rhs"] for rows in groups for r in rows if _is_math(r["rhs"])]
    names = argument_names(exprs)
    taken = {str(z) for z in names.values()}
    for e in exprs:
        taken |= {str(a) for a in getattr(e, "free_symbols", set())}
    pairs = pair_names([shorten(e, names) for e in exprs], taken)
    out = []
    for rows in groups:
        new: list[dict] = []
        for r in rows:
            rhs = shorten_pairs(shorten(r["rhs"], names), pairs) if _is_math(r["rhs"]) else r["rhs"]
            if new and not r["lhs"] and _is_math(rhs) and rhs == new[-1]["rhs"]:
                continue  # the same line again after regrouping
            new.append(dict(r, rhs=rhs))
        out.append(new)
    with options(show_scalar_trace=True):
        said = [f"${latex(z)} = {latex(a)}$" for a, z in names.items()]
        said += [f"${latex(z)} = {latex(a)}$" for a, z in pairs.items()]
    words = f" Here {', '.join(said)} (vectors of the size of the data)." if said else ""
    return out, words, dict(names=names, pairs=pairs, variables=variables)


_LEGEND = (
    " References in the margin: MC, the Matrix Cookbook (Petersen and Pedersen); MN, Magnus "
    "and Neudecker, Matrix Differential Calculus."
)


def chains(
    d: Derivation,
    results: dict,
    written: str | None = None,
    *,
    f: str = "L",
    title: str = "Gradient",
) -> list[dict]:
    """The gradient's chain and the Hessian's, as (title, words, rows, display, lines).

    ``written`` is the LaTeX of the objective as the user wrote it: the gradient's chain
    opens on its differential (default: the expression differentiated). ``f`` is the LaTeX
    name of the function differentiated (a loss: ``\\ell``); for a name other than L the
    gradient is written with its variable, ``\\nabla_{W} \\ell``.
    """
    grad_steps, hess_steps = _phases(d)
    wrt = d.wrt if isinstance(d.wrt, (list, tuple)) else [d.wrt]
    differentials = {"d" + getattr(w, "name", str(w)) for w in wrt}
    gradient, hessian = results.get("gradient"), results.get("hessian")
    if results.get("jacobian") is not None and any(s.note == "jacobian" for s in d.steps):
        return [_jacobian_chain(d.steps, results["jacobian"], differentials)]
    out = []
    nabla = r"\nabla" if f == "L" else r"\nabla_{" + " ".join(latex(w) for w in wrt) + "}"
    grad_rows = _gradient_rows(grad_steps, gradient, f, nabla) if grad_steps else []
    hess_rows = (
        _hessian_rows(hess_steps, gradient, hessian) if hess_steps and hessian is not None else []
    )
    variables = {w for w in wrt if isinstance(w, sp.Basic)}
    (grad_rows, hess_rows), named, shorthand = _shortened(
        [grad_rows, hess_rows], results, variables
    )
    if written is None and _is_math(d.expr) and not isinstance(d.expr, sp.MatrixBase):
        with options(differentials=differentials):
            written = latex(d.expr)
    if grad_steps:
        rows = _opening(written, grad_rows, f)
        what = "the objective" if f == "L" else f"${f}$"
        words = (
            f"The differential of {what}, term by term; then brought to the form "
            r"$\operatorname{tr}(G^\top \mathrm{d}x) = G^\top \mathrm{d}x$, from which the "
            rf"gradient $G = {nabla} {f}$ is read off. The margin names each line's rules; the "
            "appendix lists every rule application." + named
        )
        out.append(dict(_chain(title, words, rows, differentials), shorthand=shorthand))
    if hess_rows:
        rows = hess_rows
        words = r"The Hessian is the differential of the gradient: $\mathrm{d}\nabla L = \nabla^2 L\,\mathrm{d}x$."
        if _uses_cotangent(hess_steps):
            words += (
                r" To read $\nabla^2 L$ off, pair $\mathrm{d}\nabla L$ with a constant vector $C$ "
                r"of the shape of $\nabla L$ (a cotangent): $\operatorname{tr}(C^\top\mathrm{d}\nabla L)$ "
                r"is a scalar differential, and bringing it to the form "
                r"$\operatorname{tr}(C^\top H\,\mathrm{d}x)$ identifies $H = \nabla^2 L$."
            )
        out.append(dict(_chain("Hessian", words + named, rows, differentials), shorthand=shorthand))
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
    if any("MC (" in r["rule"] or "MN " in r["rule"] for r in rows):
        words += _LEGEND
    body = chain_lines(rows, differentials)
    with options(differentials=differentials, show_scalar_trace=True):
        shown = [
            dict(
                lhs=TeX(r["lhs"] or ""),
                rhs=r["rhs"] if isinstance(r["rhs"], str) else TeX(latex(r["rhs"])),
                rule=r["rule"],
            )
            for r in rows
            if _is_math(r["rhs"]) or isinstance(r["rhs"], str)
        ]
    return dict(
        title=title,
        words=TeX(words),
        rows=shown,
        display=display(body, lines_fit=True),  # \tag needs align*, never aligned
        lines=body.count("\\\\\n") + 1 if body else 0,
    )
