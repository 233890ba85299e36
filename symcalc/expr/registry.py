"""The construct registry: one :class:`FunctionSpec` record per named scalar function.

Every stage asks the registry, none spells a function's name: the rule tables generate
the scalar chain rule and the elementwise matrix rule from a record's derivative, the
printers read its LaTeX and text names, the parser its parse names, the code printers
its lowerings, and :func:`canonical` maps what a user writes with SymPy (``sp.Max(0, t)``,
``sp.Abs(t)``) onto the records. The records live in one module per family
(``symcalc/expr/families/``); adding a function is one record there plus its tests.

>>> import sympy as sp
>>> from symcalc.expr.registry import REGISTRY, canonical
>>> t = sp.Symbol("t")
>>> REGISTRY["relu"].fprime(t)
heaviside(t)
>>> canonical(sp.Max(0, t - 1) + sp.Abs(t))
abs(t) + relu(t - 1)
>>> REGISTRY.of(sp.sin(t)).latex
'\\\\sin'
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sympy as sp

from symcalc.expr.families import activations, elementary, piecewise
from symcalc.expr.spec import FunctionSpec, NamedFunction

__all__ = [
    "FunctionSpec",
    "NamedFunction",
    "Registry",
    "REGISTRY",
    "canonical",
    "expand_named",
    "needs_rewrite",
    "lift",
]


class Registry:
    """The records, looked up by name (parse names included) or by SymPy class."""

    def __init__(self) -> None:
        self._specs: list[FunctionSpec] = []
        self._by_class: dict[type, FunctionSpec] = {}
        self._by_name: dict[str, FunctionSpec] = {}

    def register(self, spec: FunctionSpec) -> FunctionSpec:
        taken = [n for n in spec.parse_names if n in self._by_name]
        if taken or spec.cls in self._by_class:
            raise ValueError(f"record {spec.name!r} clashes with a registered name {taken}")
        self._specs.append(spec)
        self._by_class[spec.cls] = spec
        for n in spec.parse_names:
            self._by_name[n] = spec
        if issubclass(spec.cls, NamedFunction):
            spec.cls.spec = spec
        return spec

    def __getitem__(self, name: str) -> FunctionSpec:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[FunctionSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def get(self, name: str) -> FunctionSpec | None:
        return self._by_name.get(name)

    def by_class(self, cls: type) -> FunctionSpec | None:
        """The record of a SymPy class (or of its nearest registered base class)."""
        for c in getattr(cls, "__mro__", ()):
            if c in self._by_class:
                return self._by_class[c]
        return None

    def of(self, node: Any) -> FunctionSpec | None:
        """The record of an applied function f(u), or None."""
        return self.by_class(type(node))

    def names(self) -> dict[str, FunctionSpec]:
        """Every parse name -> its record."""
        return dict(self._by_name)

    def classes(self, **having: Any) -> tuple[type, ...]:
        """The classes of the records whose fields have the given truth values
        (``classes(symengine=True)``: what SymEngine differentiates natively)."""
        return tuple(
            s.cls for s in self._specs if all(bool(getattr(s, k)) == v for k, v in having.items())
        )

    def own_classes(self) -> tuple[type, ...]:
        """symcalc's own function classes (numerics evaluate them through their rewrite)."""
        return tuple(s.cls for s in self._specs if issubclass(s.cls, NamedFunction))

    def kink_classes(self) -> tuple[type, ...]:
        """Classes whose derivative is an a.e. convention at a kink (samplers avoid the kinks)."""
        return tuple(s.cls for s in self._specs if s.kinks)

    def canonical_classes(self) -> tuple[type, ...]:
        return tuple({c for s in self._specs for c in s.canonical_classes})


REGISTRY = Registry()
for _family in (elementary, activations, piecewise):
    for _spec in _family.SPECS:
        REGISTRY.register(_spec)


# --------------------------------------------------------------------------------------
# Canonical forms: what a user writes with SymPy, as the records' functions
# --------------------------------------------------------------------------------------
def canonical(expr: Any) -> Any:
    """``expr`` with user spellings mapped onto the records (applied where expressions enter
    derive, gradient and compile): ``Max(0, t)`` / ``Max(t, 0)`` -> ``relu(t)``, other
    ``Max`` / ``Min`` through relu, ``Abs`` -> ``abs``, ``sign`` -> ``sign``,
    ``Heaviside(t, 0)`` -> ``heaviside(t)``; an explicit matrix (``sp.ImmutableMatrix`` too)
    becomes a ``Matrix`` of canonical entries, which every route reads as explicit.

    >>> import sympy as sp
    >>> a, b = sp.symbols("a b")
    >>> canonical(sp.Max(a, b))
    b + relu(a - b)
    >>> canonical(sp.Matrix([sp.Max(a, 0)]))
    Matrix([[relu(a)]])
    """
    if isinstance(expr, sp.MatrixBase):  # explicit entries (an ImmutableMatrix too): a Matrix
        return sp.Matrix(expr.shape[0], expr.shape[1], [canonical(e) for e in expr])
    classes = REGISTRY.canonical_classes()
    if not isinstance(expr, sp.Basic) or not classes or not expr.has(*classes):
        return expr
    return _canonical_node(expr, classes)


