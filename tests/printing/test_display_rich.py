"""Rich display in Jupyter: every record shows maths (MathML / LaTeX), not its repr."""

from __future__ import annotations

import re

import sympy as sp

import symcalc as sc
from symcalc.printing.display import RichDisplay, to_html


def _has_math(page: str) -> bool:
    return "<math" in page and "</math>" in page


def test_a_derivation_shows_its_chain_with_the_rules_in_the_margin():
    x, y = sp.symbols("x y")
    d = sc.derive(x**2 * y + sp.sin(x), (x, y))
    page, tex = d._repr_html_(), d._repr_latex_()
    assert _has_math(page) and "identification" in page.lower()
    assert tex.startswith("$$\\begin{aligned}") and tex.endswith("$$")
    assert r"\nabla L" in tex and r"\mathrm{d}L" in tex
    assert "Derivation(" not in page


def test_a_wrong_verdict_shows_its_counterexample():
    x = sp.Symbol("x")
    v = sc.verify(2 * x, 3 * x)  # wrong: differs wherever x != 0
    page = v._repr_html_()
    assert v.holds is False and "wrong" in page and "Counterexample" in page
    assert _has_math(page)
    ok = sc.verify(2 * x, x + x)
    assert "correct" in ok._repr_html_() and ok._repr_latex_().startswith("$$\\text{correct")


def test_a_kernel_shows_its_signature_and_shapes():
    x, y, a = sp.symbols("x y a")
    k = sc.compile(a * x**2 + y**2, [x, y], params=[a])
    page = k._repr_html_()
    assert _has_math(page)
    assert "gradient(x, a)" in page and "(..., 2, 2)" in page
    assert r"\mathbb{R}^{\dots \times 2}" in k._repr_latex_()


def test_a_classification_shows_kind_eigenvalues_and_hessian():
    x, y = sp.symbols("x y")
    c = sc.classify(x**2 - y**2, [x, y], {x: 0, y: 0})
    page, tex = c._repr_html_(), c._repr_latex_()
    assert c.kind == "saddle" and "saddle" in page and _has_math(page)
    assert "-2" in tex and r"\nabla^2 L" in tex


def test_a_study_shows_its_summary_and_results():
    study = sc.load_problem('objective = "x^2 + y^2"\nvariables = {x="scalar", y="scalar"}').run()
    page = study._repr_html_()
    assert "engine self-checks" in page and _has_math(page)
    assert r"\nabla L" in study._repr_latex_()


def test_every_displayed_record_is_a_rich_display():
    for cls in (sc.Derivation, sc.Verdict, sc.Kernel, sc.Classification, sc.Study):
        assert issubclass(cls, RichDisplay), cls


def test_user_text_is_escaped_in_html():
    class Odd(RichDisplay):
        def __repr__(self):
            return "<script>alert(1)</script>"

    page = to_html(Odd())
    assert "<script>" not in page and re.search(r"&lt;script&gt;", page)
