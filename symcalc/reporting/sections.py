r"""The analysis sections of a report (field, Gaussian, landscape, checks, claims,
vectorization) and the summary box, as template context.

>>> _sci(0.000123)
'$1.23 \\times 10^{-4}$'
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from symcalc.printing.latex import latex
from symcalc.printing.texsafe import escape_text
from symcalc.reporting.chain import textbook_form
from symcalc.reporting.tex import WIDTH, TeX, code_text, display, eq, fit_tex
from symcalc.reporting.words import check_words, point_tex, solver_sentence

_WIDTH = WIDTH


def _field_context(fa, p) -> dict:
    curl = fa.curl
    curl_display = None
    if curl is not None:
        C = sp.Matrix(curl)
        if C.shape == (2, 2):
            curl_display = eq(r"\partial_1 F_2 - \partial_2 F_1", sp.simplify(C[0, 1]))
        else:
            curl_display = eq(r"\nabla \times F", C.applyfunc(sp.simplify))
    pot = None
    if fa.potential is not None:
        pot = dict(
            display=eq(r"\varphi", fa.potential),
            energy=eq(r"V = -\varphi", sp.simplify(-fa.potential)),
        )
    loop = None
    if fa.loop_work is not None:
        lw = fa.loop_work
        cx, cy = lw["center"]
        loop = dict(
            text=TeX(
                rf"$\oint_C F\cdot\mathrm{{d}}r = {_num_tex(lw['work'])}$ around the circle $C$ "
                rf"of radius ${lw['radius']:.3g}$ centred at $({cx:.3g}, {cy:.3g})$"
            ),
            zero=abs(lw["work"]) < 1e-9,
        )
    return dict(
        curl=curl_display,
        conservative=fa.conservative,
        potential=pot,
        loop=loop,
        divergence=eq(r"\nabla\cdot F", fa.divergence) if fa.divergence is not None else None,
    )


def _gaussian_context(g, p) -> dict:
    return dict(
        score=eq(r"\nabla_x \log p(x)", g.score),
        hessian=eq(r"-\Sigma^{-1}", g.minus_inverse_covariance),
        hessian_holds=g.hessian_holds,
        score_holds=g.score_holds,
    )


def loss_latex(study_or_problem) -> str:
    """The denoising loss as people write it, ||s(x) + eps/sigma||^2 (LaTeX)."""
    p = getattr(study_or_problem, "problem", study_or_problem)
    spec = p.score_matching
    x, e, sigma = p.variables[0].symbol, spec["noise"].symbol, spec["sigma"].symbol
    return rf"\left\lVert s({latex(x)}) + {latex(e / sigma)} \right\rVert^2"


def _score_matching_context(sm, p) -> dict:
    """The score, the denoising loss and its gradient in every parameter, as displays."""
    x = p.variables[0].symbol
    sub = "{" + latex(x) + "}"
    gradients = [
        dict(name=TeX("$" + latex(var) + "$"), display=eq(r"\nabla_{" + latex(var) + r"} \ell", g))
        for var, (_name, g) in zip((v.symbol for v in p.score_matching["parameters"]), sm.gradients)
    ]
    return dict(
        score=eq(rf"s({latex(x)}) = -\nabla_{sub} E", textbook_form(sm.score)),
        loss=display(r"\ell &= " + loss_latex(p)),
        noise=TeX("$" + latex(sm.noise) + "$"),
        sigma=TeX("$" + latex(sm.sigma) + "$"),
        variable=TeX("$" + latex(x) + "$"),
        gradients=gradients,
        passed=all(c.passed for c in sm.checks),
    )


def _landscape_context(L, p) -> dict:
    points = []
    for k, pt in enumerate(L.points):
        ev = [sp.nsimplify(e) if getattr(e, "is_Float", False) else e for e in pt.eigenvalues]
        points.append(
            dict(
                n=k + 1,
                point=TeX(_point_tex(pt.point)),
                kind=pt.kind,
                eigenvalues=TeX("$" + ",\\ ".join(_short_number(e) for e in ev) + "$"),
                hessian=eq(rf"\nabla^2 L(p_{{{k + 1}}})", sp.Matrix(pt.hessian))
                if pt.hessian is not None
                else None,
            )
        )
    descent = None
    if L.descent is not None:
        proof = []
        for k, step in enumerate(L.descent.steps):
            rule = step.rule
            proof.append(
                dict(
                    n=k + 1,
                    title=rule.title or rule.name,
                    note=step.note,
                    statement=fit_tex(rule.latex) if rule.latex else None,
                )
            )
        descent = dict(
            holds=L.descent.holds,
            proof=proof,
            display=eq(r"\frac{\mathrm{d}L}{\mathrm{d}t}", L.descent.rate),
        )
    return dict(
        points=points, complete=L.complete, note=TeX(solver_sentence(L.note)), descent=descent
    )


def _short_number(e: Any) -> str:
    """Rationals exactly; other numbers to 4 significant digits (\approx)."""
    e = sp.sympify(e, strict=True)  # numbers from the engine; never text
    if e.is_number and not e.is_Rational:
        value = complex(sp.N(e))
        if abs(value.imag) < 1e-12:
            return rf"\approx {value.real:.4g}"
    return latex(e)


def _point_tex(point: dict) -> str:
    return point_tex(point)


def _num_tex(x: float) -> str:
    """A float for prose: 4 significant digits, 0 for |x| < 1e-12."""
    return "0" if abs(x) < 1e-12 else f"{x:.4g}"


def _sci(x: float) -> str:
    if x == 0:
        return "$0$"
    mant, exp = f"{x:.2e}".split("e")
    return rf"${mant} \times 10^{{{int(exp)}}}$"


def _self_checks(checks) -> list[dict]:
    out = []
    for c in checks:
        name, numbers = check_words(c.name, c.numbers)
        out.append(dict(name=TeX(name), passed=c.passed, detail=c.detail, numbers=TeX(numbers)))
    return out


def _claim_context(c, p) -> dict:
    claim = c.claim
    what = {
        "gradient": r"\nabla L",
        "hessian": r"\nabla^2 L",
        "jacobian": "J_F",
        "potential": r"\varphi",
    }[claim.of]
    expr = claim.expr
    if isinstance(expr, sp.MatrixBase) and expr.shape[0] == 1 and claim.of == "gradient":
        expr = expr.T
    ce = None
    if c.counterexample is not None:
        ce = _counterexample_context(c.counterexample)
    explanation = c.explanation[:1].upper() + c.explanation[1:]
    return dict(
        of=claim.of,
        text=claim.text,
        holds=c.holds,
        undecided=c.holds is None,
        written=code_text(claim.source),
        written_kind="LaTeX" if claim.is_latex else "text",
        method=c.method,
        explanation=explanation,
        claimed=eq(what + r"\overset{?}{=}\ " if False else what, expr),
        counterexample=ce,
        source=claim.source,
    )


def _counterexample_context(ce: dict) -> dict:
    point = ce.get("point", {})
    rows = []
    for key in ("claimed", "derived", "wrong entries"):
        if key in ce:
            val = ce[key]
            if key == "wrong entries":
                rows.append(dict(label=key, value=", ".join(str(v) for v in val)))
            else:
                rows.append(
                    dict(
                        label={"claimed": "the claim gives", "derived": "the true value is"}[key],
                        value=TeX("$" + _value_latex(val) + "$"),
                    )
                )
    pt = (
        TeX(_point_tex(point))
        if isinstance(point, dict) and point
        else TeX("$" + _value_latex(point) + "$")
    )
    return dict(point=pt, rows=rows)


def _value_latex(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        v = sp.Matrix(v)
    if isinstance(v, str):  # text is shown, never evaluated
        return r"\text{" + escape_text(v) + "}"
    try:
        v = sp.sympify(v, strict=True)
    except (sp.SympifyError, TypeError):
        return r"\text{" + escape_text(v) + "}"
    if isinstance(v, sp.MatrixBase):
        return latex(
            v.applyfunc(lambda e: sp.Float(e, 6) if e.is_number and not e.is_Integer else e)
        )
    if v.is_number and not v.is_Integer:
        return latex(sp.Float(v, 6))
    return latex(v)


def _vectorization_context(t, p) -> dict:
    A = t.matrix
    name = latex(sp.Symbol(p.vectorization.name))
    m, n = A.shape
    S = t.symmetric
    s_name = name if S is A or S == A else rf"{name}{name}^\top"
    out = dict(
        matrix=eq(name, A),
        vec=display(rf"\operatorname{{vec}}({name}) &= {latex(sp.Matrix(t.vec).T)}^\top"),
        vec_row=display(
            rf"\operatorname{{vec}}_{{\text{{row}}}}({name}) &= {latex(sp.Matrix(t.vec_row).T)}^\top"
        ),
        commutation=eq(rf"K_{{{m}{n}}}", sp.Matrix(t.commutation)),
        identity=TeX(
            rf"$K_{{{m}{n}}} \operatorname{{vec}}({name}) = \operatorname{{vec}}({name}^\top)$"
        ),
        identity_holds=t.identity_holds,
        vech=None,
        duplication=None,
        symmetric_name=TeX("$" + s_name + "$"),
        dup_identity=TeX(rf"$D_{{{S.rows}}} \operatorname{{vech}}(S) = \operatorname{{vec}}(S)$"),
    )
    if t.vech is not None:
        out["symmetric"] = eq("S = " + s_name if s_name != name else "S", S)
        out["vech"] = eq(r"\operatorname{vech}(S)", sp.Matrix(t.vech))
    if t.duplication is not None:
        out["duplication"] = eq(rf"D_{{{S.rows}}}", sp.Matrix(t.duplication))
    return out


def _summary(study) -> list[dict]:
    """One line per headline finding, for the summary box."""
    out = []
    if study.checks:
        n = sum(c.passed for c in study.checks)
        out.append(
            dict(
                ok=n == len(study.checks),
                text=f"engine self-checks: {n} of {len(study.checks)} passed",
            )
        )
    if study.finite_differences:
        ok = all(f.passed for f in study.finite_differences)
        worst = max(f.max_abs_error for f in study.finite_differences)
        out.append(
            dict(
                ok=ok,
                text=f"finite differences agree (largest error {worst:.1e})"
                if ok
                else f"finite differences DISAGREE (largest error {worst:.1e})",
            )
        )
    for c in study.claims:
        verdict = {True: "correct", False: "WRONG (counterexample below)", None: "undecided"}[
            c.holds
        ]
        out.append(dict(ok=c.holds is True, text=f"hand derivation of the {c.claim.of}: {verdict}"))
    if study.field is not None and study.field.conservative is not None:
        out.append(
            dict(
                ok=True,
                text="the field is conservative"
                if study.field.conservative
                else "the field is NOT conservative (non-zero curl)",
            )
        )
    if study.landscape is not None:
        if "critical_points" in study.problem.analyses:
            out.append(_critical_points_line(study.landscape))
        if study.landscape.descent is not None:
            out.append(
                dict(
                    ok=study.landscape.descent.holds,
                    text=TeX(
                        r"descent identity $\frac{\mathrm{d}L}{\mathrm{d}t} = -\lVert\nabla L\rVert^2$ "
                        + ("holds" if study.landscape.descent.holds else "FAILS")
                    ),
                )
            )
    if study.gaussian is not None:
        ok = study.gaussian.hessian_holds and study.gaussian.score_holds
        out.append(
            dict(
                ok=ok,
                text=TeX(
                    r"Gaussian identities (score, Hessian $= -\Sigma^{-1}$) "
                    + ("hold" if ok else "FAIL")
                ),
            )
        )
    if study.score_matching is not None:
        ok = all(c.passed for c in study.score_matching.checks)
        n = len(study.score_matching.gradients)
        out.append(
            dict(
                ok=ok,
                text=f"denoising-loss gradients ({n} parameters) agree with finite differences"
                if ok
                else "denoising-loss gradients DISAGREE with finite differences",
            )
        )
    if study.vectorization is not None:
        out.append(
            dict(
                ok=study.vectorization.identity_holds,
                text=TeX(
                    r"$K \operatorname{vec}(A) = \operatorname{vec}(A^\top)$ and $D \operatorname{vech}(S) = \operatorname{vec}(S)$ "
                    + ("hold" if study.vectorization.identity_holds else "FAIL")
                ),
            )
        )
    return out


def _critical_points_line(landscape) -> dict:
    """The summary's line on critical points, honest about a solver that gave up."""
    kinds = [pt.kind for pt in landscape.points]
    found = f"{len(kinds)} critical point{'s' if len(kinds) != 1 else ''}"
    if not landscape.complete and not kinds:
        return dict(ok=False, text=TeX(r"critical points: could not solve $\nabla L = 0$"))
    if not landscape.complete:
        return dict(
            ok=False, text=f"{found} found ({', '.join(kinds)}); could not show there are no others"
        )
    return dict(ok=True, text=f"{found}: " + (", ".join(kinds) or "none"))


def _kernel_expressions(study) -> dict:
    """What the kernel's comments name (value, f, gradient, hessian), as expressions."""
    out = {k: v for k, v in study.results.items() if k in ("gradient", "hessian", "jacobian")}
    objective = study.problem.objective
    if objective is not None:
        out["value"] = out["f"] = objective
    return out
