"""Issue 13's "what users wrote": each natural spelling gives the canonical answer.

Every derivative is checked twice, independently of symcalc's engine: against SymPy's
elementwise derivative at concrete sizes (the expression made explicit, then ``sp.diff``
entry by entry) and against central differences of a hand-written NumPy function, at a
random point (an SPD point for a covariance).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.expr.families.piecewise import abs as sc_abs
from symcalc.expr.families.piecewise import sign as sc_sign
from symcalc.expr.structure import StructuredMatrixSymbol, dim

N = 3  # the concrete size of n in the checks
n = dim("n")
rng = np.random.default_rng(20261202)


# --------------------------------------------------------------------------------------
# The independent routes
# --------------------------------------------------------------------------------------
def _point(expr) -> dict:
    """Random values for every matrix and scalar in ``expr`` (SPD for a structured symbol)."""
    values = {}
    for M in sorted(expr.atoms(sp.MatrixSymbol), key=lambda s: s.name):
        r, c = (int(d.xreplace({n: N})) for d in M.shape)
        if isinstance(M, StructuredMatrixSymbol):
            B = rng.normal(size=(r, r))
            values[M.name] = B @ B.T + r * np.eye(r)
        else:
            values[M.name] = rng.normal(size=(r, c))
    for s in sorted(expr.atoms(sp.Symbol) - {n}, key=lambda s: s.name):
        values[s.name] = rng.normal()
    return values


def _explicit(expr, names: dict):
    """``expr`` at n = N with every matrix an explicit matrix of entry symbols."""
    e = expr.xreplace({n: N})
    table = {}
    for M in e.atoms(sp.MatrixSymbol):
        r, c = (int(d) for d in M.shape)
        entries = [
            [
                names.setdefault((M.name, i, j), sp.Symbol(f"{M.name}_{i}_{j}", real=True))
                for j in range(c)
            ]
            for i in range(r)
        ]
        table[M] = sp.ImmutableMatrix(entries)
    out = e.xreplace(table).doit()
    out = out.replace(  # a trace SymPy left unevaluated: the trace of the explicit matrix
        lambda z: isinstance(z, sp.Trace), lambda z: sp.Matrix(z.arg.as_explicit()).trace()
    )
    if isinstance(out, sp.MatrixExpr):
        out = out.as_explicit()
    return out


def _numbers(names: dict, values: dict, expr) -> dict:
    sub = {sym: values[name][i, j] for (name, i, j), sym in names.items()}
    sub.update({s: values[s.name] for s in expr.atoms(sp.Symbol) if s.name in values})
    return sub


def _value(expr, names, values):
    e = _explicit(expr, names)
    sub = _numbers(names, values, expr)
    if isinstance(e, sp.MatrixBase):
        return np.array(e.xreplace(sub).evalf(30).tolist(), dtype=float)
    return float(sp.sympify(e).xreplace(sub).evalf(30))


def _entries(V) -> list[tuple[int, int]]:
    r, c = (int(d.xreplace({n: N})) for d in V.shape)
    return [(i, j) for j in range(c) for i in range(r)]  # column-major, as vec


def check_derivative(f, V, result, numpy_f, order: int = 1):
    """``result`` is the derivative of ``f`` in ``V`` (the gradient, or the Jacobian of a
    vector f; order=2: the Hessian), by SymPy's entrywise diff and by central differences."""
    values = _point(f + 0 if not isinstance(f, sp.MatrixExpr) else f)
    names: dict = {}
    got = _value(result, names, values)
    F = _explicit(f, names)
    if isinstance(F, sp.MatrixBase) and F.shape == (1, 1):
        F = F[0, 0]
    syms = [
        names.setdefault((V.name, i, j), sp.Symbol(f"{V.name}_{i}_{j}", real=True))
        for i, j in _entries(V)
    ]
    sub = _numbers(names, values, f)
    if order == 2:
        grad = [sp.diff(F, s) for s in syms]
        want = np.array(
            [[float(sp.diff(g, s).xreplace(sub).evalf(30)) for s in syms] for g in grad]
        )
    elif isinstance(F, sp.MatrixBase):
        comps = list(F)
        want = np.array(
            [[float(sp.diff(c, s).xreplace(sub).evalf(30)) for s in syms] for c in comps]
        )
    else:
        flat = np.array([float(sp.diff(F, s).xreplace(sub).evalf(30)) for s in syms])
        want = flat.reshape(got.shape, order="F") if np.ndim(got) == 2 else flat
    np.testing.assert_allclose(
        np.asarray(got, dtype=float).reshape(want.shape), want, rtol=1e-9, atol=1e-12
    )
    h = 1e-4 if order == 2 else 1e-5
    fd = _central(numpy_f, values, V.name, order, np.asarray(values[V.name]).shape, h)
    flat = want.ravel(order="F") if fd.ndim == 1 else want
    np.testing.assert_allclose(flat, fd, rtol=1e-5, atol=1e-5 if order == 2 else 1e-6)


