"""Row-blocked multi-variable gradients (symcalc.codegen.row_sums): the blocked gradient of a
loss that sums over data rows equals the whole-batch gradient and central differences of a
hand-written NumPy loss; losses that are not row sums are never blocked."""

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.codegen.row_sums import ROW_BLOCK, blocks

RNG = np.random.default_rng(11)
m, d, h, k = (sp.Symbol(s, integer=True, positive=True) for s in "mdhk")
X, Y = sp.MatrixSymbol("X", m, d), sp.MatrixSymbol("Y", m, k)
W1, b1 = sp.MatrixSymbol("W1", d, h), sp.MatrixSymbol("b1", h, 1)
W2, b2 = sp.MatrixSymbol("W2", h, k), sp.MatrixSymbol("b2", k, 1)


def _mlp_loss():
    H = sc.elementwise(sp.tanh, X * W1 + sc.ones(m) * b1.T)
    return sc.norm_squared(H * W2 + sc.ones(m) * b2.T - Y) / 2


def _hand_loss(w1, c1, w2, c2, x, y):
    return 0.5 * np.sum((np.tanh(x @ w1 + c1) @ w2 + c2 - y) ** 2)


def _arrays(rows):
    return [
        RNG.normal(size=(3, 5)) * 0.3,
        RNG.normal(size=5),
        RNG.normal(size=(5, 2)) * 0.3,
        RNG.normal(size=2),
        RNG.normal(size=(rows, 3)),
        RNG.normal(size=(rows, 2)),
    ]


def test_sum_over_rows_is_blocked():
    kernel = sc.compile(_mlp_loss(), [W1, b1, W2, b2], params=[X, Y])
    assert kernel.row_blocks == (m, (0, 1))


def test_mean_over_rows_is_not_blocked():
    kernel = sc.compile(_mlp_loss() / m, [W1, b1, W2, b2], params=[X, Y])
    assert kernel.row_blocks is None


def test_square_of_a_row_sum_is_not_blocked():
    w = sp.MatrixSymbol("w", d, 1)
    loss = sc.norm_squared(sc.ones(m).T * X * w)
    assert sc.compile(loss, [w], params=[X]).row_blocks is None


@pytest.mark.parametrize("rows", [2 * ROW_BLOCK + 1, 3 * ROW_BLOCK + 17])
def test_blocked_gradient_equals_whole_batch_and_differences(rows):
    kernel = sc.compile(_mlp_loss(), [W1, b1, W2, b2], params=[X, Y])
    arrays = _arrays(rows)
    blocked = kernel.gradient(*arrays)
    whole = kernel.module.gradient(*arrays)
    for g, w in zip(blocked, whole):
        assert np.allclose(g, w, rtol=1e-10, atol=1e-10)
    value, grads = kernel.value_and_gradient(*arrays)
    assert np.isclose(value, _hand_loss(*arrays), rtol=1e-12)
    for j in range(4):
        a, step = arrays[j], 1e-6
        num = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            up, down = [x.copy() for x in arrays], [x.copy() for x in arrays]
            up[j][idx] += step
            down[j][idx] -= step
            num[idx] = (_hand_loss(*up) - _hand_loss(*down)) / (2 * step)
        assert np.allclose(grads[j], num, rtol=1e-6, atol=1e-5)
        assert np.allclose(blocked[j], num, rtol=1e-6, atol=1e-5)


def test_blocks_cover_the_rows():
    assert blocks(5, 2) == [(0, 2), (2, 4), (4, 5)]
    assert blocks(4, 4) == [(0, 4)]
