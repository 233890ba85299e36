"""One matrix-form kernel for several matrix variables: ``sc.compile(L, [W1, b1, W2, b2], params=[X, Y])``.

The gradients come from ``symcalc.gradient(L, [W1, b1, W2, b2])`` (closed forms that share
their subexpressions) and go through one transpose-aware matrix CSE
(:func:`symcalc.codegen.matrix_cse.transpose_cse`) together, so the forward pass (``X W1``,
the tanh, ``H W2``) runs once for all the gradients, as in backpropagation.

Calling convention (that of :class:`~symcalc.codegen.matrix_kernel.MatrixKernel`, with more
than one variable): the arrays are passed positionally, the variables first in the order of
``wrt``, then the parameters in the order of ``params``; or by keyword, under the symbols'
names. Column vectors (a bias ``b1``) are 1-D arrays; symbolic sizes are read off the arrays and
must agree. ``gradient`` returns a tuple, one array per variable in the order of ``wrt``, each of
its variable's shape. There is no batch axis (a batch of data is a parameter, ``X (m, d)``) and
no Hessian (see :func:`symcalc.hessian` and :mod:`symcalc.codegen.vec_lowering` for one
variable).

>>> import numpy as np, symcalc as sc
>>> X, Y = sc.matrix_symbol("X", "m", "n"), sc.matrix_symbol("Y", "m", "k")
>>> W, b = sc.matrix_symbol("W", "n", "k"), sc.vector("b", "k")
>>> loss = sc.norm_squared(X * W + sc.ones(X.shape[0]) * b.T - Y)
>>> k = sc.compile(loss, [W, b], params=[X, Y])
>>> gW, gb = k.gradient(np.zeros((2, 1)), np.ones(1), np.eye(3, 2), np.zeros((3, 1)))
>>> gW, gb
(array([[2.],
       [2.]]), array([6.]))
>>> float(k.value(W=np.zeros((2, 1)), b=np.ones(1), X=np.eye(3, 2), Y=np.zeros((3, 1))))
3.0
"""

from __future__ import annotations

import re

import numpy as np
import sympy as sp

from symcalc.codegen.arguments import (
    _array_shape,
    _dims,
    _float_array,
    _matrix_scalar,
    _unknown_matrix_symbols,
    singular_matrix_error,
)
from symcalc.codegen.broadcast_printer import BroadcastPrinter
from symcalc.codegen.inplace import in_place
from symcalc.codegen.matrix_cse import transpose_cse
from symcalc.codegen.matrix_kernel import _check_parameter, _sizes
from symcalc.codegen.numpy_printer import stabilize, stabilize_matrix
from symcalc.codegen.row_sums import ROW_BLOCK, blocked_call, row_axis, sums_over_rows
from symcalc.codegen.source import (
    NUMPY_MODULE,
    CodeNames,
    _dimension_lines,
    _short,
    source_comment,
    source_docstring,
    source_literal,
)
from symcalc.errors import InputError, InputTypeError
from symcalc.records import RichDisplay

__all__ = ["MultiMatrixKernel", "compile_multi"]

#: the functions a multi-variable module defines, with the results each returns
FUNCTIONS = (
    ("value", ("value",)),
    ("gradient", ("gradient",)),
    ("value_and_gradient", ("value", "gradient")),
)


class _MultiNames(CodeNames):
    """:class:`CodeNames` with several matrix variables ``v0, v1, ...``."""

    def __init__(self, wrt, params=()):
        self.pairs, self.map = [], {}
        self.dims = [
            self._add(d, sp.Symbol(f"d{k}", **d.assumptions0))
            for k, d in enumerate(self._dims(list(wrt) + list(params)))
        ]
        self.variables = self._add_all(list(wrt), "v")
        self.parameters = self._add_all(params, "p")


def kernel_printer() -> BroadcastPrinter:
    """The printer of matrix-form kernels (NumPy as ``_np``, biases broadcast)."""
    return BroadcastPrinter(
        {
            "fully_qualified_modules": True,
            "order": "none",
            "numpy_module": NUMPY_MODULE,
            "symbol_names": CodeNames.PATTERN,
        }
    )


