"""Reductions along one axis of a matrix: the row-wise softmax and log-sum-exp of a batch.

A batch of m samples with k classes is an m x k matrix Z (one sample per row, the layout of
``X*W + ones(m)*b.T``). ``Softmax(Z, 1)`` normalizes each row (each row sums to one) and
``LogSumExp(Z, 1)`` is the m x 1 column of the rows' log-sum-exps; axis 0 does the same for
the columns. Both are matrix expressions of their own, so results stay readable
(``X.T*(softmax(X*W) - Y)``), with their differentials in :mod:`symcalc.rules.network`:

* d softmax(Z) = S o dZ - S o ((S o dZ) 1 1^T)   (axis 1, S = softmax(Z));
* d logsumexp(Z) = (S o dZ) 1                      (axis 1).

>>> import sympy as sp
>>> Z = sp.MatrixSymbol("Z", 2, 3)
>>> S = Softmax(Z, 1)
>>> S.shape, LogSumExp(Z, 1).shape, LogSumExp(Z, 0).shape
((2, 3), (2, 1), (1, 3))
>>> sp.simplify(sum(S.as_explicit()[0, j] for j in range(3)))
1
>>> LayerNorm(Z).shape, InverseStd(Z).shape
((2, 3), (2, 1))
"""

from __future__ import annotations

import sympy as sp
from sympy import MatrixExpr

from symcalc.errors import InputError
from symcalc.inputs import as_scalar_expr

__all__ = ["Softmax", "LogSumExp", "LayerNorm", "InverseStd", "as_axis"]


def as_axis(axis, allow_none: bool = True):
    """0 (down the columns), 1 (along each row) or None (the whole matrix).

    >>> as_axis(1), as_axis(None)
    (1, None)
    """
    if axis is None and allow_none:
        return None
    if (
        isinstance(axis, bool)
        or not isinstance(axis, (int, sp.Integer))
        or axis not in (0, 1, -1, -2)
    ):
        raise InputError(f"axis must be 0, 1 or None, got {axis!r}")
    return int(axis) % 2


def _matrix_arg(Z, what):
    if not isinstance(Z, MatrixExpr):
        raise InputError(f"{what} needs a matrix expression, got {type(Z).__name__}")
    return Z


def _reduced_len(Z, axis):
    return Z.cols if axis == 1 else Z.rows


def _line(Z, axis, i):
    """The entries of row i (axis 1) or column i (axis 0) of a concrete-size Z."""
    n = _reduced_len(Z, axis)
    n = sp.Integer(n) if isinstance(n, int) else n  # an explicit matrix's size is an int
    if not n.is_Integer:
        raise InputError(f"{Z} has symbolic size {Z.shape}: give concrete sizes for its entries")
    return [Z[i, j] if axis == 1 else Z[j, i] for j in range(int(n))]


class _AxisReduction(MatrixExpr):
    """A function of a matrix along one axis (args: the matrix and the axis 0 or 1)."""

    def __new__(cls, Z, axis):
        return super().__new__(cls, _matrix_arg(Z, cls.__name__), sp.Integer(as_axis(axis, False)))

    @property
    def arg(self):
        return self.args[0]

    @property
    def axis(self) -> int:
        return int(self.args[1])

    def doit(self, **hints):
        """Explicit when the argument is (as ``Transpose(ImmutableMatrix).doit()`` is)."""
        args = [a.doit(**hints) if isinstance(a, sp.Basic) else a for a in self.args]
        new = self.func(*args)
        if isinstance(args[0], sp.MatrixBase):
            return new._explicit(lambda a: a)
        return new

    def _numpy_stable_exp(self, printer, code):
        """exp(Z - max) along the axis (NumPy code), the shift that keeps exp from overflowing."""
        ax = self._numpy_axis()
        mx = f"{printer._module_format('numpy.max')}({code}, axis={ax}, keepdims=True)"
        return f"{printer._module_format('numpy.exp')}({code} - {mx})", mx, ax

    def _numpy_axis(self):
        # a column vector is printed 1-D: its only axis is 0
        return 0 if self.arg.cols == 1 else self.axis


