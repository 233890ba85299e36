"""The :class:`Kernel` of an explicit-symbol function: batched value, gradient and Hessian.

>>> import numpy as np, sympy as sp, symcalc as sc
>>> x = sp.Symbol("x")
>>> sc.compile(x**3, [x]).gradient(np.array([[1.0], [2.0]])).ravel()
array([ 3., 12.])
"""

from __future__ import annotations

import warnings

import numpy as np
import sympy as sp

from symcalc.codegen.arguments import _float_array
from symcalc.codegen.source import _generate
from symcalc.errors import InputError, ShapeError
from symcalc.printing.display import RichDisplay  # Jupyter display (issue 16)


class Kernel(RichDisplay):
    """Batched value / gradient / Hessian of one scalar function of n variables.

    Built by :func:`compile`. ``x`` has shape ``(..., n)``; each parameter is a
    scalar or an array broadcasting to ``x.shape[:-1]``. float32 in gives
    float32 out, float64 gives float64 (integers count as float64).

    The NumPy backend computes into variables-first buffers (every store is
    contiguous: writing ``out[..., i, j]`` for a large batch is strided and
    costs more than the arithmetic), and returns them as views of shape
    ``(..., n)`` / ``(..., n, n)``; ``np.ascontiguousarray`` gives C order.

    Attributes: ``f``, ``wrt``, ``params``, ``gradient_exprs`` (list),
    ``hessian_exprs`` (SymPy Matrix), ``backend`` (the one actually used),
    ``source`` (the generated module's text), ``path`` (its file),
    ``module`` (the imported module).
    """

    def __init__(self, f, wrt, params, derivatives, writer, native=None):
        self.f = f
        self.wrt = tuple(wrt)
        self.params = tuple(params)
        self.n = len(wrt)
        self._derivatives = derivatives
        self._writer = writer  # ExplicitSource: writes each NumPy function on first use
        self._functions: dict = {}
        self._module = None
        self._native = native
        self.backend = "native" if native is not None else "numpy"

    # -- generated code ----------------------------------------------------------
    def _function(self, name):
        """The generated NumPy function `name`, written and imported on its first call."""
        if name not in self._functions:
            from symcalc.codegen.loader import _load_source, _stem

            source = _generate(self._writer.function_source, name)
            module, _ = _load_source(source, f"{_stem(self.wrt)}_{name}")
            self._functions[name] = getattr(module, name)
        return self._functions[name]

    def _whole_module(self):
        if self._module is None:
            from symcalc.codegen.loader import _load_source, _stem

            source = _generate(self._writer.full_source)
            self._module = (source, *_load_source(source, _stem(self.wrt)))
        return self._module

    @property
    def source(self) -> str:
        """The generated module's text (every function; written when first asked for)."""
        return self._whole_module()[0]

    @property
    def module(self):
        """The generated module, imported (every function and the convenience API)."""
        return self._whole_module()[1]

    @property
    def path(self):
        """The generated module's file in the kernel cache."""
        return self._whole_module()[2]

    @property
    def gradient_exprs(self) -> list:
        """The gradient entries (SymPy)."""
        return self._derivatives.sympy_gradient()

    @property
    def hessian_exprs(self) -> sp.Matrix:
        """The Hessian (SymPy Matrix, symmetric)."""
        n = self.n
        H = sp.zeros(n, n)
        for (i, j), h in self._derivatives.sympy_upper().items():
            H[i, j] = H[j, i] = h
        return H

    def __repr__(self):
        names = ", ".join(map(str, self.wrt))
        extra = f"; params {', '.join(map(str, self.params))}" if self.params else ""
        return f"<symcalc Kernel of f({names}){extra}, backend={self.backend}>"

    # -- argument handling ---------------------------------------------------
    def _prepare(self, x, params):
        x = _float_array(x, "x")
        n = self.n
        names = ", ".join(map(str, self.wrt))
        if x.ndim == 0 or x.shape[-1] != n:
            raise ShapeError(
                f"x must have shape (..., {n}) (last axis: the variables {names}); "
                f"got shape {x.shape}"
            )
        if len(params) != len(self.params):
            expected = ", ".join(map(str, self.params)) or "none"
            raise InputError(
                f"expected {len(self.params)} parameter value(s) ({expected}) after x, "
                f"got {len(params)}"
            )
        batch = x.shape[:-1]
        values = []
        for sym, p in zip(self.params, params):
            arr = _float_array(p, f"parameter {sym}", dtype=x.dtype)
            try:
                ok = np.broadcast_shapes(arr.shape, batch) == batch
            except ValueError:
                ok = False
            if not ok:
                raise ShapeError(
                    f"parameter {sym} has shape {arr.shape}, which does not broadcast to "
                    f"the batch shape {batch} of x (expected a scalar or shape {batch})"
                )
            values.append(arr if arr.ndim else arr[()])
        return x, batch, values

    def _variables_first(self, x):
        return np.ascontiguousarray(np.moveaxis(x, -1, 0))

    def _try_native(self, method, x, ps, batch, out=None):
        """The native result, or None after falling back to NumPy (with a warning)."""
        if self._native is None:
            return None
        from symcalc.codegen.native import NativeUnsupported

        try:
            if out is not None:
                return getattr(self._native, method)(x, ps, batch, out=out)
            return getattr(self._native, method)(x, ps, batch)
        except NativeUnsupported as exc:
            warnings.warn(
                f"backend='native': {exc}; using the NumPy backend instead",
                RuntimeWarning,
                stacklevel=3,
            )
            self._native = None
            self.backend = "numpy"
            return None

    @staticmethod
    def _buffer(batch, lead, dtype):
        """A zero-filled variables-first output buffer: shape lead + batch."""
        return np.zeros(tuple(lead) + tuple(batch), dtype=dtype)

    @staticmethod
    def _user_layout(buf, k):
        """The buffer seen as (..., n) or (..., n, n): a view, no copy."""
        if k == 1:
            return np.moveaxis(buf, 0, -1)
        return np.moveaxis(buf, (0, 1), (-2, -1))

    # -- evaluation ----------------------------------------------------------
    def value(self, x, *params):
        """f at x: shape x.shape[:-1]."""
        x, batch, ps = self._prepare(x, params)
        result = self._try_native("value", x, ps, batch)
        if result is not None:
            return result
        out = np.zeros(batch, dtype=x.dtype)
        self._function("value")(self._variables_first(x), *ps, out)
        return out if batch else out[()]

    def gradient(self, x, *params, out=None):
        """The gradient at x: shape x.shape (..., n). ``out``: an array to fill instead; it
        must not share memory with x or a parameter (``gradient(Q, out=Q)`` is refused with
        an InputError: the kernel reads its inputs while it writes ``out``)."""
        x, batch, ps = self._prepare(x, params)
        out = self._check_out(out, batch + (self.n,), x.dtype, x, ps)
        result = self._try_native("gradient", x, ps, batch, out)
        if result is not None:
            return result
        buf = self._buffer(batch, (self.n,), x.dtype) if out is None else self._fill_view(out, 1)
        self._function("gradient")(self._variables_first(x), *ps, buf)
        return self._user_layout(buf, 1) if out is None else out

    def hessian(self, x, *params, out=None):
        """The Hessian at x: shape (..., n, n), symmetric. ``out``: an array to fill instead
        (saves allocating, and page-faulting, a large result on every call); it must not
        share memory with x or a parameter (refused with an InputError)."""
        x, batch, ps = self._prepare(x, params)
        out = self._check_out(out, batch + (self.n, self.n), x.dtype, x, ps)
        result = self._try_native("hessian", x, ps, batch, out)
        if result is not None:
            return result
        buf = (
            self._buffer(batch, (self.n, self.n), x.dtype)
            if out is None
            else self._fill_view(out, 2)
        )
        self._function("hessian")(self._variables_first(x), *ps, buf)
        return self._user_layout(buf, 2) if out is None else out

    def _check_out(self, out, shape, dtype, x, params):
        if out is None:
            return None
        if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != dtype:
            got = f"{getattr(out, 'shape', None)} {getattr(out, 'dtype', type(out).__name__)}"
            raise ShapeError(f"out must be a {dtype} array of shape {shape}; got {got}")
        inputs = [("x", x)] + [(f"parameter {s}", p) for s, p in zip(self.params, params)]
        for name, arr in inputs:
            if _shares_memory(out, arr):
                raise InputError(
                    f"out shares memory with {name}: the kernel would overwrite its "
                    "input while reading it; pass a separate array as out (or omit out=)"
                )
        return out

    @staticmethod
    def _fill_view(out, k):
        """out, zero-filled, seen variables-first (the generated code's layout)."""
        out.fill(0)
        return np.moveaxis(out, -1, 0) if k == 1 else np.moveaxis(out, (-2, -1), (0, 1))

    def value_and_gradient(self, x, *params):
        """(f, gradient) from one pass with shared temporaries."""
        x, batch, ps = self._prepare(x, params)
        result = self._try_native("value_and_gradient", x, ps, batch)
        if result is not None:
            return result
        v = np.zeros(batch, dtype=x.dtype)
        g = self._buffer(batch, (self.n,), x.dtype)
        self._function("value_and_gradient")(self._variables_first(x), *ps, v, g)
        return (v if batch else v[()]), self._user_layout(g, 1)

    def value_gradient_hessian(self, x, *params):
        """(f, gradient, Hessian) from one pass with shared temporaries."""
        x, batch, ps = self._prepare(x, params)
        result = self._try_native("value_gradient_hessian", x, ps, batch)
        if result is not None:
            return result
        v = np.zeros(batch, dtype=x.dtype)
        g = self._buffer(batch, (self.n,), x.dtype)
        h = self._buffer(batch, (self.n, self.n), x.dtype)
        self._function("value_gradient_hessian")(self._variables_first(x), *ps, v, g, h)
        return (v if batch else v[()]), self._user_layout(g, 1), self._user_layout(h, 2)

    # -- SciPy ------------------------------------------------------------------
    def as_scipy(self, *params):
        """(fun, jac, hess) for ``scipy.optimize.minimize`` at fixed parameter values.

        >>> import sympy as sp
        >>> x, y = sp.symbols("x y")
        >>> import symcalc as sc
        >>> fun, jac, hess = sc.compile((x - 1)**2 + (y + 2)**2, [x, y]).as_scipy()
        >>> fun([0.0, 0.0]), jac([0.0, 0.0]).tolist()
        (5.0, [-2.0, 4.0])
        """
        return _scipy_triple(self, params)


def _shares_memory(a, b) -> bool:
    """True when arrays a and b may overlap (exactly decided where that is cheap)."""
    if not isinstance(b, np.ndarray) or not np.may_share_memory(a, b):
        return False
    try:
        return bool(np.shares_memory(a, b, max_work=100_000))  # type: ignore[arg-type]  # stubs: -1 / 0 only
    except np.exceptions.TooHardError:
        return True


def _scipy_triple(kernel, params):
    def fun(x):
        return float(kernel.value(np.asarray(x, dtype=float), *params))

    def jac(x):
        return np.asarray(kernel.gradient(np.asarray(x, dtype=float), *params), dtype=float)

    def hess(x):
        return np.asarray(kernel.hessian(np.asarray(x, dtype=float), *params), dtype=float)

    return fun, jac, hess
