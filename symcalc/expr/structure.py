"""Matrix variables with declared structure, and the helpers that write ML losses.

Everything here builds ordinary SymPy matrix expressions (see
``docs/matrix-calculus.md``, "Representation"), so every stage (derive, compile,
verify, report) reads the same objects:

* variables are ``MatrixSymbol`` s; a declared structure is carried by the class
  (``SymmetricMatrixSymbol``, ``PositiveDefiniteMatrixSymbol``,
  ``DiagonalMatrixSymbol``, all subclasses of ``MatrixSymbol``), so S.T is S and
  (S^-1).T is S^-1 everywhere, automatically;
* a scalar made from matrices is a SymPy scalar: ``Trace(M)`` of a 1 x 1 matrix M
  stands for its only entry (``as_scalar``), so log, 1/u, sqrt, ... apply;
* elementwise functions are SymPy's ``ElementwiseApplyFunction`` (what
  ``M.applyfunc(f)`` builds), Hadamard products ``HadamardProduct``, Hadamard
  powers ``HadamardPower``, all-ones matrices ``OneMatrix``.

>>> import sympy as sp
>>> from symcalc.expr.structure import symmetric, vector, quadratic_form
>>> S = symmetric("S", 3); x = vector("x", 3)
>>> S.T == S, S.I.T == S.I
(True, True)
>>> quadratic_form(x, S)
Trace(x.T*S*x)
"""

from __future__ import annotations

import sympy as sp
from sympy import (
    HadamardPower,
    HadamardProduct,
    Identity,
    Lambda,
    MatrixExpr,
    MatrixSymbol,
    OneMatrix,
    Trace,
)

from symcalc.errors import InputError, ShapeError
from symcalc.expr.axis import LayerNorm, LogSumExp, Softmax, as_axis
from symcalc.expr.elementwise import Elementwise
from symcalc.expr.functions import sigmoid, softplus
from symcalc.inputs import as_expr, as_scalar_expr, reject_text

__all__ = [
    "StructuredMatrixSymbol",
    "SymmetricMatrixSymbol",
    "PositiveDefiniteMatrixSymbol",
    "DiagonalMatrixSymbol",
    "symmetric",
    "positive_definite",
    "diagonal",
    "matrix_symbol",
    "vector",
    "structure_of",
    "dim",
    "as_scalar",
    "elementwise",
    "hadamard",
    "hadamard_power",
    "ones",
    "sum_entries",
    "mean",
    "layer_norm",
    "dot",
    "quadratic_form",
    "norm",
    "norm_squared",
    "logsumexp",
    "softmax",
    "softmax_cross_entropy",
    "logistic_loss",
    "squared_error",
]


# --------------------------------------------------------------------------------------
# Structured matrix symbols
# --------------------------------------------------------------------------------------
class StructuredMatrixSymbol(MatrixSymbol):
    """A MatrixSymbol with a declared structure (base class; ``structure`` names it)."""

    structure = "general"


class SymmetricMatrixSymbol(StructuredMatrixSymbol):
    """A symmetric matrix: ``S.T`` is ``S`` (so ``(S**-1).T`` is ``S**-1``)."""

    structure = "symmetric"

    def _eval_transpose(self):
        return self


class PositiveDefiniteMatrixSymbol(SymmetricMatrixSymbol):
    """A symmetric positive definite matrix (invertible, det > 0)."""

    structure = "positive_definite"


class DiagonalMatrixSymbol(SymmetricMatrixSymbol):
    """A diagonal matrix (symmetric; its gradient is the diagonal part)."""

    structure = "diagonal"


def structure_of(X) -> str:
    """'general', 'symmetric', 'positive_definite' or 'diagonal'.

    >>> structure_of(positive_definite("P", 2))
    'positive_definite'
    """
    reject_text(X, "structure_of's argument")
    return getattr(X, "structure", "general")


def dim(d):
    """A dimension: a positive int, or a name / Symbol becoming a positive integer Symbol.

    >>> dim("n").is_integer, dim(3)
    (True, 3)
    """
    if isinstance(d, bool):
        raise InputError(f"a dimension must be a positive integer or a name, not {d!r}")
    if isinstance(d, int):
        if d < 1:
            raise InputError(f"a dimension must be positive, got {d}")
        return sp.Integer(d)
    if isinstance(d, str):
        if not d.isidentifier():
            raise InputError(f"a dimension name must be an identifier, got {d!r}")
        return sp.Symbol(d, integer=True, positive=True)
    if isinstance(d, sp.Integer):
        return dim(int(d))
    if isinstance(d, sp.Symbol):
        return d
    raise InputError(f"a dimension must be a positive integer or a name, not {d!r}")