def compile_multi(f, wrt, params, gradient=None, name=None):
    """The :class:`MultiMatrixKernel` of a matrix-form scalar f in several MatrixSymbols."""
    wrt = list(wrt)
    for k, v in enumerate(wrt):
        if not isinstance(v, sp.MatrixSymbol):
            raise InputTypeError(f"wrt[{k}] = {v!r} must be a MatrixSymbol (matrix form)")
    if len(set(wrt)) != len(wrt):
        raise InputError("wrt lists a variable twice")
    overlap = set(wrt) & set(params)
    if overlap:
        raise InputError(f"{', '.join(map(str, overlap))} is both in wrt and in params")
    f = _matrix_scalar(f)
    dims = {d for M in wrt + params if isinstance(M, sp.MatrixSymbol) for d in _dims(M.shape)}
    known = set(wrt) | set(params) | dims
    unknown = _unknown_matrix_symbols(f, known)
    if unknown:
        raise InputError(
            f"f contains {', '.join(map(str, unknown))}, which is neither wrt nor in params"
        )
    if gradient is None:
        from symcalc.derivation import api as calculus

        gradient = calculus.gradient(f, wrt)
    gradient = tuple(gradient)
    if len(gradient) != len(wrt):
        raise InputError(f"gradient= has {len(gradient)} parts for {len(wrt)} variables")
    title = (
        name
        or f"Matrix-form kernel for f({', '.join(map(str, wrt))}; {', '.join(map(str, params))})"
    )
    source = multi_source(title, f, gradient, wrt, params)
    from symcalc.codegen.loader import _load_source

    module, path = _load_source(source, "multimatrix")
    return MultiMatrixKernel(f, wrt, params, gradient, source, module, path)


def _function_lines(fname, parts, outputs, shown, printer, dim_lines, arg_names):
    """One generated function: the shared temporaries, then each result."""
    exprs = []
    for p in parts:
        exprs.extend(outputs[p])
    repl, reduced = transpose_cse([stabilize(stabilize_matrix(e)) for e in exprs], "t")
    body = [f"    {sym.name} = {printer.doprint(e)}" for sym, e in repl]
    results, k = [], 0
    for p in parts:
        for j, s in enumerate(shown[p]):
            label = p if p == "value" else f"{p}[{j}]"
            body.append(f"    # {source_comment(f'{label} = {_short(s, 200)}')}")
            body.append(f"    {p}{j}_ = {printer.doprint(reduced[k])}")
            results.append(f"{p}{j}_")
            k += 1
    text = "\n".join(body)
    head = [
        f"def {fname}({', '.join(arg_names)}):",
        "    "
        + source_literal(f"{' and '.join(parts)} (matrix form, one pass for all variables)."),
    ]
    dims = [line for d, line in dim_lines if re.search(rf"\b{d}\b", text)]
    if "gradient" in parts:  # the gradients as one tuple
        grads = [r for r in results if r.startswith("gradient")]
        results = [r for r in results if not r.startswith("gradient")] + [
            "(" + ", ".join(grads) + ("," if len(grads) == 1 else "") + ")"
        ]
    return head + dims + in_place(body, printer.helpers_used) + [f"    return {', '.join(results)}"]


def multi_source(title, f, gradients, wrt, params) -> str:
    """The generated module of a multi-variable kernel: value, gradient, value_and_gradient."""
    names = _MultiNames(wrt, params)
    printer = kernel_printer()
    arg_syms = names.variables + names.parameters
    dim_lines = _dimension_lines(arg_syms)
    outputs = {"value": [names.rename(f)], "gradient": [names.rename(g) for g in gradients]}
    shown = {"value": [f], "gradient": list(gradients)}
    blocks = [
        _function_lines(fn, parts, outputs, shown, printer, dim_lines, [a.name for a in arg_syms])
        for fn, parts in FUNCTIONS
    ]
    from symcalc.codegen.kernel_helpers import helper_source

    helpers = [helper_source(h, NUMPY_MODULE) for h in sorted(printer.helpers_used)]
    listing = ", ".join(
        f"{c.name} = {u} {_array_shape(u) or '()'}"
        for u, c in names.pairs
        if c in names.variables or c in names.parameters
    )
    doc = source_docstring(
        [
            str(title),
            "",
            "Generated by symcalc.compile (matrix form, several variables); "
            f"standalone (imports numpy only, as {NUMPY_MODULE}).",
            "",
            f"f = {_short(f)}",
        ]
        + [
            f"gradient[{j}] (d f / d {v}) = {_short(g)}"
            for j, (v, g) in enumerate(zip(wrt, gradients))
        ]
        + ["", "arguments: " + listing + " (column vectors are 1-D arrays)"]
    )
    header = "\n\n".join(p.rstrip("\n") for p in [doc, f"import numpy as {NUMPY_MODULE}"] + helpers)
    return header + "\n\n\n" + "\n\n\n".join("\n".join(b) for b in blocks) + "\n"


