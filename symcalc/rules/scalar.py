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
from sympy.core.function import AppliedUndef

from symcalc.expr.registry import REGISTRY
from symcalc.records import Rule
from symcalc.rules.table import RuleTable

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
# Chain rules through named functions: d f(u, *params) = f'(u) du (+ df/da da), generated
# from each registry record's derivative (symcalc.expr.registry)
# --------------------------------------------------------------------------------------
def chain_rule(spec):
    """The scalar rule of a registry record: its derivative times the differential of its argument."""

    def apply(node, d):
        if len(node.args) not in spec.nargs or not isinstance(node, spec.cls):
            return None
        if any(isinstance(a, (sp.MatrixBase, sp.MatrixExpr)) for a in node.args):
            return None
        u, *params = node.args
        depends = getattr(d, "depends", lambda e: True)
        terms = [spec.partial(1, node) * d(u)] if depends(u) else []
        for k, a in enumerate(params, start=2):
            if depends(a):
                terms.append(spec.partial(k, node) * d(a))
        return sp.Add(*terms)

    return Rule(spec.name, f"Chain rule through {spec.name}", spec.rule_latex, "chain", "", apply)


for _spec in REGISTRY:
    if _spec.derivative is not None:
        SCALAR_RULES.add(chain_rule(_spec), _spec.cls)


def _piecewise(node, d):
    """d Piecewise((e_i, c_i)) = Piecewise((d e_i, c_i)): branch by branch (a.e.: the
    conditions' boundaries have measure zero)."""
    return sp.Piecewise(*[(d(e), c) for e, c in node.args])


SCALAR_RULES.add(
    Rule(
        "piecewise",
        "Branch by branch",
        rf"{D}\begin{{cases}}u & c\\ v & \text{{else}}\end{{cases}} = "
        rf"\begin{{cases}}{D}u & c\\ {D}v & \text{{else}}\end{{cases}}",
        "chain",
        "",
        _piecewise,
    ),
    sp.Piecewise,
)


def _declared_derivative(node, d):
    """d f(u1, ..., uk) = sum_i (df/du_i) du_i, with f' from the function's own fdiff.

    Not for an undefined function (``sp.Function("f")``): its derivative would be an
    unevaluated ``Derivative``, so there is no rule and derive raises NoRuleError naming it.
    """
    if not isinstance(node, sp.Function) or not node.args or isinstance(node, AppliedUndef):
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
        if fprime.has(sp.Derivative):
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

__all__ = ["SCALAR_RULES", "chain_rule"]
