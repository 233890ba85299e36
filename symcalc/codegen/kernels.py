"""Compile a scalar function and its derivatives into fast, batched NumPy kernels.

``compile(f, wrt, params=(), backend="numpy")`` derives the gradient and the
Hessian (SymEngine fast path, Hessian from the gradient, upper triangle only),
shares common subexpressions across value, gradient and Hessian, lowers
overflow-prone patterns to stable forms (:mod:`symcalc.codegen.numpy_printer`), and
writes the kernel as a readable, standalone Python module (it imports numpy
only) into a cache directory, then imports it, so ``inspect.getsource`` and
``pdb`` work on it.

The stages live in their own modules: :mod:`~symcalc.codegen.arguments` (input checks),
:mod:`~symcalc.codegen.plan` (derivatives and CSE, backend-neutral),
:mod:`~symcalc.codegen.source` (user text and code names in generated code),
:mod:`~symcalc.codegen.numpy_emitter`, :mod:`~symcalc.codegen.loader`,
:mod:`~symcalc.codegen.explicit_kernel` and :mod:`~symcalc.codegen.matrix_kernel`;
this module is the entry point that ties them together.

Two kinds of problem:

* **explicit symbols** (``wrt`` a list of Symbols): ``x`` has shape ``(..., n)``,
  batched over the leading axes; parameters are scalars or arrays that broadcast
  to the batch shape. ``value -> (...)``, ``gradient -> (..., n)``,
  ``hessian -> (..., n, n)``.
* **matrix form** (``wrt`` a MatrixSymbol vector, f written with MatrixSymbols):
  arguments are arrays of the declared shapes (``w (n,)``, ``X (m, n)``,
  ``y (m,)``) and the kernel is a few BLAS calls (``X.T @ (d[:, None] * X)``),
  never element formulas. The variable may carry leading batch axes
  (``w (..., n)``: one result per vector); the parameters may not.

>>> import numpy as np, sympy as sp
>>> x, y, a = sp.symbols("x y a")
>>> k = compile((a - x)**2 + 100*(y - x**2)**2, [x, y], params=[a])
>>> k.value(np.array([[1.0, 1.0], [0.0, 0.0]]), 1.0)
array([0., 1.])
>>> k.gradient(np.array([1.0, 2.0]), 1.0)
array([-400.,  200.])
>>> k.hessian(np.zeros((4, 3, 2)), 1.0).shape
(4, 3, 2, 2)
"""

from __future__ import annotations

import warnings

import sympy as sp

from symcalc.budget import budgeted
from symcalc.codegen.arguments import (
    _as_symbol_list,
    _check_distinct,
    _check_free_symbols,
    _dims,
    _is_matrix_problem,
    _matrix_given,
    _matrix_scalar,
    _scalar_expr,
    _unknown_matrix_symbols,
)
from symcalc.codegen.explicit_kernel import Kernel
from symcalc.codegen.explicit_source import ExplicitSource
from symcalc.codegen.loader import _load_source, cache_dir
from symcalc.codegen.matrix_kernel import MatrixKernel
from symcalc.codegen.multi_kernel import MultiMatrixKernel, compile_multi
from symcalc.codegen.numpy_emitter import _kernel_printer, _matrix_source
from symcalc.codegen.numpy_printer import (
    stabilize,
)
from symcalc.codegen.plan import _Derivatives, _matrix_derivatives
from symcalc.codegen.source import _generate
from symcalc.errors import InputError, InputTypeError
from symcalc.errors import reject_text as _reject_text
from symcalc.inputs import as_choice, as_title

__all__ = ["compile", "Kernel", "MatrixKernel", "MultiMatrixKernel", "kernel_source", "cache_dir"]

#: kept importable from here (tests and tools reach the loader and the printer through this module)
_REEXPORTED = (_load_source, _kernel_printer)

BACKENDS = ("numpy", "native")
#: Backends served by the array-API kernels of :mod:`symcalc.codegen.array_api`.
ARRAY_BACKENDS = ("array_api", "dask", "jax", "cupy")


