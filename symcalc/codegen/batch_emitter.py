"""Batched matrix-form kernels: one call for a whole batch of the variable, on BLAS.

A matrix-form kernel's functions take one variable ``v0`` of its declared shape. This module
writes, next to each of them, a ``<name>_batch`` function that takes the variable with one
leading batch axis, ``v0 (B, n)`` (``(B, m, n)`` for a matrix variable), and returns each
result with that axis in front, *or* without it when the result does not depend on the variable
(the Gaussian's Hessian: the caller broadcasts it).

How each node is written (the batch axis first, every per-point shape after it, so parameter
arrays broadcast against batched ones as they are):

* parameter-only subexpressions are printed by the ordinary printer and computed once per call
  (``inv(S)`` once, not once per point);
* a product with the variable becomes a matrix product over the batch: ``A @ w`` for B vectors
  is ``W @ A.T`` (one GEMM), ``c^T w`` is ``W @ c``, two batched vectors ``u^T v`` an ``einsum``;
* transposes, traces and sums act on the trailing axes;
* elementwise work (sums, Hadamard products, elementwise functions, scalar arithmetic) is
  printed by the ordinary printer, whose NumPy code broadcasts over the leading axis.

Anything else (a diagonal matrix of a batched vector, a determinant of a batched matrix, a
function of a whole vector) makes the function :class:`Unbatchable`, and the kernel loops over
the batch for that function as before.

>>> import sympy as sp
>>> from symcalc.codegen.numpy_emitter import _kernel_printer
>>> n = sp.Symbol("d0")
>>> A, v = sp.MatrixSymbol("p0", n, n), sp.MatrixSymbol("v0", n, 1)
>>> lines = batch_function("gradient", ["gradient"], [], [A * v], v, _kernel_printer(), [v, A])
>>> print("\\n".join(lines))
def gradient_batch(v0, p0):
    'gradient for a batch of the variable (the leading axis of v0).'
    gradient_ = (v0 @ p0.T)
    return gradient_
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from symcalc.codegen.arguments import _array_shape
from symcalc.codegen.source import NUMPY_MODULE, source_literal

__all__ = ["batch_function", "Unbatchable"]


class Unbatchable(Exception):
    """A node the batched writer has no rule for (the kernel then loops over the batch)."""


def _ndim(expr) -> int:
    """The per-point array rank of expr: 0 scalar or 1 x 1, 1 vector, 2 matrix."""
    if not isinstance(expr, sp.MatrixExpr):
        return 0
    r, c = expr.shape
    return int(r != 1) + int(c != 1)


def _is_one(d) -> bool:
    return bool(d == 1)


_ELEMENTWISE = (sp.MatAdd, sp.HadamardProduct, sp.HadamardPower, ElementwiseApplyFunction)


#: stable nodes of symcalc.codegen.stable_forms with a helper that takes a batch of vectors
#: (B, n): the log-sum-exp of each (B,), the Hessian diag(p) - p p^T of each (B, n, n)
_ROW_HELPERS = {
    "vector_logsumexp": "_logsumexp_rows",
    "softmax_hessian": "_softmax_hessian_rows",
}


class _BatchWriter:
    """Writes the statements of one batched function; remembers which symbols are batched."""

    def __init__(self, printer, variable, first_temp: int):
        self.printer = printer
        self.batched = {variable}
        self.lines: list[str] = []
        self.memo: dict = {}
        self.counter = first_temp

    # -- bookkeeping --------------------------------------------------------------
    def depends(self, expr) -> bool:
        """True when expr depends on the variable (it has the batch axis)."""
        return isinstance(expr, sp.Basic) and bool(expr.free_symbols & self.batched)

    def temp(self, like, text: str) -> sp.Basic:
        """A new batched temporary holding text, of like's kind (matrix or scalar)."""
        name = f"t{self.counter}"
        self.counter += 1
        sym = (
            sp.MatrixSymbol(name, *like.shape)
            if isinstance(like, sp.MatrixExpr)
            else sp.Symbol(name)
        )
        self.lines.append(f"    {name} = {text}")
        self.batched.add(sym)
        return sym

    def define(self, sym, expr) -> None:
        """``sym = expr`` as a statement: batched when expr depends on the variable."""
        if self.depends(expr):
            self.lines.append(f"    {sym.name} = {self.code(expr)}")
            self.batched.add(sym)
        else:
            self.lines.append(f"    {sym.name} = {self.printer.doprint(expr)}")

    # -- printing -----------------------------------------------------------------
    def code(self, expr) -> str:
        """Code for a batched expr (the batch axis first)."""
        if expr in self.batched:
            return self.printer.doprint(expr)
        key = self._key(expr)
        if key in self.memo:
            return self.memo[key].name
        if isinstance(expr, sp.MatMul):
            text = self._matmul(expr)
        elif isinstance(expr, sp.Transpose):
            inner = self.code(expr.args[0])
            text = inner if _ndim(expr) < 2 else f"{NUMPY_MODULE}.swapaxes({inner}, -1, -2)"
        elif isinstance(expr, sp.Trace):
            text = self._trace(expr.args[0])
        elif type(expr).__name__ in _ROW_HELPERS:  # one per point, along the last axis
            name = _ROW_HELPERS[type(expr).__name__]
            self.printer.helpers_used.add(name)
            text = f"{name}({self.code(expr.args[0])})"
        elif isinstance(expr, _ELEMENTWISE) or self._scalar_elementwise(expr):
            text = self._delegate(expr)
        else:
            raise Unbatchable(type(expr).__name__)
        return text

    def _key(self, expr):
        """Vectors are 1-D either way round: w and w^T are one array."""
        if isinstance(expr, sp.MatrixExpr) and _ndim(expr) == 1 and _is_one(expr.shape[0]):
            return sp.Transpose(expr).doit()
        return expr

    def named(self, expr) -> sp.Basic:
        """A batched expr as a symbol (a temporary, printed once)."""
        if expr in self.batched:
            return expr
        key = self._key(expr)
        if key in self.batched:  # w^T of the variable w (or of a temporary): the same array
            self.memo[key] = key
        if key not in self.memo:
            self.memo[key] = self.temp(expr, self.code(expr))
        sym = self.memo[key]
        if isinstance(expr, sp.MatrixExpr) and sym.shape != expr.shape:
            sym = sp.MatrixSymbol(sym.name, *expr.shape)  # the same 1-D array, other orientation
            self.batched.add(sym)
        return sym

    def _scalar_elementwise(self, expr) -> bool:
        """Scalar arithmetic and scalar functions of scalars broadcast over the batch axis."""
        if isinstance(expr, sp.MatrixExpr) or not isinstance(
            expr, (sp.Add, sp.Mul, sp.Pow, sp.Function)
        ):
            return False
        return not any(isinstance(a, sp.MatrixExpr) for a in expr.args)

    def _delegate(self, expr) -> str:
        """The ordinary printer on expr with each batched argument named first."""
        args = []
        for a in expr.args:
            if not isinstance(a, sp.Basic) or not self.depends(a):
                args.append(a)
            elif (
                isinstance(a, sp.MatMul)
                and a.as_coeff_matrices()[0].is_number
                and len(a.as_coeff_matrices()[1]) == 1
            ):
                coeff, (m,) = a.as_coeff_matrices()
                args.append(sp.MatMul(coeff, self.named(m)))  # -w stays ``a - w`` for the printer
            else:
                args.append(self.named(a))
        if isinstance(expr, ElementwiseApplyFunction):
            rebuilt = ElementwiseApplyFunction(expr.function, args[1])
        else:
            rebuilt = (
                expr.func(*args, evaluate=False)
                if isinstance(expr, (sp.Add, sp.Mul, sp.Pow))
                else expr.func(*args)
            )
        return self.printer.doprint(rebuilt)

    def _trace(self, arg) -> str:
        inner = self.code(arg)
        rank = _ndim(arg)
        if rank == 0:
            return inner
        if rank == 1:
            return f"{NUMPY_MODULE}.sum({inner}, axis=-1)"
        return f"{NUMPY_MODULE}.trace({inner}, axis1=-2, axis2=-1)"

    def _operand(self, expr):
        """(code, batched) for one factor of a product (a batched one named once: x - mu
        and x^T - mu^T are one array)."""
        if self.depends(expr):
            return self.printer.doprint(self.named(expr)), True
        return self.printer._atom(expr), False

    def _matmul(self, expr) -> str:
        coeff, factors = expr.as_coeff_matrices()
        factors = list(factors)
        code, batched = self._operand(factors[0])
        shape = factors[0].shape
        for fac in factors[1:]:
            right, rb = self._operand(fac)
            code = _product(code, batched, shape, right, rb, fac.shape)
            batched = batched or rb
            shape = (shape[0], fac.shape[1])
        rank = int(not _is_one(shape[0])) + int(not _is_one(shape[1]))
        if coeff == 1:
            return code
        if self.depends(coeff):
            c = self.code(coeff)
            return f"(({c}){'[:' + ', None' * rank + ']' if rank else ''} * {code})"
        return f"({self.printer.doprint(coeff)}*{code})"


