"""The matrix-form kernels' printer: a bias ``1 bᵀ`` in a sum is NumPy broadcasting, not an outer product.

A network layer ``X W + 1 bᵀ`` printed term by term builds the m x h matrix ``outer(ones, b)``
and adds it: one m x h array written and read for nothing. Next to a full-size term, ``1 bᵀ``
is ``b`` (a 1-D array broadcasts along the rows) and ``b 1ᵀ`` is ``b[:, None]``.
Batched functions switch this off (``broadcast_sums = False``): there a batched vector has a
leading axis and would broadcast against the wrong one.

>>> import sympy as sp
>>> X, W = sp.MatrixSymbol("p0", 5, 3), sp.MatrixSymbol("v0", 3, 4)
>>> b = sp.MatrixSymbol("p1", 4, 1)
>>> printer = BroadcastPrinter({"fully_qualified_modules": True, "numpy_module": "_np"})
>>> printer.doprint(X * W + sp.OneMatrix(5, 1) * b.T)
'((p0 @ v0) + (p1))'
>>> printer.doprint(W.T * X.T - b * sp.OneMatrix(1, 5))
'((v0.T @ p0.T) - p1[:, None])'
"""

from __future__ import annotations

import sympy as sp

from symcalc.codegen.numpy_printer import StableNumPyPrinter
from symcalc.codegen.vec_lowering import VecLowering

__all__ = ["BroadcastPrinter", "broadcast_term"]


def broadcast_term(expr):
    """(coefficient, vector, axis) for c 1 vᵀ (axis 0: v repeated down the rows) or c v 1ᵀ
    (axis 1), else None.

    >>> b = sp.MatrixSymbol("b", 4, 1)
    >>> broadcast_term(2 * sp.OneMatrix(5, 1) * b.T)
    (2, b.T, 0)
    """
    if not isinstance(expr, sp.MatMul):
        return None
    coeff, mats = expr.as_coeff_matrices()
    if len(mats) != 2:
        return None
    left, right = mats
    if (
        isinstance(left, sp.OneMatrix)
        and left.shape[1] == 1
        and not isinstance(right, sp.OneMatrix)
    ):
        return coeff, right, 0
    if (
        isinstance(right, sp.OneMatrix)
        and right.shape[0] == 1
        and not isinstance(left, sp.OneMatrix)
    ):
        return coeff, left, 1
    return None


class BroadcastPrinter(VecLowering, StableNumPyPrinter):
    """:class:`StableNumPyPrinter` that prints the broadcast terms of a sum as broadcasting
    (and lowers the vec-form matrices: :mod:`symcalc.codegen.vec_lowering`)."""

    broadcast_sums = True

    def _print_MatAdd(self, expr):
        terms = expr.args
        bcast = [broadcast_term(a) for a in terms]
        full = [a for a, b in zip(terms, bcast) if b is None and not isinstance(a, sp.OneMatrix)]
        if not self.broadcast_sums or not full or all(b is None for b in bcast):
            return super()._print_MatAdd(expr)
        new, added = [], []
        for a, b in zip(terms, bcast):
            if b is None:
                new.append(a)
                continue
            coeff, vec, axis = b
            code = self._atom(vec) + ("[:, None]" if axis == 1 else "")
            if coeff not in (1, -1):
                code = f"({self._print(coeff)}*{code})"
            holder = sp.Symbol(f"_broadcast{len(self._substitutions)}")
            self._substitutions[holder] = code
            added.append(holder)
            term = sp.MatrixSymbol(holder.name, *a.shape)
            new.append(sp.MatMul(-1, term) if coeff == -1 else term)  # printed as "- b"
        try:
            return super()._print_MatAdd(sp.MatAdd(*new))
        finally:
            for holder in added:
                del self._substitutions[holder]
