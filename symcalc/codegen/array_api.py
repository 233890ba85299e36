"""Kernels written against the array API standard: one kernel for NumPy, Dask, JAX and CuPy.

``compile_array_api(f, wrt, params=(), backend="array_api")`` derives f's gradient and
Hessian once and writes them as a readable Python module whose functions take the
array namespace ``xp`` as their first argument and call only ``xp.`` functions (plus
``@`` and ``.T``). At call time the kernel finds ``xp`` from the arrays it is given
(:func:`array_api_compat.array_namespace`), so the *same* source runs on

* NumPy arrays (in memory),
* Dask arrays: every operation is lazy and chunked; a sum over samples such as
  ``X.T @ (sigmoid(X @ w) - y)`` or ``X.T @ (d[:, None] * X)`` becomes a tree
  reduction over row blocks, which a ``dask.distributed`` cluster evaluates block by
  block (see :mod:`symcalc.codegen.distributed`),
* JAX arrays (each method ``jax.jit``-compiled on first use),
* CuPy arrays (on a CUDA device).

The lowering is the compile stage's stable one (:mod:`symcalc.codegen.numpy_printer`), with
``xp.`` calls: softplus via ``xp.logaddexp``, sigmoid from ``exp(-|z|)`` only,
log-sum-exp with its max shifted out, ``log(1 + u)`` as ``xp.log1p``.

>>> import numpy as np, symcalc as sc
>>> from symcalc.expr.structure import logistic_loss
>>> X = sc.matrix_symbol("X", "m", "n"); w = sc.vector("w", "n"); y = sc.vector("y", "m")
>>> k = compile_array_api(logistic_loss(X, w, y), w, params=[X, y])
>>> X_ = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]]); y_ = np.array([1.0, 0.0, 1.0])
>>> k.gradient(np.zeros(2), X_, y_)          # X^T (sigmoid(0) - y)
array([ 0.75, -1.75])
>>> print(k.module.__doc__.splitlines()[0])
Array-API kernel for f(w; X, y)
"""

from __future__ import annotations

import functools
import importlib

import numpy as np
import sympy as sp

from symcalc.budget import budgeted
from symcalc.codegen.arguments import (
    _array_shape,
    _as_symbol_list,
    _check_free_symbols,
    _given_entries,
    _matrix_given,
    _matrix_scalar,
    _shape_text,
    _unknown_matrix_symbols,
    singular_matrix_error,
)
from symcalc.codegen.array_api_printer import XP_HELPERS, ArrayAPIPrinter, array_api_code
from symcalc.codegen.array_api_source import (
    _explicit_derivatives,
    _explicit_source,
    _generate,
    _load_source,
    _matrix_source,
)
from symcalc.codegen.numpy_printer import (
    stabilize,
)
from symcalc.errors import InputError, InputTypeError, ShapeError
from symcalc.errors import reject_text as _reject_text
from symcalc.inputs import as_choice, as_title, is_matrix_problem
from symcalc.records import RichDisplay

__all__ = [
    "compile_array_api",
    "ArrayKernel",
    "ArrayAPIPrinter",
    "array_api_code",
    "namespace_of",
    "BACKENDS",
    "XP_HELPERS",
]

BACKENDS = ("array_api", "numpy", "dask", "jax", "cupy")
CUPY_MISSING = "CuPy / a CUDA device is not available"


# ---------------------------------------------------------------------------
# Array libraries
# ---------------------------------------------------------------------------
def _library_of(value) -> str:
    """'numpy' | 'dask' | 'jax' | 'cupy' | 'torch' | 'other' | 'python' (scalars, lists)."""
    import array_api_compat as aac

    if isinstance(value, (int, float, bool, list, tuple)):
        return "python"
    for lib, test in (
        ("dask", aac.is_dask_array),
        ("jax", aac.is_jax_array),
        ("cupy", aac.is_cupy_array),
        ("torch", aac.is_torch_array),
        ("numpy", aac.is_numpy_array),
    ):
        if test(value):
            return lib
    mod = type(value).__module__.split(".")[0]
    return "numpy" if mod == "numpy" else ("other" if aac.is_array_api_obj(value) else "python")


