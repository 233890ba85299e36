"""The array-API printer: the compile stage's stable lowering with ``xp.`` calls, and the helpers
a generated array-API module defines when it uses them.

>>> import sympy as sp
>>> print(array_api_code(sp.log(1 + sp.exp(sp.Symbol("z")))))
xp.logaddexp(0.0, z)
"""

from __future__ import annotations

import sympy as sp  # noqa: F401 (the doctests)

from symcalc.codegen.kernel_helpers import _OWN_HELPERS
from symcalc.codegen.numpy_printer import (
    StableNumPyPrinter,
    stabilize,
)
from symcalc.codegen.source import (
    CodeNames,
)
from symcalc.expr.registry import REGISTRY

__all__ = ["ArrayAPIPrinter", "array_api_code", "XP_HELPERS"]

# ---------------------------------------------------------------------------
# Helpers a generated module defines when it uses them (array API calls only)
# ---------------------------------------------------------------------------
XP_HELPERS = {
    "_logsumexp": '''\
def _logsumexp(xp, *terms):
    """log(sum(exp(t))) with the max shifted out, so no exp overflows."""
    m = terms[0]
    for t in terms[1:]:
        m = xp.maximum(m, t)
    m = xp.where(xp.isfinite(m), m, 0 * m)
    total = xp.exp(terms[0] - m)
    for t in terms[1:]:
        total = total + xp.exp(t - m)
    return m + xp.log(total)
''',
    "_logsumexp_vec": '''\
def _logsumexp_vec(xp, z):
    """log(sum(exp(z))) over a vector, with its max shifted out."""
    m = xp.max(z)
    m = xp.where(xp.isfinite(m), m, 0 * m)
    return m + xp.log(xp.sum(xp.exp(z - m)))
''',
    "_gram": '''\
def _gram(z):
    """z.T @ z (symmetric; on Dask a sum of per-block products over the rows)."""
    return z.T @ z
''',
    "_logdet_chol": '''\
def _logdet_chol(xp, a):
    """log det of a symmetric positive definite matrix, via Cholesky."""
    return 2 * xp.sum(xp.log(xp.linalg.diagonal(xp.linalg.cholesky(a))), axis=-1)
''',
    "_diag": '''\
def _diag(xp, v):
    """The diagonal matrix with v on its diagonal."""
    return v[:, None] * xp.eye(v.shape[0], dtype=v.dtype)
''',
    "_fill": '''\
def _fill(v, zero):
    """v broadcast to the batch shape (zero: zeros of that shape and dtype)."""
    return v + zero
''',
}


def _xp_helper(name: str, template: str) -> str:
    """A registry record's helper (written against ``{np}``) for a namespace passed as ``xp``."""
    return template.replace(f"def {name}(", f"def {name}(xp, ", 1).replace("{np}", "xp")


# ... the NumPy helpers written in the standard's calls only
XP_HELPERS["_softmax_hessian"] = _xp_helper("_softmax_hessian", _OWN_HELPERS["_softmax_hessian"])

# ... and the helpers of the registry's records the array API can run (_sigmoid, _relu, ...)
XP_HELPERS.update(
    {
        name: _xp_helper(name, text)
        for spec in REGISTRY
        if spec.array_api is not False
        for name, text in spec.helpers.items()
    }
)

# NumPy names that the array API standard spells differently
_STANDARD_NAMES = {
    "arccos": "acos",
    "arccosh": "acosh",
    "arcsin": "asin",
    "arcsinh": "asinh",
    "arctan": "atan",
    "arctan2": "atan2",
    "arctanh": "atanh",
    "power": "pow",
    "absolute": "abs",
    "conjugate": "conj",
    "mod": "remainder",
    "trace": "linalg.trace",
}

# helpers whose first argument is the namespace xp (read off their signatures)
_HELPERS_TAKING_XP = frozenset(name for name, src in XP_HELPERS.items() if f"def {name}(xp," in src)


class ArrayAPIPrinter(StableNumPyPrinter):
    """The stable NumPy printer, emitting ``xp.`` (array API standard) calls.

    The parent routes every module-qualified name through :meth:`_np` and every
    helper call through :meth:`_helper_call`; here they name ``xp.`` functions
    (in the standard's spelling) and pass ``xp`` to the helpers of
    :data:`XP_HELPERS`. Overridden besides: what the standard lacks (``outer``,
    ``diag``, a solve with a vector right-hand side, ``**`` on arrays, Piecewise).

    >>> z = sp.Symbol("z")
    >>> from symcalc.expr.functions import softplus, sigmoid
    >>> ArrayAPIPrinter().doprint(softplus(z) * sp.asin(z))
    'xp.asin(z)*xp.logaddexp(0.0, z)'
    >>> p = ArrayAPIPrinter(); p.doprint(sigmoid(z)), sorted(p.helpers_used)
    ('_sigmoid(xp, z)', ['_sigmoid'])
    """

    _zero = "0.0"

    def _np(self, name):
        """The array API name of NumPy's function name.

        >>> ArrayAPIPrinter()._np("arcsin"), ArrayAPIPrinter()._np("trace")
        ('xp.asin', 'xp.linalg.trace')
        """
        if name.startswith("linalg."):
            return "xp." + name
        return "xp." + _STANDARD_NAMES.get(name, name)

    def _helper_call(self, name, *args):
        first = ("xp",) if name in _HELPERS_TAKING_XP else ()
        return super()._helper_call(name, *first, *args)

    def _power(self, expr, rational=False):
        return self._call("pow", self._print(expr.base), self._print(expr.exp))

    def _lowering(self, spec):
        if spec.array_api is False:
            from sympy.printing.codeprinter import PrintMethodNotImplementedError

            raise PrintMethodNotImplementedError(f"Unsupported by the array API: {spec.name}")
        return spec.numpy if spec.array_api is True else spec.array_api

    def _print_Piecewise(self, expr):
        from sympy.printing.codeprinter import PrintMethodNotImplementedError

        raise PrintMethodNotImplementedError("Unsupported by the array API: Piecewise")

    # -- what the standard lacks ----------------------------------------------------
    def _diag(self, vec):
        return self._helper_call("_diag", vec)

    def _outer(self, left, right):
        return f"(({left})[:, None] * ({right})[None, :])"

    def _solve(self, a, right, right_shape):
        # the standard's solve wants a matrix right-hand side: a vector goes in as a column
        if right_shape[1] == 1:
            return self._call("linalg.solve", self._print(a), f"({right})[:, None]") + "[:, 0]"
        return super()._solve(a, right, right_shape)

    def _print_MatrixBase(self, expr):
        rows = ", ".join(
            "[" + ", ".join(self._print(e) for e in expr.row(i)) + "]" for i in range(expr.rows)
        )
        return self._call("asarray", f"[{rows}]")


def array_api_code(expr, **settings) -> str:
    """One expression as array API code (stabilized first).

    >>> print(array_api_code(sp.log(1 + sp.exp(sp.Symbol("z")))))
    xp.logaddexp(0.0, z)
    """
    return ArrayAPIPrinter(settings).doprint(stabilize(expr))


def _new_printer() -> ArrayAPIPrinter:
    return ArrayAPIPrinter(
        {"fully_qualified_modules": True, "order": "none", "symbol_names": CodeNames.PATTERN}
    )