class MultiMatrixKernel(RichDisplay):
    """value / gradient of a matrix-form scalar in several variables, one forward pass.

    Arguments: the variables (in the order of ``wrt``) then the parameters, positionally or
    by name. ``gradient`` returns a tuple of arrays, one per variable. Attributes: ``f``,
    ``wrt``, ``params``, ``gradient_expr`` (the tuple of closed forms), ``source``, ``path``,
    ``module``.
    """

    backend = "numpy"
    hessian_expr = None

    def __init__(self, f, wrt, params, G, source, module, path):
        self.f, self.wrt, self.params = f, tuple(wrt), tuple(params)
        self.gradient_expr = tuple(G)
        self.source, self.module, self.path = source, module, path
        syms = list(self.wrt) + list(self.params)
        self._names = [str(s) for s in syms]
        self._shapes = [_array_shape(s) for s in syms]
        self.row_blocks = self._row_blocking()

    def _row_blocking(self):
        """(m, data parameter indices) when f is a sum over the data's rows (then gradients run
        over blocks of ROW_BLOCK rows, see :mod:`symcalc.codegen.row_sums`), else None."""
        rows = row_axis(self.wrt, self.params)
        if rows is None:
            return None
        m, data = rows
        ok = sums_over_rows(self.module, self._shapes, len(self.wrt), m, data)
        return rows if ok else None

    def __repr__(self):
        ps = ", ".join(map(str, self.params))
        vs = ", ".join(map(str, self.wrt))
        return f"<symcalc MultiMatrixKernel of f({vs}{'; ' + ps if ps else ''}), backend=numpy>"

    def _arrays(self, args, kwargs):
        names = self._names
        if len(args) > len(names):
            raise InputError(f"expected {len(names)} arrays ({', '.join(names)}), got {len(args)}")
        given = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names:
                raise InputError(f"unknown argument {key!r}; the arrays are {', '.join(names)}")
            if key in given:
                raise InputError(f"{key} is given twice")
            given[key] = value
        missing = [n for n in names if n not in given]
        if missing:
            raise InputError(f"missing {', '.join(missing)} (the arrays are {', '.join(names)})")
        arrays, dtype, bound = [], None, {}
        for name, shape in zip(names, self._shapes):
            arr = _float_array(given[name], name, dtype)
            dtype = dtype or arr.dtype
            arrays.append(_check_parameter(name, shape, arr, bound))
        return arrays, dtype, bound

    def _run(self, method, args, kwargs):
        arrays, dtype, bound = self._arrays(args, kwargs)
        function = getattr(self.module, method)
        try:
            if method != "value" and self._blocked(bound):
                m, data = self.row_blocks
                out = blocked_call(function, arrays, len(self.wrt), data, bound[m][0])
            else:
                out = function(*arrays)
        except np.linalg.LinAlgError as exc:
            raise singular_matrix_error(exc, [self.f, *self.gradient_expr], self.params) from None
        return out, dtype, bound

    def _blocked(self, bound) -> bool:
        """Whether this call runs over blocks of rows (a row sum with enough rows)."""
        return self.row_blocks is not None and bound[self.row_blocks[0]][0] > 2 * ROW_BLOCK

    def _gradients(self, grads, dtype, bound):
        out = []
        for g, s in zip(grads, self._shapes):
            size = _sizes(s, bound)
            arr = np.asarray(g, dtype=dtype)
            out.append(arr if arr.shape == size else np.broadcast_to(arr, size).copy())
        return tuple(out)

    def value(self, *args, **kwargs):
        """f at the given arrays (a float)."""
        out, dtype, _ = self._run("value", args, kwargs)
        return np.asarray(out, dtype=dtype)[()]

    def gradient(self, *args, **kwargs):
        """The gradients, a tuple in the order of ``wrt``, each of its variable's shape."""
        out, dtype, bound = self._run("gradient", args, kwargs)
        return self._gradients(out, dtype, bound)

    def value_and_gradient(self, *args, **kwargs):
        """(f, gradients) from one pass."""
        (value, grads), dtype, bound = self._run("value_and_gradient", args, kwargs)
        return np.asarray(value, dtype=dtype)[()], self._gradients(grads, dtype, bound)
