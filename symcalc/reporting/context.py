r"""The report's context: everything the templates show, as finished LaTeX or plain text.

``study_context(study, ...)`` and ``derivation_context(d)`` build the one dict
both templates (PDF and HTML) render; :mod:`symcalc.reporting.sections` builds
the analysis sections it includes.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> ctx = derivation_context(Derivation(expr=x**2, wrt=(x,), results={"gradient": sp.Matrix([2*x])}))
>>> ctx["results"][0]["title"]
'Gradient'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sympy as sp

from symcalc.printing.latex import _Names, _sum_lines, equation, latex, visible_width
from symcalc.printing.texsafe import escape_text
from symcalc.records import Derivation
from symcalc.reporting.chain import chains, in_shorthand, textbook_form
from symcalc.reporting.sections import (
    _claim_context,
    _field_context,
    _gaussian_context,
    _kernel_expressions,
    _landscape_context,
    _point_tex,
    _sci,
    _score_matching_context,
    _self_checks,
    _summary,
    _vectorization_context,
    loss_latex,
)
from symcalc.reporting.tex import WIDTH, TeX, code_text, display, eq, fit_tex, inline
from symcalc.reporting.words import kernel_listing
from symcalc.reporting.written import written_latex

# ---------------------------------------------------------------------------
# Context: everything the templates show, as finished LaTeX or plain text
# ---------------------------------------------------------------------------

_WIDTH = WIDTH


def _empty_context() -> dict:
    return dict(
        title="Derivation report",
        source="",
        description="",
        variables=[],
        constants=[],
        assumptions=[],
        objective=None,
        field=None,
        steps=[],
        steps_total=0,
        chains=[],
        rules=[],
        results=[],
        field_analysis=None,
        gaussian=None,
        score_matching=None,
        landscape=None,
        self_checks=[],
        finite_differences=[],
        claims=[],
        figures=[],
        kernel=None,
        vectorization=None,
        notes=[],
        summary=[],
    )


def derivation_context(d: Derivation) -> dict:
    ctx = _empty_context()
    wrt = list(d.wrt) if isinstance(d.wrt, (list, tuple)) else [d.wrt]
    ctx["variables"] = [dict(name=inline(w), shape=_shape_words(w), description="") for w in wrt]
    ctx["objective"] = dict(words="The expression differentiated.", display=eq("f", d.expr))
    ctx["steps"], ctx["steps_total"] = _steps(d, 40)
    ctx["chains"] = chains(d, d.results)
    ctx["rules"] = _rules(d)
    ctx["results"] = _results(d.results, wrt)
    ctx["self_checks"] = _self_checks(d.checks)
    return ctx


def study_context(
    study, want_figures: bool, kernel: bool | None, progress
) -> tuple[dict, dict, dict]:
    p = study.problem
    ctx = _empty_context()
    ctx["title"] = p.report.title or p.title
    ctx["source"] = Path(p.source).name if p.source != "<text>" else ""
    ctx["description"] = p.description
    ctx["variables"] = [
        dict(name=TeX(_var_name(v)), shape=_shape_words(v), description=v.description)
        for v in p.variables
    ]
    ctx["constants"] = [
        dict(
            name=TeX(_var_name(v)),
            shape=_shape_words(v),
            description=v.description,
            value=_value_tex(v),
        )
        for v in p.constants
    ]
    ctx["assumptions"] = [
        TeX(_assumption_tex(v, s)) for v in p.variables + p.constants for s in v.structure
    ]
    if p.objective is not None:
        written = written_latex(p)
        shown = display(f"{_objective_lhs(p)} &= {written}") if written else None
        ctx["objective"] = dict(
            words=_objective_words(p), display=shown or eq(_objective_lhs(p), p.objective)
        )
    else:
        comps = sp.Matrix(p.field)
        ctx["field"] = dict(
            words=TeX(
                rf"A vector field on $\mathbb{{R}}^{{{len(p.wrt)}}}$, with components "
                "written in the file as: " + "; ".join(code_text(t) for t in p.field_text or [])
            ),
            display=display(_vector_field_body(comps, p.wrt)),
        )
    progress("typesetting the derivation steps")
    steps, total = [], 0
    rules = []
    for d in study.derivations.values():
        s, t = _steps(d, p.report.steps, start=len(steps) + 1)
        steps += s
        total += t
        rules += [r for r in _rules(d) if r["name"] not in {x["name"] for x in rules}]
    ctx["steps"], ctx["steps_total"], ctx["rules"] = steps, total, rules
    written = written_latex(p)
    ctx["chains"] = [
        c
        for key, d in study.derivations.items()
        if d.steps
        for c in _derivation_chains(key, d, study, written)
    ]

    def chains_of(d, study, written):  # the objective's chains, already typeset above
        return [c for c in ctx["chains"] if c.get("derivation") is d]

    progress("typesetting the results")
    objective_chains = (
        chains_of(study.derivations["objective"], study, written)
        if "objective" in study.derivations and study.derivations["objective"].steps
        else []
    )
    ctx["results"] = _results(
        {k: v for k, v in study.results.items() if k in ("gradient", "hessian", "jacobian")},
        p.wrt,
        p,
        shorthand=next((c["shorthand"] for c in objective_chains if "shorthand" in c), None),
    )
    if study.field is not None:
        ctx["field_analysis"] = _field_context(study.field, p)
    if study.gaussian is not None:
        ctx["gaussian"] = _gaussian_context(study.gaussian, p)
    if study.score_matching is not None:
        ctx["score_matching"] = _score_matching_context(study.score_matching, p)
    if study.landscape is not None:
        ctx["landscape"] = _landscape_context(study.landscape, p)
    ctx["self_checks"] = _self_checks(study.checks)
    ctx["finite_differences"] = [
        dict(
            name=fd.name,
            step=TeX(_sci(fd.step)),
            error=TeX(_sci(fd.max_abs_error)),
            scale=TeX(_sci(fd.max_abs_value)),
            passed=fd.passed,
            point=TeX(_point_tex(fd.point)),
        )
        for fd in study.finite_differences
        + (study.score_matching.checks if study.score_matching is not None else [])
    ]
    ctx["claims"] = [_claim_context(c, p) for c in study.claims]
    if study.vectorization is not None:
        ctx["vectorization"] = _vectorization_context(study.vectorization, p)
    figs: dict[str, bytes] = {}
    figure_notes: list[str] = []
    # file names unique per report: several .tex files may share a directory
    prefix = _slug(Path(p.source).stem) if p.source not in ("<text>", "command line") else "report"
    if want_figures and p.report.figure:
        progress("drawing figures")
        from symcalc.reporting import figures as F

        try:
            drawn = F.figures_for(study)
        except Exception:  # noqa: BLE001 - a figure is optional: say why it is missing
            drawn = []
            figure_notes.append(
                "the figure could not be drawn: the function could not be evaluated on the plotting grid"
            )
        for name, caption, data in drawn:
            name = f"{prefix}-{name}"
            figs[name] = data
            ctx["figures"].append(dict(file=name, caption=caption))
    listings: dict[str, str] = {}
    show_kernel = p.report.kernel if kernel is None else kernel
    if show_kernel and study.kernel_source:
        # a file of its own: nothing in the source (comments, strings) can end the listing
        listings[f"{prefix}-kernel.py"] = kernel_listing(
            study.kernel_source, _kernel_expressions(study)
        )
        ctx["kernel"] = TeX(f"{prefix}-kernel.py")
    ctx["notes"] = list(study.notes) + figure_notes
    ctx["summary"] = _summary(study)
    return ctx, figs, listings


# --- pieces -------------------------------------------------------------------


def _derivation_chains(key: str, d: Derivation, study, written: str | None) -> list:
    """The chains of one derivation: the objective's (opened on the objective as written), or
    a loss gradient's ("loss:W", score matching), opened on the loss as written."""
    if key.startswith("loss:") and study.score_matching is not None:
        title = f"Gradient of the denoising loss with respect to {key.split(':', 1)[1]}"
        out = chains(d, d.results, loss_latex(study), f=r"\ell", title=title)
    else:
        out = chains(d, study.results, written if key == "objective" else None)
    return [dict(c, derivation=d) for c in out]


