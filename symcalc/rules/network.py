"""Rules for the constructs of networks over a batch: row-wise softmax and log-sum-exp, and
the canonical form of a diagonal matrix inside a trace (Laplacians of networks).

Two tables, read by the walker after the matrix tables:

* ``NETWORK_RULES`` (differentials): d softmax(Z) = S o dZ - S o ((S o dZ) 1 1^T) and
  d logsumexp(Z) = (S o dZ) 1 along axis 1 (the transposed forms along axis 0);
* ``NETWORK_CANONICAL`` (canonical form): tr(C^T diag(v)) = ((I o C) 1)^T v.

>>> import sympy as sp
>>> from symcalc.expr.axis import Softmax
>>> [r.name for r in NETWORK_RULES.lookup(Softmax(sp.MatrixSymbol("Z", 2, 3), 1))]
['softmax_axis']
"""

from __future__ import annotations

from sympy import Identity, OneMatrix
from sympy.matrices.expressions.diagonal import DiagMatrix

from symcalc.expr.axis import InverseStd, LayerNorm, LogSumExp, Softmax
from symcalc.records import Rule
from symcalc.rules.matrix import add, hadamard, hadamard_power, mul
from symcalc.rules.table import RuleTable

NETWORK_RULES = RuleTable("network", "differentials of batch constructs (axis-wise softmax)")
NETWORK_CANONICAL = RuleTable("network_canonical", "canonical forms of diagonal matrices")

D = r"\mathrm{d}"


def _row_sums(M, axis):
    """M 1 (axis 1, an m x 1 column) or 1^T M (axis 0, a 1 x k row)."""
    if axis == 1:
        return mul(M, OneMatrix(M.cols, 1))
    return mul(OneMatrix(1, M.rows), M)


def _spread(v, like, axis):
    """v 1^T (axis 1) or 1 v (axis 0): a column or row repeated to the shape of like."""
    if axis == 1:
        return mul(v, OneMatrix(1, like.cols))
    return mul(OneMatrix(like.rows, 1), v)


def _softmax(node, d):
    S, axis = node, node.axis
    SdZ = hadamard(S, d(node.arg))
    return add(SdZ, -hadamard(S, _spread(_row_sums(SdZ, axis), S, axis)))


def _logsumexp(node, d):
    S = Softmax(node.arg, node.axis)
    return _row_sums(hadamard(S, d(node.arg)), node.axis)


NETWORK_RULES.add(
    Rule(
        "softmax_axis",
        "Differential of the row-wise softmax",
        rf"S = \operatorname{{softmax}}(Z):\ {D}S = S\circ {D}Z - S\circ"
        rf"\big((S\circ {D}Z)\,\mathbf{{1}}\mathbf{{1}}^\top\big)",
        "specific",
        "the Jacobian diag(s) - s s^T of each row",
        _softmax,
    ),
    Softmax,
)
NETWORK_RULES.add(
    Rule(
        "logsumexp_axis",
        "Differential of the row-wise log-sum-exp",
        rf"{D}\operatorname{{logsumexp}}(Z) = (\operatorname{{softmax}}(Z)\circ {D}Z)\,\mathbf{{1}}",
        "specific",
        "d log(1^T e^z) = softmax(z)^T dz, row by row",
        _logsumexp,
    ),
    LogSumExp,
)


def _centred(dZ):
    """dZ - (1/k) dZ 1 1^T: the differential of the centred rows."""
    k = dZ.cols
    return add(dZ, mul(-1 / k, dZ, OneMatrix(k, 1), OneMatrix(1, k)))


def _row_terms(node, d):
    """(dZ, N, s, (N o dZ) 1) for a LayerNorm / InverseStd node."""
    Z, eps = node.args
    dZ = d(Z)
    N, s = LayerNorm(Z, eps), InverseStd(Z, eps)
    return dZ, N, s, mul(hadamard(N, dZ), OneMatrix(Z.cols, 1))


def _layer_norm(node, d):
    dZ, N, s, r = _row_terms(node, d)
    k = dZ.cols
    inner = add(_centred(dZ), mul(-1 / k, hadamard(N, mul(r, OneMatrix(1, k)))))
    return hadamard(mul(s, OneMatrix(1, k)), inner)


def _inverse_std(node, d):
    dZ, N, s, r = _row_terms(node, d)
    return mul(-1 / dZ.cols, hadamard(hadamard_power(s, 2), r))


NETWORK_RULES.add(
    Rule(
        "layer_norm",
        "Differential of layer normalization",
        rf"N = \operatorname{{LN}}(Z),\ s = (\operatorname{{var}} + \epsilon)^{{-1/2}}:\ "
        rf"{D}N = (s\mathbf{{1}}^\top)\circ\big({D}Z\,(I - \tfrac1k\mathbf{{1}}\mathbf{{1}}^\top)"
        rf" - \tfrac1k N\circ((N\circ {D}Z)\mathbf{{1}}\mathbf{{1}}^\top)\big)",
        "specific",
        "Ba, Kiros & Hinton (2016), row by row",
        _layer_norm,
    ),
    LayerNorm,
)
NETWORK_RULES.add(
    Rule(
        "inverse_std",
        "Differential of the inverse standard deviation of the rows",
        rf"{D}s = -\tfrac1k\, s^{{\circ 2}}\circ\big((N\circ {D}Z)\,\mathbf{{1}}\big)",
        "specific",
        "",
        _inverse_std,
    ),
    InverseStd,
)


def _c_diag(node, C, ctx):
    """tr(C^T diag(v)) = sum_i C_ii v_i = ((I o C) 1)^T v."""
    v = node.args[0]
    if v.cols != 1:
        return None
    return [(v, mul(hadamard(Identity(C.rows), C), OneMatrix(C.cols, 1)))]


NETWORK_CANONICAL.add(
    Rule(
        "trace_diag",
        "A diagonal matrix inside a trace",
        r"\operatorname{tr}(C^\top\operatorname{diag}(v)) = \big((I\circ C)\mathbf{1}\big)^\top v",
        "canonical",
        "",
        _c_diag,
    ),
    DiagMatrix,
)

__all__ = ["NETWORK_RULES", "NETWORK_CANONICAL"]