def _name(name):
    """A matrix variable's name: non-empty text without line breaks or control characters
    (a name is printed into generated code and LaTeX; it is never evaluated).

    >>> _name("Sigma"), _name("W_1")
    ('Sigma', 'W_1')
    >>> _name("x\\r#")
    Traceback (most recent call last):
    ...
    symcalc.errors.InputError: a matrix name cannot contain line breaks or control characters: 'x\\r#'
    """
    import unicodedata

    if not isinstance(name, str) or not name:
        raise InputError(f"a matrix name must be a non-empty string, not {name!r}")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") for c in name):
        raise InputError(
            f"a matrix name cannot contain line breaks or control characters: {name!r}"
        )
    return name


def matrix_symbol(name: str, m, n) -> MatrixSymbol:
    """A general m x n matrix variable (dimensions: ints or names).

    >>> matrix_symbol("X", "m", "n").shape
    (m, n)
    """
    return MatrixSymbol(_name(name), dim(m), dim(n))


def vector(name: str, n) -> MatrixSymbol:
    """A column vector (an n x 1 MatrixSymbol).

    >>> vector("w", 4).shape
    (4, 1)
    """
    return MatrixSymbol(_name(name), dim(n), 1)


def symmetric(name: str, n) -> SymmetricMatrixSymbol:
    """A symmetric n x n matrix variable.

    >>> S = symmetric("S", "n"); (S.T, S.I.T)
    (S, S**(-1))
    """
    return SymmetricMatrixSymbol(_name(name), dim(n), dim(n))


def positive_definite(name: str, n) -> PositiveDefiniteMatrixSymbol:
    """A symmetric positive definite n x n matrix variable (e.g. a covariance)."""
    return PositiveDefiniteMatrixSymbol(_name(name), dim(n), dim(n))


def diagonal(name: str, n) -> DiagonalMatrixSymbol:
    """A diagonal n x n matrix variable."""
    return DiagonalMatrixSymbol(_name(name), dim(n), dim(n))


# --------------------------------------------------------------------------------------
# Scalars made from matrices; elementwise functions; losses
# --------------------------------------------------------------------------------------
def _matrix(M, what="argument"):
    if not isinstance(M, MatrixExpr):
        raise InputError(f"the {what} must be a matrix expression, got {M!r}")
    return M


def as_scalar(M):
    """A 1 x 1 matrix expression as a SymPy scalar: ``Trace(M)`` (its only entry).

    Scalars pass through unchanged.

    >>> x = vector("x", "n"); sp.log(as_scalar(x.T*x))
    log(Trace(x.T*x))
    """
    if not isinstance(M, MatrixExpr):
        return as_expr(M, "as_scalar's argument")
    if M.shape != (1, 1):
        raise ShapeError(f"{M} is {M.shape[0]} x {M.shape[1]}, not a scalar (1 x 1)")
    return Trace(M)


def elementwise(f, M) -> MatrixExpr:
    """f applied to every entry of M (SymPy's ElementwiseApplyFunction, = M.applyfunc(f)).

    f is a one-argument SymPy function (sp.exp, sp.log, sp.tanh, sigmoid, softplus, ...)
    or a Lambda / Python function of one scalar.

    >>> elementwise(sigmoid, vector("z", 3))
    sigmoid(z)
    """
    from symcalc.expr.algebra import canonical_lambda

    _matrix(M)
    if not isinstance(f, (Lambda, sp.FunctionClass)):
        if not callable(f):
            raise InputError(f"elementwise needs a function of one scalar, not {f!r}")
        t = sp.Dummy("t")
        f = Lambda(t, as_expr(f(t), "the value of the elementwise function"))
    return Elementwise(canonical_lambda(f), M)


def hadamard(*Ms) -> MatrixExpr:
    """The elementwise (Hadamard) product of matrices of one shape."""
    for M in Ms:
        _matrix(M)
    shapes = {M.shape for M in Ms}
    if len(shapes) != 1:
        raise ShapeError(f"a Hadamard product needs equal shapes, got {sorted(map(str, shapes))}")
    return HadamardProduct(*Ms)


def hadamard_power(M, p) -> MatrixExpr:
    """Every entry of M to the power p (HadamardPower); p is a SymPy scalar or a number.

    >>> hadamard_power(vector("v", 3), 2)
    HadamardPower(v, 2)
    """
    return HadamardPower(_matrix(M), as_scalar_expr(p, "the power p"))


def ones(m, n=1) -> MatrixExpr:
    """The m x n all-ones matrix (a column vector by default)."""
    return OneMatrix(dim(m), dim(n))


def sum_entries(M, axis=None):
    """The sum of the entries of M: all of them as a scalar tr(1^T M 1) (axis=None), or
    along one axis: axis=1 the m x 1 column of row sums M 1, axis=0 the 1 x k row of
    column sums 1^T M.

    >>> sum_entries(vector("z", "n"))
    Trace(1*z)
    >>> Z = matrix_symbol("Z", "m", "k")
    >>> sum_entries(Z, axis=1).shape, sum_entries(Z, axis=0).shape
    ((m, 1), (1, k))
    """
    m, n = _matrix(M).shape
    axis = as_axis(axis)
    if axis == 1:
        return M * OneMatrix(n, 1)
    if axis == 0:
        return OneMatrix(1, m) * M
    left = OneMatrix(1, m) * M
    return Trace(left if n == 1 else left * OneMatrix(n, 1))


