"""symcalc's elementwise application ``f.(M)``: SymPy's ElementwiseApplyFunction, readable.

SymPy prints its ``ElementwiseApplyFunction`` as the machinery (``Lambda(_d, sigmoid(_d)).(X*w)``).
:class:`Elementwise` is the same object for every rule, printer and backend (a subclass:
everything dispatched on ElementwiseApplyFunction takes it), but ``str()`` shows symcalc's
notation, the one ``symcalc.parse`` reads back.

>>> import sympy as sp
>>> from symcalc.expr.functions import sigmoid
>>> X, w = sp.MatrixSymbol("X", 3, 2), sp.MatrixSymbol("w", 2, 1)
>>> d = sp.Dummy("d")
>>> print(Elementwise(sp.Lambda(d, sigmoid(d)), X * w))
sigmoid(X*w)
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

__all__ = ["ELEMENTWISE_VAR", "Elementwise", "as_elementwise", "canonical_lambda"]

#: The one bound variable of every elementwise Lambda the engine builds, so that two
#: separately built sigmoid(Xw) are the same object (equality, collecting, CSE).
ELEMENTWISE_VAR = sp.Dummy("d")


def canonical_lambda(f):
    """Lambda(d, f(d)) over the shared variable, for a function class or a Lambda.

    >>> import sympy as sp
    >>> canonical_lambda(sp.exp) == canonical_lambda(sp.Lambda(sp.Symbol("t"), sp.exp(sp.Symbol("t"))))
    True
    """
    if isinstance(f, sp.Lambda):
        (t,) = f.variables
        return sp.Lambda(ELEMENTWISE_VAR, f.expr.xreplace({t: ELEMENTWISE_VAR}))
    return sp.Lambda(ELEMENTWISE_VAR, f(ELEMENTWISE_VAR))


class Elementwise(ElementwiseApplyFunction):
    """f applied to every entry of a matrix; printed ``f(M)`` (symcalc's notation)."""

    def _sympystr(self, printer) -> str:
        from symcalc.printing.text import elementwise_text

        return elementwise_text(printer, self)


def as_elementwise(expr: Any) -> Any:
    """``expr`` with SymPy's own ElementwiseApplyFunction nodes (``M.applyfunc(f)``) as
    :class:`Elementwise`, so that a user's and the engine's f.(M) are the same object.

    >>> import sympy as sp
    >>> z = sp.MatrixSymbol("z", 3, 1)
    >>> type(as_elementwise(z.applyfunc(sp.exp))).__name__
    'Elementwise'
    """
    if not isinstance(expr, sp.Basic) or not expr.has(ElementwiseApplyFunction):
        return expr
    return expr.replace(
        lambda e: type(e) is ElementwiseApplyFunction,
        lambda e: Elementwise(canonical_lambda(e.function), e.expr),
    )
