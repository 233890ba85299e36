"""Denoising score matching in a problem file: the objective is an energy E(x), the
``[score_matching]`` table names the noise, its level and the model's parameters.

The study derives the score s(x) = -grad_x E(x) (the objective's gradient, with its
steps), writes the denoising loss l = ||s(x) + e/sigma||^2 at the noisy sample x, and
derives the gradient of l with respect to every parameter, each with its own steps,
checked against central differences at a random point.

>>> import symcalc as sc
>>> p = sc.load_problem('''
... notation = "matrix"
... objective = "sum(softplus(W*x + b)) + x.T*x/2"
... analyses = ["gradient", "score_matching"]
... [variables]
... x = { shape = [2] }
... [constants]
... W = { shape = [3, 2] }
... b = { shape = [3] }
... eps = { shape = [2] }
... tau = { value = 0.5, structure = ["positive"] }
... [score_matching]
... noise = "eps"
... sigma = "tau"
... parameters = ["W", "b"]
... ''')
>>> sm = p.run().score_matching
>>> sc.text(sm.score)
'-W.T*sigmoid(W*x + b) - x'
>>> [name for name, _ in sm.gradients], all(c.passed for c in sm.checks)
(['W', 'b'], True)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from dataclasses import field as _field
from typing import TYPE_CHECKING, Any

import sympy as sp

from symcalc.checks.differences import central_difference
from symcalc.checks.explicit import materialize
from symcalc.expr.registry import expand_named, needs_rewrite

if TYPE_CHECKING:
    from symcalc.study.results import FiniteDifference, Study
    from symcalc.study.schema import Problem

#: the keys of a [score_matching] table
SCORE_MATCHING_KEYS = {
    "noise": "the name of the noise constant e (the shape of the variable)",
    "sigma": "the name of the noise level (a scalar constant)",
    "parameters": "a list of names of the model's parameters (constants)",
}


@dataclass
class ScoreMatching:
    """The score of an energy model and the gradients of its denoising loss.

    ``score`` = -grad_x E; ``loss`` = ||score + e/sigma||^2 (a scalar MatrixExpr);
    ``gradients``: (parameter name, closed form) in the file's order; ``checks``:
    central differences of the loss against each gradient.
    """

    score: Any
    loss: Any
    noise: Any
    sigma: Any
    gradients: list[tuple[str, Any]] = _field(default_factory=list)
    checks: list[FiniteDifference] = _field(default_factory=list)


def build_score_matching(spec: Any, problem: Problem, ctx: Any) -> dict:
    """The [score_matching] table checked against the declarations: names -> Variables."""
    if not isinstance(spec, dict):
        raise ctx.error("score_matching", "a table with noise, sigma, parameters", spec)
    for key in spec:
        if key not in SCORE_MATCHING_KEYS:
            raise ctx.error(
                f"score_matching.{key}", "one of the keys " + ", ".join(sorted(SCORE_MATCHING_KEYS))
            )
    if problem.notation != "matrix" or len(problem.variables) != 1:
        raise ctx.error("score_matching", "matrix notation and one variable x (the sample)")
    x = problem.variables[0]
    noise, sigma = problem.lookup(spec.get("noise")), problem.lookup(spec.get("sigma"))
    if noise is None or noise.shape != x.shape:
        raise ctx.error(
            "score_matching.noise", f"a constant of the shape of {x.name}", spec.get("noise")
        )
    if sigma is None or sigma.shape != ():
        raise ctx.error("score_matching.sigma", "a scalar constant", spec.get("sigma"))
    names = spec.get("parameters")
    if not isinstance(names, list) or not names:
        raise ctx.error("score_matching.parameters", SCORE_MATCHING_KEYS["parameters"], names)
    params = [problem.lookup(n) if isinstance(n, str) else None for n in names]
    if any(v is None or not v.is_constant or v.value is not None for v in params):
        raise ctx.error(
            "score_matching.parameters", "names of constants declared without a value", names
        )
    return {"noise": noise, "sigma": sigma, "parameters": params}


def run_score_matching(problem: Problem, study: Study, progress) -> None:
    """Fill ``study.score_matching``, its derivations ("loss:W", ...) and results."""
    from symcalc.derivation.walker import derive
    from symcalc.expr.structure import norm_squared

    spec = problem.score_matching
    gradient = study.results.get("gradient")
    if gradient is None:
        gradient = study.derivations["objective"].results["gradient"]
    score = -gradient
    e, sigma = spec["noise"].symbol, spec["sigma"].symbol
    loss = norm_squared(score + e / sigma)
    sm = ScoreMatching(score=score, loss=loss, noise=e, sigma=sigma)
    for var in spec["parameters"]:
        progress(f"deriving the gradient of the denoising loss with respect to {var.name}")
        d = derive(loss, var.symbol, 1)
        study.derivations[f"loss:{var.name}"] = d
        sm.gradients.append((var.name, d.results["gradient"]))
    progress("checking the loss gradients against central finite differences")
    sm.checks = [
        _difference_check(problem, loss, v, g)
        for v, (_, g) in zip(spec["parameters"], sm.gradients)
    ]
    study.results["score"] = score
    study.score_matching = sm


def _difference_check(problem: Problem, loss: Any, var: Any, gradient: Any) -> FiniteDifference:
    """Central differences of the loss in every entry of one parameter, at a random point."""
    from symcalc.study.results import FiniteDifference

    subs = _random_point(problem, random.Random(problem.seed + 7))
    sym = var.symbol
    h = sp.Rational(1, 10**6)
    exact = sp.Matrix(_value(gradient, subs))
    errors = []
    for j in range(sym.shape[1]):
        for i in range(sym.shape[0]):
            approx = central_difference(
                lambda at: [float(_value(loss, at))],
                lambda t, i=i, j=j: _moved(subs, sym, i, j, t),
                h,
                float,
            )[0]
            errors.append(abs(approx - float(exact[i, j])))
    err, scale = max(errors), max(abs(float(v)) for v in exact)
    x = problem.variables[0]
    point = {sp.Symbol(f"{x.name}_{k + 1}"): float(v) for k, v in enumerate(subs[x.symbol])}
    name = f"loss gradient with respect to {var.name}"
    return FiniteDifference(name, point, float(h), err, scale, err <= 1e-5 * (1 + scale))


def _random_point(problem: Problem, rng: random.Random) -> dict:
    """The constants' values, and random entries in [-0.9, 0.9] for every other matrix."""
    subs: dict[Any, Any] = dict(problem.constant_values())
    for v in problem.variables + problem.constants:
        if isinstance(v.symbol, sp.MatrixSymbol) and v.symbol not in subs:
            rows, cols = v.symbol.shape
            subs[v.symbol] = sp.Matrix(rows, cols, lambda i, j: sp.Rational(rng.randint(-9, 9), 10))
    return subs


def _value(expr: Any, subs: dict) -> Any:
    """``expr`` at the point, as numbers (30 digits)."""
    out = materialize(expr, subs)
    out = expand_named(out) if needs_rewrite(out) else out
    return out.evalf(30)


def _moved(subs: dict, sym: Any, i: int, j: int, delta: Any) -> dict:
    """The point with entry (i, j) of ``sym`` moved by ``delta``."""
    moved = sp.Matrix(subs[sym])
    moved[i, j] += delta
    return {**subs, sym: moved}