def _central(numpy_f, values, name, order, shape, h=1e-5):
    """Central differences of the hand-written NumPy function in the entries of ``name``."""
    base = np.array(values[name], dtype=float)

    def at(flat):
        v = dict(values)
        v[name] = flat.reshape(shape, order="F")
        return np.atleast_1d(np.asarray(numpy_f(**v), dtype=float)).ravel(order="F")

    def jac(fn, flat):
        cols = []
        for k in range(flat.size):
            e = np.zeros_like(flat)
            e[k] = h
            cols.append((fn(flat + e) - fn(flat - e)) / (2 * h))
        return np.array(cols).T

    flat = base.ravel(order="F")
    if order == 2:
        return jac(lambda p: jac(at, p).ravel(), flat).reshape(flat.size, flat.size)
    J = jac(at, flat)
    return J.ravel() if J.shape[0] == 1 else J


# --------------------------------------------------------------------------------------
# The spellings
# --------------------------------------------------------------------------------------
x, y, a, b, c, mu, w = (sp.MatrixSymbol(s, n, 1) for s in "x y a b c mu w".split())
A, X = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("X", n, n)
Sigma = sp.MatrixSymbol("Sigma", n, n)  # a plain MatrixSymbol as the covariance
beta = sp.Symbol("beta", real=True)


def _logpdf(x, mu, Sigma, **_):
    d = x - mu
    sign, logdet = np.linalg.slogdet(Sigma)
    return (
        -0.5 * (d.T @ np.linalg.solve(Sigma, d)).item()
        - 0.5 * logdet
        - 0.5 * len(x) * np.log(2 * np.pi)
    )


def test_gaussian_with_a_plain_covariance_gradient_and_hessian_in_x():
    lp = sc.gaussian_logpdf(x, mu, Sigma)
    g, H = sc.gradient(lp, x), sc.hessian(lp, x)
    S = sc.gaussian_logpdf(x, mu, Sigma).atoms(StructuredMatrixSymbol).pop()
    assert sc.text(H) == "-Sigma^-1" or H == -S.inv() or sp.simplify(H + S.I) == sp.ZeroMatrix(n, n)
    check_derivative(lp, x, g, _logpdf)
    check_derivative(lp, x, H, _logpdf, order=2)


def test_gaussian_with_a_plain_covariance_gradient_in_sigma_and_mu():
    lp = sc.gaussian_logpdf(x, mu, Sigma)
    check_derivative(lp, mu, sc.gradient(lp, mu), _logpdf)
    G = sc.gradient(lp, Sigma)
    S = lp.atoms(StructuredMatrixSymbol).pop()
    d = x - mu
    canonical = -S.I / 2 + S.I * d * d.T * S.I / 2
    assert sc.verify(canonical, G).holds
    check_derivative(lp, S, G, _logpdf)


