"""The derivation as a person writes it: one equality chain per derivative, short, and right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

import symcalc as sc
from symcalc.reporting.chain import chains, textbook_form
from symcalc.reporting.shorthand import numerically_equal

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS = Path(__file__).parent / "problems"


def _chains(path: Path):
    study = sc.load_problem(path).run()
    return study, {c["title"]: c for c in chains(study.derivations["objective"], study.results)}


def test_the_gaussian_gradient_in_at_most_six_lines_and_its_hessian_in_four():
    _, c = _chains(ROOT / "examples" / "gaussian.toml")
    assert 1 <= c["Gradient"]["lines"] <= 6 and 1 <= c["Hessian"]["lines"] <= 4
    body = c["Gradient"]["display"]
    assert body.count(r"\tag*{") == len(c["Gradient"]["rows"])  # every line names its rule
    assert r"\nabla L" in body and r"\mathrm{d}L" in body and "identification" in body
    assert r"\nabla^2 L" in c["Hessian"]["display"]


def test_the_cotangent_is_introduced_in_words_where_it_is_used():
    _, c = _chains(ROOT / "examples" / "logistic_regression.toml")
    assert "a constant vector $C$" in c["Hessian"]["words"]
    _, g = _chains(ROOT / "examples" / "gaussian.toml")
    assert "$C$" not in g["Hessian"]["words"]  # no cotangent there, no word about it


def test_each_chain_ends_on_the_derived_result():
    study, c = _chains(ROOT / "examples" / "gaussian.toml")
    x = sp.MatrixSymbol("x", 2, 1)
    g = study.results["gradient"]
    mu = next(s for s in g.free_symbols if str(s) == "mu")
    Sigma = next(s for s in g.free_symbols if str(s) == "Sigma")
    textbook = sp.Inverse(Sigma) * (mu - x)  # the score, as the Matrix Cookbook writes it
    assert c["Gradient"]["rows"][-1]["rhs"] == sc.printing.latex.latex(textbook)
    assert numerically_equal(textbook, g) and not numerically_equal(textbook, -g)
    assert x in g.free_symbols


def test_textbook_forms_are_the_same_derivative():
    """Student-t: the factored gradient and Hessian against sympy.diff and central differences."""
    study, c = _chains(PROBLEMS / "student_t.toml")
    x, y = study.problem.wrt
    nu = next(s for s in study.problem.objective.free_symbols if s.name == "nu")
    g = textbook_form(study.results["gradient"])
    H = textbook_form(study.results["hessian"])
    assert g != study.results["gradient"]  # it did change the form ...
    f = study.problem.objective
    for i, v in enumerate((x, y)):  # ... not the value
        assert sp.simplify(g[i] - sp.diff(f, v)) == 0
        for j, w in enumerate((x, y)):
            assert sp.simplify(H[i, j] - sp.diff(f, v, w)) == 0

    def logp(p, n):  # hand-written NumPy: -(n + 2)/2 * log(1 + |p|^2/n)
        return -(n + 2) / 2 * np.log1p((p**2).sum() / n)

    rng = np.random.default_rng(16)
    grad = sp.lambdify((x, y, nu), g, "numpy")
    for _ in range(5):
        p, n, h = rng.normal(size=2), float(rng.uniform(1, 6)), 1e-6
        fd = [(logp(p + h * e, n) - logp(p - h * e, n)) / (2 * h) for e in np.eye(2)]
        assert np.allclose(np.ravel(grad(*p, n)), fd, atol=1e-7)
    assert "factored" in c["Gradient"]["display"]


def test_a_vector_field_gets_a_jacobian_chain():
    study = sc.load_problem(ROOT / "examples" / "rotational_field.toml").run()
    (c,) = chains(study.derivations["field"], study.results)
    assert c["title"] == "Jacobian" and c["lines"] == 2 and r"\mathrm{d}F" in c["display"]


def test_a_regrouped_product_never_prints_a_double_minus():
    """-((-(A o B)) C) is (A o B) C: the numbers of nested products merge into one sign."""
    import sympy as sp

    from symcalc.printing.latex import latex
    from symcalc.reporting.shorthand import numerically_equal, tidy

    A, B, C = (sp.MatrixSymbol(n, 2, 2) for n in "ABC")
    e = sp.MatAdd(A * C, sp.MatMul(-1, sp.MatMul(-1, sp.HadamardProduct(A, B)), C))
    shown = tidy(e)
    assert "- -" not in latex(shown)
    assert numerically_equal(shown, A * C + sp.HadamardProduct(A, B) * C)
