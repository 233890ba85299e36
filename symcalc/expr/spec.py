"""The record of one named scalar function, and the base class of symcalc's own functions.

A :class:`FunctionSpec` holds everything symcalc knows about a function: its SymPy class,
its derivative f'(u) (the one source of truth: the scalar chain rule, the elementwise
matrix rule, ``fdiff`` and so the Hessian are generated from it), its lowerings
(NumPy / array API, native), its printed names, its parse names, the interval its
self-checks sample from, and what its a.e. derivative is at a kink.
:mod:`symcalc.expr.registry` collects the records of the families
(``symcalc/expr/families/``); every other module asks the registry.

>>> import sympy as sp
>>> from symcalc.expr.registry import REGISTRY
>>> u = sp.Symbol("u")
>>> REGISTRY["tanh"].fprime(u)
1 - tanh(u)**2
>>> REGISTRY["tanh"].second_derivative(u)
-(2 - 2*tanh(u)**2)*tanh(u)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from symcalc.inputs import as_expr

__all__ = ["FunctionSpec", "NamedFunction", "Lowering", "latex_call", "call", "helper"]

#: A lowering: (printer, argument codes) -> code. The printer offers ``_call(name, *codes)``
#: (a namespace function: np.name or xp.name), ``_helper_call(name, *codes)`` (a helper of the
#: record's ``helpers``) and ``_zero`` (the literal 0 of its namespace).
Lowering = Callable[[Any, list[str]], str]


def call(name: str) -> Lowering:
    """The lowering that calls the namespace's function ``name`` (np.name / xp.name)."""
    return lambda p, codes: p._call(name, *codes)


def helper(name: str) -> Lowering:
    """The lowering that calls the record's helper function ``name``."""
    return lambda p, codes: p._helper_call(name, *codes)


@dataclass(frozen=True)
class FunctionSpec:
    """Everything symcalc knows about one named scalar function.

    name: the canonical name (plain text, the rule's name; ``ew_<name>`` for the matrix rule).
    cls: the SymPy class of f(u).
    derivative: f'(u) given (u, f(u), *params) -- the one source of truth; None when
        symcalc reads and prints the function but does not differentiate it.
    param_derivatives: for functions with parameters (leaky_relu(u, a)): one callable per
        parameter, the partial derivative given (u, f(u), *params).
    rule_latex: the rule as displayed, d f(u) = f'(u) du.
    latex: the LaTeX of the function's name (``\\sigma``, ``\\operatorname{ReLU}``).
    aliases: other parse names (the parser reads ``name`` and these).
    latex_commands: LaTeX commands read as this function (``arcsin`` for ``\\arcsin``).
    numpy: the NumPy / array-API lowering (:func:`call`, :func:`helper` or a Lowering);
        None: SymPy's NumPy printer's own.
    array_api: False when the array API has no function for it (erf); else the lowering is
        ``numpy``'s, or this Lowering.
    helpers: helper source templates, ``{np}`` standing for the namespace module; the
        array-API copy takes the namespace ``xp`` as its first parameter (generated).
    native: SymPy form SymEngine's LLVM backend compiles (given the arguments); None: as is.
    symengine: SymEngine knows the class natively (fast differentiation path).
    rewrite: the function in elementary terms (an independent route for the checks).
    canonical: (node) -> this function's form of a user's spelling, or None (sp.Max(0, t)
        -> relu(t)); ``canonical_classes`` are the classes of the nodes it looks at.
    domain: open interval the self-checks sample from.
    kinks: points where the derivative is the a.e. convention ``kink_note`` states.
    stable_forms: (class, mapping) pairs the compiler's ``stabilize`` applies: a mapping
        turns an overflow-prone spelling into this function (1/(1 + exp(-z)) -> sigmoid(z)),
        or returns None.
    complement: f(-u) = 1 - f(u) (sigmoid, normal_cdf): ``stabilize`` writes 1 - f(u) as
        f(-u), which has no cancellation.
    stable: the NumPy value and derivative are accurate relative to the value everywhere
        (the tests check this at |z| up to 1000).
    nargs: how many arguments a call takes.
    """

    name: str
    cls: type
    derivative: Callable[..., Any] | None
    rule_latex: str
    latex: str
    aliases: tuple[str, ...] = ()
    latex_commands: tuple[str, ...] = ()
    numpy: Lowering | None = None
    array_api: Lowering | bool = True
    helpers: Mapping[str, str] = field(default_factory=dict)
    native: Callable[..., Any] | None = None
    symengine: bool = False
    rewrite: Callable[..., Any] | None = None
    canonical: Callable[[Any], Any] | None = None
    canonical_classes: tuple[type, ...] = ()
    domain: tuple[float, float] = (-3.0, 3.0)
    kinks: tuple[float, ...] = ()
    kink_note: str = ""
    param_derivatives: tuple[Callable[..., Any], ...] = ()
    stable_forms: tuple[tuple[type, Callable[[Any], Any]], ...] = ()
    complement: bool = False
    stable: bool = False
    nargs: tuple[int, ...] = (1,)
    sample_params: tuple[Any, ...] = ()

    @property
    def parse_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def __call__(self, *args: Any) -> Any:
        return self.cls(*args)

    def fprime(self, u: Any, *params: Any) -> Any:
        """f'(u) in terms of u (and f(u) written as the function of u)."""
        if self.derivative is None:
            raise TypeError(f"{self.name} declares no derivative")
        return self.derivative(u, self.cls(u, *params), *params)

    def second_derivative(self, u: Any, *params: Any) -> Any:
        """f''(u), generated from f': d/du f'(u, f(u)) = g_u + g_f f'(u)."""
        fp = self.fprime(u, *params)
        return sp.diff(fp, u)

    def partial(self, argindex: int, node: Any) -> Any:
        """The partial derivative of ``node`` (an f(u, *params)) by its argindex-th argument."""
        u, *params = node.args
        if argindex == 1:
            return self.derivative(u, node, *params)  # type: ignore[misc]
        return self.param_derivatives[argindex - 2](u, node, *params)

    def elementary(self, *args: Any) -> Any:
        """f(args) in elementary terms (exp, log, Piecewise, erf): the checks' independent route."""
        if self.rewrite is None:
            return self.cls(*args)
        return self.rewrite(*args)