def test_verify_gradient_takes_the_natural_claim_and_says_what_it_assumed():
    lp = sc.gaussian_logpdf(x, mu, Sigma)
    v = sc.verify_gradient(lp, x, "-Sigma^{-1}(x-mu)")
    assert v.holds is True
    assert v.assumed == ["Sigma is symmetric positive definite (a covariance)"]
    assert "assumed: Sigma is symmetric positive definite" in v.describe()
    assert sc.verify_gradient(lp, x, "-Sigma^{-1}(x+mu)").holds is False
    assert sc.verify_hessian(lp, x, "-Sigma^{-1}").holds is True
    assert sc.derive(lp, x).meta["assumed"] == v.assumed


@pytest.mark.parametrize(
    "name, f, V, canonical, numpy_f",
    [
        (
            "(x.T*A*x)[0, 0]",
            lambda: (x.T * A * x)[0, 0],
            x,
            lambda: (A + A.T) * x,
            lambda x, A, **_: (x.T @ A @ x).item(),
        ),
        (
            "(x.T*y)**(1/2)",
            lambda: (x.T * y) ** sp.Rational(1, 2),
            x,
            lambda: y / (2 * sp.sqrt(sp.Trace(x.T * y))),
            lambda x, y, **_: np.sqrt(abs((x.T @ y).item())),
        ),
        (
            "(c.T*a*x.T*b)**(1/3)",
            lambda: (c.T * a * x.T * b) ** sp.Rational(1, 3),
            x,
            lambda: b * c.T * a / (3 * sp.Trace(c.T * a * x.T * b) ** sp.Rational(2, 3)),
            lambda c, a, x, b, **_: np.cbrt((c.T @ a @ x.T @ b).item()),
        ),
        (
            "hadamard_power(a.T*X*b, 1/2)",
            lambda: sc.hadamard_power(a.T * X * b, sp.Rational(1, 2)),
            X,
            lambda: a * b.T / (2 * sp.sqrt(sp.Trace(a.T * X * b))),
            lambda a, X, b, **_: np.sqrt(abs((a.T @ X @ b).item())),
        ),
        (
            "norm1(A x - y) (elementwise Abs)",
            lambda: sc.sum_entries(sc.elementwise(sp.Abs, A * x - y)),
            x,
            lambda: A.T * sc.elementwise(sc_sign, A * x - y),
            lambda A, x, y, **_: np.abs(A @ x - y).sum(),
        ),
        (
            "Max(0, w.T x + beta)",
            lambda: sp.Max(0, (w.T * x)[0, 0] + beta),
            w,
            lambda: sc.heaviside(sp.Trace(w.T * x) + beta) * x,
            lambda w, x, beta, **_: max(0.0, (w.T @ x).item() + beta),
        ),
    ],
)
def test_scalar_spellings(name, f, V, canonical, numpy_f):
    expr = f()
    g = sc.gradient(expr, V)
    assert sc.verify(canonical(), g).holds, f"{name}: {g}"
    check_derivative(expr, V, g, numpy_f)


@pytest.mark.parametrize(
    "name, F, canonical, numpy_f",
    [
        ("x.T", lambda: x.T, lambda: sp.Identity(n), lambda x, **_: x.T),
        (
            "x.T.^2",
            lambda: sc.hadamard_power(x.T, 2),
            lambda: sp.DiagMatrix(2 * x),
            lambda x, **_: x.T**2,
        ),
    ],
)
def test_jacobian_of_a_row_vector_is_the_columns(name, F, canonical, numpy_f):
    J = sc.jacobian(F(), x)
    assert sc.verify(canonical(), J).holds, f"{name}: {J}"
    check_derivative(sp.Transpose(F()).doit(), x, J, numpy_f)


def test_derive_takes_an_immutable_matrix():
    t = sp.Symbol("t", real=True)
    d = sc.derive(sp.ImmutableMatrix([t**2, sp.sin(t)]), [t])
    assert d.results["jacobian"] == sp.Matrix([[2 * t], [sp.cos(t)]])


def test_descent_rate_takes_a_matrix_symbol():
    r = sc.descent_rate(sp.Trace(w.T * w), w).rate
    value = _value(r, {}, {"w": np.arange(1.0, N + 1).reshape(-1, 1)})
    assert value == pytest.approx(-4 * sum(k * k for k in range(1, N + 1)))


