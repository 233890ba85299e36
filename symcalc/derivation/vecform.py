"""The vec-form matrices of the Kronecker calculus: K (commutation), vec, N (symmetrizer).

>>> K = CommutationMatrix(2, 3)
>>> K.shape, CommutationMatrix(1, 3)
((6, 6), I)
"""

from __future__ import annotations

import sympy as sp
from sympy import (
    Identity,
    KroneckerProduct,
    MatAdd,
    MatMul,
    MatrixExpr,
    ZeroMatrix,
)

from symcalc.errors import InputError
from symcalc.expr.algebra import is_zero, mul
from symcalc.expr.structure import dim
from symcalc.inputs import as_expr, as_scalar_expr, reject_text


class CommutationMatrix(MatrixExpr):
    """K_{m,n}: the mn x mn permutation with K vec(A) = vec(A^T) for an m x n matrix A.

    >>> from symcalc.derivation.explicit import to_explicit
    >>> K = CommutationMatrix(2, 3)
    >>> K.shape, K.T
    ((6, 6), CommutationMatrix(3, 2))
    >>> A = sp.Matrix(2, 3, range(6))
    >>> list(to_explicit(K, {}) * sp.Matrix([A[i, j] for j in range(3) for i in range(2)]))
    [0, 1, 2, 3, 4, 5]
    """

    def __new__(cls, m, n):
        m, n = _size_arg(m, "m"), _size_arg(n, "n")
        if m == 1 or n == 1:  # vec of a row or a column is its transpose: K is I
            return Identity(m * n)
        return super().__new__(cls, m, n)

    @property
    def shape(self):
        m, n = self.args
        return (m * n, m * n)

    def _eval_transpose(self):
        m, n = self.args
        return CommutationMatrix(n, m)

    def as_explicit(self):
        m, n = (int(a) for a in self.args)
        K = sp.zeros(m * n, m * n)
        for i in range(m):
            for j in range(n):
                K[j + i * n, i + j * m] = 1
        return sp.ImmutableMatrix(K)

    def _latex(self, printer):
        m, n = self.args
        return rf"K_{{{printer._print(m)},{printer._print(n)}}}"

    def _entry(self, r, c, **kwargs):
        """1 where row r = (c // m) + (c % m) n, the position of entry c of vec(A) in vec(A^T)."""
        m, n = self.args
        return sp.KroneckerDelta(r, sp.floor(c / m) + sp.Mod(c, m) * n)


class Vec(MatrixExpr):
    """vec(M): the columns of M stacked into one column (mn x 1).

    >>> from symcalc.derivation.explicit import to_explicit
    >>> to_explicit(Vec(sp.ImmutableMatrix([[1, 2], [3, 4]])), {}).T
    Matrix([[1, 3, 2, 4]])
    """

    def __new__(cls, M):
        reject_text(M, "vec's argument")
        if not isinstance(M, (MatrixExpr, sp.MatrixBase)):
            raise InputError(
                f"Vec needs a matrix expression (a MatrixSymbol, an "
                f"ImmutableMatrix, ...), not {type(M).__name__}"
            )
        return super().__new__(cls, M)

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return (self.arg.rows * self.arg.cols, sp.S.One)

    def _latex(self, printer):
        return rf"\operatorname{{vec}}\left({printer._print(self.arg)}\right)"

    def _numpycode(self, printer):
        """Not lowered: generated kernels print vectors 1-D, which Kronecker-form (vec)
        Hessians do not survive; refuse with a short name instead of printing wrong code."""
        from sympy.printing.codeprinter import PrintMethodNotImplementedError

        raise PrintMethodNotImplementedError("Unsupported by NumPy: vec")

    def _entry(self, i, j, **kwargs):
        """Entry i of vec(M) is M[i mod rows, i div rows] (column-major)."""
        rows = self.arg.rows
        return self.arg._entry(sp.Mod(i, rows), sp.floor(i / rows), **kwargs)

    def doit(self, **hints):
        """vec of an explicit matrix is the explicit column; otherwise Vec stays.

        >>> Vec(sp.MatrixSymbol("X", 2, 2) + sp.ZeroMatrix(2, 2)).doit()
        Vec(X)
        """
        M = self.arg.doit(**hints) if hints.get("deep", True) else self.arg
        if isinstance(M, sp.MatrixBase):
            return sp.ImmutableMatrix(
                M.rows * M.cols, 1, [M[i, j] for j in range(M.cols) for i in range(M.rows)]
            )
        return Vec(M)


