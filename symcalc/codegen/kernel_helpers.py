"""The helper functions a generated NumPy module defines when it uses them (``_logsumexp``,
``_gram``, ``_logdet_chol``, and the registry records' stable forms ``_sigmoid``, ``_relu``, ...),
written against the name the module imports NumPy as.

>>> print(helper_source("_gram", "_np").splitlines()[0])
def _gram(z):
"""

from __future__ import annotations

from symcalc.expr.registry import REGISTRY

__all__ = ["HELPERS", "helper_source"]


def _into_operand(name: str, into: str, other: str) -> str:
    """The source of helper ``name(f, a, b)``: f(a, b) written into the operand ``into`` (a fresh
    temporary of the kernel's own) when the result has its shape and dtype, else f(a, b)."""
    return f'''\
def {name}(f, a, b):
    """f(a, b) written into {into} (a temporary of the kernel's own) when the result has {into}'s shape."""
    if (
        type({into}) is not {{np}}.ndarray
        or {into}.dtype.kind != "f"
        or not {into}.flags.writeable
        or {{np}}.shape({other}) != {into}.shape
        and {{np}}.broadcast_shapes({into}.shape, {{np}}.shape({other})) != {into}.shape
        or {{np}}.result_type(a, b) != {into}.dtype
    ):
        return f(a, b)
    return f(a, b, out={into})
'''


# Helper functions a generated module defines when it uses them (numpy only), written against
# the name {np} the module imports NumPy as (``_np`` in generated kernels: see :func:`helper_source`).
_OWN_HELPERS = {
    "_logsumexp": '''\
def _logsumexp(*terms):
    """log(sum(exp(t))) with the max shifted out, so no exp overflows."""
    terms = {np}.broadcast_arrays(*terms)
    m = {np}.maximum.reduce(terms)
    m = {np}.where({np}.isfinite(m), m, 0)
    return m + {np}.log(sum({np}.exp(t - m) for t in terms))
''',
    "_logsumexp_vec": '''\
def _logsumexp_vec(z):
    """log(sum(exp(z))) over a vector, with its max shifted out."""
    m = {np}.max(z)
    m = m if {np}.isfinite(m) else 0
    return m + {np}.log({np}.sum({np}.exp(z - m)))
''',
    "_gram": '''\
def _gram(z):
    """z.T @ z: NumPy runs the symmetric rank-k update (syrk), half the work of a GEMM."""
    return z.T @ z
''',
    "_softmax_hessian": '''\
def _softmax_hessian(z):
    """diag(p) - p p^T, p = softmax(z); the largest p_i's 1 - p_i is the sum of the others."""
    e = {np}.exp(z - {np}.max(z))
    p = e / {np}.sum(e)
    top = {np}.arange(z.shape[0]) == {np}.argmax(z)
    rest = {np}.where(top, {np}.sum({np}.where(top, 0 * p, p)), 1 - p)
    eye = {np}.eye(z.shape[0], dtype=p.dtype) > 0
    return {np}.where(eye, (p * rest)[:, None], -(p[:, None] * p[None, :]))
''',
    "_commutation": '''\
def _commutation(m, n):
    """K_(m,n): the mn x mn permutation with K @ vec(A) = vec(A.T) for an m x n A (column-major vec)."""
    k = {np}.zeros((m * n, m * n))
    i, j = {np}.meshgrid({np}.arange(m), {np}.arange(n), indexing="ij")
    k[(j + i * n).ravel(), (i + j * m).ravel()] = 1.0
    return k
''',
    "_sigmoid_inplace": '''\
def _sigmoid_inplace(z):
    """1 / (1 + exp(-z)), written into z (a temporary of the kernel's own). exp(-z) overflows
    to inf for z < -709, whose reciprocal is the right 0: no overflow reaches the result."""
    with {np}.errstate(over="ignore"):
        if type(z) is not {np}.ndarray or z.dtype.kind != "f" or not z.flags.writeable:
            return 1 / (1 + {np}.exp(-z))
        {np}.negative(z, out=z)
        {np}.exp(z, out=z)
        z += 1
        return {np}.reciprocal(z, out=z)
''',
    "_inplace": '''\
def _inplace(f, z):
    """The ufunc f applied to z in place (z is a temporary of the kernel's own)."""
    if type(z) is not {np}.ndarray or z.dtype.kind != "f" or not z.flags.writeable:
        return f(z)
    return f(z, out=z)
''',
    "_inplace_binary": _into_operand("_inplace_binary", "a", "b"),
    "_inplace_binary_right": _into_operand("_inplace_binary_right", "b", "a"),
    "_logsumexp_rows": '''\
def _logsumexp_rows(z):
    """log(sum(exp(z))) along the last axis (one per point), with each row's max shifted out."""
    m = {np}.max(z, axis=-1, keepdims=True)
    m = {np}.where({np}.isfinite(m), m, 0)
    return (m + {np}.log({np}.sum({np}.exp(z - m), axis=-1, keepdims=True)))[..., 0]
''',
    "_softmax_hessian_rows": '''\
def _softmax_hessian_rows(z):
    """diag(p) - p p^T for each row of z (B, n), p = softmax(row), by broadcasting; the largest
    p_i's 1 - p_i is the sum of the other p_j (no cancellation where p_i ~ 1)."""
    e = {np}.exp(z - {np}.max(z, axis=-1, keepdims=True))
    p = e / {np}.sum(e, axis=-1, keepdims=True)
    top = {np}.arange(z.shape[-1]) == {np}.argmax(z, axis=-1)[..., None]
    rest = {np}.where(top, {np}.sum({np}.where(top, 0 * p, p), axis=-1, keepdims=True), 1 - p)
    h = -(p[..., :, None] * p[..., None, :])
    k = {np}.arange(z.shape[-1])
    h[..., k, k] = p * rest
    return h
''',
    "_logdet_chol": '''\
def _logdet_chol(a):
    """log det of a symmetric positive definite matrix, via Cholesky."""
    return 2 * {np}.sum({np}.log({np}.diagonal({np}.linalg.cholesky(a), axis1=-2, axis2=-1)), axis=-1)
''',
}


# ... and the helpers of the registry's records (their stable forms: _sigmoid, _relu, ...)
_HELPER_TEMPLATES = {
    **_OWN_HELPERS,
    **{name: text for spec in REGISTRY for name, text in spec.helpers.items()},
}

#: The helpers as they read with NumPy imported as ``np`` (what :class:`StableNumPyPrinter` prints by default).
HELPERS = {name: text.format(np="np") for name, text in _HELPER_TEMPLATES.items()}


def helper_source(name: str, numpy_module: str = "np") -> str:
    """The source of helper ``name`` for a module that imports NumPy as ``numpy_module``.

    >>> print(helper_source("_gram", "_np").splitlines()[0])
    def _gram(z):
    >>> "_np.exp(-_np.abs(z))" in helper_source("_sigmoid", "_np")
    True
    """
    return _HELPER_TEMPLATES[name].format(np=numpy_module)