def test_vec_and_commutation_matrix_of_symbolic_size():
    m = dim("m")
    Y = sp.MatrixSymbol("Y", m, n)
    V, K = sc.vec(Y), sc.commutation_matrix(m, n)
    assert (type(V).__name__, type(K).__name__) == ("Vec", "CommutationMatrix")
    Kc = K.xreplace({m: 2, n: 3}).as_explicit()
    Yc = sp.Matrix(2, 3, sp.symbols("y0:6"))
    assert Kc * sc.vec(Yc) == sc.vec(Yc.T)


def test_reading_results_back():
    assert sc.parse(sc.text(sc.ones(x.rows).T * x), symbols={"x": x}) == sp.OneMatrix(1, n) * x
    assert sc.parse(sc.text(sc.hadamard_power(x, 2)), symbols={"x": x}) == sp.HadamardPower(x, 2)
    t = sp.Symbol("t", real=True)
    assert sc.parse(sc.text(sp.Abs(t)), symbols={"t": t}) == sc_abs(t)
    g = sc.gradient(sc.sum_entries(sc.elementwise(sc.softplus, A * w)), w)
    assert str(g) == "A.T*sigmoid(A*w)"


def test_critical_points_of_a_periodic_function_are_not_complete():
    t, z = sp.symbols("t z", real=True)
    assert sc.critical_points(sp.sin(t) + z**2, [t, z]).complete is False


def _logabsdet(X, **_):
    return np.linalg.slogdet(X)[1]


def test_log_abs_det_gradient_is_the_inverse_transpose_also_where_det_is_negative():
    G = sc.gradient(sp.log(sp.Abs(sp.det(X))), X)
    assert G == X.T.I
    check_derivative(sp.log(sp.Abs(sp.det(X))), X, G, _logabsdet)
    values = {"X": np.diag([-2.0, 1.0, 3.0]) + 0.1}  # det < 0
    assert np.linalg.det(values["X"]) < 0
    fd = _central(_logabsdet, values, "X", 1, (N, N))
    np.testing.assert_allclose(np.linalg.inv(values["X"]).T.ravel(order="F"), fd, rtol=1e-6)


@pytest.mark.parametrize(
    "constant", [sp.Integer(2**63 - 1), sp.Float(1e308), sp.Float(1e300), sp.Integer(10) ** 300]
)
def test_self_checks_scale_with_the_values(constant):
    """A large constant cancels in the central difference: no false self-check failure."""
    s, r = sp.symbols("s r", real=True)
    d = sc.derive(s**2 * r + constant, [s, r])
    assert d.gradient == sp.Matrix([2 * s * r, s**2])
    assert d.checks and all(c.passed for c in d.checks)
    assert sc.gradient(sp.Trace(w.T * w) + constant, w) == 2 * w


# --------------------------------------------------------------------------------------
# Linear differentials read off in every spelling (issue 13: scalar times vector, rows,
# quotients, Vec), each the same answer as the canonical spelling
# --------------------------------------------------------------------------------------
Bm, Cm = sp.MatrixSymbol("B", n, n), sp.MatrixSymbol("C", n, n)
Bspd = sc.positive_definite("B", n)
v_ = sp.HadamardProduct(A, Bm) * Cm * x  # ((A o B) C x)


def _v(A, B, C, x, **_):
    return (A * B) @ C @ x


def _quad(M, z):
    return (z.T @ M @ z).item()