class Softmax(_AxisReduction):
    """softmax along an axis: axis 1 divides each row of exp(Z) by its sum (rows sum to one).

    >>> Z = sp.MatrixSymbol("Z", 2, 2)
    >>> Softmax(Z, 1)[0, 1]
    exp(Z[0, 1])/(exp(Z[0, 0]) + exp(Z[0, 1]))
    """

    @property
    def shape(self):
        return self.arg.shape

    def _entry(self, i, j, **kwargs):
        Z, axis = self.arg, self.axis
        k = i if axis == 1 else j
        return sp.exp(Z[i, j]) / sp.Add(*[sp.exp(t) for t in _line(Z, axis, k)])

    def _explicit(self, evaluate):
        Z = evaluate(self.arg)
        E = Z.applyfunc(sp.exp)
        if self.axis == 1:
            return sp.ImmutableMatrix(E.rows, E.cols, lambda i, j: E[i, j] / sum(E.row(i)))
        return sp.ImmutableMatrix(E.rows, E.cols, lambda i, j: E[i, j] / sum(E.col(j)))

    def _latex(self, printer):
        which = "rows" if self.axis == 1 else "columns"
        return (
            rf"\operatorname{{softmax}}_{{\text{{{which}}}}}\left({printer._print(self.arg)}\right)"
        )

    def _sympystr(self, printer):
        return f"softmax({printer._print(self.arg)}, axis={self.axis})"

    def _numpycode(self, printer):
        code = printer._print(self.arg)
        e, _, ax = self._numpy_stable_exp(printer, code)
        total = f"{printer._module_format('numpy.sum')}(_e, axis={ax}, keepdims=True)"
        return f"(lambda _e: _e / {total})({e})"


class LogSumExp(_AxisReduction):
    """log-sum-exp along an axis: axis 1 gives the m x 1 column of the rows' log-sum-exps,
    axis 0 the 1 x k row of the columns'.

    >>> Z = sp.MatrixSymbol("Z", 2, 2)
    >>> LogSumExp(Z, 1)[1, 0]
    log(exp(Z[1, 0]) + exp(Z[1, 1]))
    """

    @property
    def shape(self):
        Z = self.arg
        return (Z.rows, sp.S.One) if self.axis == 1 else (sp.S.One, Z.cols)

    def _entry(self, i, j, **kwargs):
        k = i if self.axis == 1 else j
        return sp.log(sp.Add(*[sp.exp(t) for t in _line(self.arg, self.axis, k)]))

    def _explicit(self, evaluate):
        E = evaluate(self.arg).applyfunc(sp.exp)
        if self.axis == 1:
            return sp.ImmutableMatrix(E.rows, 1, lambda i, j: sp.log(sum(E.row(i))))
        return sp.ImmutableMatrix(1, E.cols, lambda i, j: sp.log(sum(E.col(j))))

    def _latex(self, printer):
        which = "rows" if self.axis == 1 else "columns"
        return rf"\operatorname{{logsumexp}}_{{\text{{{which}}}}}\left({printer._print(self.arg)}\right)"

    def _sympystr(self, printer):
        return f"logsumexp({printer._print(self.arg)}, axis={self.axis})"

    def _numpycode(self, printer):
        code = printer._print(self.arg)
        e, mx, ax = self._numpy_stable_exp(printer, code)
        np_sum, np_log = printer._module_format("numpy.sum"), printer._module_format("numpy.log")
        np_squeeze = printer._module_format("numpy.squeeze")
        return f"{np_squeeze}({np_log}({np_sum}({e}, axis={ax}, keepdims=True)) + {mx}, axis={ax})"


def _eps(eps):
    eps = as_scalar_expr(eps, "eps")
    if eps.is_positive is False or eps.is_zero or isinstance(eps, MatrixExpr):
        raise InputError(f"layer_norm needs a positive scalar eps, got {eps}")
    return eps


