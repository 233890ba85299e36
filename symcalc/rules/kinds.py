"""Kinds of rule, as in JAX (``deflinear``, ``defbilinear``): one definition, two rules.

A linear construct L (transpose, trace, diag, a sum) has the differential d L(X) = L(dX)
and, in a trace, the canonical form tr(C^T L(X)) = tr(L*(C)^T X) with L* its adjoint.
:func:`deflinear` registers both rules from the map and its adjoint, so the differential
and the canonical form cannot drift apart. A bilinear construct B (the Hadamard and the
Kronecker product) has the product rule d B(X, Y) = B(dX, Y) + B(X, dY) and, for the factor
that holds the differential, the adjoint of B with the other factors fixed:
:func:`defbilinear` registers both. ``LINEAR`` and ``BILINEAR`` list what was registered
(the tests check every adjoint numerically: tests/rules/test_kinds.py).

>>> import sympy as sp
>>> from symcalc.rules.matrix import CANONICAL_RULES, MATRIX_RULES
>>> [k.name for k in LINEAR]
['matrix_sum', 'transpose', 'trace', 'diag_matrix', 'vec', 'unvec']
>>> MATRIX_RULES["transpose"].kind, CANONICAL_RULES["trace_transpose"].kind
('linear', 'canonical')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from symcalc.records import Rule
from symcalc.rules.table import RuleTable

__all__ = ["LinearKind", "BilinearKind", "LINEAR", "BILINEAR", "deflinear", "defbilinear"]


@dataclass(frozen=True)
class LinearKind:
    """A linear construct: ``forward(node, dargs)`` is L applied to the differentials of the
    arguments it depends on (a dict arg -> its differential); ``adjoint(node, C, arg)`` is
    the cotangent of ``arg`` given the cotangent C of the node (None: no canonical rule)."""

    name: str
    cls: type
    forward: Callable[[Any, dict], Any]
    adjoint: Callable[[Any, Any, Any], Any] | None
    canonical_name: str | None = None


@dataclass(frozen=True)
class BilinearKind:
    """A product: ``build(*factors)`` makes it; ``adjoint(node, k, C)`` is the cotangent of
    factor k (the only one holding the differential) given C, or None when there is none."""

    name: str
    cls: type
    build: Callable[..., Any]
    adjoint: Callable[[Any, int, Any], Any] | None
    canonical_name: str | None = None


LINEAR: list[LinearKind] = []
BILINEAR: list[BilinearKind] = []


def _is_zero(e) -> bool:
    return e == 0 or getattr(e, "is_ZeroMatrix", False)


def deflinear(
    kind: LinearKind,
    differential: tuple[RuleTable, str, str, str],
    canonical: tuple[RuleTable, str, str, str] | None = None,
) -> LinearKind:
    """Register a linear construct's differential rule and (when it has an adjoint) its
    canonical-form rule. ``differential`` / ``canonical``: (table, title, LaTeX, reference)."""
    table, title, latex, reference = differential

    def apply(node, d):
        dargs = {a: d(a) for a in node.args if d.depends(a)}
        return kind.forward(node, dargs)

    table.add(Rule(kind.name, title, latex, "linear", reference, apply), kind.cls)
    if canonical is not None and kind.adjoint is not None:
        ctable, ctitle, clatex, cref = canonical
        adjoint = kind.adjoint

        def pull(node, C, ctx):
            return [(a, adjoint(node, C, a)) for a in node.args if ctx.depends(a)]

        ctable.add(
            Rule(kind.canonical_name or kind.name, ctitle, clatex, "canonical", cref, pull),
            kind.cls,
        )
    LINEAR.append(kind)
    return kind


def defbilinear(
    kind: BilinearKind,
    differential: tuple[RuleTable, str, str, str],
    canonical: tuple[RuleTable, str, str, str] | None = None,
    add: Callable[[Any, list], Any] | None = None,
) -> BilinearKind:
    """Register a product's product rule and its canonical-form rule (the adjoint in the
    factor that holds the differential). ``add(node, terms)`` sums the product rule's terms
    (a zero of the node's shape when there are none)."""
    table, title, latex, reference = differential

    def apply(node, d):
        args = list(node.args)
        terms = []
        for i, a in enumerate(args):
            if not d.depends(a):
                continue
            da = d(a)
            if _is_zero(da):
                continue
            terms.append(kind.build(*args[:i], da, *args[i + 1 :]))
        return add(node, terms) if add is not None else sum(terms[1:], terms[0])

    table.add(Rule(kind.name, title, latex, "product", reference, apply), kind.cls)
    if canonical is not None and kind.adjoint is not None:
        ctable, ctitle, clatex, cref = canonical
        adjoint = kind.adjoint

        def pull(node, C, ctx):
            dep = [i for i, a in enumerate(node.args) if ctx.depends(a)]
            if len(dep) != 1:
                return None
            cot = adjoint(node, dep[0], C)
            return None if cot is None else [(node.args[dep[0]], cot)]

        ctable.add(
            Rule(kind.canonical_name or kind.name, ctitle, clatex, "canonical", cref, pull),
            kind.cls,
        )
    BILINEAR.append(kind)
    return kind