def _canonical_node(node: sp.Basic, classes: tuple[type, ...]) -> sp.Basic:
    if node.is_Atom or not node.has(*classes):
        return node
    args = [_canonical_node(a, classes) if isinstance(a, sp.Basic) else a for a in node.args]
    if any(a is not b for a, b in zip(args, node.args)):
        node = node.func(*args)
    if isinstance(node, classes):
        for spec in REGISTRY:
            if spec.canonical is not None and isinstance(node, spec.canonical_classes):
                new = spec.canonical(node)
                if new is not None:
                    return _canonical_node(new, classes)
    return node


def needs_rewrite(expr: Any) -> bool:
    """True when ``expr`` holds symcalc's own functions (numeric code that only knows
    SymPy's functions evaluates ``expand_named(expr)`` instead)."""
    return bool(getattr(expr, "has", None)) and expr.has(*REGISTRY.own_classes())


def expand_named(expr: Any) -> Any:
    """symcalc's own functions written out in elementary terms (exp, log, Piecewise, erf).

    >>> import sympy as sp
    >>> from symcalc.expr.functions import sigmoid
    >>> expand_named(sigmoid(sp.Symbol("x")))
    1/(1 + exp(-x))
    """
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(expand_named)
    if not needs_rewrite(expr):
        return expr
    return expr.replace(
        lambda n: isinstance(n, REGISTRY.own_classes()),
        lambda n: expand_named(REGISTRY.of(n).elementary(*n.args)),  # type: ignore[union-attr]
    )


# --------------------------------------------------------------------------------------
# Lifting a scalar derivative to an elementwise matrix expression
# --------------------------------------------------------------------------------------
def lift(e: Any, u: sp.Symbol, Z: Any, F: Any = None) -> Any:
    """The matrix form of the scalar ``e(u)`` applied entry by entry to ``Z``: u -> Z,
    g(u) -> elementwise(g, Z), products -> Hadamard products, powers -> Hadamard powers,
    constants -> broadcast (c times the all-ones matrix). ``F``: the node f(Z) itself,
    standing for f(u) (so sigma'(Z) reads sigma(Z) o (1 - sigma(Z))).

    >>> import sympy as sp
    >>> from symcalc.expr.functions import sigmoid
    >>> u, Z = sp.Symbol("u"), sp.MatrixSymbol("Z", 2, 2)
    >>> from symcalc.printing.text import text
    >>> text(lift(sigmoid(u) * (1 - sigmoid(u)), u, Z))
    'sigmoid(Z) .* (1 - sigmoid(Z))'
    >>> text(lift(sigmoid(-u) + u**2, u, Z))
    'sigmoid(-Z) + Z.^2'
    """
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

    from symcalc.rules.matrix import elementwise, hadamard, hadamard_power, mul

    ones = sp.OneMatrix(*Z.shape)

    def go(x: Any) -> Any:
        if not x.has(u):
            return mul(x, ones) if x != 1 else ones
        if x == u:
            return Z
        if isinstance(x, sp.Add):
            const, rest = x.as_independent(u, as_Add=True)
            terms = [go(t) for t in sp.Add.make_args(rest)]
            if const != 0:
                terms.insert(0, go(const))
            return sp.MatAdd(*terms).doit(deep=False)
        if isinstance(x, sp.Mul):
            coeff, rest = x.as_independent(u, as_Add=False)
            factors = [go(a) for a in sp.Mul.make_args(rest)]
            # function values first, as a person writes them: sigma(Z) o (1 - sigma(Z))
            factors.sort(key=lambda m: not isinstance(m, ElementwiseApplyFunction))
            h = hadamard(*factors) if len(factors) > 1 else factors[0]
            return mul(coeff, h) if coeff != 1 else h
        if isinstance(x, sp.Pow) and not x.exp.has(u):
            return hadamard_power(go(x.base), x.exp)
        if F is not None and x == F[1]:
            return F[0]
        if isinstance(x, sp.Function) and x.args and not any(a.has(u) for a in x.args[1:]):
            t = sp.Dummy("t")  # g(h(u)) -> g.(h(Z)): sigma(-u) -> sigma.(-Z)
            return elementwise(sp.Lambda(t, x.func(t, *x.args[1:])), go(x.args[0]))
        return elementwise(sp.Lambda(u, x), Z)

    return go(sp.sympify(e, strict=True))
