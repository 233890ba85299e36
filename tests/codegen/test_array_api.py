"""Array-API kernels (symcalc.codegen.array_api): one generated source on NumPy, Dask (local
scheduler here; the distributed cluster is in test_dask.py), JAX and CuPy.

Every derivative is checked against routes that do not use the kernel: SymPy's
element-by-element derivative of the loss written with concrete numbers, and central
differences of the kernel's own value.
"""

from __future__ import annotations

import importlib.util
import inspect

import numpy as np
import pytest
import sympy as sp

pytest.importorskip("array_api_compat")

from helpers_numeric import central_gradient  # noqa: E402

import symcalc as sc  # noqa: E402
from symcalc.codegen.array_api import ArrayAPIPrinter, compile_array_api, namespace_of
from symcalc.errors import InputError, InputTypeError, ShapeError  # noqa: E402
from symcalc.expr.structure import logistic_loss, softmax_cross_entropy, squared_error  # noqa: E402

HAVE_JAX = importlib.util.find_spec("jax") is not None


def _cupy_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


needs_jax = pytest.mark.skipif(not HAVE_JAX, reason="JAX is not installed (pip install 'jax[cpu]')")
needs_cupy = pytest.mark.skipif(
    not _cupy_available(), reason="CuPy / a CUDA device is not available"
)

X = sc.matrix_symbol("X", "m", "n")
w = sc.vector("w", "n")
y = sc.vector("y", "m")


@pytest.fixture(scope="module")
def logistic():
    return compile_array_api(logistic_loss(X, w, y), w, params=[X, y])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    Xn = rng.normal(size=(5, 3))
    yn = (rng.random(5) < 0.5).astype(float)
    wn = rng.normal(size=3)
    return wn, Xn, yn


def _elementwise_truth(Xn, yn, wn):
    """Value, gradient and Hessian of the logistic loss from sympy.diff on concrete numbers."""
    ws = sp.symbols(f"w0:{len(wn)}")
    z = [sum(sp.Float(Xn[i, j]) * ws[j] for j in range(len(wn))) for i in range(len(yn))]
    f = sum(sp.log(1 + sp.exp(zi)) - sp.Float(yi) * zi for zi, yi in zip(z, yn))
    at = dict(zip(ws, wn))
    g = [float(sp.diff(f, s).subs(at)) for s in ws]
    H = [[float(sp.diff(f, a, b).subs(at)) for b in ws] for a in ws]
    return float(f.subs(at)), np.array(g), np.array(H)


