"""The one central difference, against hand-written NumPy derivatives and SymPy's diff."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symcalc.checks.differences import central_difference
from symcalc.checks.explicit import materialize, numeric


def rosenbrock(p: np.ndarray) -> list[float]:
    x, y = p
    return [(1 - x) ** 2 + 100 * (y - x**2) ** 2]


def rosenbrock_gradient(p: np.ndarray) -> np.ndarray:
    x, y = p
    return np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])


@pytest.mark.parametrize("seed", range(5))
def test_directional_derivative_of_a_numpy_function(seed):
    rng = np.random.default_rng(seed)
    p, d = rng.normal(size=2), rng.normal(size=2)
    fd = central_difference(rosenbrock, lambda t: p + t * d, 1e-6)
    exact = rosenbrock_gradient(p) @ d
    assert abs(fd[0] - exact) <= 1e-5 * (1 + abs(exact))


def test_exact_steps_and_a_number_hook_match_sympy_diff():
    x, y = sp.symbols("x y")
    f = sp.exp(x) * sp.sin(y)
    point = {x: sp.Rational(1, 3), y: sp.Rational(-2, 7)}
    direction = {x: sp.Rational(1, 2), y: sp.Rational(3, 2)}

    def along(t):
        return {s: point[s] + t * direction[s] for s in (x, y)}

    fd = central_difference(
        lambda at: [f.xreplace(at)], along, sp.Rational(1, 10**12), lambda d: complex(sp.N(d, 30))
    )
    exact = sum(sp.diff(f, s).xreplace(point) * direction[s] for s in (x, y))
    assert abs(fd[0] - complex(sp.N(exact, 30))) < 1e-12


def test_vector_valued_phi_gives_one_entry_per_output():
    fd = central_difference(lambda t: [t**2, np.sin(t), 3 * t], lambda t: 0.7 + t, 1e-6)
    assert np.allclose(fd, [2 * 0.7, np.cos(0.7), 3.0], atol=1e-8)


def test_explicit_evaluation_against_as_explicit():
    A, B = sp.MatrixSymbol("A", 2, 3), sp.MatrixSymbol("B", 3, 2)
    a = sp.Matrix(2, 3, lambda i, j: i + 2 * j + 1)
    b = sp.Matrix(3, 2, lambda i, j: i - j)
    expr = A * B + sp.Identity(2)
    assert materialize(expr, {A: a, B: b}) == (A * B + sp.Identity(2)).as_explicit().subs(
        {**{A[i, j]: a[i, j] for i in range(2) for j in range(3)},
         **{B[i, j]: b[i, j] for i in range(3) for j in range(2)}}
    )  # fmt: skip
    x = sp.Symbol("x")
    assert numeric(sp.log(x), {x: 3}) == pytest.approx(complex(np.log(3)))
