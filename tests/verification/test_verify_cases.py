"""A corpus of hand derivations, right and wrong, written the way people make mistakes.

Each case names a problem, the kind of derivative, a claim (SymPy object, math
text or LaTeX) and whether a person who knows the answer says it holds. The
truth for scalar and explicit-symbol cases is ``sympy.diff`` (independent of
symcalc); matrix cases use symcalc's engine through verify_gradient / hessian /
jacobian. Every counterexample returned is re-evaluated here with plain SymPy
``subs`` at the concrete size, so a fake counterexample would fail the test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import sympy as sp

import symcalc as sc
from symcalc.expr.functions import sigmoid
from symcalc.expr.structure import (
    logistic_loss,
    matrix_symbol,
    positive_definite,
    quadratic_form,
    squared_error,
    symmetric,
    vector,
)

x, y, r, t, mu_s = sp.symbols("x y r t mu")
s_pos = sp.Symbol("s", positive=True)
w1, w2, a1, a2 = sp.symbols("w1 w2 a1 a2")

# matrices (symbolic sizes)
A = matrix_symbol("A", "m", "n")  # rectangular: A where A^T belongs is ill-formed
Bsq = matrix_symbol("B", "n", "n")  # square, NOT symmetric
S = symmetric("S", "n")
Sigma = positive_definite("Sigma", "n")
xv, bv, muv = vector("x", "n"), vector("b", "m"), vector("mu", "n")
bn = vector("b", "n")
X, wv, yv = matrix_symbol("X", "m", "n"), vector("w", "n"), vector("y", "m")
Xk = matrix_symbol("X", "n", "k")


def gauss(xx, mm, SS):
    """The Gaussian log-density up to the constant: -1/2 (x-mu)^T S^-1 (x-mu) - 1/2 log det S."""
    return -sp.Rational(1, 2) * sp.Trace((xx - mm).T * SS.I * (xx - mm)) - sp.log(sp.det(SS)) / 2


@dataclass
class Case:
    name: str
    kind: str  # "derivative" | "gradient" | "hessian" | "jacobian" | "equal"
    f: Any
    wrt: Any
    claim: Any  # SymPy object, math text or LaTeX
    holds: bool
    assumptions: Any = None
    wrong: tuple = ()  # entries a person expects to be flagged


def D(name, f, wrt, claim, holds, **kw):
    return Case(name, "derivative", f, wrt, claim, holds, **kw)


def G(name, f, wrt, claim, holds, **kw):
    return Case(name, "gradient", f, wrt, claim, holds, **kw)


def H(name, f, wrt, claim, holds, **kw):
    return Case(name, "hessian", f, wrt, claim, holds, **kw)


def J(name, f, wrt, claim, holds, **kw):
    return Case(name, "jacobian", f, wrt, claim, holds, **kw)


rosen = (1 - x) ** 2 + 100 * (y - x**2) ** 2
logistic1 = sp.log(1 + sp.exp(-(w1 * a1 + w2 * a2)))

CASES = [
    # ---- chain rule: sin(x^2) ------------------------------------------------------
    D("chain: 2x cos(x^2), text", sp.sin(x**2), x, "2x cos(x^2)", True),
    D("chain: 2*x*cos(x**2), python syntax", sp.sin(x**2), x, "2*x*cos(x**2)", True),
    D("chain: LaTeX", sp.sin(x**2), x, r"2x\cos(x^2)", True),
    D("chain: SymPy object", sp.sin(x**2), x, 2 * x * sp.cos(x**2), True),
    D("chain: missing inner factor 2x", sp.sin(x**2), x, "cos(x^2)", False),
    D("chain: missing factor 2", sp.sin(x**2), x, r"x\cos(x^2)", False),
    D("chain: sign error (cos' used)", sp.sin(x**2), x, "-2x cos(x^2)", False),
    # ---- the sigmoid ----------------------------------------------------------------
    D(
        "sigmoid: quotient form, LaTeX",
        1 / (1 + sp.exp(-x)),
        x,
        r"\frac{e^{-x}}{(1+e^{-x})^2}",
        True,
    ),
    D("sigmoid: s(1-s), LaTeX", 1 / (1 + sp.exp(-x)), x, r"\sigma(x)(1-\sigma(x))", True),
    D("sigmoid: s(1-s), SymPy", sigmoid(x), x, sigmoid(x) * (1 - sigmoid(x)), True),
    D("sigmoid: written as s(1+s)", 1 / (1 + sp.exp(-x)), x, r"\sigma(x)(1+\sigma(x))", False),
    D("sigmoid: sign error", 1 / (1 + sp.exp(-x)), x, "-e^(-x)/(1+e^(-x))^2", False),
    D("softplus' = sigmoid", sp.log(1 + sp.exp(x)), x, r"\sigma(x)", True),
    D("softplus' written as 1/(1+e^x)", sp.log(1 + sp.exp(x)), x, "1/(1+e^x)", False),
    # ---- product and quotient rules ---------------------------------------------------
    D("product rule: x log x", x * sp.log(x), x, r"\ln x + 1", True, assumptions="x > 0"),
    D("product rule forgotten", x * sp.log(x), x, "log(x)", False, assumptions="x > 0"),
    D("quotient rule", x / (1 + x**2), x, "(1 - x^2)/(1 + x^2)^2", True),
    D("quotient rule: numerator swapped", x / (1 + x**2), x, "(x^2 - 1)/(1 + x^2)^2", False),
    D("quotient rule: denominator not squared", x / (1 + x**2), x, "(1 - x^2)/(1 + x^2)", False),
    D("tanh' = 1 - tanh^2", sp.tanh(x), x, "1 - tanh(x)^2", True),
    D("tanh' written 1 + tanh^2", sp.tanh(x), x, r"1+\tanh^2 x", False),
    D("x^x (needs x > 0)", x**x, x, "x^x (ln x + 1)", True, assumptions={"x": "positive"}),
    # ---- the 1-D Gaussian ----------------------------------------------------------
    D(
        "1-D Gaussian in mu",
        -((x - mu_s) ** 2) / (2 * s_pos**2) - sp.log(s_pos),
        mu_s,
        r"\frac{x-\mu}{s^2}",
        True,
    ),
    D(
        "1-D Gaussian in mu: sign",
        -((x - mu_s) ** 2) / (2 * s_pos**2) - sp.log(s_pos),
        mu_s,
        r"\frac{\mu-x}{s^2}",
        False,
    ),
    D(
        "1-D Gaussian in s",
        -((x - mu_s) ** 2) / (2 * s_pos**2) - sp.log(s_pos),
        s_pos,
        r"-\frac{1}{s} + \frac{(x-\mu)^2}{s^3}",
        True,
    ),
    D(
        "1-D Gaussian in s: forgotten 1/2 kept",
        -((x - mu_s) ** 2) / (2 * s_pos**2) - sp.log(s_pos),
        s_pos,
        r"-\frac{1}{s} + \frac{(x-\mu)^2}{2 s^3}",
        False,
    ),
    D("exp(-x^2/2): forgotten 1/2", sp.exp(-(x**2) / 2), x, "-2x e^(-x^2/2)", False),
    D("exp(-x^2/2)", sp.exp(-(x**2) / 2), x, "-x exp(-x^2/2)", True),
    # ---- gradients on explicit symbols ------------------------------------------------
    G("Rosenbrock gradient", rosen, [x, y], "[-2(1-x) - 400x(y-x^2), 200(y-x^2)]", True),
    G(
        "Rosenbrock: sign of the chain factor",
        rosen,
        [x, y],
        "[-2(1-x) + 400x(y-x^2), 200(y-x^2)]",
        False,
        wrong=("d f/d x",),
    ),
    G("x^2 y: LaTeX pmatrix", x**2 * y, [x, y], r"\begin{pmatrix} 2xy \\ x^2 \end{pmatrix}", True),
    G("x^2 y: forgot to drop y", x**2 * y, [x, y], "[2xy, x^2 y]", False, wrong=("d f/d y",)),
    G(
        "logistic in (w1, w2): chain factor a_i",
        logistic1,
        [w1, w2],
        [-a1 * sigmoid(-(w1 * a1 + w2 * a2)), -a2 * sigmoid(-(w1 * a1 + w2 * a2))],
        True,
    ),
    G(
        "logistic: missing chain factor a_i",
        logistic1,
        [w1, w2],
        "[-sigma(-(w1 a1 + w2 a2)), -sigma(-(w1 a1 + w2 a2))]",
        False,
        wrong=("d f/d w1", "d f/d w2"),
    ),
    # ---- Hessians and Jacobians on explicit symbols ----------------------------------
    H("Rosenbrock Hessian", rosen, [x, y], "[[1200x^2 - 400y + 2, -400x], [-400x, 200]]", True),
    H(
        "Rosenbrock Hessian: product term forgotten",
        rosen,
        [x, y],
        r"\begin{bmatrix} 2 - 400y + 400x^2 & -400x \\ -400x & 200 \end{bmatrix}",
        False,
        wrong=("d2 f/(d x d x)",),
    ),
    H("x^3 + xy Hessian", x**3 + x * y, [x, y], "[[6x, 1], [1, 0]]", True),
    H("x^3 + xy: first derivative left in", x**3 + x * y, [x, y], "[[3x^2, 1], [1, 0]]", False),
    J(
        "polar Jacobian",
        [r * sp.cos(t), r * sp.sin(t)],
        [r, t],
        r"\begin{pmatrix}\cos t & -r\sin t \\ \sin t & r\cos t\end{pmatrix}",
        True,
    ),
    J(
        "polar Jacobian: sign of d cos",
        [r * sp.cos(t), r * sp.sin(t)],
        [r, t],
        "[[cos(t), r sin(t)], [sin(t), r cos(t)]]",
        False,
        wrong=("d F1/d t",),
    ),
    # ---- matrix claims: least squares -----------------------------------------------
    G("least squares, text", squared_error(A, xv, bv), xv, "2*A.T*(A*x - b)", True),
    G("least squares, LaTeX", squared_error(A, xv, bv), xv, r"2A^\top(Ax-b)", True),
    G("least squares, SymPy object", squared_error(A, xv, bv), xv, 2 * A.T * (A * xv - bv), True),
    G(
        "least squares, SymPy object: factor 2 lost",
        squared_error(A, xv, bv),
        xv,
        A.T * (A * xv - bv),
        False,
    ),
    G("least squares: factor 2 lost", squared_error(A, xv, bv), xv, "A^T(Ax - b)", False),
    G("least squares: sign", squared_error(A, xv, bv), xv, "2A'(b - Ax)", False),
    G(
        "least squares, square B: B where B^T belongs",
        squared_error(Bsq, xv, bn),
        xv,
        "2B(Bx - b)",
        False,
    ),
    G(
        "least squares, rectangular A: A where A^T belongs (ill-formed)",
        squared_error(A, xv, bv),
        xv,
        "2A(Ax - b)",
        False,
    ),
    H("least squares Hessian", squared_error(A, xv, bv), xv, "2 A^T A", True),
    H("least squares Hessian: factor 2", squared_error(A, xv, bv), xv, r"A^\top A", False),
    # ---- quadratic forms ---------------------------------------------------------------
    G("x^T B x, non-symmetric B: 2Bx", quadratic_form(xv, Bsq), xv, "2Bx", False),
    G("x^T B x: (B + B^T) x", quadratic_form(xv, Bsq), xv, "(B + B^T) x", True),
    G("x^T S x, symmetric S: 2Sx", quadratic_form(xv, S), xv, "2 S x", True),
    H("x^T B x Hessian: 2B for non-symmetric B", quadratic_form(xv, Bsq), xv, "2B", False),
    # ---- the Gaussian -----------------------------------------------------------------
    G("Gaussian in x", gauss(xv, muv, Sigma), xv, r"-\Sigma^{-1}(x-\mu)", True),
    G("Gaussian in x: sign", gauss(xv, muv, Sigma), xv, r"\Sigma^{-1}(x-\mu)", False),
    G("Gaussian in x: forgotten 1/2", gauss(xv, muv, Sigma), xv, r"-2\Sigma^{-1}(x-\mu)", False),
    H("Gaussian Hessian", gauss(xv, muv, Sigma), xv, r"-\Sigma^{-1}", True),
    H("Gaussian Hessian: forgotten 1/2", gauss(xv, muv, Sigma), xv, "-2 Sigma^{-1}", False),
    G(
        "Gaussian in Sigma",
        gauss(xv, muv, Sigma),
        Sigma,
        r"\frac{1}{2}\left(\Sigma^{-1}(x-\mu)(x-\mu)^\top\Sigma^{-1} - \Sigma^{-1}\right)",
        True,
    ),
    G(
        "Gaussian in Sigma: forgotten 1/2",
        gauss(xv, muv, Sigma),
        Sigma,
        r"\Sigma^{-1}(x-\mu)(x-\mu)^\top\Sigma^{-1} - \Sigma^{-1}",
        False,
    ),
    # ---- logistic regression, log det, trace ----------------------------------------
    G("logistic regression", logistic_loss(X, wv, yv), wv, r"X^\top(\sigma(Xw) - y)", True),
    G("logistic regression: sign", logistic_loss(X, wv, yv), wv, "X^T (y - sigmoid(X w))", False),
    G(
        "logistic regression: X instead of X^T (square)",
        logistic_loss(Bsq, wv, vector("y", "n")),
        wv,
        "B (sigmoid(B w) - y)",
        False,
    ),
    G("log det B = B^{-T}", sp.log(sp.det(Bsq)), Bsq, "B^{-T}", True),
    G("log det B: B^{-1} for non-symmetric B", sp.log(sp.det(Bsq)), Bsq, r"B^{-1}", False),
    G(
        "tr(A X): A^T",
        sp.Trace(Bsq * matrix_symbol("C", "n", "n")),
        matrix_symbol("C", "n", "n"),
        "B^T",
        True,
    ),
    G(
        "tr(B C): B where B^T belongs",
        sp.Trace(Bsq * matrix_symbol("C", "n", "n")),
        matrix_symbol("C", "n", "n"),
        "B",
        False,
    ),
    J("Jacobian of A x", A * xv, xv, "A", True),
    J("Jacobian of A x: A^T", Bsq * xv, xv, "B^T", False),
    H(
        "tr(X^T B X) in X: Kronecker form",
        sp.Trace(Xk.T * Bsq * Xk),
        Xk,
        r"I_k \otimes (B + B^\top)",
        True,
    ),
    H(
        "tr(X^T B X): 2B for non-symmetric B",
        sp.Trace(Xk.T * Bsq * Xk),
        Xk,
        r"I_k \otimes (2B)",
        False,
    ),
]


def _run(case: Case):
    budget = 8.0
    if case.kind == "derivative":
        return sc.verify(case.claim, sp.diff(case.f, case.wrt), case.assumptions, budget=budget)
    fn = {
        "gradient": sc.verify_gradient,
        "hessian": sc.verify_hessian,
        "jacobian": sc.verify_jacobian,
    }[case.kind]
    if isinstance(case.wrt, sp.MatrixSymbol):
        return fn(case.f, case.wrt, case.claim, case.assumptions, budget=budget)
    # explicit symbols: the truth must agree with sympy.diff (an independent route)
    return fn(case.f, case.wrt, case.claim, case.assumptions, budget=budget)


def test_corpus_is_large_and_mixed():
    assert len(CASES) >= 40
    assert sum(c.holds for c in CASES) >= 15 and sum(not c.holds for c in CASES) >= 15
    kinds = {c.kind for c in CASES}
    assert kinds >= {"derivative", "gradient", "hessian", "jacobian"}
    forms = {
        type(c.claim).__name__
        if not isinstance(c.claim, str)
        else ("latex" if "\\" in c.claim else "text")
        for c in CASES
    }
    assert {"latex", "text"} <= forms and len(forms) >= 3


def _concrete_value(expr, cex):
    """Plain SymPy route: sizes, then matrices and scalars, by subs; explicit result."""
    sizes = {
        k: v
        for k, v in cex.items()
        if isinstance(k, sp.Symbol)
        and not isinstance(v, sp.MatrixBase)
        and v.is_Integer
        and k.is_integer
    }
    e = expr.subs(sizes) if sizes else expr
    for k, v in cex.items():
        if isinstance(k, sp.MatrixSymbol):
            concrete = type(k)(k.name, *[sp.sympify(d).subs(sizes) for d in k.shape])
            e = e.subs(concrete, v)
        elif k not in sizes:
            e = e.subs(k, v)
    e = e.doit()
    if isinstance(e, sp.MatrixExpr) and not isinstance(e, sp.MatrixBase):
        e = e.as_explicit()
    if isinstance(e, sp.MatrixBase) and e.shape == (1, 1):
        e = e[0, 0]
    return sp.N(e, 30) if not isinstance(e, sp.MatrixBase) else e.applyfunc(lambda v: sp.N(v, 30))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case):
    v = _run(case)
    assert v.holds is case.holds, v.describe()
    assert v.exit_code == (0 if case.holds else 1)
    if case.holds:
        assert v.counterexample is None
        return
    for label in case.wrong:
        assert label in v.wrong_entries, v.describe()
    if v.counterexample is None:  # ill-formed claims fail without numbers
        assert "not well-formed" in v.explanation or "shapes differ" in v.explanation
        return
    # the counterexample is real: both values, re-derived here by plain subs, differ
    assert v.claim_value is not None and v.truth_value is not None
    claim_here = _concrete_value(_scalar(v.claim), v.counterexample)
    truth_here = (
        _concrete_value(_scalar(v.truth), v.counterexample)
        if isinstance(v.truth, sp.Basic)
        else None
    )
    if truth_here is not None:
        diff = claim_here - truth_here
        size = max(abs(complex(e)) for e in (diff if isinstance(diff, sp.MatrixBase) else [diff]))
        assert size > 1e-8, v.describe()
        # and the values reported are these values
        reported = v.claim_value
        if (
            isinstance(claim_here, sp.MatrixBase)
            and isinstance(reported, sp.MatrixBase)
            and claim_here.shape == reported.shape
        ):
            assert max(abs(complex(a - b)) for a, b in zip(claim_here, reported)) < 1e-8
        elif not isinstance(claim_here, sp.MatrixBase) and not isinstance(reported, sp.MatrixBase):
            assert abs(complex(claim_here - reported)) < 1e-8


def _scalar(e):
    if isinstance(e, sp.MatrixBase) and e.shape == (1, 1):
        return e[0, 0]
    return e


def test_explicit_truth_is_sympy_diff():
    """The engine's truth for explicit symbols equals sympy.diff, entry by entry."""
    g = sc.gradient(rosen, [x, y])
    assert sp.simplify(g[0] - sp.diff(rosen, x)) == 0
    assert sp.simplify(g[1] - sp.diff(rosen, y)) == 0
    hess = sc.hessian(rosen, [x, y])
    assert all(
        sp.simplify(hess[i, j] - sp.diff(rosen, [x, y][i], [x, y][j])) == 0
        for i in range(2)
        for j in range(2)
    )