# ---------------------------------------------------------------------------
# NumPy: against the symbolic truth and central differences
# ---------------------------------------------------------------------------
def test_logistic_matches_sympy_elementwise_and_central_differences(logistic, data):
    wn, Xn, yn = data
    v, g, H = _elementwise_truth(Xn, yn, wn)
    assert np.isclose(logistic.value(wn, Xn, yn), v, rtol=1e-12)
    np.testing.assert_allclose(logistic.gradient(wn, Xn, yn), g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(logistic.hessian(wn, Xn, yn), H, rtol=1e-10, atol=1e-12)
    fd = central_gradient(lambda t: float(logistic.value(t, Xn, yn)), wn)
    np.testing.assert_allclose(logistic.gradient(wn, Xn, yn), fd, rtol=1e-6, atol=1e-8)
    fd_h = np.array(
        [central_gradient(lambda t, k=k: logistic.gradient(t, Xn, yn)[k], wn) for k in range(3)]
    )
    np.testing.assert_allclose(logistic.hessian(wn, Xn, yn), fd_h, rtol=1e-6, atol=1e-8)


def test_fused_methods_agree_with_the_single_ones(logistic, data):
    wn, Xn, yn = data
    v, g = logistic.value_and_gradient(wn, Xn, yn)
    v2, g2, H2 = logistic.value_gradient_hessian(wn, Xn, yn)
    assert np.isclose(v, logistic.value(wn, Xn, yn)) and np.isclose(v2, v)
    np.testing.assert_allclose(g, logistic.gradient(wn, Xn, yn))
    np.testing.assert_allclose(g2, g)
    np.testing.assert_allclose(H2, logistic.hessian(wn, Xn, yn))


def test_squared_error_and_softmax_cross_entropy_by_central_differences():
    A = sc.matrix_symbol("A", "m", "n")
    x = sc.vector("x", "n")
    b = sc.vector("b", "m")
    k = compile_array_api(squared_error(A, x, b), x, params=[A, b])
    rng = np.random.default_rng(3)
    An, bn, xn = rng.normal(size=(6, 3)), rng.normal(size=6), rng.normal(size=3)
    assert np.isclose(k.value(xn, An, bn), np.sum((An @ xn - bn) ** 2))
    fd = central_gradient(lambda t: float(k.value(t, An, bn)), xn)
    np.testing.assert_allclose(k.gradient(xn, An, bn), fd, rtol=1e-6)
    fd_h = np.array(
        [central_gradient(lambda t, i=i: k.gradient(t, An, bn)[i], xn) for i in range(3)]
    )
    np.testing.assert_allclose(k.hessian(xn, An, bn), fd_h, rtol=1e-6, atol=1e-8)

    z = sc.vector("z", "n")
    t = sc.vector("t", "n")
    ce = compile_array_api(softmax_cross_entropy(z, t), z, params=[t])
    zn, tn = rng.normal(size=4), np.array([0.0, 1.0, 0.0, 0.0])
    p = np.exp(zn) / np.exp(zn).sum()
    assert np.isclose(ce.value(zn, tn), -np.log(p[1]))
    fd = central_gradient(lambda u: float(ce.value(u, tn)), zn)
    np.testing.assert_allclose(ce.gradient(zn, tn), fd, rtol=1e-6, atol=1e-9)


def test_a_penalty_named_lambda_with_assumptions(data):
    from symcalc.expr.structure import norm_squared

    lam = sp.Symbol("lambda", positive=True)
    k = compile_array_api(logistic_loss(X, w, y) + lam * norm_squared(w), w, params=[X, y, lam])
    assert "def gradient(xp, v0, p0, p1, p2):" in k.source  # generator names: lambda is p2
    wn, Xn, yn = data
    z = Xn @ wn
    np.testing.assert_allclose(
        k.gradient(wn, Xn, yn, 0.3), Xn.T @ (1 / (1 + np.exp(-z)) - yn) + 0.6 * wn
    )
    np.testing.assert_allclose(
        k.hessian(wn, Xn, yn, 0.3) - k.hessian(wn, Xn, yn, 0.0), 0.6 * np.eye(3), atol=1e-12
    )


def test_explicit_symbols_batched_against_sympy_and_central_differences():
    x1, x2, a = sp.symbols("x y a")
    f = (a - x1) ** 2 + 100 * (x2 - x1**2) ** 2 + sp.log(1 + sp.exp(x1 * x2))
    k = compile_array_api(f, [x1, x2], params=[a])
    pts = np.random.default_rng(0).normal(size=(4, 3, 2))
    assert k.value(pts, 1.5).shape == (4, 3)
    assert k.gradient(pts, 1.5).shape == (4, 3, 2)
    assert k.hessian(pts, 1.5).shape == (4, 3, 2, 2)
    g_sym = sp.lambdify([x1, x2, a], [sp.diff(f, s) for s in (x1, x2)])
    H_sym = sp.lambdify([x1, x2, a], sp.hessian(f, (x1, x2)))
    p0 = pts[1, 2]
    np.testing.assert_allclose(k.gradient(pts, 1.5)[1, 2], g_sym(*p0, 1.5), rtol=1e-12)
    np.testing.assert_allclose(k.hessian(pts, 1.5)[1, 2], H_sym(*p0, 1.5), rtol=1e-12)
    fd = central_gradient(lambda t: float(k.value(t, 1.5)), p0)
    np.testing.assert_allclose(k.gradient(p0, 1.5), fd, rtol=1e-6)
    # a parameter per point broadcasts over the batch
    per_point = np.linspace(0, 1, 12).reshape(4, 3)
    np.testing.assert_allclose(k.value(pts, per_point)[1, 2], k.value(p0, per_point[1, 2]))


def test_symbols_with_assumptions_keep_their_hessian():
    q = sp.symbols("q0:3", real=True)
    f = (q[0] - q[1]) ** 2 * q[2] + sp.exp(q[2])
    k = compile_array_api(f, list(q))
    pt = np.array([1.0, 2.0, 3.0])
    H_sym = np.array(sp.hessian(f, q).subs(dict(zip(q, pt))).evalf(), dtype=float)
    np.testing.assert_allclose(k.hessian(pt), H_sym, rtol=1e-14)
    assert np.abs(k.hessian(pt)).sum() > 0


def test_constant_hessian_entries_fill_the_batch():
    x1, x2 = sp.symbols("x1 x2")
    k = compile_array_api(x1**2 + 3 * x1 * x2, [x1, x2])
    H = k.hessian(np.zeros((5, 2)))
    assert H.shape == (5, 2, 2)
    np.testing.assert_array_equal(H[3], [[2.0, 3.0], [3.0, 0.0]])


# ---------------------------------------------------------------------------
# Stability at |z| = 1000
# ---------------------------------------------------------------------------
def _extreme_data():
    Xn = np.array([[1000.0, 0.0], [-1000.0, 0.0], [0.0, 1000.0], [0.0, -1000.0]])
    yn = np.array([0.0, 1.0, 1.0, 0.0])
    return np.array([1.0, 1.0]), Xn, yn


def _check_extreme(k, to_backend, tol):
    wn, Xn, yn = _extreme_data()
    args = [to_backend(a) for a in (wn, Xn, yn)]
    v, g, H = (np.asarray(r) for r in k.value_gradient_hessian(*args))
    # z = +-1000: softplus(1000) = 1000 (y = 0 there), softplus(-1000) - (-1000)*1 = 1000 -> 2000 total
    assert np.isfinite(v) and np.isclose(v, 2000.0, rtol=tol)
    # sigmoid(1000) - 0 = 1 and sigmoid(-1000) - 1 = -1: X^T r = [1000 + 1000, 0 + 0]
    np.testing.assert_allclose(g, [2000.0, 0.0], rtol=tol, atol=tol)
    assert np.all(np.isfinite(H)) and np.allclose(H, 0.0, atol=1e-300 if tol < 1e-10 else 1e-30)


def test_numpy_is_stable_at_z_1000(logistic):
    _check_extreme(logistic, np.asarray, 1e-12)


def test_dask_local_scheduler_is_stable_at_z_1000(logistic):
    import dask
    import dask.array as da

    with dask.config.set(scheduler="synchronous"):
        _check_extreme(logistic, lambda a: da.from_array(a, chunks=2) if a.ndim else a, 1e-12)


@needs_jax
def test_jax_is_stable_at_z_1000(logistic):
    import jax.numpy as jnp

    _check_extreme(logistic, jnp.asarray, 1e-6)


def test_softmax_cross_entropy_hessian_is_stable_at_z_1000():
    z = sc.vector("z", "n")
    t = sc.vector("t", "n")
    k = compile_array_api(softmax_cross_entropy(z, t), z, params=[t])
    tn = np.array([0.0, 1.0, 0.0])
    backends = [np.asarray]
    if HAVE_JAX:
        import jax.numpy as jnp

        backends.append(jnp.asarray)
    for zn in (np.array([0.3, -1.2, 2.0]), np.array([1000.0, -1000.0, 999.0])):
        p = np.exp(zn - zn.max()) / np.exp(zn - zn.max()).sum()  # softmax by hand
        for to in backends:
            tol = (
                1e-12 if to is np.asarray else 1e-4
            )  # float32: |z| * eps = 1000 * 6e-8 after the shift
            v, g, H = (np.asarray(r, dtype=float) for r in k.value_gradient_hessian(to(zn), to(tn)))
            assert np.isclose(v, zn.max() + np.log(np.exp(zn - zn.max()).sum()) - zn[1], rtol=tol)
            np.testing.assert_allclose(g, p - tn, atol=tol)
            np.testing.assert_allclose(H, np.diag(p) - np.outer(p, p), atol=tol)


def test_explicit_softplus_and_sigmoid_are_stable_at_z_1000():
    z = sp.Symbol("z")
    k = compile_array_api(sp.log(1 + sp.exp(z)), [z])
    pts = np.array([[1000.0], [-1000.0], [0.0]])
    np.testing.assert_allclose(k.value(pts), [1000.0, 0.0, np.log(2)], rtol=1e-15)
    np.testing.assert_allclose(k.gradient(pts)[:, 0], [1.0, 0.0, 0.5])
    assert np.all(np.isfinite(k.hessian(pts)))
    lse = compile_array_api(sp.log(sp.exp(z) + sp.exp(2 * z) + sp.exp(3 * z)), [z])
    np.testing.assert_allclose(lse.value(pts[:2]), [3000.0, -1000.0], rtol=1e-15)


# ---------------------------------------------------------------------------
# JAX and CuPy
# ---------------------------------------------------------------------------
@needs_jax
def test_jax_arrays_give_jax_results_matching_numpy(logistic, data):
    import jax
    import jax.numpy as jnp

    wn, Xn, yn = data
    args = [jnp.asarray(a, dtype=jnp.float32) for a in (wn, Xn, yn)]
    g = logistic.gradient(*args)
    assert isinstance(g, jax.Array) and g.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(g), logistic.gradient(wn, Xn, yn), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(logistic.hessian(*args)), logistic.hessian(wn, Xn, yn), rtol=2e-5, atol=1e-6
    )
    # and the symbolic truth, through the jax result
    _, g_true, _ = _elementwise_truth(Xn, yn, wn)
    np.testing.assert_allclose(np.asarray(g), g_true, rtol=2e-5, atol=1e-6)