@budgeted("compile")
def compile(
    f,
    wrt,
    params=(),
    backend: str = "numpy",
    *,
    gradient=None,
    hessian=None,
    name: str | None = None,
    opt_level: int | None = None,
):
    """Compile f and its gradient and Hessian into a batched :class:`Kernel`.

    Parameters
    ----------
    f : SymPy scalar expression (explicit symbols) or matrix-form scalar
        (``Trace(...)`` of a 1 x 1 matrix expression, ``log(det(...))``, ...).
    wrt : the variables: a list of Symbols, or one MatrixSymbol (matrix form), or a list of
        MatrixSymbols (one :class:`MultiMatrixKernel`: all gradients from one forward pass).
    params : the other symbols f contains (Symbols, or MatrixSymbols in matrix form),
        passed after x at call time.
    backend : "numpy" (generated NumPy source) or "native" (SymEngine's LLVM
        compiler; falls back to NumPy with a warning where it cannot); or
        "array_api", "dask", "jax", "cupy": one array-API kernel source that runs
        on NumPy, Dask, JAX or CuPy arrays (see :mod:`symcalc.codegen.array_api`).
    gradient, hessian : optional precomputed derivatives (skip the derivation). In matrix
        form ``hessian="vec"`` compiles a matrix variable's Hessian in vec form (nk x nk,
        column-major, the layout of ``sc.vec``; derived at compile time).
    name : a title for the generated module.
    opt_level : LLVM optimisation level for backend="native" (default: chosen per
        function by its size, see :func:`symcalc.codegen.native.opt_level_for`: 2 up to
        100,000 operations (10,000 per output), else 0: a large function compiles much longer at
        higher levels).

    >>> import sympy as sp, numpy as np
    >>> x = sp.Symbol("x")
    >>> compile(sp.log(1 + sp.exp(x)), [x]).value(np.array([[1000.0], [-1000.0]]))
    array([1000.,    0.])
    """
    backend = as_choice(backend, BACKENDS + ARRAY_BACKENDS, "backend")
    name = as_title(name)
    if backend in ARRAY_BACKENDS:
        from symcalc.codegen.array_api import compile_array_api

        return compile_array_api(
            f, wrt, params, backend, gradient=gradient, hessian=hessian, name=name
        )
    if _is_matrix_problem(f, wrt, params):
        return _compile_matrix(f, wrt, params, backend, gradient, hessian, name)
    f = _scalar_expr(f)
    wrt = _as_symbol_list(wrt, "wrt", allow_empty=False)
    params = _as_symbol_list(params, "params", allow_empty=True)
    _check_distinct(wrt, params)
    _check_free_symbols([f], list(wrt) + list(params))
    f_stable = stabilize(f)
    d = _Derivatives(f_stable, wrt, params, gradient, hessian)
    title = name or f"Kernel for f({', '.join(map(str, wrt))})"
    native = None
    if backend == "native":
        from symcalc.codegen import native as native_mod

        try:
            if d.engine == "symengine":
                native = native_mod.NativeKernel(
                    f_stable, wrt, params, d.derived, opt_level=opt_level
                )
            else:
                native = native_mod.NativeKernel(
                    f_stable, wrt, params, opt_level=opt_level, sympy_derivatives=(d.grad, d.upper)
                )
        except native_mod.NativeUnsupported as exc:
            warnings.warn(
                f"backend='native' cannot compile this function ({exc}); "
                "using the NumPy backend instead",
                RuntimeWarning,
                stacklevel=2,
            )
    kernel = Kernel(f, wrt, params, d, ExplicitSource(f, d, wrt, params, title), native=native)
    if native is None:
        kernel._function("value")  # written now: a construct NumPy cannot print fails here
    return kernel


def kernel_source(f, wrt, params=(), **kwargs) -> str:
    """The generated module's source for f (what ``compile(...).source`` holds)."""
    return compile(f, wrt, params, **kwargs).source


def _compile_matrix(f, wrt, params, backend, gradient, hessian, name):
    _reject_text(params, "params")
    params = list(params) if not isinstance(params, (sp.MatrixSymbol, sp.Symbol)) else [params]
    for k, p in enumerate(params):
        if not isinstance(p, (sp.MatrixSymbol, sp.Symbol)):
            raise InputTypeError(f"params[{k}] = {p!r} must be a MatrixSymbol or a Symbol")
    if isinstance(wrt, (list, tuple)) and wrt and all(isinstance(v, sp.MatrixSymbol) for v in wrt):
        if hessian is not None:
            raise InputError("a kernel for several matrix variables has no Hessian (hessian=)")
        _native_warning(backend)
        return compile_multi(f, wrt, params, gradient, name)
    if not isinstance(wrt, sp.MatrixSymbol):
        raise InputTypeError(
            "in matrix form, wrt must be a MatrixSymbol (e.g. symcalc.vector('w', 'n')) "
            "or a list of MatrixSymbols"
        )
    f = _matrix_scalar(f)
    dims = {d for M in [wrt] + params if isinstance(M, sp.MatrixSymbol) for d in _dims(M.shape)}
    known = {wrt} | set(params) | dims
    unknown = _unknown_matrix_symbols(f, known)
    if unknown:
        raise InputError(
            f"f contains {', '.join(map(str, unknown))}, which is neither wrt nor in params"
        )
    gradient = _matrix_given(gradient, "gradient", known)
    hessian = _vec_hessian(f, wrt) if _is_vec_request(hessian) else hessian
    hessian = _matrix_given(hessian, "hessian", known)
    _native_warning(backend)
    G, H = _matrix_derivatives(f, wrt, gradient, hessian)
    title = name or f"Matrix-form kernel for f({wrt}; {', '.join(map(str, params))})"
    source = _generate(_matrix_source, title, f, G, H, wrt, params)
    module, path = _load_source(source, "matrix")
    return MatrixKernel(f, wrt, params, G, H, source, module, path)


def _native_warning(backend):
    if backend == "native":
        warnings.warn(
            "backend='native' (SymEngine LLVM) compiles element formulas only; matrix-form "
            "kernels use the NumPy backend (BLAS calls)",
            RuntimeWarning,
            stacklevel=5,
        )


def _is_vec_request(hessian) -> bool:
    return isinstance(hessian, str) and hessian == "vec"


def _vec_hessian(f, wrt):
    """The Hessian of f in a matrix variable in vec form (column-major, the layout of ``sc.vec``)."""
    from symcalc.derivation import api as calculus

    return calculus.hessian(f, wrt)
