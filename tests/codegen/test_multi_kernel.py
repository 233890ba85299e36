"""One matrix-form kernel for several variables (issues 14 and 15): sc.compile(L, [W1, b1, W2, b2]).

Checked against the single-variable kernels, against central differences of hand-written NumPy
losses at random points (two sizes), and by counting the GEMMs and tanh passes in the source.
"""

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.codegen.matrix_cse import canonical, transpose_cse, transposed
from symcalc.errors import InputError, ShapeError


def _mlp():
    X, Y = sc.matrix_symbol("X", "m", "d"), sc.matrix_symbol("Y", "m", "k")
    W1, b1 = sc.matrix_symbol("W1", "d", "h"), sc.vector("b1", "h")
    W2, b2 = sc.matrix_symbol("W2", "h", "k"), sc.vector("b2", "k")
    ones = sc.ones(X.shape[0])
    H = sc.elementwise(sp.tanh, X * W1 + ones * b1.T)
    L = sc.norm_squared(H * W2 + ones * b2.T - Y) / 2
    return L, [W1, b1, W2, b2], [X, Y]


def _mlp_numpy(W1, b1, W2, b2, X, Y):
    return 0.5 * np.sum((np.tanh(X @ W1 + b1) @ W2 + b2 - Y) ** 2)


def _softmax_regression():
    X, Y = sc.matrix_symbol("X", "m", "n"), sc.matrix_symbol("Y", "m", "k")
    W, b = sc.matrix_symbol("W", "n", "k"), sc.vector("b", "k")
    Z = X * W + sc.ones(X.shape[0]) * b.T
    L = sc.sum_entries(sc.logsumexp(Z, axis=1)) - sc.sum_entries(sp.HadamardProduct(Y, Z))
    return L, [W, b], [X, Y]


def _softmax_numpy(W, b, X, Y):
    Z = X @ W + b
    m = Z.max(axis=1, keepdims=True)
    return np.sum(np.log(np.exp(Z - m).sum(axis=1)) + m[:, 0]) - np.sum(Y * Z)


def _central(fn, arrays, k, h=1e-6):
    """The central-difference gradient of fn in arrays[k]."""
    base = [a.copy() for a in arrays]
    g = np.zeros_like(base[k])
    for idx in np.ndindex(*base[k].shape):
        up = [a.copy() for a in base]
        down = [a.copy() for a in base]
        up[k][idx] += h
        down[k][idx] -= h
        g[idx] = (fn(*up) - fn(*down)) / (2 * h)
    return g


def _mlp_data(rng, m, d, h, k):
    return [
        rng.normal(size=(d, h)),
        rng.normal(size=h),
        rng.normal(size=(h, k)),
        rng.normal(size=k),
        rng.normal(size=(m, d)),
        rng.normal(size=(m, k)),
    ]


@pytest.fixture(scope="module")
def mlp_kernel():
    L, wrt, params = _mlp()
    return sc.compile(L, wrt, params=params)


@pytest.mark.parametrize("sizes", [(7, 3, 4, 2), (12, 2, 5, 3)])
def test_mlp_gradients_match_central_differences(mlp_kernel, sizes):
    arrays = _mlp_data(np.random.default_rng(sum(sizes)), *sizes)
    grads = mlp_kernel.gradient(*arrays)
    assert len(grads) == 4
    for k, g in enumerate(grads):
        assert g.shape == arrays[k].shape
        np.testing.assert_allclose(g, _central(_mlp_numpy, arrays, k), rtol=1e-6, atol=1e-6)
    assert np.isclose(mlp_kernel.value(*arrays), _mlp_numpy(*arrays))
    value, again = mlp_kernel.value_and_gradient(*arrays)
    assert np.isclose(value, _mlp_numpy(*arrays))
    for g, h in zip(grads, again):
        np.testing.assert_allclose(g, h, rtol=1e-12)


def test_mlp_agrees_with_the_single_variable_kernels(mlp_kernel):
    L, wrt, params = _mlp()
    arrays = _mlp_data(np.random.default_rng(3), 9, 3, 4, 2)
    grads = mlp_kernel.gradient(*arrays)
    for k, v in enumerate(wrt):
        others = [s for s in wrt + params if s != v]
        single = sc.compile(L, v, params=others)
        rest = [a for j, a in enumerate(arrays) if j != k]
        np.testing.assert_allclose(single.gradient(arrays[k], *rest), grads[k], rtol=1e-10)


