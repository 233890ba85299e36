"""Each rule of symcalc.rules.network checked numerically on its own (the table's samples are
also read by tests/test_rules.py's every-rule-has-a-sample check)."""

from __future__ import annotations

import random

import pytest
import sympy as sp
from sympy import MatrixSymbol
from sympy.matrices.expressions.diagonal import DiagMatrix

from symcalc.derivation.explicit import to_explicit
from symcalc.derivation.phases import Canonicalizer, Differentiator
from symcalc.expr.axis import InverseStd, LayerNorm, LogSumExp, Softmax
from symcalc.rules.network import NETWORK_CANONICAL, NETWORK_RULES

Z = MatrixSymbol("Z", 3, 4)
A = MatrixSymbol("A", 4, 4)
EPS = sp.Rational(1, 10)

NETWORK_SAMPLES = {
    "softmax_axis": (Softmax(Z * A, 1), Z),
    "logsumexp_axis": (LogSumExp(Z, 0), Z),
    "layer_norm": (LayerNorm(Z * A, EPS), Z),
    "inverse_std": (InverseStd(Z, EPS), Z),
}
NETWORK_CANONICAL_SAMPLES = {"trace_diag": (DiagMatrix(MatrixSymbol("dX", 3, 1)), "C")}


def _rat(rng, lo=-100, hi=100):
    return sp.Rational(rng.randint(lo, hi), 100)


@pytest.mark.parametrize("name", sorted(NETWORK_SAMPLES))
@pytest.mark.parametrize("axis", [0, 1])
def test_network_rule_against_central_differences(name, axis):
    f, var = NETWORK_SAMPLES[name]
    if name in ("softmax_axis", "logsumexp_axis"):
        f = f.func(f.arg, axis)
    dvar = MatrixSymbol("dZ", *var.shape)
    out = NETWORK_RULES[name].apply(f, Differentiator({var: dvar}))
    assert out is not None
    rng = random.Random(f"{name}{axis}")
    env = {M: sp.ImmutableMatrix(*M.shape, lambda i, j: _rat(rng)) for M in f.atoms(MatrixSymbol)}
    V = sp.ImmutableMatrix(*var.shape, lambda i, j: _rat(rng))
    h = sp.Rational(1, 10**12)

    def at(value, e, extra=None):
        return sp.Matrix(to_explicit(e, {**env, var: value, **(extra or {})}))

    fd = (at(env[var] + h * V, f) - at(env[var] - h * V, f)) / (2 * h)
    ours = at(env[var], out, {dvar: V})
    err = max(abs(complex(sp.N(a - b, 30))) for a, b in zip(ours, fd))
    assert err < 1e-8 * (1 + max(abs(complex(sp.N(b, 30))) for b in fd))


def test_trace_diag_canonical_rule():
    node, _ = NETWORK_CANONICAL_SAMPLES["trace_diag"]
    dsym = node.args[0]
    C = MatrixSymbol("C", 3, 3)
    canon = Canonicalizer([dsym])
    out = NETWORK_CANONICAL["trace_diag"].apply(node, C, canon)
    rng = random.Random(1)
    before = canon.inner(C, node)
    after = sp.Add(*[canon.inner(c, sub) for sub, c in out])
    env = {
        M: sp.ImmutableMatrix(*M.shape, lambda i, j: _rat(rng))
        for M in (before + after).atoms(MatrixSymbol)
    }
    a, b = to_explicit(before, env), to_explicit(after, env)
    assert a != 0 and sp.simplify(a - b) == 0
