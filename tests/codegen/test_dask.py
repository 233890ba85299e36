"""Kernels on Dask arrays, computed on a dask.distributed LocalCluster of worker processes.

One cluster per module (2 worker processes, 1 thread each, small memory, no dashboard),
data larger than one chunk; results match NumPy, the closed form written by hand, and
central differences.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

pytest.importorskip("dask.array")
pytest.importorskip("distributed")

import dask  # noqa: E402
import dask.array as da  # noqa: E402
from distributed import get_task_stream  # noqa: E402
from helpers_numeric import central_gradient  # noqa: E402

import symcalc as sc  # noqa: E402
from symcalc.codegen.array_api import compile_array_api  # noqa: E402
from symcalc.codegen.distributed import evaluate, local_cluster, row_chunks  # noqa: E402
from symcalc.errors import InputError, ShapeError  # noqa: E402
from symcalc.expr.structure import logistic_loss  # noqa: E402

X = sc.matrix_symbol("X", "m", "n")
w = sc.vector("w", "n")
y = sc.vector("y", "m")
M, N, ROWS = 4000, 5, 700  # 6 row blocks


@pytest.fixture(scope="module")
def client():
    with local_cluster(n_workers=2, threads_per_worker=1, memory_limit="512MiB") as c:
        yield c


@pytest.fixture(scope="module")
def kernel():
    return compile_array_api(logistic_loss(X, w, y), w, params=[X, y], backend="dask")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    Xn = rng.normal(size=(M, N))
    wn = rng.normal(size=N) * 0.5
    yn = (rng.random(M) < 1 / (1 + np.exp(-Xn @ wn))).astype(float)
    return wn, Xn, yn


def _hand(wn, Xn, yn):
    z = Xn @ wn
    s = 1 / (1 + np.exp(-z))
    return (
        np.sum(np.logaddexp(0, z) - yn * z),
        Xn.T @ (s - yn),
        Xn.T @ ((s * (1 - s))[:, None] * Xn),
    )


def test_cluster_has_two_single_threaded_worker_processes_with_blas_pinned(client):
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    assert all(info["nthreads"] == 1 for info in workers.values())
    pids = client.run(__import__("os").getpid)
    assert len(set(pids.values())) == 2 and __import__("os").getpid() not in pids.values()
    from symcalc.codegen.distributed import blas_threads

    assert all(all(t == 1 for t in ts) for ts in client.run(blas_threads).values())


def test_gradient_is_lazy_and_computes_on_the_cluster(client, kernel, data):
    wn, Xn, yn = data
    Xd, yd = row_chunks(Xn, yn, rows=ROWS)
    assert Xd.numblocks == (6, 1)
    g = kernel.gradient(wn, Xd, yd)
    assert isinstance(g, da.Array) and g.shape == (N,)
    with get_task_stream(client) as ts:
        g_val = g.compute()
    workers = {t["worker"] for t in ts.data}
    assert len(ts.data) >= 6 and workers <= set(client.scheduler_info()["workers"])
    _, g_hand, _ = _hand(wn, Xn, yn)
    np.testing.assert_allclose(g_val, g_hand, rtol=1e-11)
    np_kernel = compile_array_api(logistic_loss(X, w, y), w, params=[X, y])
    np.testing.assert_allclose(g_val, np_kernel.gradient(wn, Xn, yn), rtol=1e-11)


def test_value_and_hessian_match_numpy_and_central_differences(client, kernel, data):
    wn, Xn, yn = data
    Xd, yd = row_chunks(Xn, yn, rows=ROWS)
    v, g, H = dask.compute(*kernel.value_gradient_hessian(wn, Xd, yd))
    v_hand, g_hand, H_hand = _hand(wn, Xn, yn)
    assert np.isclose(v, v_hand, rtol=1e-12)
    np.testing.assert_allclose(g, g_hand, rtol=1e-11)
    np.testing.assert_allclose(H, H_hand, rtol=1e-11)
    # an independent route: central differences of the NumPy value (hand-written)
    fd = central_gradient(lambda t: _hand(t, Xn, yn)[0], wn, h=1e-5)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6)


def test_symbolic_truth_at_a_small_size(client, kernel):
    rng = np.random.default_rng(2)
    Xn, yn, wn = rng.normal(size=(6, 2)), np.array([1.0, 0, 0, 1, 1, 0]), rng.normal(size=2)
    ws = sp.symbols("w0:2")
    z = [sum(sp.Float(Xn[i, j]) * ws[j] for j in range(2)) for i in range(6)]
    f = sum(sp.log(1 + sp.exp(zi)) - sp.Float(yi) * zi for zi, yi in zip(z, yn))
    at = dict(zip(ws, wn))
    Xd, yd = row_chunks(Xn, yn, rows=4)
    g = kernel.gradient(wn, Xd, yd).compute()
    H = kernel.hessian(wn, Xd, yd).compute()
    np.testing.assert_allclose(g, [float(sp.diff(f, s).subs(at)) for s in ws], rtol=1e-10)
    np.testing.assert_allclose(
        H, [[float(sp.diff(f, a, b).subs(at)) for b in ws] for a in ws], rtol=1e-10
    )


def test_evaluate_chunks_numpy_inputs_by_rows(client, kernel, data):
    wn, Xn, yn = data
    g = evaluate(kernel, "gradient", wn, Xn, yn, rows=1000)
    assert isinstance(g, da.Array)
    np.testing.assert_allclose(g.compute(), _hand(wn, Xn, yn)[1], rtol=1e-11)
    # numpy inputs handed straight to a dask-backend kernel become dask arrays too
    assert isinstance(kernel.hessian(wn, Xn, yn), da.Array)


def test_float32_stays_float32_on_dask(client, kernel, data):
    wn, Xn, yn = (a.astype(np.float32) for a in data)
    Xd, yd = row_chunks(Xn, yn, rows=ROWS)
    g = kernel.gradient(wn, Xd, yd)
    assert g.dtype == np.float32
    np.testing.assert_allclose(
        g.compute(), _hand(*(a.astype(float) for a in data))[1], rtol=2e-4, atol=1e-3
    )


def test_stable_at_z_1000_on_the_cluster(client, kernel):
    Xn = np.repeat(
        np.array([[1000.0, 0.0], [-1000.0, 0.0], [0.0, 1000.0], [0.0, -1000.0]]), 3, axis=0
    )
    yn = np.repeat(np.array([0.0, 1.0, 1.0, 0.0]), 3)
    Xd, yd = row_chunks(Xn, yn, rows=5)
    v, g, H = dask.compute(*kernel.value_gradient_hessian(np.ones(2), Xd, yd))
    assert np.isclose(v, 3 * 2000.0, rtol=1e-12)
    np.testing.assert_allclose(g, [6000.0, 0.0], rtol=1e-12)
    assert np.all(np.isfinite(H))


def test_explicit_symbols_over_a_chunked_batch(client):
    x1, x2, a = sp.symbols("x1 x2 a")
    f = (a - x1) ** 2 + 100 * (x2 - x1**2) ** 2
    k = compile_array_api(f, [x1, x2], params=[a], backend="dask")
    pts = np.random.default_rng(5).normal(size=(3000, 2))
    H = k.hessian(da.from_array(pts, chunks=(1000, 2)), 1.0)
    assert isinstance(H, da.Array) and H.numblocks[0] == 3
    H = H.compute()
    p, q = pts[:, 0], pts[:, 1]
    np.testing.assert_allclose(H[:, 0, 0], 2 - 400 * (q - p**2) + 800 * p**2, rtol=1e-12)
    np.testing.assert_allclose(H[:, 0, 1], -400 * p, rtol=1e-12)
    np.testing.assert_allclose(H[:, 1, 1], 200.0)


def test_row_chunks_refuses_different_row_counts():
    with pytest.raises(ShapeError, match="different numbers of rows"):
        row_chunks(np.ones((10, 2)), np.ones(9), rows=4)
    with pytest.raises(InputError, match="rows must be >= 1"):
        row_chunks(np.ones((10, 2)), rows=0)


def test_wrong_shape_on_dask_names_the_argument(kernel, data):
    wn, Xn, yn = data
    Xd, yd = row_chunks(Xn, yn[:M], rows=ROWS)
    with pytest.raises(
        ShapeError, match="w has 4 along axis 0, but n = 5 from X|X has 5 along axis 1"
    ):
        kernel.gradient(wn[:4], Xd, yd)


# ---------------------------------------------------------------------------
# blockwise: one NumPy kernel call per row block, then a tree sum
# ---------------------------------------------------------------------------
def test_blockwise_matches_numpy_on_the_cluster(client, kernel, data):
    from symcalc.codegen.distributed import blockwise

    wn, Xn, yn = data
    with get_task_stream(client) as ts:
        v, g, H = dask.compute(*blockwise(kernel, "value_gradient_hessian", wn, Xn, yn, rows=ROWS))
    assert len(ts.data) >= 6
    v_hand, g_hand, H_hand = _hand(wn, Xn, yn)
    assert np.isclose(v, v_hand, rtol=1e-12)
    np.testing.assert_allclose(g, g_hand, rtol=1e-11)
    np.testing.assert_allclose(H, H_hand, rtol=1e-11)
    # Dask inputs keep their row blocks (y rechunked to line up with X)
    g2 = blockwise(
        kernel, "gradient", wn, da.from_array(Xn, chunks=(900, N)), da.from_array(yn, chunks=1300)
    )
    assert isinstance(g2, da.Array)
    np.testing.assert_allclose(g2.compute(), g_hand, rtol=1e-11)


def test_blockwise_refuses_a_loss_that_is_not_a_sum_over_rows(kernel, data):
    from symcalc.codegen.distributed import blockwise, row_separable
    from symcalc.expr.structure import norm_squared

    lam = sp.Symbol("lam", positive=True)
    ridge = compile_array_api(logistic_loss(X, w, y) + lam * norm_squared(w), w, params=[X, y, lam])
    assert row_separable(kernel) is True and row_separable(ridge) is False
    wn, Xn, yn = data
    with pytest.raises(InputError, match="not a sum over the rows"):
        blockwise(ridge, "gradient", wn, Xn, yn, 0.1)
    # the operation-by-operation Dask path is right for it (the penalty counted once)
    Xd, yd = row_chunks(Xn, yn, rows=ROWS)
    g = ridge.gradient(wn, Xd, yd, 0.1).compute(scheduler="synchronous")
    np.testing.assert_allclose(g, _hand(wn, Xn, yn)[1] + 0.2 * wn, rtol=1e-11)


def test_evaluate_chunks_the_batch_of_an_explicit_kernel(client):
    x1, x2 = sp.symbols("x1 x2")
    k = compile_array_api(sp.log(1 + sp.exp(x1 - 2 * x2)), [x1, x2])
    pts = np.random.default_rng(8).normal(size=(2500, 2)) * 400  # |z| up to ~3000
    g = evaluate(k, "gradient", pts, rows=1000)
    assert isinstance(g, da.Array) and g.numblocks[0] == 3
    z = pts[:, 0] - 2 * pts[:, 1]
    s = np.where(
        z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z)))
    )
    np.testing.assert_allclose(g.compute(), np.stack([s, -2 * s], axis=-1), rtol=1e-12)


def test_newton_fit_on_the_cluster_matches_newton_in_memory(client, kernel, data):
    from symcalc.codegen.distributed import blockwise

    wn, Xn, yn = data
    Xd, yd = row_chunks(Xn, yn, rows=ROWS)
    w_dask, w_np = np.zeros(N), np.zeros(N)
    for _ in range(8):
        g, H = dask.compute(*blockwise(kernel, "value_gradient_hessian", w_dask, Xd, yd)[1:])
        w_dask = w_dask - np.linalg.solve(H, g)
        _, g_np, H_np = _hand(w_np, Xn, yn)
        w_np = w_np - np.linalg.solve(H_np, g_np)
    assert np.abs(_hand(w_dask, Xn, yn)[1]).max() < 1e-8  # a stationary point
    np.testing.assert_allclose(w_dask, w_np, rtol=1e-9, atol=1e-12)
