"""NumPy lowering of the vec-form matrices (``Vec``, Kronecker products, ``CommutationMatrix``).

A Hessian in a matrix variable W (n x k) is the nk x nk matrix d vec(∇f) / d vec(W)ᵀ in the
column-major layout of :func:`symcalc.vec` (``vec(W)`` stacks W's columns): the softmax
regression's is ``(I ⊗ Xᵀ) (diag(vec P) − …) (I ⊗ X)``. Generated kernels print column vectors
as 1-D arrays, so each node is lowered with its shape in mind:

* ``vec(M)``: ``ravel(M, order="F")`` (a vector is its own vec);
* ``A ⊗ B``: ``kron`` of the two as 2-D arrays (a 1-D column ``v`` becomes ``v[:, None]``, a row
  ``v[None, :]``), raveled again when the product is a vector;
* ``unvec(v, p, q)``: ``reshape(v, (p, q), order="F")``, the inverse of vec;
* ``K_{m,n}``: the helper ``_commutation(m, n)``, the permutation with ``K vec(A) = vec(Aᵀ)``.

>>> import sympy as sp
>>> from symcalc.derivation.vecform import CommutationMatrix, Vec
>>> from symcalc.codegen.multi_kernel import kernel_printer
>>> A, v = sp.MatrixSymbol("p0", 2, 3), sp.MatrixSymbol("v0", 3, 1)
>>> p = kernel_printer()
>>> p.doprint(Vec(A)), p.doprint(sp.KroneckerProduct(sp.Identity(2), v))
("_np.ravel(p0, order='F')", '_np.kron(_np.eye(2), v0[:, None])')
>>> p.doprint(CommutationMatrix(2, 3))
'_commutation(2, 3)'
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

__all__ = ["VecLowering"]


def _vec_types():
    from symcalc.derivation.vecform import CommutationMatrix, Unvec, Vec

    return Vec, CommutationMatrix, Unvec


class VecLowering:
    """Printer mixin: ``_print`` lowers Vec / KroneckerProduct / CommutationMatrix (the Vec
    class refuses NumPy printing by its own print method, which a printer consults first).

    The host printer (a :class:`~symcalc.codegen.numpy_printer.StableNumPyPrinter`) provides
    ``_atom``, ``_call`` and ``_helper_call``."""

    _atom: Callable[..., str]
    _call: Callable[..., str]
    _helper_call: Callable[..., str]

    def _print(self, expr, **kwargs):
        Vec, Commutation, Unvec = _vec_types()
        if isinstance(expr, Vec):
            return self._print_vec(expr)
        if isinstance(expr, Unvec):
            return self._print_unvec(expr)
        if isinstance(expr, Commutation):
            m, n = expr.args
            return self._helper_call("_commutation", self._print(m), self._print(n))
        if isinstance(expr, sp.KroneckerProduct):
            return self._print_kron(expr)
        return super()._print(expr, **kwargs)

    def _print_vec(self, expr):
        arg = expr.args[0]
        if arg.shape[0] == 1 or arg.shape[1] == 1:
            return self._print(arg)  # vectors are 1-D already
        return self._call("ravel", self._print(arg), "order='F'")

    def _print_unvec(self, expr):
        """unvec(v, p, q): the p x q matrix whose columns are v's consecutive slices of p."""
        v, rows, cols = expr.args
        if rows == 1 or cols == 1:
            return self._print(v)  # a vector's unvec has its entries in the same order
        shape = f"({self._print(rows)}, {self._print(cols)})"
        return self._call("reshape", self._print(v), shape, "order='F'")

    def _as_2d(self, expr) -> str:
        """expr's code as a 2-D array (1-D vectors get their unit axis back)."""
        code = self._atom(expr)
        rows, cols = expr.shape
        if rows == 1 and cols == 1:
            return self._call("reshape", code, "(1, 1)")
        if cols == 1:
            return f"{code}[:, None]"
        if rows == 1:
            return f"{code}[None, :]"
        return code

    def _print_kron(self, expr):
        code = self._as_2d(expr.args[0])
        for factor in expr.args[1:]:
            code = self._call("kron", code, self._as_2d(factor))
        rows, cols = expr.shape
        if rows == 1 or cols == 1:
            return self._call("ravel", code)
        return code