def namespace_of(*arrays, backend: str = "array_api", names=None):
    """The array namespace a kernel call runs in, and the library's name.

    NumPy arrays and Python numbers go along with any one other library (they are
    converted); two different non-NumPy libraries are an :class:`InputError` naming
    the arguments.

    >>> import numpy as np
    >>> namespace_of(np.ones(2), 3.0)[1]
    'numpy'
    """
    names = names or [f"argument {k}" for k in range(len(arrays))]
    libs: dict[str, str] = {}
    for name, a in zip(names, arrays):
        lib = _library_of(a)
        if lib == "other":
            raise InputError(
                f"{name} is a {type(a).__module__}.{type(a).__name__}; symcalc kernels take "
                "NumPy, Dask, JAX or CuPy arrays"
            )
        if lib not in ("numpy", "python"):
            libs.setdefault(lib, name)
    if len(libs) > 1:
        parts = ", ".join(f"{n} is a {lib} array" for lib, n in libs.items())
        raise InputError(
            f"mixing array libraries: {parts}; pass all arrays from one library "
            "(NumPy arrays are converted to the other one)"
        )
    found = next(iter(libs), "numpy")
    target = {"array_api": found, "numpy": "numpy", "dask": "dask", "jax": "jax", "cupy": "cupy"}[
        backend
    ]
    if found not in ("numpy", target):
        raise InputError(
            f"{libs[found]} is a {found} array, but this kernel was compiled with "
            f"backend={backend!r}; pass {target} or NumPy arrays (or compile with "
            "backend='array_api')"
        )
    return _namespace_module(target), target


@functools.cache
def _namespace_module(lib: str):
    """The array-API namespace module of an array library (imported on first use)."""
    if lib == "cupy":
        return _cupy_namespace()
    modules = {
        "numpy": "array_api_compat.numpy",
        "dask": "array_api_compat.dask.array",
        "jax": "jax.numpy",
        "torch": "array_api_compat.torch",
    }
    if lib not in modules:  # pragma: no cover
        raise InputError(f"unknown array library {lib!r}")
    return importlib.import_module(modules[lib])


def _cupy_namespace():
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("no device")
        import array_api_compat.cupy as xp
    except Exception:
        raise InputError(
            f"backend='cupy': {CUPY_MISSING} (install cupy for your CUDA version "
            "and run on a machine with an NVIDIA GPU)"
        ) from None
    return xp


def _convert(value, lib: str, xp, dtype=None):
    """A NumPy array / Python number as an array of library lib (same values)."""
    import numpy as np

    if lib == "numpy":
        return np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
    if _library_of(value) == lib:
        return value if dtype is None or value.dtype == dtype else xp.astype(value, dtype)
    arr = np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
    if lib == "dask":
        import dask.array as da

        return da.from_array(arr, chunks=_dask_chunks(arr))
    return xp.asarray(arr)


