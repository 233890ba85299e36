"""The :class:`MatrixKernel` of a matrix-form function: value, gradient and Hessian as BLAS calls.

>>> import numpy as np, symcalc as sc
>>> from symcalc.expr.structure import norm_squared
>>> w = sc.vector("w", "n")
>>> sc.compile(norm_squared(w), w).gradient(np.array([1.0, 2.0]))
array([2., 4.])
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from symcalc.codegen.arguments import (
    _array_shape,
    _float_array,
    _shape_text,
    singular_matrix_error,
)
from symcalc.codegen.explicit_kernel import _scipy_triple
from symcalc.errors import InputError, ShapeError
from symcalc.records import RichDisplay


class MatrixKernel(RichDisplay):
    """value / gradient / Hessian of a matrix-form scalar f(w; X, y, ...): a few BLAS calls.

    Parameters are arrays of their declared shapes (column vectors as 1-D arrays);
    symbolic sizes (m, n) are read off the arrays and must agree. The variable may
    carry leading batch axes: ``w`` of shape ``(..., n)`` (a matrix variable
    ``(..., m, n)``) gives ``value (...)``, ``gradient (..., n)``,
    ``hessian (..., n, n)``; one ``w`` of shape ``(n,)`` runs the generated code
    as is. Attributes: ``f``, ``gradient_expr``, ``hessian_expr``, ``source``,
    ``path``, ``module``.

    >>> import numpy as np, symcalc as sc
    >>> from symcalc.expr.structure import matrix_symbol, squared_error, vector
    >>> A, x, b = matrix_symbol("A", "m", "n"), vector("x", "n"), vector("b", "m")
    >>> k = sc.compile(squared_error(A, x, b), x, params=[A, b])
    >>> A_, b_ = np.eye(3, 2), np.ones(3)
    >>> float(k.value(np.zeros(2), A_, b_))
    3.0
    >>> k.value(np.zeros((4, 2)), A_, b_)
    array([3., 3., 3., 3.])
    >>> k.hessian(np.zeros((2, 5, 2)), A_, b_).shape
    (2, 5, 2, 2)
    """

    backend = "numpy"

    def __init__(self, f, wrt, params, G, H, source, module, path):
        self.f, self.wrt, self.params = f, wrt, tuple(params)
        self.gradient_expr, self.hessian_expr = G, H
        self.source, self.module, self.path = source, module, path
        # names and declared shapes, read once: printing a SymPy name costs microseconds per call
        syms = [wrt] + list(self.params)
        self._names = [str(s) for s in syms]
        self._shapes = [_array_shape(s) for s in syms]
        vector_shape = self._shapes[0]
        size = sp.Mul(*vector_shape) if vector_shape else sp.S.One
        self._out_shapes = {  # a matrix variable's Hessian is d vec(grad) / d vec(W)^T
            "value": (),
            "gradient": vector_shape,
            "hessian": (size, size),
        }

    def __repr__(self):
        ps = ", ".join(map(str, self.params))
        return f"<symcalc MatrixKernel of f({self.wrt}{'; ' + ps if ps else ''}), backend=numpy>"

    # -- argument handling ------------------------------------------------------
    def _prepare(self, args):
        """(arrays, dtype, bound sizes, batch shape): the parameters first fix the sizes,
        then the variable's axes before its declared shape are the batch."""
        names, shapes = self._names, self._shapes
        if len(args) != len(names):
            raise InputError(f"expected {len(names)} arrays ({', '.join(names)}), got {len(args)}")
        arrays, dtype = [], None
        for name, value in zip(names, args):
            arr = _float_array(value, name, dtype)
            dtype = dtype or arr.dtype
            arrays.append(arr)
        bound: dict = {}
        later = [k for k in range(1, len(names)) if _has_composite_size(shapes[k])]
        for k in range(1, len(names)):
            if k not in later:
                arrays[k] = _check_parameter(names[k], shapes[k], arrays[k], bound)
        arrays[0], batch = _split_batch(names[0], shapes[0], arrays[0], bound)
        for k in later:  # sizes such as n*k, known once their factors are
            arrays[k] = _check_parameter(names[k], shapes[k], arrays[k], bound)
        return arrays, dtype, bound, batch

    def _finish(self, value, shape_expr, bound, dtype):
        shape = _sizes(shape_expr, bound)
        arr = np.asarray(value, dtype=dtype)
        if arr.shape != shape:
            arr = (
                np.broadcast_to(arr, shape).copy()
                if arr.size in (1, int(np.prod(shape))) and arr.size == 1
                else arr.reshape(shape)
            )
        return arr

    def _run(self, method, parts, args, materialize=False):
        """The outputs `parts` of the generated function `method`, one variable or a batch
        (a singular or indefinite matrix parameter: a SingularMatrixError naming it)."""
        a, dtype, bound, batch = self._prepare(args)
        try:
            return self._evaluate(method, parts, a, dtype, bound, batch, materialize)
        except np.linalg.LinAlgError as exc:
            exprs = [self.f, self.gradient_expr, self.hessian_expr]
            raise singular_matrix_error(exc, exprs, self.params) from None

    def _evaluate(self, method, parts, a, dtype, bound, batch, materialize):
        fn = getattr(self.module, method)
        shapes = [self._out_shapes[p] for p in parts]
        if not batch:  # one variable: the generated BLAS code, unchanged
            res = fn(*a)
            res = res if len(parts) > 1 else (res,)
            outs = [self._finish(r, s, bound, dtype) for r, s in zip(res, shapes)]
            return [o[()] if p == "value" else o for o, p in zip(outs, parts)]
        sizes = [_sizes(s, bound) for s in shapes]
        batched = getattr(self.module, f"{method}_batch", None)
        if batched is None:  # a node without a batch rule: one call per variable
            return self._run_batch(fn, a, batch, shapes, sizes, bound, dtype, len(parts) > 1)
        flat = a[0].reshape((-1,) + a[0].shape[len(batch) :])
        res = self._blocked(method, flat, a[1:])
        res = batched(flat, *a[1:]) if res is None else res
        res = res if len(parts) > 1 else (res,)
        res = [r.copy() if np.may_share_memory(r, flat) else r for r in res]  # never the input
        return [_batch_result(r, batch, size, dtype, materialize) for r, size in zip(res, sizes)]

    #: bytes of one block of a row-blocked batch (B x block doubles): about an L2 cache
    BLOCK_BYTES = 1 << 20

    def _blocked(self, method, flat, params):
        """The row-blocked batch function's result (:mod:`symcalc.codegen.row_blocks`) when the
        module has one and the data has several blocks of rows, else None."""
        fn = getattr(self.module, f"{method}_batch_rows", None)
        if fn is None:
            return None
        block = max(256, self.BLOCK_BYTES // (8 * max(flat.shape[0], 1)))
        rows = next(p.shape[0] for p in params if np.ndim(p) == 2)
        return fn(flat, *params, block) if rows >= 4 * block else None

    def _run_batch(self, fn, arrays, batch, shapes, sizes, bound, dtype, several):
        """Call the one-variable function on each variable of the batch, into preallocated outputs."""
        w, params = arrays[0], arrays[1:]
        outs = [np.empty(batch + size, dtype=dtype) for size in sizes]
        for idx in np.ndindex(*batch):
            res = fn(w[idx], *params)
            for out, r, size, shape in zip(outs, res if several else (res,), sizes, shapes):
                out[idx] = r if np.shape(r) == size else self._finish(r, shape, bound, dtype)
        return outs

    # -- evaluation ---------------------------------------------------------------
    # For a batch, a result that does not depend on the variable (the Hessian of a quadratic
    # form) is computed once and returned as a read-only broadcast view of the batch shape;
    # materialize=True returns a writable array of its own instead.
    def value(self, *args, materialize=False):
        """f: a scalar for one variable, shape (...) for a batch."""
        return self._run("value", ["value"], args, materialize)[0]

    def gradient(self, *args, materialize=False):
        """The gradient: the variable's shape, (..., n) for a batch."""
        return self._run("gradient", ["gradient"], args, materialize)[0]

    def hessian(self, *args, materialize=False):
        """The Hessian: (n, n), (..., n, n) for a batch; for a matrix variable W (r, c) the
        vec form d vec(grad) / d vec(W)^T, (rc, rc), column-major (``hessian='vec'``); read-only
        and broadcast over the batch when it does not depend on the variable, unless
        ``materialize=True``."""
        if self.hessian_expr is None:
            raise InputError(
                f"the Hessian with respect to the matrix {self.wrt} is not compiled "
                "(compile with hessian='vec' for its vec form)"
            )
        return self._run("hessian", ["hessian"], args, materialize)[0]

    def value_and_gradient(self, *args, materialize=False):
        """(f, gradient) from shared temporaries."""
        return tuple(self._run("value_and_gradient", ["value", "gradient"], args, materialize))

    def value_gradient_hessian(self, *args, materialize=False):
        """(f, gradient, Hessian) from shared temporaries."""
        if self.hessian_expr is None:
            return self.hessian(*args)
        parts = ["value", "gradient", "hessian"]
        return tuple(self._run("value_gradient_hessian", parts, args, materialize))

    def as_scipy(self, *params):
        """(fun, jac, hess) for scipy.optimize.minimize, the other arrays fixed."""
        return _scipy_triple(self, params)


def _sizes(shape_expr, bound) -> tuple:
    """A declared shape with its symbolic sizes bound: (m, n) -> (20000, 200)."""
    values = {d: size for d, (size, _) in bound.items()}
    return tuple(int(sp.sympify(d, strict=True).xreplace(values)) for d in shape_expr)


def _batch_result(r, batch, size, dtype, materialize):
    """A batched function's result in the batch shape: (B, *size) reshaped; a result without
    the batch axis (it does not depend on the variable) broadcast, read-only, or copied.

    >>> v = _batch_result(np.eye(2), (3,), (2, 2), np.float64, False)
    >>> v.shape, v.flags.writeable
    ((3, 2, 2), False)
    >>> _batch_result(np.arange(3.0), (3,), (), np.float64, False)
    array([0., 1., 2.])
    """
    r = np.asarray(r, dtype=dtype)
    count = int(np.prod(batch))
    if r.shape == (count,) + size:
        return r.reshape(batch + size)
    if r.ndim == len(size) + 1 and r.shape[0] == count:
        return np.broadcast_to(r, (count,) + size).copy().reshape(batch + size)
    view = np.broadcast_to(r, batch + size)
    return view.copy() if materialize else view


def _check_parameter(sym, want, arr, bound):
    """A parameter array of its declared shape `want` (column vectors as 1-D); binds the sizes it fixes."""
    if len(want) == 1 and arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != len(want):
        raise ShapeError(
            f"{sym} must be a {len(want)}-D array of shape {_shape_text(want)}, "
            f"got shape {arr.shape}"
        )
    for axis, d in enumerate(want):
        size = arr.shape[axis]
        if isinstance(d, sp.Symbol):
            if d in bound and bound[d][0] != size:
                raise ShapeError(
                    f"{sym} has {size} along axis {axis}, but {d} = {bound[d][0]} "
                    f"from {bound[d][1]}; expected shape {_shape_text(want, bound)}"
                )
            bound.setdefault(d, (size, sym))
        elif (expected := _size_of(d, bound, sym, want, arr.shape)) != size:
            known = "" if sp.sympify(d, strict=True).is_Integer else f" ({d} = {expected})"
            raise ShapeError(
                f"{sym} must have shape {_shape_text(want, bound)}{known}, got {arr.shape}"
            )
    return arr


def _size_of(d, bound, sym, want, got):
    """The integer a size expression (3, or n*k with n and k bound by earlier arrays) stands for."""
    value = _fixed_size(d, bound)
    if value is None:
        unknown = sorted(str(s) for s in sp.sympify(d, strict=True).free_symbols if s not in bound)
        raise ShapeError(
            f"{sym} has shape {got}, but its size {d} is not known from the arrays before it "
            f"(pass the arrays that fix {', '.join(unknown)} first)"
        )
    return value


def _split_batch(wrt, want, arr, bound):
    """(array, batch shape): the variable's trailing axes are its declared shape `want`, the rest
    the batch. A 2-D column vector ``(n, 1)`` is still one vector when the parameters fix n != 1.
    """
    if (
        len(want) == 1
        and arr.ndim == 2
        and arr.shape[1] == 1
        and _fixed_size(want[0], bound) == arr.shape[0] != 1
    ):
        arr = arr.reshape(-1)
    lead = arr.ndim - len(want)
    if lead < 0:
        raise ShapeError(f"{wrt} must have shape {_batch_shape_text(want, bound)}, got {arr.shape}")
    for d, size in zip(want, arr.shape[lead:]):
        expected = _fixed_size(d, bound)
        if expected is not None and expected != size:
            origin = f" ({d} = {expected} from {bound[d][1]})" if isinstance(d, sp.Symbol) else ""
            raise ShapeError(
                f"{wrt} must have shape {_batch_shape_text(want, bound)}, got {arr.shape}{origin}"
            )
        if isinstance(d, sp.Symbol):
            bound.setdefault(d, (size, wrt))
    return arr, arr.shape[:lead]


def _fixed_size(d, bound):
    if isinstance(d, sp.Symbol):
        return bound[d][0] if d in bound else None
    value = sp.sympify(d, strict=True).subs({s: size for s, (size, _) in bound.items()})
    return int(value) if value.is_Integer else None


def _has_composite_size(shape) -> bool:
    """Whether a shape has a size like n*k (neither a number nor one size symbol)."""
    return any(not isinstance(sp.sympify(d, strict=True), (sp.Symbol, sp.Integer)) for d in shape)


def _batch_shape_text(shape, bound):
    """'(..., 3)' with the known sizes filled in, '(..., n)' where none is known yet."""
    parts = [str(bound[d][0]) if d in bound else str(d) for d in shape]
    return "(" + ", ".join(["..."] + parts) + ")"