@needs_jax
def test_backend_jax_converts_numpy_and_matches_jax_grad(data):
    import jax
    import jax.numpy as jnp

    wn, Xn, yn = data
    k = compile_array_api(logistic_loss(X, w, y), w, params=[X, y], backend="jax")
    g = k.gradient(wn, Xn, yn)
    assert isinstance(g, jax.Array)
    Xj, yj = jnp.asarray(Xn, dtype=jnp.float32), jnp.asarray(yn, dtype=jnp.float32)
    ref = jax.grad(lambda t: jnp.sum(jnp.logaddexp(0.0, Xj @ t) - yj * (Xj @ t)))(
        jnp.asarray(wn, jnp.float32)
    )
    np.testing.assert_allclose(np.asarray(g), np.asarray(ref), rtol=2e-5, atol=1e-6)


@needs_jax
def test_jax_explicit_symbols():
    import jax.numpy as jnp

    x1, x2 = sp.symbols("x1 x2")
    k = compile_array_api(sp.sin(x1) * sp.exp(x2), [x1, x2], backend="jax")
    pts = np.random.default_rng(1).normal(size=(6, 2))
    H = np.asarray(k.hessian(jnp.asarray(pts, jnp.float32)))
    ref = np.stack(
        [
            [-np.sin(pts[:, 0]) * np.exp(pts[:, 1]), np.cos(pts[:, 0]) * np.exp(pts[:, 1])],
            [np.cos(pts[:, 0]) * np.exp(pts[:, 1]), np.sin(pts[:, 0]) * np.exp(pts[:, 1])],
        ]
    )
    np.testing.assert_allclose(H, np.moveaxis(ref, (0, 1), (1, 2)), rtol=1e-5, atol=1e-6)