def mean(M, axis=None):
    """The mean of the entries of M: a scalar (axis=None), the column of row means (axis=1)
    or the row of column means (axis=0).

    >>> Z = matrix_symbol("Z", "m", "k")
    >>> mean(Z, axis=1)
    1/k*Z*1
    """
    m, n = _matrix(M).shape
    axis = as_axis(axis)
    count = m * n if axis is None else (n if axis == 1 else m)
    return sum_entries(M, axis) / count


def layer_norm(Z, eps=sp.Rational(1, 10**5)):
    """Layer normalization of each row of Z (m x k, one sample per row): the row centred,
    C = Z - mean(Z, axis=1) 1^T, and divided by sqrt(var + eps), var = mean(C o C, axis=1).

    A matrix expression of its own (``LayerNorm``; its scale 1/sqrt(var + eps) is
    ``InverseStd``), differentiated by ``symcalc.rules.network``. eps is a positive
    number or Symbol.

    >>> Z = matrix_symbol("Z", "m", "k")
    >>> layer_norm(Z).shape
    (m, k)
    """
    return LayerNorm(_matrix(Z, "argument of layer_norm"), eps)


def dot(a, b):
    """a^T b for two vectors (or <A, B> = tr(A^T B) for matrices), as a scalar."""
    _matrix(a), _matrix(b)
    if a.shape != b.shape:
        raise ShapeError(f"dot needs equal shapes, got {a.shape} and {b.shape}")
    return Trace(a.T * b)


def quadratic_form(x, A):
    """x^T A x as a scalar."""
    return Trace(_matrix(x).T * _matrix(A) * x)


def norm_squared(X):
    """The squared Euclidean (vector) or Frobenius (matrix) norm tr(X^T X)."""
    return Trace(_matrix(X).T * X)


def norm(X):
    """The Euclidean (vector) or Frobenius (matrix) norm sqrt(tr(X^T X))."""
    return sp.sqrt(norm_squared(X))


def logsumexp(z, axis=None):
    """log(1^T exp(z)) of a vector z (axis=None); along an axis of a matrix Z: axis=1 the
    m x 1 column of the rows' log-sum-exps, axis=0 the 1 x k row of the columns'.

    >>> Z = matrix_symbol("Z", "m", "k")
    >>> logsumexp(Z, axis=1).shape
    (m, 1)
    """
    axis = as_axis(axis)
    if axis is not None:
        return LogSumExp(_matrix(z), axis)
    return sp.log(sum_entries(elementwise(sp.exp, z)))


def softmax(z, axis=None) -> MatrixExpr:
    """exp(z) / (1^T exp(z)) of a vector z (axis=None); along an axis of a matrix Z:
    axis=1 normalizes each row (each row sums to one), axis=0 each column.

    >>> Z = matrix_symbol("Z", "m", "k")
    >>> softmax(Z, axis=1)
    softmax(Z, axis=1)
    """
    axis = as_axis(axis)
    if axis is not None:
        return Softmax(_matrix(z), axis)
    e = elementwise(sp.exp, z)
    return e / sum_entries(e)


def softmax_cross_entropy(z, y):
    """-y^T log softmax(z) = logsumexp(z) - y^T z, for a one-hot (or probability) y.

    The identity uses 1^T y = 1; the gradient in z is softmax(z) - y. For a batch, Z and Y
    are m x k (one sample per row, each row of Y sums to one): the summed loss
    1^T logsumexp(Z, axis=1) - tr(Y^T Z), whose gradient in Z is softmax(Z, axis=1) - Y.

    >>> Z, Y = matrix_symbol("Z", "m", "k"), matrix_symbol("Y", "m", "k")
    >>> softmax_cross_entropy(Z, Y)
    Trace(1*logsumexp(Z, axis=1)) - Trace(Y.T*Z)
    """
    if _matrix(z).shape != _matrix(y).shape:
        raise ShapeError(
            f"softmax_cross_entropy needs two matrices of one shape, got {z.shape} and {y.shape}"
        )
    if z.shape[1] == 1:
        return logsumexp(z) - dot(y, z)
    return sum_entries(logsumexp(z, axis=1)) - dot(y, z)


def logistic_loss(X, w, y):
    """sum_i softplus(x_i^T w) - y^T X w (labels y in {0, 1}): the negative log-likelihood."""
    z = _matrix(X) * _matrix(w)
    return sum_entries(elementwise(softplus, z)) - dot(y, z)


def squared_error(A, x, b):
    """||A x - b||^2 as a scalar."""
    return norm_squared(_matrix(A) * _matrix(x) - _matrix(b))


_ = (Identity, sigmoid)  # re-exported names used in docs
