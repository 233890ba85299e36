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

from collections.abc import Iterable, Iterator

from symcalc.records import Rule


class RuleTable:
    """An ordered collection of rules, each registered for one or more classes."""

    def __init__(self, name: str, description: str = ""):
        self.name = name
        self.description = description
        self._rules: list[Rule] = []
        self._by_class: dict[type, list[Rule]] = {}

    def add(self, rule: Rule, *classes: type) -> Rule:
        if any(r.name == rule.name for r in self._rules):
            raise ValueError(f"rule {rule.name!r} is already in table {self.name!r}")
        self._rules.append(rule)
        for cls in classes:
            self._by_class.setdefault(cls, []).append(rule)
        return rule

    def lookup(self, node) -> list[Rule]:
        """The rules registered for the classes of ``node`` (most specific class first)."""
        found: list[Rule] = []
        for cls in type(node).__mro__:
            for rule in self._by_class.get(cls, ()):
                if rule not in found:
                    found.append(rule)
        return found

    def __getitem__(self, name: str) -> Rule:
        for r in self._rules:
            if r.name == name:
                return r
        raise KeyError(name)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def __repr__(self) -> str:
        return f"RuleTable({self.name!r}, {len(self)} rules)"


def all_tables() -> list[RuleTable]:
    """Every rule table of the engine (for the report and the rule tests)."""
    from symcalc.rules.matrix import CANONICAL_RULES, MATRIX_RULES, THEOREMS
    from symcalc.rules.network import NETWORK_CANONICAL, NETWORK_RULES  # issue 14 (networks)
    from symcalc.rules.scalar import SCALAR_RULES

    return [SCALAR_RULES, MATRIX_RULES, CANONICAL_RULES, THEOREMS, NETWORK_RULES, NETWORK_CANONICAL]


def all_rules() -> Iterable[Rule]:
    for table in all_tables():
        yield from table


__all__ = ["RuleTable", "all_tables", "all_rules"]