class Unvec(MatrixExpr):
    """unvec(v, p, q): the p x q matrix M with vec(M) = v (column-major), the inverse of vec.

    The adjoint of vec: tr(Cᵀ vec(dY)) = tr(unvec(C)ᵀ dY). ``Unvec(Vec(M), p, q)`` is M
    and the unvec of a column into a column is the column itself.

    >>> X = sp.MatrixSymbol("X", 2, 3)
    >>> Unvec(Vec(X), 2, 3), Unvec(sp.MatrixSymbol("v", 2, 1), 2, 1)
    (X, v)
    >>> Unvec(sp.ImmutableMatrix([1, 2, 3, 4]), 2, 2).doit()
    Matrix([
    [1, 3],
    [2, 4]])
    """

    def __new__(cls, v, rows, cols):
        reject_text(v, "unvec's argument")
        rows, cols = sp.sympify(rows, strict=True), sp.sympify(cols, strict=True)
        if not isinstance(v, (MatrixExpr, sp.MatrixBase)) or v.cols != 1:
            raise InputError(f"Unvec needs a column vector, not {v!r}")
        if isinstance(v, Vec) and v.arg.shape == (rows, cols):
            return v.arg
        if cols == 1 and v.rows == rows:
            return v
        return super().__new__(cls, v, rows, cols)

    @property
    def shape(self):
        return (self.args[1], self.args[2])

    def _latex(self, printer):
        return rf"\operatorname{{unvec}}\left({printer._print(self.args[0])}\right)"

    def _entry(self, i, j, **kwargs):
        """Entry (i, j) is entry i + j rows of the column (column-major)."""
        return self.args[0]._entry(i + j * self.args[1], 0, **kwargs)

    def doit(self, **hints):
        v = self.args[0].doit(**hints) if hints.get("deep", True) else self.args[0]
        rows, cols = self.args[1], self.args[2]
        if isinstance(v, sp.MatrixBase) and rows.is_Integer and cols.is_Integer:
            return sp.ImmutableMatrix(int(rows), int(cols), lambda i, j: v[i + j * int(rows), 0])
        return Unvec(v, rows, cols)


def _size_arg(d, what: str):
    """A size: an int or a name (as in ``matrix_symbol``), or a SymPy integer expression.

    >>> _size_arg("n", "n").is_integer, _size_arg(3, "m")
    (True, 3)
    """
    if isinstance(d, (str, int)):
        return dim(d)
    d = as_scalar_expr(d, what)
    if d.is_integer is False or d.is_positive is False:
        raise InputError(f"the size {what} must be a positive integer or a name, not {d}")
    return d


def symmetrizer(n):
    """N_n = (I_{n^2} + K_{n,n}) / 2: N vec(A) = vec((A + A^T)/2), the projection onto the
    vecs of symmetric n x n matrices (N^2 = N = N^T, K N = N K = N).

    >>> symmetrizer(2)
    (1/2)*CommutationMatrix(2, 2) + (1/2)*I
    >>> A = sp.Matrix([[1, 2], [3, 4]])
    >>> from symcalc.derivation.explicit import _vec, to_explicit
    >>> list(to_explicit(symmetrizer(2), {}) * sp.Matrix(_vec(A)))
    [1, 5/2, 5/2, 4]
    """
    n = _size_arg(n, "n")
    return mul(sp.Rational(1, 2), MatAdd(Identity(n * n), CommutationMatrix(n, n)))


def _sandwich(H, n):
    """N H N written the short way: a K_{n,n} or an identity next to N is absorbed
    (K N = N K = N, N N = N), and N (A kron A) N = N (A kron A) since A kron A commutes
    with K.

    >>> _sandwich(2 * CommutationMatrix(3, 3), 3)
    CommutationMatrix(3, 3) + I
    """
    n = as_expr(n, "n")
    if is_zero(H):
        return ZeroMatrix(n * n, n * n)
    if isinstance(H, MatMul):
        coef = sp.Mul(*[a for a in H.args if not isinstance(a, MatrixExpr)])
        mats = [a for a in H.args if isinstance(a, MatrixExpr)]
    else:
        coef, mats = sp.S.One, [H]

    def absorbed(M):
        return isinstance(M, Identity) or M == CommutationMatrix(n, n)

    while mats and absorbed(mats[0]):
        mats = mats[1:]
    while mats and absorbed(mats[-1]):
        mats = mats[:-1]
    N = symmetrizer(n)
    if not mats:
        return mul(coef, N)
    if (
        len(mats) == 1
        and isinstance(mats[0], KroneckerProduct)
        and len(mats[0].args) == 2
        and mats[0].args[0] == mats[0].args[1]
    ):
        return mul(coef, N, mats[0])
    return mul(coef, N, *mats, N)
