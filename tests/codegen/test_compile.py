"""sc.compile on explicit symbols: values and derivatives against independent routes.

Independent routes: SymPy's own element-by-element ``diff`` lambdified one point
at a time, and central finite differences of the compiled value.
"""

import ast
import inspect
import itertools
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.errors import InputError, ShapeError

RNG = np.random.default_rng(20261128)


# --------------------------------------------------------------------------- problems
def rosenbrock(n):
    x = sp.symbols(f"x0:{n}", real=True)
    a = sp.Symbol("a")
    f = sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (a - x[i]) ** 2 for i in range(n - 1))
    return f, list(x), [a]


def lennard_jones(n_atoms):
    q = sp.symbols(f"q0:{3 * n_atoms}", real=True)
    e = 0
    for i, j in itertools.combinations(range(n_atoms), 2):
        r2 = sum((q[3 * i + k] - q[3 * j + k]) ** 2 for k in range(3))
        e += 4 * (r2**-6 - r2**-3)
    return e, list(q)


def morse(n_atoms, D=1.0, a=1.5, r0=1.0):
    q = sp.symbols(f"q0:{3 * n_atoms}")
    e = 0
    for i, j in itertools.combinations(range(n_atoms), 2):
        r = sp.sqrt(sum((q[3 * i + k] - q[3 * j + k]) ** 2 for k in range(3)))
        e += D * (1 - sp.exp(-a * (r - r0))) ** 2
    return e, list(q)


def cluster(n_atoms, count):
    base = np.array(list(itertools.product(range(2), repeat=3))[:n_atoms], dtype=float) * 1.1
    return (base[None] + RNG.uniform(-0.1, 0.1, size=(count, n_atoms, 3))).reshape(count, -1)


def sympy_reference(f, wrt, params=()):
    """Value, gradient, Hessian by plain SymPy diff + lambdify (one point at a time)."""
    args = list(wrt) + list(params)
    g = [sp.diff(f, v) for v in wrt]
    H = [[sp.diff(gi, v) for v in wrt] for gi in g]
    return (
        sp.lambdify(args, f, "numpy"),
        sp.lambdify(args, g, "numpy"),
        sp.lambdify(args, H, "numpy"),
    )


def central_gradient(fun, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.shape[-1]):
        e = np.zeros(x.shape[-1])
        e[i] = h
        g[..., i] = (fun(x + e) - fun(x - e)) / (2 * h)
    return g