@needs_cupy
def test_cupy_matches_numpy(logistic, data):  # pragma: no cover - needs a GPU
    import cupy

    wn, Xn, yn = data
    g = logistic.gradient(*(cupy.asarray(a) for a in (wn, Xn, yn)))
    assert isinstance(g, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(g), logistic.gradient(wn, Xn, yn), rtol=1e-12)


@pytest.mark.skipif(
    _cupy_available(), reason="CuPy and a device are present: the real test runs instead"
)
def test_backend_cupy_without_a_device_says_so():
    with pytest.raises(InputError, match="CuPy / a CUDA device is not available"):
        compile_array_api(logistic_loss(X, w, y), w, params=[X, y], backend="cupy")


# ---------------------------------------------------------------------------
# The generated source
# ---------------------------------------------------------------------------
def test_source_is_a_real_file_calling_the_namespace_only(logistic):
    src = logistic.source
    assert "np." not in src and "import numpy" not in src
    assert "xp.logaddexp(0.0, " in src and "_sigmoid(xp, " in src
    assert (
        "p0.T @" in src
    )  # the sum over samples is a product with X^T = p0.T (a reduction on Dask)
    assert logistic.path.read_text() == src
    assert "def gradient(xp, v0, p0, p1):" in inspect.getsource(logistic.module.gradient)  # w, X, y


