"""Rule tables: derivative rules as data, looked up by the walker by node class.

A table maps SymPy classes to an ordered list of :class:`symcalc.records.Rule`
records. The walker (``symcalc.derive``) asks the table for the rules of a
node's class (following the MRO) and calls ``rule.apply`` on each in order
until one answers (``None`` means "not mine"); it never names a rule.

>>> import sympy as sp
>>> from symcalc.rules.scalar import SCALAR_RULES
>>> [r.name for r in SCALAR_RULES.lookup(sp.sin(sp.Symbol("x")))]
['sin', 'declared_derivative']
"""

from __future__ import annotations

from collections.abc import Iterable

from symcalc.records import Rule
from symcalc.rules.table import RuleTable


def all_tables() -> list[RuleTable]:
    """Every rule table of the engine (for the report and the rule tests)."""
    from symcalc.rules.landscape import LANDSCAPE_RULES
    from symcalc.rules.matrix import CANONICAL_RULES, MATRIX_RULES, THEOREMS
    from symcalc.rules.network import NETWORK_CANONICAL, NETWORK_RULES  # issue 14 (networks)
    from symcalc.rules.scalar import SCALAR_RULES

    return [
        SCALAR_RULES,
        MATRIX_RULES,
        CANONICAL_RULES,
        THEOREMS,
        NETWORK_RULES,
        NETWORK_CANONICAL,
        LANDSCAPE_RULES,
    ]


def all_rules() -> Iterable[Rule]:
    for table in all_tables():
        yield from table


__all__ = ["RuleTable", "all_tables", "all_rules"]
