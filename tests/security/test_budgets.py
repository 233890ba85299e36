"""Every entry point takes ``budget=`` seconds and stops there: a clean BudgetExceededError, soon,
with no thread left running and no CPU burnt after the call returns (finding 5)."""

from __future__ import annotations

import inspect
import threading
import time

import pytest
import sympy as sp

import symcalc as sc
from symcalc.budget import DEFAULT_BUDGETS
from symcalc.errors import BudgetExceededError

GUARD = 10.0  # seconds: a hang guard for a loaded machine, not a timing test


def _pair_energy(n: int, power: int, salt: int):
    """A fresh (uncached) pair energy of n scalar variables: seconds of work for derive/compile."""
    xs = sp.symbols(f"q{salt}_0:{n}", real=True)
    return sp.Add(
        *[1 / ((xs[i] - xs[j]) ** 2 + salt) ** power for i in range(n) for j in range(i)]
    ), list(xs)


def _calls():
    f, xs = _pair_energy(12, 6, 1)
    g, ys = _pair_energy(14, 7, 2)
    h, zs = _pair_energy(12, 6, 3)
    a, b = sp.symbols("a b", real=True)
    field = [2 * a * sp.exp(a**2) * sp.cos(b), -sp.exp(a**2) * sp.sin(b)]
    return {
        "hessian": lambda budget: sc.hessian(g, ys, budget=budget),
        "derive": lambda budget: sc.derive(f, xs, order=2, budget=budget),
        "compile": lambda budget: sc.compile(h, zs, budget=budget),
        "potential": lambda budget: sc.potential(field, [a, b], budget=budget),
        "parse": lambda budget: sc.parse(
            "+".join(f"sin(x)^{k}" for k in range(1, 400)), symbols={"x": a}, budget=budget
        ),
    }


@pytest.mark.parametrize("name", sorted(_calls()))
def test_a_small_budget_stops_the_call_cleanly(name):
    call = _calls()[name]
    threads = threading.active_count()
    start = time.monotonic()
    with pytest.raises(BudgetExceededError, match="budget"):
        call(0.01)
    assert time.monotonic() - start < GUARD
    assert threading.active_count() == threads
    cpu = time.process_time()
    time.sleep(0.3)
    assert time.process_time() - cpu < 0.1, "work went on after the call returned"


def test_report_takes_a_budget():
    x, y = sp.symbols("x y", real=True)
    d = sc.derive((1 - x) ** 2 + 100 * (y - x**2) ** 2, [x, y], order=2)
    with pytest.raises(BudgetExceededError):
        sc.report(d, budget=1e-4)
    assert "\\begin{document}" in sc.report(d).tex  # and the default is generous


def test_the_default_budgets_are_generous_and_overridable():
    x = sp.Symbol("x")
    assert sc.gradient(x**3, [x], budget=None)[0] == 3 * x**2  # None: no limit
    assert sc.derive(x**3, [x], budget=5).results["gradient"][0] == 3 * x**2
    for entry in ("parse", "gradient", "hessian", "derive", "compile", "load_problem", "report"):
        assert DEFAULT_BUDGETS[entry] >= 10
    with pytest.raises(sc.InputError, match="budget"):
        sc.gradient(x**3, [x], budget=-1)


@pytest.mark.parametrize(
    "name",
    [
        "parse",
        "parse_latex",
        "gradient",
        "hessian",
        "jacobian",
        "derive",
        "compile",
        "compile_array_api",
        "load_problem",
        "report",
        "verify",
        "critical_points",
        "potential",
        "curl",
        "divergence",
        "laplacian",
        "is_conservative",
        "descent_rate",
    ],
)
def test_entry_points_take_a_budget(name):
    """help(sc.name) shows ``budget=`` with its default."""
    param = inspect.signature(getattr(sc, name)).parameters.get("budget")
    assert param is not None, f"sc.{name} takes no budget="
    assert param.default is None or param.default > 0
