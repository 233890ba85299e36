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
    "named_spellings",
    "needs_rewrite",
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
    if not isinstance(expr, sp.Basic):
        return expr
    expr = named_spellings(expr)
    classes = REGISTRY.canonical_classes()
    if not classes or not expr.has(*classes):
        return expr
    return _canonical_node(expr, classes)


def named_spellings(expr: Any) -> Any:
    """Hand-written forms of the records' functions as the functions (bottom-up, inside the
    Lambdas of elementwise matrix functions too): ``log(1 + exp(t))`` -> ``softplus(t)``,
    ``1/(1 + exp(-t))`` and ``exp(t)/(1 + exp(t))`` -> ``sigmoid(t)``, ``log(sigmoid(t))`` ->
    ``log_sigmoid(t)`` -- the records' ``stable_forms``. Their derivatives then read as a person
    writes them (sigma(t)(1 - sigma(t)), not an exp quotient) and compile stably.

    >>> t = sp.Symbol("t")
    >>> named_spellings(sp.log(1 + sp.exp(t)) + sp.exp(t) / (1 + sp.exp(t)))
    sigmoid(t) + softplus(t)
    >>> named_spellings(sp.log(1 / (1 + sp.exp(-t))))
    log_sigmoid(t)
    """
    if not isinstance(expr, sp.Basic) or expr.is_Atom or not expr.has(*_spelling_heads()):
        return expr
    return _spelled(expr)


def _spelling_heads() -> tuple[type, ...]:
    """The heads a hand-written spelling contains: exp, or a record's function under a log."""
    return (sp.exp, *REGISTRY.own_classes())


def _spelled(node: sp.Basic) -> sp.Basic:
    if node.is_Atom or not node.has(*_spelling_heads()):
        return node
    args = [_spelled(a) if isinstance(a, sp.Basic) else a for a in node.args]
    if any(a is not b for a, b in zip(args, node.args)):
        node = node.func(*args)
    for spec in REGISTRY:
        for cls, form in spec.stable_forms:
            if isinstance(node, cls):
                new = form(node)
                if new is not None:
                    return _spelled(new)
    return node


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