class _RowNormalization(MatrixExpr):
    """A function of the rows of Z (m x k) through their mean and variance (args: Z, eps)."""

    def __new__(cls, Z, eps=sp.Rational(1, 10**5)):
        return super().__new__(cls, _matrix_arg(Z, "layer_norm"), _eps(eps))

    @property
    def arg(self):
        return self.args[0]

    @property
    def eps(self):
        return self.args[1]

    def doit(self, **hints):
        """Explicit when the argument is (as ``Transpose(ImmutableMatrix).doit()`` is)."""
        args = [a.doit(**hints) if isinstance(a, sp.Basic) else a for a in self.args]
        new = self.func(*args)
        if isinstance(args[0], sp.MatrixBase):
            return new._explicit(lambda a: a)
        return new

    def _row_stats(self, E):
        """(centred rows, 1/sqrt(var + eps) per row) of an explicit matrix E."""
        k = E.cols
        C = sp.Matrix(E.rows, k, lambda i, j: E[i, j] - sum(E.row(i)) / k)
        s = [1 / sp.sqrt(sum(C[i, j] ** 2 for j in range(k)) / k + self.eps) for i in range(E.rows)]
        return C, s

    def _row_entry(self, i, j=None):
        """C_ij (j given) or s_i, read lazily from the entries of Z (i may be symbolic)."""
        Z, eps = self.arg, self.eps
        row = _line(Z, 1, i)
        k = len(row)
        centred = [t - sp.Add(*row) / k for t in row]
        s = 1 / sp.sqrt(sp.Add(*[c**2 for c in centred]) / k + eps)
        if j is None:
            return s
        return (Z[i, j] - sp.Add(*row) / k) * s

    def _numpy_parts(self, printer):
        code = printer._print(self.arg)
        np_mean = printer._module_format("numpy.mean")
        centred = f"({code} - {np_mean}({code}, axis=1, keepdims=True))"
        eps = printer._print(self.eps)
        inv = f"(1 / {printer._module_format('numpy.sqrt')}({np_mean}(_c * _c, axis=1, keepdims=True) + {eps}))"
        return centred, inv


class LayerNorm(_RowNormalization):
    """Layer normalization: each row of Z centred and divided by sqrt(var + eps) (the
    variance over the row, dividing by k), N = C o (s 1^T), s = InverseStd(Z).

    >>> N = LayerNorm(sp.ImmutableMatrix([[1, 2, 3]]), sp.Rational(1, 3))
    >>> N.as_explicit()
    Matrix([[-1, 0, 1]])
    """

    @property
    def shape(self):
        return self.arg.shape

    def _entry(self, i, j, **kwargs):
        return self._row_entry(i, j)

    def _explicit(self, evaluate):
        C, s = self._row_stats(evaluate(self.arg))
        return sp.ImmutableMatrix(C.rows, C.cols, lambda i, j: C[i, j] * s[i])

    def _latex(self, printer):
        return rf"\operatorname{{LN}}\left({printer._print(self.arg)}\right)"

    def _sympystr(self, printer):
        return f"layer_norm({printer._print(self.arg)})"

    def _numpycode(self, printer):
        centred, inv = self._numpy_parts(printer)
        return f"(lambda _c: _c * {inv})({centred})"


class InverseStd(_RowNormalization):
    """The m x 1 column 1/sqrt(var + eps) of the rows of Z (the scale of ``LayerNorm``)."""

    @property
    def shape(self):
        return (self.arg.rows, sp.S.One)

    def _entry(self, i, j, **kwargs):
        return self._row_entry(i)

    def _explicit(self, evaluate):
        _, s = self._row_stats(evaluate(self.arg))
        return sp.ImmutableMatrix(len(s), 1, s)

    def _latex(self, printer):
        return rf"\sigma^{{-1}}\left({printer._print(self.arg)}\right)"

    def _sympystr(self, printer):
        return f"inv_std({printer._print(self.arg)})"

    def _numpycode(self, printer):
        centred, inv = self._numpy_parts(printer)
        return f"{printer._module_format('numpy.squeeze')}((lambda _c: {inv})({centred}), axis=1)"