def test_mlp_gradient_against_sympy_elementwise_at_a_concrete_size():
    L, wrt, params = _mlp()
    m, d, h, k = 3, 2, 2, 1
    sizes = {sp.Symbol(n, integer=True, positive=True): v for n, v in zip("mdhk", (m, d, h, k))}
    concrete = [
        sp.MatrixSymbol(s.name, *[sz.xreplace(sizes) for sz in s.shape]) for s in wrt + params
    ]
    arrays = _mlp_data(np.random.default_rng(5), m, d, h, k)
    W1, b1, W2, b2, X, Y = [sp.Matrix(c.as_explicit()) for c in concrete]
    Z = (X * W1 + sp.ones(m, 1) * b1.T).applyfunc(sp.tanh) * W2 + sp.ones(m, 1) * b2.T - Y
    loss = sum(z**2 for z in Z) / 2
    subs = {}
    for sym, arr in zip([W1, b1, W2, b2, X, Y], arrays):
        subs.update(zip(list(sym), np.atleast_1d(arr).reshape(-1).tolist()))
    grads = sc.compile(L, wrt, params=params).gradient(*arrays)
    for sym, g in zip([W1, b1, W2, b2], grads):
        expected = np.array([float(sp.diff(loss, e).xreplace(subs)) for e in sym]).reshape(g.shape)
        np.testing.assert_allclose(g, expected, rtol=1e-9)


def _code(source, start, end=None):
    """The statements of one generated function (comments left out)."""
    body = source[source.index(start) : source.index(end) if end else None]
    return "\n".join(line for line in body.splitlines() if not line.strip().startswith("#"))


def test_mlp_source_runs_the_forward_pass_once(mlp_kernel):
    """Five GEMMs (X W1, H W2, R W2^T, X^T G, H^T R) and one tanh, as backpropagation."""
    src = mlp_kernel.source
    body = _code(src, "def gradient(", "def value_and_gradient(")
    assert body.count("@") == 5
    assert body.count("tanh") == 1
    assert "outer" not in body and "ones" not in body  # biases broadcast
    both = _code(src, "def value_and_gradient(")
    assert both.count("@") == 5 and both.count("tanh") == 1


@pytest.mark.parametrize("sizes", [(6, 3, 4), (10, 2, 3)])
def test_softmax_regression_gradients(sizes):
    L, wrt, params = _softmax_regression()
    k = sc.compile(L, wrt, params=params)
    m, n, kk = sizes
    rng = np.random.default_rng(m)
    W, b, X = rng.normal(size=(n, kk)), rng.normal(size=kk), rng.normal(size=(m, n))
    Y = np.eye(kk)[rng.integers(0, kk, size=m)]
    arrays = [W, b, X, Y]
    gW, gb = k.gradient(*arrays)
    np.testing.assert_allclose(gW, _central(_softmax_numpy, arrays, 0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gb, _central(_softmax_numpy, arrays, 1), rtol=1e-6, atol=1e-7)
    assert np.isclose(k.value(*arrays), _softmax_numpy(*arrays))
    body = _code(k.source, "def gradient(", "def value_and_gradient(")
    assert body.count("_np.exp(") == 1 and body.count("@") == 2
    big = [1000 * W, b, X, Y]  # |z| ~ 1000: no overflow
    assert all(np.isfinite(g).all() for g in k.gradient(*big))


def test_keyword_arguments_and_errors(mlp_kernel):
    arrays = _mlp_data(np.random.default_rng(1), 5, 3, 4, 2)
    names = ["W1", "b1", "W2", "b2", "X", "Y"]
    by_name = dict(zip(names, arrays))
    np.testing.assert_allclose(mlp_kernel.value(**by_name), mlp_kernel.value(*arrays))
    np.testing.assert_allclose(
        mlp_kernel.gradient(*arrays[:2], **dict(zip(names[2:], arrays[2:])))[2],
        mlp_kernel.gradient(*arrays)[2],
    )
    with pytest.raises(InputError, match="missing Y"):
        mlp_kernel.value(*arrays[:5])
    with pytest.raises(InputError, match="unknown argument"):
        mlp_kernel.value(*arrays, Z=1.0)
    with pytest.raises(InputError, match="given twice"):
        mlp_kernel.value(*arrays, W1=arrays[0])
    with pytest.raises(ShapeError):
        mlp_kernel.value(arrays[0], np.ones(7), *arrays[2:])
    L, wrt, params = _mlp()
    with pytest.raises(InputError, match="neither wrt nor in params"):
        sc.compile(L, wrt, params=params[:1])
    with pytest.raises(InputError, match="both in wrt and in params"):
        sc.compile(L, wrt, params=params + wrt[:1])


def test_transpose_cse_names_an_expression_and_its_transpose_once():
    X, W = sp.MatrixSymbol("X", 5, 3), sp.MatrixSymbol("W", 3, 4)
    b = sp.MatrixSymbol("b", 4, 1)
    Z = X * W + sp.OneMatrix(5, 1) * b.T
    H = sc.elementwise(sp.tanh, Z)
    Ht = sc.elementwise(sp.tanh, W.T * X.T + b * sp.OneMatrix(1, 5))
    assert canonical(sp.Transpose(H)) == canonical(Ht)
    assert transposed(canonical(Ht)) == canonical(H)
    repl, reduced = transpose_cse([H * sp.OneMatrix(4, 1), sp.Trace(Ht * H)])
    assert len(repl) == 1 and repl[0][1] == canonical(H)
    assert sp.Transpose(repl[0][0]) in reduced[1].atoms(sp.Transpose)
    # and a kernel of it computes the right numbers with the shared transpose
    k = sc.compile(sp.Trace(Ht * H), [W, b], params=[X])
    rng = np.random.default_rng(0)
    Xv, Wv, bv = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)
    assert np.isclose(k.value(Wv, bv, Xv), np.sum(np.tanh(Xv @ Wv + bv) ** 2))
    assert _code(k.source, "def value(", "def gradient(").count("tanh") == 1