def test_printer_uses_array_api_names():
    z = sp.Symbol("z")
    p = ArrayAPIPrinter()
    assert p.doprint(sp.atan2(z, 1) + sp.asin(z)) in (
        "xp.asin(z) + xp.atan2(z, 1)",
        "xp.atan2(z, 1) + xp.asin(z)",
    )
    assert p.doprint(sp.sqrt(z)) == "xp.sqrt(z)"
    assert p.doprint(sp.log(1 + z)) == "xp.log1p(z)"


def _printer_corpus():
    """Scalar and matrix constructs with a special lowering in StableNumPyPrinter."""
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction as Elementwise

    from symcalc.codegen.numpy_printer import logsumexp
    from symcalc.expr.functions import sigmoid, softplus

    a, b, c = sp.symbols("a b c", real=True)
    n = sp.Symbol("n", integer=True, positive=True)
    A, B = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("B", n, n)
    u, v = sc.vector("u", n), sc.vector("v", n)
    d = sp.Dummy("d")
    exp_u = Elementwise(sp.Lambda(d, sp.exp(d)), u)
    total = sp.Trace(sp.OneMatrix(1, n) * exp_u)
    return [
        sigmoid(a),
        softplus(a),
        logsumexp(a, b),
        logsumexp(a, b, c),
        sp.log(1 + a),
        sp.exp(a) - 1,
        sp.exp(a) - 1 + b,
        a**b,
        a**20,
        sp.sqrt(a),
        a ** sp.Rational(-3, 2),
        sp.Max(a, b),
        sp.Min(a, b, c),
        sp.asin(a) + sp.atan2(a, b),
        sp.log(a),
        sp.pi * a,
        sp.log(sp.det(A)),
        sp.det(A),
        A.I,
        sp.Trace(A),
        sp.Trace(A * B),
        sp.Identity(n),
        sp.ZeroMatrix(n, 1),
        sp.OneMatrix(n, n),
        sp.OneMatrix(1, n) * A,
        A * sp.OneMatrix(n, 1),
        u * v.T,
        A.I * u,
        B * A.I * u,
        A.I * B,
        sp.DiagMatrix(u),
        sp.DiagMatrix(u) * A,
        A * sp.DiagMatrix(u),
        A.T * sp.DiagMatrix(exp_u) * A,
        sp.log(total),
        exp_u / total,
        sp.HadamardPower(u, sp.S.Half),
        sp.Matrix([[a, b], [c, a]]),
    ]


def test_the_array_api_printer_writes_no_numpy_name():
    """Every module-qualified call of the NumPy printer goes through one method the
    array-API printer overrides: no construct may leak an np. call into an xp kernel."""
    import re

    from symcalc.codegen.numpy_printer import StableNumPyPrinter

    for e in _printer_corpus():
        np_code, xp_code = StableNumPyPrinter().doprint(e), ArrayAPIPrinter().doprint(e)
        assert not re.search(r"\bnp\.", xp_code), (e, xp_code)
        assert not re.search(r"\bxp\.", np_code), (e, np_code)


