"""The records every stage shares: rules, steps, checks and derivations.

A :class:`Rule` is data: the engine applies it, the report prints it. A
:class:`Derivation` is what ``derive`` returns and what verify, compile, the
report, the CLI and the notebooks read.

>>> import sympy as sp
>>> from symcalc.records import Rule, Step, Derivation
>>> r = Rule("power", "Power rule", r"\\mathrm{d}(u^n) = n u^{n-1}\\,\\mathrm{d}u")
>>> x = sp.Symbol("x")
>>> d = Derivation(expr=x**2, wrt=(x,))
>>> _ = d.add_step(r, x**2, 2*x)
>>> d.steps[0].rule.name
'power'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


class RichDisplay:
    """Mixin: Jupyter shows a record through the renderers of :mod:`symcalc.printing.display`.

    Records are plain data and import no later stage: the display module is looked up by
    name when a notebook asks for the HTML or LaTeX (as SymPy's printers find ``_print_X``).
    """

    def _repr_html_(self) -> str:
        return importlib.import_module("symcalc.printing.display").to_html(self)

    def _repr_latex_(self) -> str:
        return importlib.import_module("symcalc.printing.display").to_latex(self)


@dataclass(frozen=True)
class Rule:
    """One derivative rule, simplification or theorem, as data.

    name:   short identifier, unique in its table ("product", "inverse", ...).
    title:  how a person names it ("Product rule").
    latex:  the rule stated in LaTeX, without surrounding ``$``.
    kind:   "linear", "product", "specific", "chain", "canonical", "identification"
            or "theorem" (after JAX's kinds of rule).
    ref:    a reference, e.g. "Matrix Cookbook (59)".
    apply:  the function the engine calls (its signature depends on the table).
    """

    name: str
    title: str
    latex: str
    kind: str = "specific"
    ref: str = ""
    apply: Callable[..., Any] | None = field(default=None, compare=False, repr=False)


@dataclass
class Step:
    """One recorded step: a rule took ``before`` to ``after`` (SymPy objects)."""

    rule: Rule
    before: Any
    after: Any
    note: str = ""


@dataclass
class Check:
    """One self-check the engine ran: what, whether it passed, and the numbers."""

    name: str
    passed: bool
    detail: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass
class Derivation(RichDisplay):
    """The result of ``derive``: the results in order, the steps and the checks.

    ``results`` maps a name ("gradient", "hessian", "jacobian", "curl",
    "potential", ...) to a SymPy object. ``steps`` is ordered. ``checks`` lists
    the self-checks run (element-wise diff at a concrete size, finite
    differences, ...). ``meta`` holds anything a later stage may want to show
    (variable shapes, assumptions, layout convention).
    """

    expr: Any
    wrt: Sequence[Any]
    results: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def add_step(self, rule: Rule, before: Any, after: Any, note: str = "") -> Step:
        step = Step(rule, before, after, note)
        self.steps.append(step)
        return step

    def add_check(self, name: str, passed: bool, detail: str = "", **numbers: Any) -> Check:
        check = Check(name, bool(passed), detail, dict(numbers))
        self.checks.append(check)
        return check

    @property
    def gradient(self) -> Any:
        return self.results.get("gradient")

    @property
    def hessian(self) -> Any:
        return self.results.get("hessian")

    @property
    def all_checks_passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def rules_used(self) -> list[Rule]:
        """The distinct rules of the steps, in order of first use."""
        seen: dict[str, Rule] = {}
        for s in self.steps:
            seen.setdefault(s.rule.name, s.rule)
        return list(seen.values())
