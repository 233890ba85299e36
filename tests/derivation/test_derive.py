"""derive(): results, ordered steps naming their rules, recorded self-checks, errors."""

from __future__ import annotations

import pytest
import sympy as sp
from sympy import Trace

from symcalc.derivation.walker import derive
from symcalc.errors import InputError, NoRuleError, SelfCheckError
from symcalc.expr.functions import sigmoid, softplus
from symcalc.expr.structure import logistic_loss, matrix_symbol, vector
from symcalc.records import Derivation, Rule
from symcalc.rules import all_rules
from symcalc.rules.matrix import MATRIX_RULES
from symcalc.rules.scalar import SCALAR_RULES

x, y, z = sp.symbols("x y z")
RULE_IDS = {id(r) for r in all_rules()}


@pytest.mark.parametrize(
    "f",
    [
        x**2 * sp.sin(y),
        sp.exp(x * y) / (1 + x**2),
        sp.log(x) * sp.sqrt(y),
        sigmoid(x * y),
        softplus(x - y),
        sp.tanh(x) ** 3,
        x**y,
        2**x * sp.cos(y),
        sp.atan(x / y),
        (x + y) / (x - y),
        sp.log(1 + sp.exp(x)) - y * x,
        sp.erf(x) * sp.asin(y / 3),
    ],
)
def test_scalar_results_equal_sympy_diff(f):
    d = derive(f, [x, y], order=2)
    g, H = d.results["gradient"], d.results["hessian"]
    for i, v in enumerate((x, y)):
        assert sp.simplify((g[i] - sp.diff(f, v)).rewrite(sp.exp)) == 0
        for j, u in enumerate((x, y)):
            assert sp.simplify((H[i, j] - sp.diff(f, v, u)).rewrite(sp.exp)) == 0
    assert d.all_checks_passed and len(d.checks) == 4


def test_scalar_steps_name_their_rules_in_order():
    d = derive(x**2 * sp.sin(y), [x, y])
    diffs = [s for s in d.steps if s.note == "differential"]
    assert [s.rule.name for s in diffs] == ["power", "sin", "product"]
    assert diffs[0].before == x**2 and diffs[0].after == 2 * x * sp.Symbol("dx")
    assert d.steps[-1].rule.name == "scalar_identification"
    assert all(id(s.rule) in RULE_IDS for s in d.steps)


def test_quotient_and_chain_rules_are_recorded():
    d = derive(sp.exp(x) / y, [x, y])
    names = [s.rule.name for s in d.steps]
    assert "quotient" in names and "exp" in names


def test_single_symbol_and_jacobian():
    assert derive(x**3, x).results["gradient"] == sp.Matrix([3 * x**2])
    d = derive(sp.Matrix([x * y, x + sp.sin(y)]), [x, y])
    assert d.results["jacobian"] == sp.Matrix([[y, x], [1, sp.cos(y)]])
    assert d.all_checks_passed


def test_matrix_derivation_records_steps_and_checks():
    X, w, yy = matrix_symbol("X", "m", "n"), vector("w", "n"), vector("y", "m")
    d = derive(logistic_loss(X, w, yy), w, order=2)
    assert isinstance(d, Derivation)
    names = [s.rule.name for s in d.steps]
    for expected in (
        "ew_softplus",
        "matrix_constant_multiple",
        "trace",
        "scalar_as_trace",
        "trace_hadamard",
        "identification",
        "collect",
        "hessian_from_gradient",
        "ew_sigmoid",
        "hadamard_as_diag",
        "jacobian_identification",
    ):
        assert expected in names, expected
    assert {s.note for s in d.steps} <= {
        "differential",
        "canonical",
        "identify",
        "simplify",
        "hessian",
    }
    assert all(id(s.rule) in RULE_IDS for s in d.steps)
    assert all(s.rule.title and s.rule.latex for s in d.steps)
    assert len(d.checks) == 4 and d.all_checks_passed
    for c in d.checks:
        assert "max_abs_error" in c.numbers and c.numbers["max_abs_error"] < 1e-6
    assert "layout" in d.meta and d.meta["structure"]["w"] == "general"


def test_differential_steps_read_d_before_equals_after():
    X = matrix_symbol("X", "n", "n")
    d = derive(sp.log(sp.det(X)), X)
    step = next(s for s in d.steps if s.rule.name == "log_det")
    dX = d.meta["differential"]
    assert step.before == sp.log(sp.det(X))
    assert step.after == Trace(X.I * dX)
    assert step.rule.ref == "Matrix Cookbook (43)"


def test_a_wrong_scalar_rule_is_caught_by_the_self_check(monkeypatch):
    bad = Rule(
        "sin",
        "wrong",
        "d sin u = sin u du",
        "chain",
        "",
        lambda node, d: sp.sin(node.args[0]) * d(node.args[0]),
    )
    monkeypatch.setitem(SCALAR_RULES._by_class, sp.sin, [bad])
    with pytest.raises(SelfCheckError):
        derive(sp.sin(x) * y, [x, y])


def test_a_wrong_matrix_rule_is_caught_by_the_self_check(monkeypatch):
    from symcalc.rules.matrix import mul

    bad = Rule(
        "inverse",
        "wrong",
        "d X^-1 = X^-1 dX X^-1",
        "specific",
        "",
        lambda node, d: mul(node, d(node.arg), node),
    )
    monkeypatch.setitem(MATRIX_RULES._by_class, sp.Inverse, [bad])
    X, a = matrix_symbol("X", "n", "n"), vector("a", "n")
    with pytest.raises(SelfCheckError):
        derive(a.T * X.I * a, X)


def test_no_rule_errors_name_the_construct():
    with pytest.raises(NoRuleError, match="zeta"):  # Piecewise has a rule now (branchwise)
        derive(sp.zeta(x), x)
    with pytest.raises(NoRuleError, match="floor"):
        derive(sp.floor(x) * y, [x, y])
    with pytest.raises(NoRuleError, match="Integral"):
        derive(sp.Integral(x * z, (z, 0, 1)) * x, x)


def test_undefined_function_is_a_no_rule_error_naming_it():
    """An undefined sp.Function has no derivative symcalc could state: NoRuleError, never a
    silent Derivative (issue 12; every route agrees, tests/routes/test_routes_agree.py)."""
    from symcalc.errors import NoRuleError

    f = sp.Function("f")
    with pytest.raises(NoRuleError, match=r"\bf\b"):
        derive(f(x**2), x)


def test_bad_wrt_and_order():
    with pytest.raises(InputError):
        derive(x**2, 3)
    with pytest.raises(InputError):
        derive(x**2, x, order=0)


def test_cyclic_trace_step_is_recorded_when_it_moves_something():
    X = matrix_symbol("X", "n", "k")
    d = derive(sp.log(sp.det(X.T * X)), X)
    names = [s.rule.name for s in d.steps]
    assert "cyclic_trace" in names and "trace_transpose" in names
    assert all(s.before != s.after for s in d.steps if s.note == "canonical")


def test_sc_derive_is_callable_after_the_module_is_imported():
    import symcalc as sc
    import symcalc.derivation.walker  # noqa: F401  (binds the package attribute to the module)

    d = sc.derive(x**2, x)
    assert d.results["gradient"] == sp.Matrix([2 * x])
