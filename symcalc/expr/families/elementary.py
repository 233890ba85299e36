r"""Elementary functions: exp, the logarithms, trigonometric and hyperbolic functions, erf.

The SymPy classes are SymPy's own; a record adds what symcalc knows (the derivative the
rules are generated from, the printed and parsed names, the sampling domain). Their
NumPy lowering is SymPy's NumPy printer's (``np.exp``, ...), except erf / erfc, which
NumPy lacks: a helper evaluates them with the C library's ``math.erf`` / ``math.erfc``.

>>> import sympy as sp
>>> [s.name for s in SPECS][:4]
['exp', 'log', 'log1p', 'sin']
>>> u = sp.Symbol("u")
>>> next(s for s in SPECS if s.name == "atanh").fprime(u)
1/(1 - u**2)
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import log1p

from symcalc.expr.spec import FunctionSpec, helper

D = r"\mathrm{d}"

_ERF_HELPERS = {
    "_erf": '''\
def _erf(z):
    """erf entry by entry, from the C library (NumPy has no erf)."""
    import math
    return {np}.vectorize(math.erf, otypes=[float])(z)
''',
    "_erfc": '''\
def _erfc(z):
    """erfc = 1 - erf without cancellation, entry by entry, from the C library."""
    import math
    return {np}.vectorize(math.erfc, otypes=[float])(z)
''',
}


def _spec(name, cls, rule, latex, fprime, **kw):
    return FunctionSpec(name, cls, fprime, rf"{D}{rule}", latex, **kw)


SPECS = [
    _spec(
        "exp",
        sp.exp,
        r"\,e^u = e^u\,\mathrm{d}u",
        r"\exp",
        lambda u, f: f,
        symengine=True,
        latex_commands=("exp",),
        stable=True,
    ),
    _spec(
        "log",
        sp.log,
        r"\log u = \frac{\mathrm{d}u}{u}",
        r"\log",
        lambda u, f: 1 / u,
        aliases=("ln",),
        latex_commands=("log", "ln"),
        symengine=True,
        domain=(0.2, 3.0),
        nargs=(1, 2),
        stable=True,
    ),
    _spec(
        "log1p",
        log1p,
        r"\log(1+u) = \frac{\mathrm{d}u}{1+u}",
        r"\operatorname{log1p}",
        lambda u, f: 1 / (1 + u),
        rewrite=lambda u: sp.log(1 + u),
        domain=(-0.8, 3.0),
        native=lambda u: sp.log(1 + u),
        stable=True,
    ),
    _spec(
        "sin",
        sp.sin,
        r"\sin u = \cos u\,\mathrm{d}u",
        r"\sin",
        lambda u, f: sp.cos(u),
        latex_commands=("sin",),
        symengine=True,
    ),
    _spec(
        "cos",
        sp.cos,
        r"\cos u = -\sin u\,\mathrm{d}u",
        r"\cos",
        lambda u, f: -sp.sin(u),
        latex_commands=("cos",),
        symengine=True,
    ),
    _spec(
        "tan",
        sp.tan,
        r"\tan u = (1 + \tan^2 u)\,\mathrm{d}u",
        r"\tan",
        lambda u, f: 1 + f**2,
        latex_commands=("tan",),
        symengine=True,
        domain=(-1.2, 1.2),
    ),
    _spec(
        "cot",
        sp.cot,
        r"\cot u = -(1 + \cot^2 u)\,\mathrm{d}u",
        r"\cot",
        lambda u, f: -1 - f**2,
        latex_commands=("cot",),
        native=lambda z: 1 / sp.tan(z),  # SymEngine LLVM has no cot
        domain=(0.3, 2.8),
    ),
    _spec(
        "sec",
        sp.sec,
        r"\sec u = \sec u\tan u\,\mathrm{d}u",
        r"\sec",
        lambda u, f: f * sp.tan(u),
        latex_commands=("sec",),
        native=lambda z: 1 / sp.cos(z),  # SymEngine LLVM has no sec
        domain=(-1.2, 1.2),
    ),
    _spec(
        "csc",
        sp.csc,
        r"\csc u = -\csc u\cot u\,\mathrm{d}u",
        r"\csc",
        lambda u, f: -f * sp.cot(u),
        latex_commands=("csc",),
        native=lambda z: 1 / sp.sin(z),  # SymEngine LLVM has no csc
        domain=(0.3, 2.8),
    ),
    _spec(
        "sinh",
        sp.sinh,
        r"\sinh u = \cosh u\,\mathrm{d}u",
        r"\sinh",
        lambda u, f: sp.cosh(u),
        latex_commands=("sinh",),
        symengine=True,
    ),
    _spec(
        "cosh",
        sp.cosh,
        r"\cosh u = \sinh u\,\mathrm{d}u",
        r"\cosh",
        lambda u, f: sp.sinh(u),
        latex_commands=("cosh",),
        symengine=True,
    ),
    _spec(
        "tanh",
        sp.tanh,
        r"\tanh u = (1 - \tanh^2 u)\,\mathrm{d}u",
        r"\tanh",
        lambda u, f: 1 - f**2,
        latex_commands=("tanh",),
        symengine=True,
    ),
    _spec(
        "coth",
        sp.coth,
        r"\coth u = (1 - \coth^2 u)\,\mathrm{d}u",
        r"\coth",
        lambda u, f: 1 - f**2,
        latex_commands=("coth",),
        native=lambda z: 1 / sp.tanh(z),  # SymEngine LLVM has no coth
        domain=(0.3, 3.0),
    ),
    _spec(
        "asin",
        sp.asin,
        r"\arcsin u = \frac{\mathrm{d}u}{\sqrt{1-u^2}}",
        r"\arcsin",
        lambda u, f: 1 / sp.sqrt(1 - u**2),
        aliases=("arcsin",),
        latex_commands=("arcsin",),
        symengine=True,
        domain=(-0.9, 0.9),
    ),
    _spec(
        "acos",
        sp.acos,
        r"\arccos u = -\frac{\mathrm{d}u}{\sqrt{1-u^2}}",
        r"\arccos",
        lambda u, f: -1 / sp.sqrt(1 - u**2),
        aliases=("arccos",),
        latex_commands=("arccos",),
        symengine=True,
        domain=(-0.9, 0.9),
    ),
    _spec(
        "atan",
        sp.atan,
        r"\arctan u = \frac{\mathrm{d}u}{1+u^2}",
        r"\arctan",
        lambda u, f: 1 / (1 + u**2),
        aliases=("arctan",),
        latex_commands=("arctan",),
        symengine=True,
    ),
    _spec(
        "asinh",
        sp.asinh,
        r"\operatorname{arsinh} u = \frac{\mathrm{d}u}{\sqrt{1+u^2}}",
        r"\operatorname{asinh}",
        lambda u, f: 1 / sp.sqrt(1 + u**2),
        symengine=True,
    ),
    _spec(
        "acosh",
        sp.acosh,
        r"\operatorname{arcosh} u = \frac{\mathrm{d}u}{\sqrt{u^2-1}}",
        r"\operatorname{acosh}",
        lambda u, f: 1 / sp.sqrt(u**2 - 1),
        symengine=True,
        domain=(1.2, 4.0),
    ),
    _spec(
        "atanh",
        sp.atanh,
        r"\operatorname{artanh} u = \frac{\mathrm{d}u}{1-u^2}",
        r"\operatorname{atanh}",
        lambda u, f: 1 / (1 - u**2),
        symengine=True,
        domain=(-0.9, 0.9),
    ),
    _spec(
        "erf",
        sp.erf,
        r"\,\mathrm{erf}\,u = \frac{2}{\sqrt\pi} e^{-u^2}\,\mathrm{d}u",
        r"\operatorname{erf}",
        lambda u, f: 2 * sp.exp(-(u**2)) / sp.sqrt(sp.pi),
        numpy=helper("_erf"),
        helpers={"_erf": _ERF_HELPERS["_erf"]},
        array_api=False,
        stable=True,
    ),
    _spec(
        "erfc",
        sp.erfc,
        r"\,\mathrm{erfc}\,u = -\frac{2}{\sqrt\pi} e^{-u^2}\,\mathrm{d}u",
        r"\operatorname{erfc}",
        lambda u, f: -2 * sp.exp(-(u**2)) / sp.sqrt(sp.pi),
        numpy=helper("_erfc"),
        helpers={"_erfc": _ERF_HELPERS["_erfc"]},
        array_api=False,
        stable=True,
    ),
]