def latex_call(head: str, args: list[str]) -> str:
    r"""The LaTeX of a call: ``head\left(args\right)``, or the record's template
    (``\left|{0}\right|`` for abs) filled in.

    >>> latex_call(r"\sigma", ["z"]), latex_call(r"\left|{0}\right|", ["z"])
    ('\\sigma\\left(z\\right)', '\\left|z\\right|')
    """
    if "{0}" in head:
        return head.format(*args)
    return rf"{head}\left({', '.join(args)}\right)"


class NamedFunction(sp.Function):
    """Base of symcalc's own functions: strict arguments, derivatives and LaTeX from the record.

    The argument is read strictly (SymPy's ``Function`` would evaluate a string):

    >>> from symcalc.expr.functions import sigmoid
    >>> sigmoid("x")
    Traceback (most recent call last):
    ...
    symcalc.errors.InputTypeError: the argument of sigmoid is a string ('x'); symcalc never evaluates text. Build it from SymPy objects, or read it with symcalc.parse(text, symbols=...).
    """

    spec: FunctionSpec | None = None  # set when the record is registered

    def __new__(cls, *args, **options):
        args = tuple(as_expr(a, f"the argument of {cls.__name__}") for a in args)
        return super().__new__(cls, *args, **options)

    def fdiff(self, argindex=1):
        spec = type(self).spec
        if spec is None or spec.derivative is None:
            return super().fdiff(argindex)
        return spec.partial(argindex, self)

    def _eval_evalf(self, prec):
        spec = type(self).spec
        if spec is None or spec.rewrite is None:
            return None
        return spec.rewrite(*self.args)._eval_evalf(prec)

    def _eval_rewrite_as_exp(self, *args, **kwargs):
        spec = type(self).spec
        return spec.rewrite(*args) if spec is not None and spec.rewrite is not None else None

    _eval_rewrite_as_log = _eval_rewrite_as_exp
    _eval_rewrite_as_Piecewise = _eval_rewrite_as_exp

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        spec = type(self).spec
        name = spec.latex if spec is not None else rf"\operatorname{{{type(self).__name__}}}"
        base = latex_call(name, [printer._print(a) for a in self.args])
        return rf"{base}^{{{exp}}}" if exp else base