def _product(left, lb, lshape, right, rb, rshape) -> str:
    """left @ right with the batch axis first on the batched side(s): a GEMM where it can be."""
    r, k = lshape
    s = rshape[1]
    l_rank = int(not _is_one(r)) + int(not _is_one(k))
    r_rank = int(not _is_one(k)) + int(not _is_one(s))
    col_right = r_rank == 1 and _is_one(s)
    if not lb and not rb:  # a fixed sub-product (y^T X in y^T X w): computed once
        return f"({left} @ {right})"
    if lb and not rb and not _is_one(k):
        return f"({left} @ {right})"  # (B, k) or (B, r, k) against a fixed (k,) / (k, s)
    if rb and not lb and not _is_one(k):
        if col_right:  # A w for B vectors: W A^T (one GEMM); c^T w: W c
            return f"({right} @ {left}.T)" if l_rank == 2 else f"({right} @ {left})"
        if r_rank == 2:
            return f"({left} @ {right})"  # matmul broadcasts the fixed left over the batch
    letters_l = ("a" if not _is_one(r) else "") + ("c" if not _is_one(k) else "")
    letters_r = ("c" if not _is_one(k) else "") + ("d" if not _is_one(s) else "")
    out = ("a" if not _is_one(r) else "") + ("d" if not _is_one(s) else "")
    spec = f"{'z' if lb else ''}{letters_l},{'z' if rb else ''}{letters_r}->z{out}"
    return f"{NUMPY_MODULE}.einsum('{spec}', {left}, {right}, optimize=True)"