def test_single_variable_kernel_shares_the_transposed_hidden_layer():
    L, wrt, params = _mlp()
    k = sc.compile(L, wrt[0], params=wrt[1:] + params)
    body = _code(k.source, "def value_and_gradient(", "def value_and_gradient_batch")
    assert body.count("_np.tanh") == 1
    assert body.count("@") == 4  # X W1, H W2, R W2^T, X^T G


def test_in_place_passes_never_touch_the_callers_arrays(mlp_kernel):
    """The generated code overwrites its own temporaries only (sigmoid, tanh in place)."""
    from symcalc.expr.structure import logistic_loss

    arrays = _mlp_data(np.random.default_rng(2), 6, 3, 4, 2)
    copies = [a.copy() for a in arrays]
    mlp_kernel.gradient(*arrays)
    mlp_kernel.value_and_gradient(*arrays)
    assert all(np.array_equal(a, c) for a, c in zip(arrays, copies))
    Xs, ws, ys = sc.matrix_symbol("X", "m", "n"), sc.vector("w", "n"), sc.vector("y", "m")
    k = sc.compile(logistic_loss(Xs, ws, ys), ws, params=[Xs, ys])
    assert "_sigmoid_inplace(" in _code(k.source, "def gradient_batch(", "def hessian(")
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 3))
    W = 400 * rng.normal(size=(5, 3))  # |z| up to ~1000 and beyond: no overflow, no nan
    y = (rng.random(30) < 0.5).astype(float)
    before = (W.copy(), X.copy(), y.copy())
    G = k.gradient(W, X, y)
    assert all(np.array_equal(a, b) for a, b in zip((W, X, y), before))
    s = np.exp(-np.logaddexp(0, -(W @ X.T)))  # the stable sigmoid, an independent route
    np.testing.assert_allclose(G, (s - y) @ X, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(k.gradient(W[0], X, y), G[0], rtol=1e-12, atol=1e-12)


def test_row_blocked_logistic_gradient_equals_the_unblocked_one():
    from symcalc.expr.structure import logistic_loss

    Xs, ws, ys = sc.matrix_symbol("X", "m", "n"), sc.vector("w", "n"), sc.vector("y", "m")
    k = sc.compile(logistic_loss(Xs, ws, ys), ws, params=[Xs, ys])
    rng = np.random.default_rng(6)
    X, W = rng.normal(size=(103, 4)), 30 * rng.normal(size=(5, 4))
    y = (rng.random(103) < 0.5).astype(float)
    s = np.exp(-np.logaddexp(0, -(W @ X.T)))
    for block in (1, 10, 64, 103, 500):
        G = k.module.gradient_batch_rows(W, X, y, block)
        np.testing.assert_allclose(G, (s - y) @ X, rtol=1e-12, atol=1e-9)
    assert np.isfinite(G).all()
    k.BLOCK_BYTES = 8 * 5 * 8  # blocks of 8 rows for B = 5: the kernel takes the blocked path
    np.testing.assert_allclose(k.gradient(W, X, y), (s - y) @ X, rtol=1e-12, atol=1e-9)
    # a function that is not a sum of elementwise terms over the rows gets no blocked version
    L, wrt, params = _mlp()
    single = sc.compile(L, wrt[0], params=wrt[1:] + params)
    assert not hasattr(single.module, "gradient_batch_rows")
    z, mu = sc.vector("z", "d"), sc.vector("mu", "d")
    from symcalc.expr.structure import positive_definite

    S = positive_definite("S", "d")
    gauss = sc.compile(sc.gaussian_logpdf(z, mu, S), z, params=[mu, S])
    assert not hasattr(gauss.module, "gradient_batch_rows")