def _slug(text: str) -> str:
    """A file-name part safe in \\includegraphics: letters, digits and '-'."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "report"


def _var_name(v) -> str:
    sym = v.symbol
    if isinstance(sym, sp.MatrixBase):
        name = v.name
        return "$" + latex(sp.Symbol(name)) + "$"
    return "$" + latex(sym if not isinstance(sym, sp.MatrixSymbol) else sp.Symbol(v.name)) + "$"


def _shape_words(v) -> TeX:
    shape = getattr(v, "shape", ())
    if isinstance(v, sp.Symbol) or shape == ():
        return TeX(r"scalar, $\in \mathbb{R}$")
    if hasattr(v, "kind") and isinstance(v.kind, str) and len(shape) == 1:
        return TeX(rf"vector, $\in \mathbb{{R}}^{{{shape[0]}}}$")
    if len(shape) == 2 and shape[1] == 1 and not hasattr(v, "structure"):
        return TeX(rf"vector, $\in \mathbb{{R}}^{{{shape[0]}}}$")
    return TeX(rf"matrix, $\in \mathbb{{R}}^{{{shape[0]} \times {shape[1]}}}$")


def _value_tex(v) -> TeX:
    if v.value is None:
        return TeX("symbolic")
    if isinstance(v.value, list):

        def num(x):
            return sp.Integer(int(x)) if float(x).is_integer() else sp.Float(x, 4)

        if not isinstance(v.value[0], list):  # a vector: a transposed row, compact in a table
            row = sp.Matrix([[num(x) for x in v.value]])
            return TeX("$" + latex(row) + r"^\top$")
        M = sp.Matrix([[num(x) for x in r] for r in v.value])
        if visible_width(latex(M)) > 40 or M.rows > 6:
            return TeX(f"given ({M.rows} x {M.cols} numbers)".replace(" x ", r" $\times$ "))
        return TeX("$" + latex(M) + "$")
    return TeX("$" + latex(sp.nsimplify(v.value)) + "$")


def _assumption_tex(v, s: str) -> str:
    words = {
        "symmetric": r"is symmetric: $%s = %s^\top$",
        "positive_definite": r"is positive definite: $%s \succ 0$",
        "positive": r"is positive: $%s > 0$",
        "diagonal": r"is diagonal",
    }
    name = latex(sp.Symbol(v.name))
    w = words[s]
    return (
        "$"
        + name
        + "$ "
        + (w % ((name, name) if w.count("%s") == 2 else (name,)) if "%s" in w else w)
    )


def _objective_lhs(p) -> str:
    args = ", ".join(latex(sp.Symbol(v.name)) for v in p.variables)
    return rf"L\left({args}\right)"


def _objective_words(p) -> str:
    names = ", ".join(v.name for v in p.variables)
    if not p.objective_text:
        return f"The objective, a scalar function of {names}."
    return TeX(
        escape_text(f"The objective, a scalar function of {names}, written in the file as: ")
        + code_text(p.objective_text)
    )


def _vector_field_body(F: sp.Matrix, wrt: list) -> str:
    names = _Names()
    lines = []
    for i, comp in enumerate(F):
        lines.append(equation(rf"F_{{{i + 1}}}", comp, width=_WIDTH, names=names, where=False))
    from symcalc.printing.latex import _where_lines

    return "\\\\\n".join(lines + _where_lines(names, _WIDTH))


def _steps(d: Derivation, limit: int, start: int = 1) -> tuple[list[dict], int]:
    from symcalc.printing.latex import options

    out = []
    wrt = d.wrt if isinstance(d.wrt, (list, tuple)) else [d.wrt]
    differentials = {"d" + getattr(w, "name", str(w)) for w in wrt}
    with options(differentials=differentials, long_columns_as_rows=4, show_scalar_trace=True):
        for k, step in enumerate(d.steps[:limit]):
            rule = step.rule
            short = (
                bool(rule.latex)
                and visible_width(rule.latex) <= 40
                and not re.search(r"\\(frac|sum|prod|begin|int)", rule.latex)
            )
            out.append(
                dict(
                    n=start + k,
                    title=rule.title or rule.name,
                    name=rule.name,
                    ref=rule.ref,
                    note=step.note,
                    inline_statement=TeX("$" + rule.latex + "$") if short else None,
                    statement=fit_tex(rule.latex) if rule.latex and not short else None,
                    transition=display(_transition_body(step.before, step.after)),
                )
            )
    return out, len(d.steps)


def _is_math(x: Any) -> bool:
    return isinstance(x, (sp.Basic, sp.MatrixBase))


def _transition_body(before: Any, after: Any) -> str:
    """before ==> after on one line when it fits, else over two (or more) lines."""
    from symcalc.printing.latex import _where_lines

    names = _Names("v")
    b_tex = latex(before) if _is_math(before) else rf"\text{{{escape_text(before)}}}"
    a_tex = latex(after) if _is_math(after) else rf"\text{{{escape_text(after)}}}"
    arrow = r"\;\Longrightarrow\;"
    if visible_width(b_tex) + visible_width(a_tex) + 4 <= _WIDTH:
        return rf"& {b_tex} {arrow} {a_tex}"
    b = _sum_lines(before, _WIDTH - 6, names) if isinstance(before, sp.Basic) else [b_tex]
    a = _sum_lines(after, _WIDTH - 6, names) if isinstance(after, sp.Basic) else [a_tex]
    lines = [rf"& {b[0]}"] + [rf"& \quad {x}" for x in b[1:]]
    lines += [rf"{arrow} & {a[0]}"] + [rf"& \quad {x}" for x in a[1:]]
    return "\\\\\n".join(lines + _where_lines(names, _WIDTH))


def _rules(d: Derivation) -> list[dict]:
    return [
        dict(
            name=r.name,
            title=r.title or r.name,
            ref=r.ref,
            kind=r.kind,
            statement=fit_tex(r.latex) if r.latex else None,
        )
        for r in d.rules_used()
    ]


_RESULT_TITLES = {
    "gradient": ("Gradient", r"\nabla L"),
    "hessian": ("Hessian", r"\nabla^2 L"),
    "jacobian": ("Jacobian", r"J_F"),
    "divergence": ("Divergence", r"\nabla\cdot F"),
}


def _results(results: dict, wrt: list, problem=None, shorthand: dict | None = None) -> list[dict]:
    """The results section: each result written as its chain wrote it (the chain's names,
    ``shorthand``, from :func:`symcalc.reporting.chain.in_shorthand`)."""
    out = []
    for key, value in results.items():
        if value is None:
            continue
        title, lhs = _RESULT_TITLES.get(key, (key.capitalize(), key))
        words = _result_words(key, wrt, problem)
        shown = in_shorthand(textbook_form(value), shorthand)
        named = _names_used(shown, shorthand)
        if named:
            words = TeX(f"{words} With {named} as in the derivation above.".lstrip())
        out.append(dict(title=title, words=words, display=eq(lhs, shown)))
    return out


def _names_used(shown: Any, shorthand: dict | None) -> str:
    """The chain's names that a result uses, as inline maths ("$z$ and $s$")."""
    if not shorthand or not isinstance(shown, sp.Basic):
        return ""
    atoms = shown.atoms(sp.MatrixSymbol)
    used = [z for z in (*shorthand["names"].values(), *shorthand["pairs"].values()) if z in atoms]
    said = [f"${latex(z)}$" for z in used]
    return " and ".join([", ".join(said[:-1]), said[-1]]) if len(said) > 1 else "".join(said)


