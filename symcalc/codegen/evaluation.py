"""Evaluate any symcalc result numerically: ``sc.lambdify(args, expr)``.

``sympy.lambdify`` is the first thing a SymPy user tries on a result, and it cannot print
what symcalc's closed forms hold (elementwise functions, Hadamard products, sigmoid). This
is the same call, with symcalc's stable NumPy printer: elementwise functions become NumPy
broadcasting, ``softplus`` becomes ``logaddexp``, ``log det`` goes through Cholesky, and the
arguments are renamed before printing, so no user name reaches the generated source.

>>> import numpy as np, symcalc as sc
>>> A, w = sc.matrix_symbol("A", 3, 2), sc.vector("w", 2)
>>> g = sc.gradient(sc.sum_entries(sc.elementwise(sc.softplus, A * w)), w)
>>> f = sc.lambdify([A, w], g)
>>> f(np.ones((3, 2)), np.full(2, 1000.0))      # sigmoid(2000) = 1, no overflow
array([3., 3.])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy as sp

from symcalc.errors import InputError, InputTypeError

__all__ = ["lambdify"]


def _arguments(args: Any) -> list[Any]:
    """The arguments as a list of Symbols and MatrixSymbols (one clear error otherwise)."""
    items = list(args) if isinstance(args, (list, tuple)) else [args]
    for a in items:
        if not isinstance(a, (sp.Symbol, sp.MatrixSymbol)):
            raise InputTypeError(
                f"lambdify's arguments must be Symbols or MatrixSymbols, got {type(a).__name__}"
            )
    return items


def _prepared(expr: Any) -> Any:
    """The expression as the kernels print it: canonical named functions, stable forms."""
    from symcalc.codegen.numpy_printer import stabilize, stabilize_matrix
    from symcalc.inputs import as_expr

    if isinstance(expr, sp.MatrixBase):
        return sp.ImmutableMatrix(expr).applyfunc(stabilize)
    expr = as_expr(expr, "expr")
    if isinstance(expr, sp.MatrixExpr):
        return stabilize_matrix(expr)
    return stabilize(expr)


def _helper_namespace() -> dict[str, Callable]:
    """symcalc's NumPy helpers (_sigmoid, _logsumexp, ...) as functions, by name: one
    generated module, checked and loaded like every kernel (symcalc.codegen.loader)."""
    from symcalc.codegen.loader import _load_source
    from symcalc.codegen.numpy_printer import HELPERS, helper_source

    source = "import numpy as np\n\n\n" + "\n\n".join(helper_source(n, "np") for n in HELPERS)
    module, _ = _load_source(source, "helpers")
    return {"np": np, **{name: getattr(module, name) for name in HELPERS}}


def lambdify(args: Sequence[Any] | Any, expr: Any) -> Callable[..., Any]:
    """A NumPy function of ``args`` that evaluates ``expr`` (argument order as in SymPy).

    ``expr`` may be a scalar, a Matrix or a closed-form matrix expression (a gradient,
    a Hessian). MatrixSymbol arguments take arrays of their shape, n x 1 vectors as 1-D
    arrays of length n (as sc.compile's kernels do; gradients come back 1-D); scalars
    take numbers or arrays (broadcast). A free symbol that is not an argument, or an undefined
    function, is an InputError.

    >>> import sympy as sp
    >>> t = sp.Symbol("t")
    >>> float(lambdify([t], sp.log(1 + sp.exp(t)))(1000.0))       # softplus: no overflow
    1000.0
    """
    from symcalc.codegen.numpy_printer import StableNumPyPrinter
    from symcalc.inputs import safe_lambdify

    items = _arguments(args)
    target = _prepared(expr)
    printer = StableNumPyPrinter()  # prints NumPy as ``np``, which the namespace binds
    try:
        fn = safe_lambdify(items, target, [_helper_namespace(), "numpy"], printer=printer)
    except (SyntaxError, NotImplementedError, TypeError) as exc:
        raise InputError(f"symcalc cannot evaluate this expression numerically: {exc}") from None
    return _with_kernel_layout(fn, items)


def _is_column(a: Any) -> bool:
    return isinstance(a, sp.MatrixSymbol) and a.shape[1] == 1


def _with_kernel_layout(fn: Callable[..., Any], items: list[Any]) -> Callable[..., Any]:
    """``fn`` taking n x 1 vectors as 1-D arrays (the layout of sc.compile's kernels; an
    (n, 1) array is accepted too) and other arguments as they are."""
    columns = [_is_column(a) for a in items]

    def evaluate(*values: Any) -> Any:
        if len(values) != len(items):
            raise InputError(f"this function takes {len(items)} arguments, got {len(values)}")
        values = tuple(
            np.asarray(v, dtype=float).reshape(-1) if col else v for v, col in zip(values, columns)
        )
        return fn(*values)

    evaluate.__doc__ = fn.__doc__
    return evaluate
