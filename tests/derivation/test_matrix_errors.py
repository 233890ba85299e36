"""Bad input to the matrix engine gets an error that names the problem."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symcalc as sc

n = sp.Symbol("n", integer=True, positive=True)
A = sc.matrix_symbol("A", "n", "n")
x = sc.vector("x", "n")


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: sc.gradient(A * x, x), sc.ShapeError, "not a scalar"),
        (lambda: sc.hessian(A * x, x), sc.ShapeError, "needs a scalar function"),
        (lambda: sc.gradient(sp.Trace(A), A * x), ValueError, "not A*x"),
        (lambda: sc.jacobian(sp.Trace(A), A), sc.ShapeError, "use gradient()"),
        (lambda: sc.gradient(sp.floor(sp.Trace(A)), A), sc.NoRuleError, "floor"),
    ],
)
def test_matrix_engine_errors(call, error, message):
    with pytest.raises(error) as err:
        call()
    assert message in str(err.value)
    assert isinstance(err.value, sc.SymcalcError)


def test_jacobian_of_a_scalar_is_the_gradient_as_a_row():
    f = sc.quadratic_form(x, A)
    J = sc.jacobian(f, x)
    assert J.shape == (1, n)
    # independent check at n = 3: sympy's elementwise diff of x^T A x
    xs, As = sp.Matrix(sp.symbols("x0:3")), sp.Matrix(3, 3, sp.symbols("a0:9"))
    explicit = (xs.T * As * xs)[0, 0]
    sized = {x.subs(n, 3): sp.ImmutableMatrix(xs), A.subs(n, 3): sp.ImmutableMatrix(As)}
    Jn = J.subs({n: 3}).xreplace(sized).doit()
    ref = sp.Matrix([[sp.diff(explicit, s) for s in xs]])
    assert (sp.Matrix(Jn) - ref).expand() == sp.zeros(1, 3)
    rng = np.random.default_rng(0)
    vals = dict(zip(list(xs) + list(As), rng.normal(size=12)))
    assert float(sp.Matrix(Jn).subs(vals)[0]) == pytest.approx(float(ref.subs(vals)[0]))


def test_float_coefficients_pass_the_self_checks():
    """A user writes 0.05, not Rational(1, 20): the checks must not blame the engine."""
    X, w, y = sc.matrix_symbol("X", "m", "n"), sc.vector("w", "n"), sc.vector("y", "m")
    f = sc.logistic_loss(X, w, y) + 0.05 * sp.Trace(w.T * w)
    d = sc.derive(f, w, order=2)
    assert d.all_checks_passed and len(d.checks) == 4
    # the same Hessian as with the exact coefficient 1/20, derived independently
    exact = sc.derive(
        sc.logistic_loss(X, w, y) + sp.Rational(1, 20) * sp.Trace(w.T * w), w, order=2
    )
    H = d.results["hessian"]
    assert (
        H.xreplace({fl: sp.nsimplify(fl) for fl in H.atoms(sp.Float)}) == exact.results["hessian"]
    )
