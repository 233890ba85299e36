"""Named scalar functions that machine learning writes by name.

``sigmoid``, ``softplus``, ``log_sigmoid``, ``relu``, ``leaky_relu``, ``gelu`` and
``heaviside`` are SymPy functions that know their derivatives (from their records in
:mod:`symcalc.expr.registry`), print as a person writes them, evaluate numerically and
rewrite to elementary functions on request. Keeping them as named functions (rather than
expanding ``1/(1+exp(-x))``) keeps derivations readable and lets the compiler lower them
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

from symcalc.expr.families.activations import (
    gelu,
    leaky_relu,
    log_sigmoid,
    relu,
    sigmoid,
    softplus,
)
from symcalc.expr.families.piecewise import heaviside
from symcalc.expr.registry import REGISTRY, expand_named

#: Names users may write for symcalc's own functions (parsers bind these).
NAMED_FUNCTIONS = {n: s.cls for n, s in REGISTRY.names().items() if s.cls in REGISTRY.own_classes()}

__all__ = [
    "sigmoid",
    "softplus",
    "log_sigmoid",
    "relu",
    "leaky_relu",
    "gelu",
    "heaviside",
    "NAMED_FUNCTIONS",
    "expand_named",
]
