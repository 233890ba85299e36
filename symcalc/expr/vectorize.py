"""Vectorization: vec (column- or row-major), vech, and the matrices that relate them.

Conventions (Magnus & Neudecker):
* ``vec(A)`` stacks the columns of A (column-major); ``vec(A, order="row")`` the rows.
* ``vech(S)`` stacks the columns of the lower triangle (diagonal included).
* ``duplication_matrix(n)`` D: D vech(S) = vec(S) for symmetric S.
* ``elimination_matrix(n)`` L: L vec(A) = vech(A) for any square A.
* ``commutation_matrix(m, n)`` K: K vec(A) = vec(A.T) for A of shape m x n.
* vec(A X B) = (B.T kron A) vec(X).

Inputs may be SymPy matrices (exact results) or NumPy arrays (NumPy results).

>>> import sympy as sp
>>> A = sp.Matrix([[1, 2, 3], [4, 5, 6]])
>>> vec(A).T
Matrix([[1, 4, 2, 5, 3, 6]])
>>> vec(A, order="row").T
Matrix([[1, 2, 3, 4, 5, 6]])
>>> commutation_matrix(2, 3) * vec(A) == vec(A.T)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from symcalc.errors import InputError, InputTypeError, ShapeError
from symcalc.inputs import as_matrix, reject_text

_ORDERS = {"col": "F", "column": "F", "F": "F", "row": "C", "C": "C"}


def _order(order: str) -> str:
    try:
        return _ORDERS[order]
    except (KeyError, TypeError):
        raise InputError(
            f"order must be 'col' (column-major) or 'row' (row-major), got {order!r}"
        ) from None


def _as_matrix(A: Any, what: str = "A") -> sp.Matrix | np.ndarray:
    if isinstance(A, np.ndarray):
        reject_text(A, what)
        if A.ndim != 2:
            raise ShapeError(f"{what} must be a 2-D array, got {A.ndim} dimensions")
        return A
    if isinstance(A, sp.MatrixSymbol):
        if not all(d.is_Integer for d in A.shape):
            raise ShapeError(
                f"{what} = {A} has symbolic size {A.shape}; give concrete sizes to vectorize it"
            )
        return sp.Matrix(A.as_explicit())
    if isinstance(A, (sp.MatrixBase, sp.MatrixExpr)):
        return sp.Matrix(A)
    if isinstance(A, (list, tuple)):
        return sp.Matrix(as_matrix(A, what))
    raise InputTypeError(
        f"{what} must be a SymPy Matrix, a MatrixSymbol of concrete size or a 2-D NumPy array, "
        f"got {type(A).__name__}"
    )


def _square(A: Any, what: str = "S"):
    M = _as_matrix(A, what)
    if M.shape[0] != M.shape[1]:
        raise ShapeError(f"{what} must be square, got shape {tuple(M.shape)}")
    return M


def _check_size(n: Any, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer, sp.Integer)) or int(n) < 1:
        raise InputError(f"{what} must be a positive integer, got {n!r}")
    return int(n)


def _is_symbolic_size(A: Any) -> bool:
    """A matrix expression whose size is not two integers (a MatrixSymbol of size n x n)."""
    return isinstance(A, sp.MatrixExpr) and not all(
        getattr(d, "is_Integer", False) for d in A.shape
    )


def _closed_form_vec(A: sp.MatrixExpr, o: str):
    """vec of a symbolic-size matrix: the closed-form ``Vec(A)`` (``Vec(A.T)`` by rows)."""
    from symcalc.derivation.vecform import Vec

    return Vec(A) if o == "F" else Vec(sp.Transpose(A).doit())


def vec(A: Any, order: str = "col"):
    """Stack the columns (``order="col"``) or the rows (``order="row"``) of A into a column.

    >>> import sympy as sp
    >>> a, b, c, d = sp.symbols("a b c d")
    >>> vec(sp.Matrix([[a, b], [c, d]])).T
    Matrix([[a, c, b, d]])

    A matrix of symbolic size gives the closed form ``Vec``:

    >>> vec(sp.MatrixSymbol("X", sp.Symbol("m"), sp.Symbol("n"))).shape
    (m*n, 1)
    """
    if _is_symbolic_size(A):
        return _closed_form_vec(A, _order(order))
    M, o = _as_matrix(A), _order(order)
    if isinstance(M, np.ndarray):
        return M.reshape(-1, 1, order=o)
    entries = M.T if o == "F" else M
    return sp.Matrix(len(M), 1, list(entries))


def unvec(v: Any, shape: tuple[int, int], order: str = "col"):
    """The inverse of :func:`vec`: roll a vector back into a matrix of ``shape``.

    >>> import sympy as sp
    >>> A = sp.Matrix([[1, 2, 3], [4, 5, 6]])
    >>> unvec(vec(A), (2, 3)) == A
    True
    """
    o = _order(order)
    try:
        m, n = (_check_size(s, "shape entry") for s in shape)
    except (TypeError, ValueError):
        raise ShapeError(f"shape must be a pair (rows, cols), got {shape!r}") from None
    if isinstance(v, np.ndarray):
        if v.size != m * n:
            raise ShapeError(f"a vector of {v.size} entries cannot be rolled into shape ({m}, {n})")
        return v.reshape(m, n, order=o)
    V = _as_matrix(v, "v")
    if len(V) != m * n:
        raise ShapeError(f"a vector of {len(V)} entries cannot be rolled into shape ({m}, {n})")
    items = list(V)
    if o == "F":
        return sp.Matrix(n, m, items).T
    return sp.Matrix(m, n, items)


def vech(S: Any):
    """The half-vectorization: the lower triangle of a square matrix, column by column.

    >>> import sympy as sp
    >>> a, b, c = sp.symbols("a b c")
    >>> vech(sp.Matrix([[a, b], [b, c]])).T
    Matrix([[a, b, c]])
    """
    M = _square(S)
    n = M.shape[0]
    items = [M[i, j] for j in range(n) for i in range(j, n)]
    if isinstance(M, np.ndarray):
        return np.array(items, dtype=M.dtype).reshape(-1, 1)
    return sp.Matrix(items)


def _vech_index(i: int, j: int, n: int) -> int:
    """Position of entry (i, j), i >= j, in vech of an n x n matrix."""
    return j * n - j * (j - 1) // 2 + (i - j)


def duplication_matrix(n: int) -> sp.Matrix:
    """D_n, of shape n^2 x n(n+1)/2, with D vech(S) = vec(S) for every symmetric S.

    >>> D = duplication_matrix(2)
    >>> D.shape
    (4, 3)
    """
    n = _check_size(n, "n")
    D = sp.zeros(n * n, n * (n + 1) // 2)
    for j in range(n):
        for i in range(n):
            lo, hi = max(i, j), min(i, j)
            D[j * n + i, _vech_index(lo, hi, n)] = 1
    return D


def elimination_matrix(n: int) -> sp.Matrix:
    """L_n, of shape n(n+1)/2 x n^2, with L vec(A) = vech(A) for every square A.

    >>> L = elimination_matrix(3)
    >>> L * duplication_matrix(3) == sp.eye(6)
    True
    """
    n = _check_size(n, "n")
    L = sp.zeros(n * (n + 1) // 2, n * n)
    for j in range(n):
        for i in range(j, n):
            L[_vech_index(i, j, n), j * n + i] = 1
    return L


def _is_size_symbol(n: Any) -> bool:
    """A symbolic size: a SymPy expression with free symbols (``m``, ``n``, ``2*n``)."""
    return isinstance(n, sp.Expr) and bool(n.free_symbols)


def _closed_form_commutation(m: Any, n: Any):
    from symcalc.derivation.vecform import CommutationMatrix
    from symcalc.expr.structure import dim

    def size(d: Any) -> Any:  # a plain Symbol("m") is the size m: a positive integer
        return dim(d.name) if isinstance(d, sp.Symbol) and not d.is_integer else d

    return CommutationMatrix(size(m), size(n))


def commutation_matrix(m: int, n: int | None = None) -> sp.Matrix:
    """K_{mn}, of shape mn x mn, with K vec(A) = vec(A.T) for A of shape m x n.

    >>> K = commutation_matrix(2, 3)
    >>> K.T * K == sp.eye(6)
    True

    Symbolic sizes give the closed form ``CommutationMatrix``:

    >>> commutation_matrix(sp.Symbol("m", integer=True, positive=True), 2).shape
    (2*m, 2*m)
    """
    if _is_size_symbol(m) or _is_size_symbol(n):
        return _closed_form_commutation(m, m if n is None else n)
    m = _check_size(m, "m")
    n = m if n is None else _check_size(n, "n")
    K = sp.zeros(m * n, m * n)
    for i in range(m):
        for j in range(n):
            # A[i, j] sits at j*m + i in vec(A) and at i*n + j in vec(A.T)
            K[i * n + j, j * m + i] = 1
    return K
