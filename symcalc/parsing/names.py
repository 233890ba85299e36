"""What names mean: the functions, constants and refused Python words of the grammar."""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp
from sympy import MatrixBase, MatrixExpr

from symcalc.expr.registry import REGISTRY
from symcalc.parsing.shapes import (
    _as_scalar,
    _check_explicit_entries,
    _check_symbolic_square,
    _dims,
    _has_symbols,
    _is_matrix,
    _Refused,
    _ShapeMismatch,
)


# ======================================================================================
# What names mean
# ======================================================================================
def _elementwise(f: Callable, v):
    """f of a scalar; f entry by entry of a matrix (the engine's ElementwiseApplyFunction)."""
    v = _as_scalar(v)
    if isinstance(v, MatrixBase):
        return v.applyfunc(f)
    if isinstance(v, MatrixExpr):
        from symcalc.expr.structure import elementwise

        return elementwise(f, v)
    return f(v)


def _scalar_fn(f):
    return lambda args: _elementwise(f, args[0])


def _record_call(spec):
    """A registry function: f(u) entry by entry of a matrix u; further arguments (the slope
    of leaky_relu(u, a), the base of log(u, b)) are scalars."""

    def call(args):
        if len(args) == 1:
            return _elementwise(spec.cls, args[0])
        params = [_as_scalar(a) for a in args[1:]]
        if any(_is_matrix(p) for p in params):
            raise _Refused(f"the arguments of {spec.name} after the first are scalars")
        u = _as_scalar(args[0])
        if spec.cls is sp.log and _is_matrix(u):
            raise _Refused("log(value, base) takes scalars (log(A) alone applies to every entry)")
        return (
            _elementwise(sp.Lambda(_T, spec.cls(_T, *params)), u)
            if _is_matrix(u)
            else spec.cls(u, *params)
        )

    return call


_T = sp.Dummy("t")


def _det(args):
    v = args[0]
    if isinstance(v, MatrixBase):
        _check_symbolic_square(v, "max_symbolic_det", "determinant")
        # Berkowitz is division-free: polynomial time in the size for symbolic entries
        # (SymPy's default, Bareiss, took 6 s for a 5 x 5 of distinct symbols).
        return v.det(method="berkowitz") if _has_symbols(v) else v.det()
    if isinstance(v, MatrixExpr):
        return _as_scalar(v) if v.shape == (1, 1) else sp.Determinant(v)
    return v


def _trace(args):
    v = args[0]
    if isinstance(v, MatrixBase):
        return v.trace()
    if isinstance(v, MatrixExpr):
        return sp.Trace(v)
    return v


def _inverse(args):
    v = args[0]
    if isinstance(v, MatrixBase):
        _check_symbolic_square(v, "max_symbolic_inverse", "inverse")
        return _symbolic_inverse(v) if _has_symbols(v) else v.inv()
    if isinstance(v, MatrixExpr):
        return sp.Inverse(v)
    return 1 / v


def _symbolic_inverse(v: MatrixBase) -> MatrixBase:
    """adj(V) / det(V), both by Berkowitz (division-free), for a literal with symbols.

    SymPy's default inverse simplifies as it eliminates: 60 s for a 3 x 3 of sines;
    this takes milliseconds. Singular (det expands to 0): NonInvertibleMatrixError.

    >>> a, b = sp.symbols("a b")
    >>> _symbolic_inverse(sp.Matrix([[a, 1], [0, b]]))
    Matrix([
    [1/a, -1/(a*b)],
    [  0,      1/b]])
    """
    if v.shape[0] != v.shape[1]:
        raise _ShapeMismatch(f"only a square matrix has an inverse; this one is {_dims(v)}")
    det = v.det(method="berkowitz")
    if sp.expand(det) == 0:
        raise sp.matrices.exceptions.NonInvertibleMatrixError("det == 0")
    return sp.ImmutableMatrix(v.adjugate(method="berkowitz") / det)


def _transpose(args):
    return _transpose_of(args[0])


def _transpose_of(v):
    if isinstance(v, (MatrixExpr, MatrixBase)):
        return v.T
    return v


def _sum(args):
    from symcalc.expr.structure import sum_entries

    v = args[0]
    if isinstance(v, MatrixBase):
        return sum(v)
    if isinstance(v, MatrixExpr):
        return sum_entries(v)
    return v


def _diag(args):
    v = args[0]
    if isinstance(v, MatrixBase):
        return sp.diag(*v) if 1 in v.shape else sp.Matrix(v.diagonal())
    if isinstance(v, MatrixExpr):
        from sympy.matrices.expressions.diagonal import DiagMatrix

        return DiagMatrix(v)
    return v


def _kron(args):
    if all(isinstance(a, MatrixBase) for a in args):
        _check_explicit_entries([a.shape for a in args], "Kronecker product")
    return sp.kronecker_product(*args)


def _hadamard(args):
    return sp.hadamard_product(*args)


#: name -> (function of the argument list, allowed argument counts)
#: name -> (function of the argument list, allowed argument counts): the registry's
#: functions under their parse names, then the powers and matrix functions.
FUNCTIONS: dict[str, tuple[Callable, tuple[int, ...]]] = {
    **{name: (_record_call(spec), spec.nargs) for name, spec in REGISTRY.names().items()},
    "sqrt": (_scalar_fn(sp.sqrt), (1,)),
    "det": (_det, (1,)),
    "tr": (_trace, (1,)),
    "Tr": (_trace, (1,)),
    "trace": (_trace, (1,)),
    "inv": (_inverse, (1,)),
    "transpose": (_transpose, (1,)),
    "sum": (_sum, (1,)),
    "diag": (_diag, (1,)),
    "kron": (_kron, (2, 3, 4)),
    "hadamard": (_hadamard, (2, 3, 4)),
}

CONSTANTS = {"pi": sp.pi, "e": sp.E, "E": sp.E}

_PYTHON_WORDS = {
    "lambda",
    "import",
    "exec",
    "eval",
    "open",
    "class",
    "def",
    "return",
    "globals",
    "locals",
    "getattr",
    "setattr",
    "compile",
    "input",
    "os",
    "sys",
    "subprocess",
    "builtins",
    "print",
    "for",
    "while",
    "if",
    "else",
    "not",
    "and",
    "or",
    "is",
    "in",
    "from",
    "with",
    "yield",
    "None",
    "True",
    "False",
}