# --------------------------------------------------------------------------- values
@pytest.mark.parametrize("backend", ["numpy", "native"])
def test_rosenbrock_matches_sympy_elementwise(backend):
    f, x, (a,) = rosenbrock(5)
    k = sc.compile(f, x, params=[a], backend=backend)
    fv, gv, hv = sympy_reference(f, x, [a])
    pts = RNG.normal(size=(7, 5))
    av = RNG.normal(size=7)
    v, g, H = k.value(pts, av), k.gradient(pts, av), k.hessian(pts, av)
    for b in range(7):
        assert np.isclose(v[b], fv(*pts[b], av[b]), rtol=1e-12)
        np.testing.assert_allclose(g[b], gv(*pts[b], av[b]), rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(
            H[b], np.array(hv(*pts[b], av[b]), dtype=float), rtol=1e-12, atol=1e-9
        )


@pytest.mark.parametrize("backend", ["numpy", "native"])
def test_lennard_jones_matches_sympy_and_finite_differences(backend):
    f, q = lennard_jones(3)
    k = sc.compile(f, q, backend=backend)
    fv, gv, hv = sympy_reference(f, q)
    X = cluster(3, 4)
    G, H = k.gradient(X), k.hessian(X)
    for b in range(4):
        np.testing.assert_allclose(G[b], gv(*X[b]), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(H[b], np.array(hv(*X[b]), dtype=float), rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(G, central_gradient(k.value, X), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        H[..., 0, :], central_gradient(lambda y: k.gradient(y)[..., 0], X), rtol=1e-5, atol=1e-4
    )


@pytest.mark.parametrize("backend", ["numpy", "native"])
def test_morse_cluster_gradient_and_hessian_by_central_differences(backend):
    f, q = morse(4)
    k = sc.compile(f, q, backend=backend)
    X = cluster(4, 3)
    G = k.gradient(X)
    np.testing.assert_allclose(G, central_gradient(k.value, X), rtol=1e-6, atol=1e-7)
    H = k.hessian(X)
    assert np.allclose(H, np.swapaxes(H, -1, -2))
    for i in (0, 5, 11):
        np.testing.assert_allclose(
            H[..., i, :],
            central_gradient(lambda y, i=i: k.gradient(y)[..., i], X),
            rtol=1e-5,
            atol=1e-6,
        )


def test_native_and_numpy_backends_agree_on_fused_outputs():
    f, q = morse(3)
    kn, kp = sc.compile(f, q, backend="native"), sc.compile(f, q)
    X = cluster(3, 6)
    for a, b in zip(kn.value_gradient_hessian(X), kp.value_gradient_hessian(X)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    v, g = kp.value_and_gradient(X)
    np.testing.assert_allclose(v, kp.value(X), rtol=1e-14)
    np.testing.assert_allclose(g, kp.gradient(X), rtol=1e-14)


# --------------------------------------------------------------------------- batching, broadcasting
def test_batched_shapes_and_broadcast_params():
    f, x, (a,) = rosenbrock(3)
    k = sc.compile(f, x, params=[a])
    pts = RNG.normal(size=(2, 4, 3))
    av = RNG.normal(size=(4,))  # broadcasts over the last batch axis
    assert k.value(pts, av).shape == (2, 4)
    assert k.gradient(pts, av).shape == (2, 4, 3)
    H = k.hessian(pts, av)
    assert H.shape == (2, 4, 3, 3)
    single = k.hessian(pts[1, 2], av[2])
    np.testing.assert_allclose(H[1, 2], single)
    assert np.ndim(k.value(pts[0, 0], 1.0)) == 0


def test_constant_and_zero_entries_broadcast_over_the_batch():
    x, y, z = sp.symbols("x y z")
    k = sc.compile(x**2 + 3 * y + z, [x, y, z])  # Hessian: one variable entry, rest constant/zero
    pts = RNG.normal(size=(5, 3))
    G, H = k.gradient(pts), k.hessian(pts)
    np.testing.assert_allclose(G[:, 1], 3.0)
    np.testing.assert_allclose(G[:, 2], 1.0)
    expected = np.zeros((5, 3, 3))
    expected[:, 0, 0] = 2.0
    np.testing.assert_allclose(H, expected)


def test_dtype_float32_in_float32_out_and_ints_become_float64():
    f, q = morse(2)
    k = sc.compile(f, q)
    X = cluster(2, 3)
    for method in (k.value, k.gradient, k.hessian):
        assert method(X.astype(np.float32)).dtype == np.float32
        assert method(X).dtype == np.float64
    np.testing.assert_allclose(
        k.gradient(X.astype(np.float32)), k.gradient(X), rtol=1e-3, atol=1e-3
    )
    x, y = sp.symbols("x y")
    assert sc.compile(x * y, [x, y]).value(np.array([2, 3])).dtype == np.float64
    kn = sc.compile(f, q, backend="native")
    assert kn.hessian(X.astype(np.float32)).dtype == np.float32


# --------------------------------------------------------------------------- errors
def test_wrong_shape_names_x_and_the_expected_shape():
    x, y = sp.symbols("x y")
    k = sc.compile(x * y, [x, y])
    with pytest.raises(ShapeError, match=r"x must have shape \(\.\.\., 2\).*got shape \(4, 3\)"):
        k.gradient(np.zeros((4, 3)))


def test_wrong_dtype_parameter_count_and_parameter_shape():
    x, a = sp.symbols("x a")
    k = sc.compile(a * x**2, [x], params=[a])
    with pytest.raises(InputError, match="float32 or float64.*complex"):
        k.value(np.zeros((3, 1), dtype=complex), 1.0)
    with pytest.raises(InputError, match=r"expected 1 parameter value\(s\) \(a\)"):
        k.value(np.zeros((3, 1)))
    with pytest.raises(ShapeError, match=r"parameter a has shape \(4,\).*batch shape \(3,\)"):
        k.value(np.zeros((3, 1)), np.ones(4))


def test_bad_inputs_are_refused_in_the_users_terms():
    x, y = sp.symbols("x y")
    with pytest.raises(TypeError, match="never evaluates text"):
        sc.compile("x**2", [x])
    with pytest.raises(InputError, match="contains y.*params"):
        sc.compile(x * y, [x])
    with pytest.raises(InputError, match="backend must be one of"):
        sc.compile(x**2, [x], backend="cuda")
    with pytest.raises(InputError, match="appears twice"):
        sc.compile(x**2, [x, x])
    with pytest.raises(InputError, match="gamma: NumPy has no function"):
        sc.compile(sp.gamma(x), [x])
    with pytest.raises(sc.NoRuleError, match="zeta"):  # no derivative: never a silent one
        sc.compile(sp.zeta(x), [x])
    # erf and sign are registry records (erf through math.erf; sign' = 0 a.e.)
    k = sc.compile(sp.sign(x) * x + sp.erf(x), [x])
    np.testing.assert_allclose(
        k.gradient(np.array([[-2.0]])), [[-1 + 2 * np.exp(-4) / np.sqrt(np.pi)]]
    )


def test_native_falls_back_to_numpy_with_a_warning():
    x, y = sp.symbols("x y")
    with pytest.warns(RuntimeWarning, match="native.*NumPy backend"):
        k = sc.compile(sp.atan2(y, x) + x**2, [x, y], backend="native")
    assert k.backend == "numpy"
    g = k.gradient(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [2 - 2 / 5, 1 / 5])


# --------------------------------------------------------------------------- source
def test_source_is_standalone_readable_and_inspectable():
    x, y = sp.symbols("x y")
    k = sc.compile(sp.exp(x * y) + x**3, [x, y])
    tree = ast.parse(k.source)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [a.name for n in imports for a in n.names] == ["numpy"]
    assert k.path.exists() and k.path.read_text() == k.source
    assert inspect.getsource(k.module.hessian) in k.source
    assert "f = x**3 + exp(x*y)" in k.source  # the formula, in the docstring
    assert "# df/dx = " in k.source  # and per entry, in comments
    assert "**3" not in inspect.getsource(k.module.gradient)  # integer powers as products
    # the module runs on its own, without symcalc
    ns = {}
    exec(compile(k.source, "kernel", "exec"), ns)
    out = np.zeros(())
    ns["value"](np.array([1.0, 2.0]), out)
    assert np.isclose(out, np.exp(2.0) + 1.0)


def test_hessian_upper_triangle_is_computed_once():
    f, x, (a,) = rosenbrock(4)
    src = inspect.getsource(sc.compile(f, x, params=[a]).module.hessian)
    assert "out[0, 1] = out[1, 0] =" in src
    assert "out[1, 0] = " not in src.replace("out[0, 1] = out[1, 0] =", "")


def test_kernel_exposes_symbolic_derivatives():
    x, y = sp.symbols("x y", real=True)
    k = sc.compile(x**2 * y, [x, y])
    assert k.gradient_exprs == [2 * x * y, x**2]
    assert k.hessian_exprs == sp.Matrix([[2 * y, 2 * x], [2 * x, 0]])


def test_import_symcalc_does_not_load_symengine_or_compile():
    code = "import sys, symcalc; print('symengine' in sys.modules, 'symcalc.codegen.kernels' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("backend", ["numpy", "native"])
def test_out_arrays_are_filled_in_place(backend):
    f, q = morse(2)
    k = sc.compile(f, q, backend=backend)
    X = cluster(2, 5).reshape(5, 1, 6)
    H = np.full((5, 1, 6, 6), np.nan)
    G = np.full((5, 1, 6), np.nan)
    assert k.hessian(X, out=H) is H and k.gradient(X, out=G) is G
    np.testing.assert_allclose(H, k.hessian(X))
    np.testing.assert_allclose(G, k.gradient(X))
    with pytest.raises(ShapeError, match=r"out must be a float64 array of shape \(5, 1, 6, 6\)"):
        k.hessian(X, out=np.zeros((5, 6, 6)))
