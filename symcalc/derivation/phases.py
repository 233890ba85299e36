"""The two phases of a derivation: differentiate by the rule tables, then pull the
cotangent through to the differentials (canonical form tr(G^T dX)).

Shared by the walker (explicit symbols) and the matrix engine, so neither imports the
other at module level.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> dx = differential_symbol(x)
>>> Differentiator({x: dx})(sp.sin(x))
dx*cos(x)
"""

from __future__ import annotations

from collections.abc import Iterable

import sympy as sp
from sympy import MatrixExpr, MatrixSymbol, Trace, ZeroMatrix

from symcalc.errors import NoRuleError
from symcalc.records import Derivation
from symcalc.rules.matrix import CANONICAL_RULES, MATRIX_RULES
from symcalc.rules.network import NETWORK_CANONICAL, NETWORK_RULES
from symcalc.rules.scalar import SCALAR_RULES

#: The tables the walker reads, in order of precedence.
DIFFERENTIAL_TABLES = (MATRIX_RULES, NETWORK_RULES, SCALAR_RULES)
#: The canonical-form tables, in order of precedence.
CANONICAL_TABLES = (CANONICAL_RULES, NETWORK_CANONICAL)

__all__ = [
    "Differentiator",
    "Canonicalizer",
    "differential_symbol",
    "DIFFERENTIAL_TABLES",
    "CANONICAL_TABLES",
]


def _describe(node) -> str:
    return f"{type(node).__name__} ({sp.sstr(node)[:120]})"


# --------------------------------------------------------------------------------------
# Phase 1: differentiate (one rule per construct)
# --------------------------------------------------------------------------------------
class Differentiator:
    """d(node): the differential of a node, by the first rule of the tables that fits.

    Calling the instance on a node returns its differential and records one step
    per construct (post-order). ``depends(e)`` tells whether e involves a variable.
    """

    def __init__(
        self,
        dvars: dict,
        derivation: Derivation | None = None,
        note: str = "differential",
        tables=DIFFERENTIAL_TABLES,
    ):
        self.dvars = dict(dvars)
        self.variables = tuple(self.dvars)
        self.derivation = derivation
        self.note = note
        self.tables = tables
        self._cache: dict = {}

    def depends(self, e) -> bool:
        return bool(getattr(e, "has", None)) and e.has(*self.variables)

    def __call__(self, node):
        if node in self.dvars:
            return self.dvars[node]
        if not self.depends(node):
            return ZeroMatrix(*node.shape) if isinstance(node, MatrixExpr) else sp.S.Zero
        if node in self._cache:
            return self._cache[node]
        for table in self.tables:
            for rule in table.lookup(node):
                out = rule.apply(node, self)
                if out is not None:
                    if self.derivation is not None:
                        self.derivation.add_step(rule, node, out, self.note)
                    self._cache[node] = out
                    return out
        raise NoRuleError(
            f"no differentiation rule for {_describe(node)}; "
            f"symcalc cannot differentiate this construct"
        )


# --------------------------------------------------------------------------------------
# Phase 2: canonical form (pull the cotangent through to the differentials)
# --------------------------------------------------------------------------------------
class Canonicalizer:
    """Rewrite <C, node> (tr(C^T node), or c*node for a scalar) as sum_k <G_k, dX_k>.

    ``pull(node, C)`` collects, for each differential symbol dX, the cotangents
    that reach it: the canonical differential is sum tr(G^T dX).
    """

    def __init__(
        self, dsymbols: Iterable, derivation: Derivation | None = None, note: str = "canonical"
    ):
        self.dsymbols = tuple(dsymbols)
        self.derivation = derivation
        self.note = note
        self.contributions: dict = {s: [] for s in self.dsymbols}

    def depends(self, e) -> bool:
        return bool(getattr(e, "has", None)) and e.has(*self.dsymbols)

    @staticmethod
    def inner(C, node):
        if isinstance(node, MatrixExpr):
            from symcalc.expr.algebra import mul, transpose

            return Trace(mul(transpose(C), node))
        return C * node

    def pull(self, node, C):
        if node in self.contributions:
            self.contributions[node].append(C)
            return
        if not self.depends(node):
            return
        for rule in (r for table in CANONICAL_TABLES for r in table.lookup(node)):
            out = rule.apply(node, C, self)
            if out is None:
                continue
            if self.derivation is not None and (
                isinstance(node, MatrixExpr) or not isinstance(node, (sp.Add, sp.Mul))
            ):
                after = sp.Add(*[self.inner(c, n) for n, c in out])
                before = self.inner(C, node)
                if after != before:  # a step that changes nothing is not shown
                    self.derivation.add_step(rule, before, after, self.note)
            for sub, c in out:
                self.pull(sub, c)
            return
        raise NoRuleError(
            f"no canonical-form rule for {_describe(node)} in a differential; "
            f"symcalc cannot bring it to the form tr(G^T dX)"
        )


def differential_symbol(var, taken: Iterable = ()):
    """The differential of a variable: a Symbol d<x> or a MatrixSymbol d<X> (general)."""
    names = {getattr(s, "name", str(s)) for s in taken}
    name = f"d{var.name}"
    while name in names:
        name += "'"
    if isinstance(var, MatrixExpr):
        return MatrixSymbol(name, *var.shape)
    return sp.Symbol(name)