def _result_words(key: str, wrt: list, problem) -> TeX:
    if problem is not None and problem.notation == "matrix":
        names = ", ".join("$" + latex(w) + "$" for w in wrt)
        matrices = [w for w in wrt if getattr(w, "shape", (1, 1))[1] != 1]
        hessian = (
            "The Hessian, in closed form, with respect to vec of the matrix variable "
            r"(its columns stacked): $\mathrm{d}\operatorname{vec}\nabla L = \nabla^2 L\,"
            r"\mathrm{d}\operatorname{vec} " + latex(matrices[0]) + "$, in Kronecker form."
            if matrices
            else "The Hessian, in closed form: a square matrix with the size of the variable."
        )
        return TeX(
            {
                "gradient": f"The gradient has the shape of {names}, in closed form.",
                "hessian": hessian,
            }.get(key, "")
        )
    unknowns = ", ".join(latex(w) for w in wrt)
    where = (
        f"${unknowns}$"
        if len(wrt) <= 8
        else f"the {len(wrt)} unknowns (in the order of the first column)"
    )
    return TeX(
        {
            "gradient": f"Partial derivatives with respect to {where}, as a column.",
            "hessian": r"Second partial derivatives: entry $(i, j)$ is $\partial^2 L / \partial x_i \partial x_j$.",
            "jacobian": r"Entry $(i, j)$ is $\partial F_i / \partial x_j$.",
            "divergence": "The trace of the Jacobian.",
        }.get(key, "")
    )