@pytest.mark.parametrize(
    "name, natural, canonical, numpy_f",
    [
        (
            "((A o B) C x)^T x * x",
            lambda: (v_.T * x) * x,
            lambda: sp.Trace(v_.T * x) * x,
            lambda x, **k: (_v(x=x, **k).T @ x).item() * x,
        ),
        (
            "((A o B) C x)^T x [0, 0] * x",
            lambda: (v_.T * x)[0, 0] * x,
            lambda: sp.Trace(v_.T * x) * x,
            lambda x, **k: (_v(x=x, **k).T @ x).item() * x,
        ),
        (
            "x*x.T*a",
            lambda: x * x.T * a,
            lambda: sp.Trace(a.T * x) * x,
            lambda x, a, **_: (a.T @ x).item() * x,
        ),
        (
            "x.T*(x.T*x) (a row times a 1 x 1)",
            lambda: x.T * (x.T * x),
            lambda: sp.Trace(x.T * x) * x,
            lambda x, **_: (x.T @ x).item() * x,
        ),
        (
            "A*x/(a.T*x)",
            lambda: A * x / (a.T * x),
            lambda: A * x / sp.Trace(a.T * x),
            lambda A, x, a, **_: A @ x / (a.T @ x).item(),
        ),
        (
            "x/sqrt((x.T*x)[0, 0])",
            lambda: x / sp.sqrt((x.T * x)[0, 0]),
            lambda: x / sp.sqrt(sp.Trace(x.T * x)),
            lambda x, **_: x / np.linalg.norm(x),
        ),
    ],
)
def test_jacobian_spellings(name, natural, canonical, numpy_f):
    J = sc.jacobian(natural(), x)
    assert J == sc.jacobian(canonical(), x), f"{name}: {J}"
    assert not J.atoms(sp.KroneckerProduct, sc.CommutationMatrix, sc.Vec), f"{name}: {J}"
    check_derivative(canonical(), x, J, numpy_f)


@pytest.mark.parametrize(
    "name, natural, canonical, numpy_f",
    [
        (
            "Rayleigh (x.T*A*x)[0, 0] / (x.T*x)[0, 0]",
            lambda: (x.T * A * x)[0, 0] / (x.T * x)[0, 0],
            lambda: sp.Trace(x.T * A * x) / sp.Trace(x.T * x),
            lambda x, A, **_: _quad(A, x) / (x.T @ x).item(),
        ),
        (
            "generalized Rayleigh (x.T*A*x)/(x.T*B*x)",
            lambda: (x.T * A * x) / (x.T * Bspd * x),
            lambda: sp.Trace(x.T * A * x) / sp.Trace(x.T * Bspd * x),
            lambda x, A, B, **_: _quad(A, x) / _quad(B, x),
        ),
        (
            "sum(x.^2)^(1/2)",
            lambda: sc.sum_entries(sc.hadamard_power(x, 2)) ** sp.Rational(1, 2),
            lambda: sp.sqrt(sp.Trace(x.T * x)),
            lambda x, **_: np.linalg.norm(x),
        ),
        (
            "(x.T*A*x)*(a.T*x)",
            lambda: (x.T * A * x) * (a.T * x),
            lambda: sp.Trace(x.T * A * x) * sp.Trace(a.T * x),
            lambda x, A, a, **_: _quad(A, x) * (a.T @ x).item(),
        ),
    ],
)
def test_hessian_spellings(name, natural, canonical, numpy_f):
    H = sc.hessian(natural(), x)
    assert H == sc.hessian(canonical(), x), f"{name}: {H}"
    assert not H.atoms(sp.KroneckerProduct, sc.CommutationMatrix, sc.Vec), f"{name}: {H}"
    check_derivative(canonical(), x, H, numpy_f, order=2)


def test_jacobian_of_vec_of_a_product_at_symbolic_size():
    F = sc.vec(A * X * Bm)
    J = sc.jacobian(F, X)
    assert J == sp.KroneckerProduct(Bm.T, A)
    # the reference: (A X B)^T listed row by row is vec(A X B) (column-major)
    check_derivative(sp.Transpose(A * X * Bm), X, J, lambda A, X, B, **_: A @ X @ B)


def test_scalar_times_matrix_variables():
    assert sc.jacobian(beta * X, X) == beta * sp.Identity(n * n)
    f = sp.Trace(X) * sp.Trace(X.T * X)
    H = sc.hessian(f, X)
    check_derivative(f, X, H, lambda X, **_: np.trace(X) * np.trace(X.T @ X), order=2)
    G = sc.gradient(beta * sp.Trace(X.T * A * X), X)
    check_derivative(
        beta * sp.Trace(X.T * A * X), X, G, lambda X, A, beta, **_: beta * np.trace(X.T @ A @ X)
    )