def _dask_chunks(arr):
    """Row blocks of about 64 MiB (all columns together): sums over samples reduce over blocks."""
    if arr.ndim == 0:
        return ()
    row_bytes = max(1, arr.itemsize * (arr.size // max(arr.shape[0], 1)))
    rows = max(1, min(arr.shape[0], (64 << 20) // row_bytes))
    return (rows,) + tuple(arr.shape[1:])


# ---------------------------------------------------------------------------
# The kernel
# ---------------------------------------------------------------------------
class ArrayKernel(RichDisplay):
    """value / gradient / Hessian of f on NumPy, Dask, JAX or CuPy arrays (one generated source).

    Matrix form (``wrt`` a MatrixSymbol vector): call with arrays of the declared
    shapes, ``k.gradient(w, X, y)``. Explicit symbols: ``k.gradient(x, *params)`` with
    ``x`` of shape ``(..., n)``. On Dask the results are lazy Dask arrays (call
    ``.compute()``, or ``dask.compute(*results)`` to share the common work).

    Attributes: ``f``, ``wrt``, ``params``, ``kind`` ("matrix" | "explicit"),
    ``backend``, ``gradient_expr``, ``hessian_expr``, ``source``, ``path``, ``module``.
    """

    METHODS = ("value", "gradient", "hessian", "value_and_gradient", "value_gradient_hessian")

    def __init__(self, f, wrt, params, kind, backend, G, H, source, module, path):
        self.f, self.wrt, self.params = f, wrt, tuple(params)
        self.kind, self.backend = kind, backend
        self.gradient_expr, self.hessian_expr = G, H
        self.source, self.module, self.path = source, module, path
        self._jitted: dict = {}

    def __repr__(self):
        ps = ", ".join(map(str, self.params))
        w = self.wrt if self.kind == "matrix" else ", ".join(map(str, self.wrt))
        return f"<symcalc ArrayKernel of f({w}{'; ' + ps if ps else ''}), backend={self.backend}>"

    # -- argument handling ------------------------------------------------------
    def _arg_names(self):
        if self.kind == "matrix":
            return [str(s) for s in [self.wrt] + list(self.params)]
        return ["x"] + [f"parameter {p}" for p in self.params]

    def _prepare(self, args):
        names = self._arg_names()
        if len(args) != len(names):
            raise InputError(
                f"expected {len(names)} argument(s) ({', '.join(names)}), got {len(args)}"
            )
        xp, lib = namespace_of(*args, backend=self.backend, names=names)
        dtype = None
        out = []
        for name, a in zip(names, args):
            arr = self._as_float(a, name, lib, xp, dtype)
            dtype = dtype or arr.dtype
            out.append(arr)
        if self.kind == "matrix":
            self._check_matrix_shapes(out)
        else:
            self._check_explicit_shapes(out)
        return xp, lib, out

    def _as_float(self, a, name, lib, xp, dtype):
        import numpy as np

        if _library_of(a) in ("numpy", "python"):
            try:
                host = np.asarray(a)
            except Exception:
                raise InputError(
                    f"{name} must be a numeric array, got {type(a).__name__}"
                ) from None
            kind = host.dtype.kind
            if kind in "iub":
                host = host.astype(np.float64 if dtype is None else _numpy_dtype(dtype))
            elif kind == "f" and host.dtype not in (np.float32, np.float64):
                host = host.astype(
                    np.float64 if dtype is None else _numpy_dtype(dtype)
                )  # float16, longdouble
            elif kind != "f":
                raise InputError(
                    f"{name} must be a real floating array (float32 or float64), "
                    f"got dtype {host.dtype}"
                )
            elif dtype is not None and host.dtype != _numpy_dtype(dtype):
                host = host.astype(_numpy_dtype(dtype))
            if lib == "jax" and host.dtype == np.float64 and not _jax_x64():
                host = host.astype(np.float32)  # JAX's default (jax_enable_x64 off)
            return _convert(host, lib, xp)
        if not xp.isdtype(a.dtype, "real floating"):
            raise InputError(
                f"{name} must be a real floating array (float32 or float64), got dtype {a.dtype}"
            )
        if dtype is not None and a.dtype != dtype:
            a = xp.astype(a, dtype)
        return a

    def _check_matrix_shapes(self, arrays):
        bound: dict = {}
        for sym, arr in zip([self.wrt] + list(self.params), arrays):
            want = _array_shape(sym)
            shape = tuple(arr.shape)
            if len(want) == 1 and len(shape) == 2 and 1 in shape:
                raise ShapeError(
                    f"{sym} must be a 1-D array of shape {_shape_text(want)}, got shape "
                    f"{shape} (pass column vectors as 1-D arrays)"
                )
            if len(shape) != len(want):
                raise ShapeError(
                    f"{sym} must be a {len(want)}-D array of shape {_shape_text(want)}, "
                    f"got shape {shape}"
                )
            for axis, d in enumerate(want):
                size = shape[axis]
                if (
                    size is None or size != size
                ):  # unknown (nan) Dask chunk sizes: checked when computed
                    continue
                if isinstance(d, sp.Symbol):
                    if d in bound and bound[d][0] != size:
                        raise ShapeError(
                            f"{sym} has {size} along axis {axis}, but {d} = {bound[d][0]} "
                            f"from {bound[d][1]}; expected shape {_shape_text(want, bound)}"
                        )
                    bound.setdefault(d, (size, str(sym)))
                elif int(d) != size:
                    raise ShapeError(f"{sym} must have shape {_shape_text(want)}, got {shape}")

    def _check_explicit_shapes(self, arrays):
        import numpy as np

        x, params = arrays[0], arrays[1:]
        n = len(self.wrt)
        if len(x.shape) == 0 or x.shape[-1] != n:
            names = ", ".join(map(str, self.wrt))
            raise ShapeError(
                f"x must have shape (..., {n}) (last axis: the variables {names}); "
                f"got shape {tuple(x.shape)}"
            )
        batch = tuple(x.shape[:-1])
        for sym, p in zip(self.params, params):
            try:
                ok = np.broadcast_shapes(tuple(p.shape), batch) == batch
            except ValueError:
                ok = False
            if not ok:
                raise ShapeError(
                    f"parameter {sym} has shape {tuple(p.shape)}, which does not broadcast "
                    f"to the batch shape {batch} of x (expected a scalar or shape {batch})"
                )

    # -- evaluation ---------------------------------------------------------------
    def _function(self, method, lib, xp):
        fn = getattr(self.module, method)
        if lib != "jax":
            return functools.partial(fn, xp)
        if method not in self._jitted:
            import jax

            self._jitted[method] = jax.jit(functools.partial(fn, xp))
        return self._jitted[method]

    def _call(self, method, args):
        xp, lib, arrays = self._prepare(args)
        try:
            return self._function(method, lib, xp)(*arrays)
        except np.linalg.LinAlgError as exc:  # NumPy's (a lazy Dask array raises at compute)
            exprs = [self.f, self.gradient_expr, self.hessian_expr]
            raise singular_matrix_error(exc, exprs, self.params) from None

    def value(self, *args):
        """f: a 0-d array (matrix form) or shape x.shape[:-1] (lazy on Dask)."""
        return self._call("value", args)

    def gradient(self, *args):
        """The gradient: shape (n,) (matrix form) or x.shape (lazy on Dask)."""
        return self._call("gradient", args)

    def hessian(self, *args):
        """The Hessian: (n, n) (matrix form) or (..., n, n) (lazy on Dask)."""
        if self.hessian_expr is None:
            raise InputError(
                f"the Hessian with respect to the matrix {self.wrt} is not compiled "
                "(only vector variables get a Hessian kernel)"
            )
        return self._call("hessian", args)

    def value_and_gradient(self, *args):
        """(f, gradient) from shared temporaries."""
        return self._call("value_and_gradient", args)

    def value_gradient_hessian(self, *args):
        """(f, gradient, Hessian) from shared temporaries."""
        if self.hessian_expr is None:
            return self.hessian(*args)
        return self._call("value_gradient_hessian", args)


def _numpy_dtype(dtype):
    import numpy as np

    return np.dtype(str(dtype).split(".")[-1]) if not isinstance(dtype, np.dtype) else dtype


def _jax_x64() -> bool:
    import jax

    return bool(jax.config.read("jax_enable_x64"))


# ---------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------
def _is_matrix_problem(f, wrt) -> bool:
    return is_matrix_problem(f, wrt)  # the one test (symcalc.inputs)


def _check_backend(backend):
    as_choice(backend, BACKENDS, "backend")
    if backend == "jax":
        try:
            import jax  # noqa: F401
        except ImportError:
            raise InputError(
                "backend='jax' needs JAX: pip install 'jax[cpu]' (or jax[cuda12])"
            ) from None
    if backend == "dask":
        try:
            import dask.array  # noqa: F401
        except ImportError:
            raise InputError(
                "backend='dask' needs Dask: pip install 'dask[array]' distributed"
            ) from None
    if backend == "cupy":
        _cupy_namespace()


@budgeted("compile")
def compile_array_api(
    f,
    wrt,
    params=(),
    backend: str = "array_api",
    *,
    gradient=None,
    hessian=None,
    name: str | None = None,
) -> ArrayKernel:
    """Compile f, its gradient and Hessian into an :class:`ArrayKernel` (array API source).

    backend: "array_api" (run on whatever library the arrays come from), or
    "numpy" / "dask" / "jax" / "cupy" (arrays of that library, NumPy arrays converted:
    to row-chunked Dask arrays, to device arrays). CuPy needs a CUDA device.

    >>> import numpy as np
    >>> x, a = sp.symbols("x a")
    >>> k = compile_array_api(sp.log(1 + sp.exp(a * x)), [x], params=[a])
    >>> k.value(np.array([[1000.0], [-1000.0]]), 1.0)
    array([1000.,    0.])
    >>> k.gradient(np.array([[1000.0], [-1000.0]]), 1.0).ravel()
    array([1., 0.])
    """
    _check_backend(backend)
    name = as_title(name)
    _reject_text(wrt, "wrt")
    _reject_text(params, "params")
    if _is_matrix_problem(f, wrt):
        return _compile_matrix(f, wrt, params, backend, gradient, hessian, name)
    return _compile_explicit(f, wrt, params, backend, gradient, hessian, name)


def _compile_matrix(f, wrt, params, backend, gradient, hessian, name):
    from symcalc.derivation import api as calculus

    if not isinstance(wrt, sp.MatrixSymbol):
        raise InputTypeError(
            "in matrix form, wrt must be one MatrixSymbol (e.g. symcalc.vector('w', 'n'))"
        )
    params = [params] if isinstance(params, (sp.MatrixSymbol, sp.Symbol)) else list(params)
    for k, p in enumerate(params):
        if not isinstance(p, (sp.MatrixSymbol, sp.Symbol)):
            raise InputTypeError(f"params[{k}] = {p!r} must be a MatrixSymbol or a Symbol")
    f = _matrix_scalar(f)
    dims = {
        d
        for M in [wrt] + params
        if isinstance(M, sp.MatrixSymbol)
        for d in M.shape
        if isinstance(d, sp.Symbol)
    }
    known = {wrt} | set(params) | dims
    unknown = _unknown_matrix_symbols(f, known)
    if unknown:
        raise InputError(
            f"f contains {', '.join(map(str, unknown))}, which is neither wrt nor in params"
        )
    gradient = _matrix_given(gradient, "gradient", known)
    hessian = _matrix_given(hessian, "hessian", known)
    G = gradient if gradient is not None else calculus.gradient(f, wrt)
    is_vector = len(_array_shape(wrt)) <= 1
    H = hessian if hessian is not None else (calculus.hessian(f, wrt) if is_vector else None)
    title = name or f"Array-API kernel for f({wrt}; {', '.join(map(str, params))})"
    source = _generate(_matrix_source, title, f, G, H, wrt, params)
    module, path = _load_source(source, "matrix")
    return ArrayKernel(f, wrt, params, "matrix", backend, G, H, source, module, path)


def _compile_explicit(f, wrt, params, backend, gradient, hessian, name):
    _reject_text(f, "f")
    try:
        f = sp.sympify(f, strict=True)
    except (sp.SympifyError, TypeError):
        raise InputTypeError(f"f must be a SymPy expression, got {type(f).__name__}") from None
    wrt = _as_symbol_list(wrt, "wrt", allow_empty=False)
    params = _as_symbol_list(params, "params", allow_empty=True)
    if len(set(wrt) | set(params)) != len(wrt) + len(params):
        raise InputError("a symbol appears twice in wrt/params; each name must be given once")
    unknown = sorted(f.free_symbols - set(wrt) - set(params), key=str)
    if unknown:
        raise InputError(
            f"f contains {', '.join(map(str, unknown))}, which is neither a variable (wrt) nor "
            "a parameter (params); add it to params=... to pass its value at call time"
        )
    f_stable = stabilize(f)
    if gradient is None or hessian is None:
        grad, H = _explicit_derivatives(f_stable, wrt)
    grad = _given_entries(gradient, "gradient") if gradient is not None else grad
    if hessian is not None:
        _given_entries(hessian, "hessian")  # no text: Matrix() would sympify it
        H = sp.Matrix(hessian)
    if len(grad) != len(wrt) or H.shape != (len(wrt), len(wrt)):
        raise ShapeError(
            f"the given gradient / hessian must have {len(wrt)} / {len(wrt)} x {len(wrt)} "
            f"entries, got {len(grad)} / {H.rows} x {H.cols}"
        )
    _check_free_symbols(
        list(grad) + list(H), list(wrt) + list(params), what="the given gradient / hessian"
    )
    title = name or f"Array-API kernel for f({', '.join(map(str, wrt))})"
    source = _generate(_explicit_source, title, f_stable, grad, H, wrt, params)
    module, path = _load_source(source, f"{len(wrt)}vars")
    return ArrayKernel(
        f, wrt, params, "explicit", backend, sp.Matrix(grad), H, source, module, path
    )