def test_expm1_with_other_terms_runs_on_the_array_api():
    """exp(x) - 1 + y keeps expm1's accuracy near x = 0 (it used to print np.expm1 there)."""
    import mpmath

    x_, y_ = sp.symbols("x y")
    k = compile_array_api(sp.exp(x_) - 1 + y_, [x_, y_])
    pts = np.array([[1e-12, 0.5], [-3e-9, 2.0], [1.5, -1.0]])
    want = [float(mpmath.expm1(mpmath.mpf(p[0])) + mpmath.mpf(p[1])) for p in pts]
    np.testing.assert_allclose(k.value(pts), want, rtol=1e-15)
    assert "xp.expm1(" in k.source


def test_float32_in_float32_out(logistic, data):
    wn, Xn, yn = (a.astype(np.float32) for a in data)
    assert logistic.gradient(wn, Xn, yn).dtype == np.float32
    assert logistic.hessian(wn, Xn, yn).dtype == np.float32


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------
def test_wrong_shapes_name_the_argument(logistic, data):
    wn, Xn, yn = data
    with pytest.raises(ShapeError, match=r"y has 4 along axis 0, but m = 5 from X"):
        logistic.gradient(wn, Xn, yn[:4])
    with pytest.raises(ShapeError, match=r"X must be a 2-D array"):
        logistic.gradient(wn, Xn.ravel(), yn)
    with pytest.raises(ShapeError, match=r"w must be a 1-D array"):
        logistic.gradient(wn[:, None], Xn, yn)
    with pytest.raises(InputError, match=r"expected 3 argument"):
        logistic.gradient(wn, Xn)
    x1 = sp.Symbol("x1")
    k = compile_array_api(x1**2, [x1])
    with pytest.raises(ShapeError, match=r"x must have shape \(\.\.\., 1\)"):
        k.value(np.zeros((3, 2)))


@needs_jax
def test_mixing_array_libraries_names_the_arguments(logistic, data):
    import dask.array as da
    import jax.numpy as jnp

    wn, Xn, yn = data
    with pytest.raises(
        InputError, match=r"mixing array libraries: X is a dask array, y is a jax array"
    ):
        logistic.gradient(wn, da.from_array(Xn), jnp.asarray(yn))
    kd = compile_array_api(logistic_loss(X, w, y), w, params=[X, y], backend="dask")
    with pytest.raises(
        InputError, match=r"X is a jax array, but this kernel was compiled with backend='dask'"
    ):
        kd.gradient(wn, jnp.asarray(Xn), yn)


def test_bad_values_and_options(logistic, data):
    wn, Xn, yn = data
    with pytest.raises(InputError, match="X must be a real floating array"):
        logistic.gradient(wn, Xn.astype(complex), yn)
    with pytest.raises(InputError, match="backend must be one of"):
        compile_array_api(logistic_loss(X, w, y), w, params=[X, y], backend="tpu")
    with pytest.raises(InputTypeError, match="never evaluates text"):
        compile_array_api("x**2", [sp.Symbol("x")])
    with pytest.raises(InputError, match="neither wrt nor in params"):
        compile_array_api(logistic_loss(X, w, y), w, params=[X])
    assert namespace_of(wn, 2.0)[1] == "numpy"


def test_sc_compile_delegates_array_backends_to_array_api_kernels():
    import numpy as np
    import sympy as sp

    import symcalc as sc
    from symcalc.expr.structure import logistic_loss, matrix_symbol, vector

    X, w, y = matrix_symbol("X", "m", "n"), vector("w", "n"), vector("y", "m")
    k = sc.compile(logistic_loss(X, w, y), w, params=[X, y], backend="array_api")
    assert isinstance(k, sc.ArrayKernel)
    rng = np.random.default_rng(5)
    Xn, wn, yn = rng.normal(size=(40, 3)), rng.normal(size=3), (rng.random(40) < 0.5).astype(float)
    ref = sc.compile(
        logistic_loss(X, w, y), w, params=[X, y]
    )  # the NumPy backend, independently lowered
    np.testing.assert_allclose(k.gradient(wn, Xn, yn), ref.gradient(wn, Xn, yn), rtol=1e-12)
    with pytest.raises(ValueError, match="backend must be one of"):
        sc.compile(sp.Symbol("x") ** 2, [sp.Symbol("x")], backend="fortran")
