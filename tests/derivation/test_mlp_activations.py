"""A two-layer MLP with biases over a batch with ReLU and GELU hidden units (issue 14): every
parameter's gradient at two sizes against SymPy's elementwise derivative and central
differences of hand-written NumPy (points away from the ReLU kink)."""

from __future__ import annotations

import math
import os
import sys

import numpy as np
import pytest
import sympy as sp

import symcalc as sc

sys.path.insert(0, os.path.dirname(__file__))
from matrix_routes import check_gradient_routes, random_values  # noqa: E402

m, n, h, k = (sp.Symbol(s, integer=True, positive=True) for s in "mnhk")
SIZES = [{m: 3, n: 2, h: 3, k: 2}, {m: 2, n: 3, h: 2, k: 3}]
X = sc.matrix_symbol("X", "m", "n")
W1, b1 = sc.matrix_symbol("W_1", "n", "h"), sc.vector("b_1", "h")
W2, b2 = sc.matrix_symbol("W_2", "h", "k"), sc.vector("b_2", "k")
Y = sc.matrix_symbol("Y", "m", "k")
PARAMS = [W1, b1, W2, b2]

_erf = np.vectorize(math.erf)
ACTIVATIONS = {
    "relu": (lambda: sc.relu, lambda z: np.maximum(z, 0)),
    "gelu": (lambda: sc.gelu, lambda z: 0.5 * z * (1 + _erf(z / np.sqrt(2)))),
}


def loss(act):
    H = sc.elementwise(act, X * W1 + sc.ones("m") * b1.T)
    return sc.norm_squared(H * W2 + sc.ones("m") * b2.T - Y)


def np_loss(w, c, act):
    z = act(c["X"] @ w["W_1"] + w["b_1"].T) @ w["W_2"] + w["b_2"].T
    return float(((z - c["Y"]) ** 2).sum())


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_two_layer_mlp_gradients_wrt_every_parameter(name, which):
    act, np_act = ACTIVATIONS[name][0](), ACTIVATIONS[name][1]
    sizes = SIZES[which]
    L = loss(act)
    grads = sc.derive(L, PARAMS, check=False).results["gradient"]
    values = random_values([L], sizes, seed=120 + which)
    pre = values[X] @ values[W1] + values[b1].T
    assert np.abs(pre).min() > 1e-3  # away from the kink: central differences are valid
    for p, G in zip(PARAMS, grads):

        def fn(v, c, p=p):
            return np_loss({**c, p.name: v}, c, np_act)

        check_gradient_routes(G, L, p, sizes, values, fn)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_the_self_checks_pass(name):
    assert sc.derive(loss(ACTIVATIONS[name][0]()), PARAMS).all_checks_passed
