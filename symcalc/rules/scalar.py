"""Scalar differential rules: one record per construct (sum, product, power, chain rules).

Each rule's ``apply(node, d)`` returns the differential of ``node`` given ``d``,
the walker's function that differentiates a child (and records its steps), or
``None`` when the rule does not fit the node (the walker then tries the next).
The same table serves explicit-symbol expressions and the scalar parts of
matrix expressions (log tr X, 1/(x^T x), ...), whose differentials contain
traces of matrix differentials.

>>> import sympy as sp
>>> from symcalc.rules.scalar import SCALAR_RULES
>>> x, dx = sp.symbols("x dx")
>>> SCALAR_RULES["sin"].apply(sp.sin(x), lambda u: dx if u == x else 0)
dx*cos(x)
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.core.function import AppliedUndef

from symcalc.expr.functions import sigmoid, softplus
from symcalc.records import Rule
from symcalc.rules import RuleTable

SCALAR_RULES = RuleTable("scalar", "differentials of scalar expressions")

D = r"\mathrm{d}"


def _is_zero(e) -> bool:
    return e == 0 or getattr(e, "is_ZeroMatrix", False)


# --------------------------------------------------------------------------------------
# Linear rules
# --------------------------------------------------------------------------------------
def _sum(node, d):
    return sp.Add(*[d(a) for a in node.args])


def _constant_multiple(node, d):
    dependent = [a for a in node.args if d.depends(a)]
    if len(dependent) != 1:
        return None
    u = dependent[0]
    c = sp.Mul(*[a for a in node.args if a is not u])
    return c * d(u)


SCALAR_RULES.add(
    Rule(
        "sum", "Sum rule", rf"{D}(u + v) = {D}u + {D}v", "linear", "Magnus & Neudecker, ch. 5", _sum
    ),
    sp.Add,
)
SCALAR_RULES.add(
    Rule(
        "constant_multiple",
        "Constant multiple",
        rf"{D}(c\,u) = c\,{D}u",
        "linear",
        "Magnus & Neudecker, ch. 5",
        _constant_multiple,
    ),
    sp.Mul,
)


# --------------------------------------------------------------------------------------
# Product rules
# --------------------------------------------------------------------------------------
def _quotient(node, d):
    dependent = [a for a in node.args if d.depends(a)]
    if len(dependent) != 2:
        return None
    dens = [a for a in dependent if a.is_Pow and a.exp.is_number and a.exp.is_negative]
    if len(dens) != 1:
        return None
    den = dens[0]
    u = dependent[0] if dependent[1] is den else dependent[1]
    v = den.base ** (-den.exp)
    c = sp.Mul(*[a for a in node.args if not d.depends(a)])
    return c * (v * d(u) - u * d(v)) / v**2


def _product(node, d):
    args = node.args
    terms = []
    for i, a in enumerate(args):
        if not d.depends(a):
            continue
        terms.append(sp.Mul(*args[:i], d(a), *args[i + 1 :]))
    return sp.Add(*terms)


SCALAR_RULES.add(
    Rule(
        "quotient",
        "Quotient rule",
        rf"{D}\frac{{u}}{{v}} = \frac{{v\,{D}u - u\,{D}v}}{{v^2}}",
        "product",
        "Magnus & Neudecker, ch. 5",
        _quotient,
    ),
    sp.Mul,
)
SCALAR_RULES.add(
    Rule(
        "product",
        "Product rule",
        rf"{D}(uv) = {D}u\,v + u\,{D}v",
        "product",
        "Magnus & Neudecker, ch. 5",
        _product,
    ),
    sp.Mul,
)


# --------------------------------------------------------------------------------------
# Powers
# --------------------------------------------------------------------------------------
def _sqrt(node, d):
    if node.exp != sp.S.Half:
        return None
    return d(node.base) / (2 * node)


def _power(node, d):
    if d.depends(node.exp):
        return None
    n = node.exp
    return n * node.base ** (n - 1) * d(node.base)


def _exponential(node, d):
    if d.depends(node.base):
        return None
    return node * sp.log(node.base) * d(node.exp)


def _general_power(node, d):
    u, v = node.base, node.exp
    return node * (sp.log(u) * d(v) + v * d(u) / u)


SCALAR_RULES.add(
    Rule(
        "sqrt", "Square root", rf"{D}\sqrt{{u}} = \frac{{{D}u}}{{2\sqrt{{u}}}}", "chain", "", _sqrt
    ),
    sp.Pow,
)
SCALAR_RULES.add(
    Rule("power", "Power rule", rf"{D}(u^n) = n\,u^{{n-1}}\,{D}u", "chain", "", _power), sp.Pow
)
SCALAR_RULES.add(
    Rule(
        "exponential",
        "Exponential with constant base",
        rf"{D}(a^u) = a^u \log a\,{D}u",
        "chain",
        "",
        _exponential,
    ),
    sp.Pow,
)
SCALAR_RULES.add(
    Rule(
        "general_power",
        "General power",
        rf"{D}(u^v) = u^v\left(\log u\,{D}v + \frac{{v}}{{u}}\,{D}u\right)",
        "chain",
        "",
        _general_power,
    ),
    sp.Pow,
)


# --------------------------------------------------------------------------------------
# Chain rules through named functions: d f(u) = f'(u) du
# --------------------------------------------------------------------------------------
def _chain(derivative):
    def apply(node, d):
        if len(node.args) != 1:
            return None
        u = node.args[0]
        return derivative(u, node) * d(u)

    return apply


_FUNCTIONS = [
    # (class, name, LaTeX of d f(u), f'(u) given (u, f(u)))
    (sp.exp, "exp", rf"{D}\,e^u = e^u\,{D}u", lambda u, f: f),
    (sp.log, "log", rf"{D}\log u = \frac{{{D}u}}{{u}}", lambda u, f: 1 / u),
    (log1p, "log1p", rf"{D}\log(1+u) = \frac{{{D}u}}{{1+u}}", lambda u, f: 1 / (1 + u)),
    (sp.sin, "sin", rf"{D}\sin u = \cos u\,{D}u", lambda u, f: sp.cos(u)),
    (sp.cos, "cos", rf"{D}\cos u = -\sin u\,{D}u", lambda u, f: -sp.sin(u)),
    (sp.tan, "tan", rf"{D}\tan u = (1 + \tan^2 u)\,{D}u", lambda u, f: 1 + f**2),
    (sp.sinh, "sinh", rf"{D}\sinh u = \cosh u\,{D}u", lambda u, f: sp.cosh(u)),
    (sp.cosh, "cosh", rf"{D}\cosh u = \sinh u\,{D}u", lambda u, f: sp.sinh(u)),
    (sp.tanh, "tanh", rf"{D}\tanh u = (1 - \tanh^2 u)\,{D}u", lambda u, f: 1 - f**2),
    (
        sp.asin,
        "asin",
        rf"{D}\arcsin u = \frac{{{D}u}}{{\sqrt{{1-u^2}}}}",
        lambda u, f: 1 / sp.sqrt(1 - u**2),
    ),
    (
        sp.acos,
        "acos",
        rf"{D}\arccos u = -\frac{{{D}u}}{{\sqrt{{1-u^2}}}}",
        lambda u, f: -1 / sp.sqrt(1 - u**2),
    ),
    (sp.atan, "atan", rf"{D}\arctan u = \frac{{{D}u}}{{1+u^2}}", lambda u, f: 1 / (1 + u**2)),
    (
        sp.erf,
        "erf",
        rf"{D}\,\mathrm{{erf}}\,u = \frac{{2}}{{\sqrt\pi}} e^{{-u^2}}\,{D}u",
        lambda u, f: 2 * sp.exp(-(u**2)) / sp.sqrt(sp.pi),
    ),
    (sigmoid, "sigmoid", rf"{D}\sigma(u) = \sigma(u)(1-\sigma(u))\,{D}u", lambda u, f: f * (1 - f)),
    (
        softplus,
        "softplus",
        rf"{D}\operatorname{{softplus}}(u) = \sigma(u)\,{D}u",
        lambda u, f: sigmoid(u),
    ),
    (sp.Abs, "abs", rf"{D}|u| = \operatorname{{sign}}(u)\,{D}u", lambda u, f: sp.sign(u)),
]

#: f'(u) for the named scalar functions, by class (also used by the elementwise rules).
FUNCTION_DERIVATIVES = {cls: deriv for cls, _, _, deriv in _FUNCTIONS}

for _cls, _name, _latex, _deriv in _FUNCTIONS:
    SCALAR_RULES.add(
        Rule(_name, f"Chain rule through {_name}", _latex, "chain", "", _chain(_deriv)), _cls
    )


def _declared_derivative(node, d):
    """d f(u1, ..., uk) = sum_i (df/du_i) du_i, with f' from the function's own fdiff."""
    if not isinstance(node, sp.Function) or not node.args:
        return None
    if any(isinstance(a, sp.MatrixBase) for a in node.args):
        return None
    terms = []
    for i, u in enumerate(node.args, start=1):
        if not d.depends(u):
            continue
        try:
            fprime = node.fdiff(i)
        except Exception:  # SymPy raises ArgumentIndexError and others; no rule then
            return None
        if fprime.has(sp.Derivative) and not isinstance(node, AppliedUndef):
            return None  # the function declares no derivative (floor, ...): no rule
        terms.append(fprime * d(u))
    return sp.Add(*terms)


SCALAR_RULES.add(
    Rule(
        "declared_derivative",
        "Chain rule (derivative declared by the function)",
        rf"{D} f(u) = f'(u)\,{D}u",
        "chain",
        "",
        _declared_derivative,
    ),
    sp.Function,
)

__all__ = ["SCALAR_RULES", "FUNCTION_DERIVATIVES"]
