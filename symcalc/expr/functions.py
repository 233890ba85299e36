"""Named scalar functions that machine learning writes by name.

``sigmoid`` and ``softplus`` are SymPy functions that know their derivatives,
print as a person writes them, evaluate numerically and rewrite to ``exp`` /
``log`` on request. Keeping them as named functions (rather than expanding to
``1/(1+exp(-x))``) keeps derivations readable and lets the compiler lower them
to overflow-free NumPy code.

>>> import sympy as sp
>>> from symcalc.expr.functions import sigmoid, softplus
>>> x = sp.Symbol("x")
>>> sp.diff(softplus(x), x)
sigmoid(x)
>>> sp.diff(sigmoid(x), x)
(1 - sigmoid(x))*sigmoid(x)
>>> float(sigmoid(0))
0.5
"""

from __future__ import annotations

import sympy as sp

from symcalc.inputs import as_expr


class _PositiveRealFunction(sp.Function):
    """A one-argument function that is real and positive on the reals, evaluated
    numerically through its exp/log form, printed as ``latex_name(arg)``.

    The argument is read strictly (SymPy's ``Function`` would evaluate a string):

    >>> sigmoid("x")
    Traceback (most recent call last):
    ...
    symcalc.errors.InputTypeError: the argument of sigmoid is a string ('x'); symcalc never evaluates text. Build it from SymPy objects, or read it with symcalc.parse(text, symbols=...).
    """

    nargs = 1
    latex_name = ""

    def __new__(cls, *args, **options):
        args = [as_expr(a, f"the argument of {cls.__name__}") for a in args]
        return super().__new__(cls, *args, **options)

    def _eval_evalf(self, prec):
        return self.rewrite(sp.exp)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        if self.args[0].is_real:
            return True

    def _latex(self, printer, exp=None):
        inner = printer._print(self.args[0])
        base = rf"{self.latex_name}\left({inner}\right)"
        return rf"{base}^{{{exp}}}" if exp else base


class sigmoid(_PositiveRealFunction):
    """The logistic function sigma(x) = 1 / (1 + exp(-x))."""

    latex_name = r"\sigma"

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    @classmethod
    def eval(cls, arg):
        if arg.is_zero:
            return sp.S.Half
        if arg is sp.S.Infinity:
            return sp.S.One
        if arg is sp.S.NegativeInfinity:
            return sp.S.Zero

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return 1 / (1 + sp.exp(-arg))


class softplus(_PositiveRealFunction):
    """softplus(x) = log(1 + exp(x)), computed without overflow when compiled."""

    latex_name = r"\operatorname{softplus}"

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    @classmethod
    def eval(cls, arg):
        if arg.is_zero:
            return sp.log(2)

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return sp.log(1 + sp.exp(arg))

    _eval_rewrite_as_log = _eval_rewrite_as_exp


#: Names users may write for these functions (parsers bind these).
NAMED_FUNCTIONS = {"sigmoid": sigmoid, "sigma": sigmoid, "softplus": softplus}


def expand_named(expr):
    """Rewrite sigmoid / softplus in terms of exp and log (for independent checks)."""
    return expr.rewrite(sp.exp) if hasattr(expr, "rewrite") else expr
