"""The rule table: rules as data, looked up by node class (following the MRO).

>>> from symcalc.records import Rule
>>> t = RuleTable("demo")
>>> _ = t.add(Rule("r", "A rule", "x", "linear", "", None), int)
>>> [r.name for r in t.lookup(True)]  # bool is an int
['r']
"""

from __future__ import annotations

from collections.abc import Iterator

from symcalc.records import Rule

__all__ = ["RuleTable"]


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
