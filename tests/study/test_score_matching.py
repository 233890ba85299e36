"""Denoising score matching in a problem file: the score and the loss gradients are right.

Independent routes: a hand-written NumPy energy, score and loss (central differences of the
loss in every parameter entry), and SymPy's elementwise derivative of the loss written entry
by entry (``Problem.to_explicit``), at the example's sizes and at a second size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.errors import ProblemFileError

ROOT = Path(__file__).resolve().parents[2]

TEMPLATE = """
notation = "matrix"
objective = "sum(softplus(W*x + b)) + x.T*x/(2*s^2)"
analyses = ["gradient", "score_matching"]
[variables]
x = {{ shape = [{d}] }}
[constants]
W = {{ shape = [{h}, {d}] }}
b = {{ shape = [{h}] }}
s = {{ value = 1.5, structure = ["positive"] }}
epsilon = {{ shape = [{d}] }}
tau = {{ value = 0.5, structure = ["positive"] }}
[score_matching]
noise = "epsilon"
sigma = "tau"
parameters = ["W", "b"]
"""


def _np_score(W, b, x, s):
    return -(W.T @ (1 / (1 + np.exp(-(W @ x + b)))) + x / s**2)


def _np_loss(W, b, x, e, s, tau):
    r = _np_score(W, b, x, s) + e / tau
    return float((r**2).sum())


def _values(problem, rng):
    """Random numbers for every matrix symbol of the problem, by name."""
    d = problem.lookup("x").shape[0]
    h = problem.lookup("W").shape[0]
    return dict(
        W=rng.normal(size=(h, d)),
        b=rng.normal(size=(h, 1)),
        x=rng.normal(size=(d, 1)),
        epsilon=rng.normal(size=(d, 1)),
    )


def _evaluate(problem, expr, vals):
    subs = {problem.lookup(k).symbol: sp.Matrix(v) for k, v in vals.items()}
    subs.update(problem.constant_values())
    out = expr.xreplace(subs).doit()
    out = out.as_explicit() if isinstance(out, sp.MatrixExpr) else out
    return np.array(sp.Matrix(out).evalf(), dtype=float)


@pytest.fixture(scope="module", params=[(3, 2), (2, 4)], ids=["d3h2", "d2h4"])
def study(request):
    d, h = request.param
    return sc.load_problem(TEMPLATE.format(d=d, h=h)).run()


def test_the_score_is_minus_the_energy_gradient(study):
    p, rng = study.problem, np.random.default_rng(1)
    vals = _values(p, rng)
    got = _evaluate(p, study.score_matching.score, vals)
    want = _np_score(vals["W"], vals["b"], vals["x"], 1.5)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_loss_gradients_match_central_differences_of_hand_numpy(study):
    p, rng = study.problem, np.random.default_rng(2)
    vals = _values(p, rng)
    h = 1e-6
    for name, gradient in study.score_matching.gradients:
        got = _evaluate(p, gradient, vals)
        want = np.zeros_like(vals[name])
        for idx in np.ndindex(*vals[name].shape):
            plus, minus = dict(vals), dict(vals)
            plus[name], minus[name] = vals[name].copy(), vals[name].copy()
            plus[name][idx] += h
            minus[name][idx] -= h
            args = [(v["W"], v["b"], v["x"], v["epsilon"], 1.5, 0.5) for v in (plus, minus)]
            want[idx] = (_np_loss(*args[0]) - _np_loss(*args[1])) / (2 * h)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8, err_msg=name)


def test_loss_gradients_match_sympy_elementwise_diff(study):
    p = study.problem
    loss = p.to_explicit(study.score_matching.loss)
    loss = loss[0, 0] if isinstance(loss, sp.MatrixBase) else loss
    rng = np.random.default_rng(3)
    vals = _values(p, rng)
    for name, gradient in study.score_matching.gradients:
        var = p.lookup(name)
        entries = p.to_explicit(var.symbol)
        point = {}
        for k, v in vals.items():
            point.update(zip(p.to_explicit(p.lookup(k).symbol), v.ravel()))
        point.update(p.constant_values())
        want = np.array(
            [[float(sp.diff(loss, e).subs(point)) for e in row] for row in entries.tolist()]
        )
        got = _evaluate(p, gradient, vals)
        np.testing.assert_allclose(got, want, rtol=1e-9, err_msg=name)


def test_the_study_records_checks_and_derivation_steps(study):
    sm = study.score_matching
    assert [n for n, _ in sm.gradients] == ["W", "b"]
    assert all(c.passed for c in sm.checks) and len(sm.checks) == 2
    assert study.derivations["loss:W"].steps and study.derivations["loss:b"].steps
    assert study.ok


@pytest.mark.parametrize(
    "change, where",
    [
        (('noise = "epsilon"', 'noise = "b"'), "score_matching.noise"),
        (('sigma = "tau"', 'sigma = "W"'), "score_matching.sigma"),
        (('parameters = ["W", "b"]', 'parameters = ["W", "s"]'), "score_matching.parameters"),
        (('parameters = ["W", "b"]', "parameters = []"), "score_matching.parameters"),
        (('noise = "epsilon"', 'noise = "epsilon"\nmodel = 1'), "score_matching.model"),
        ((TEMPLATE[TEMPLATE.index("[score_matching]") :], ""), "score_matching"),
    ],
)
def test_a_bad_score_matching_table_names_the_key(change, where):
    text = TEMPLATE.format(d=3, h=2).replace(*change)
    with pytest.raises(ProblemFileError, match=rf"\[{where}"):
        sc.load_problem(text)


def test_the_example_reports_the_score_and_loss_chains_in_html():
    page = sc.report(ROOT / "examples" / "score_matching.toml").to_html()
    for words in (
        "Score matching",
        "Gradient of the denoising loss with respect to W",
        "Gradient of the denoising loss with respect to b",
    ):
        assert words in page
    assert page.count("<math") > 20