def batch_function(fname, parts, repl, reduced, variable, printer, arguments) -> list[str]:
    """The lines of ``<fname>_batch``: the function's CSE statements (repl) and results
    (reduced, one per part) written for a batch of ``variable`` (the first of the
    ``arguments``, code symbols); raises :class:`Unbatchable` where a node has no rule."""
    writer = _BatchWriter(printer, variable, first_temp=len(repl))
    broadcast, printer.broadcast_sums = getattr(printer, "broadcast_sums", False), False
    try:  # a batched bias has the batch axis in front: no 1-D broadcasting of 1 b^T here
        for sym, e in repl:
            writer.define(sym, e)
        results = []
        for p, r in zip(parts, reduced):
            text = writer.code(r) if writer.depends(r) else printer.doprint(r)
            writer.lines.append(f"    {p}_ = {text}")
            results.append(f"{p}_")
    finally:
        printer.broadcast_sums = broadcast
    body = "\n".join(writer.lines)
    sizes = [line for d, line in _size_lines(arguments) if re.search(rf"\b{d}\b", body)]
    head = [
        f"def {fname}_batch({', '.join(a.name for a in arguments)}):",
        "    "
        + source_literal(
            f"{' and '.join(parts)} for a batch of the variable (the leading axis of {variable.name})."
        ),
    ]
    return head + sizes + writer.lines + [f"    return {', '.join(results)}"]


def _size_lines(arguments):
    """[(size name, '    d0 = v0.shape[-1]')]: each symbolic size from the first array that has
    it, counted from the end (the variable carries a batch axis in front)."""
    lines, seen = [], set()
    for a in arguments:
        shape = _array_shape(a)
        for axis, d in enumerate(shape):
            if isinstance(d, sp.Symbol) and d not in seen:
                seen.add(d)
                lines.append((d.name, f"    {d.name} = {a.name}.shape[{axis - len(shape)}]"))
    return lines
