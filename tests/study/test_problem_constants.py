"""Constants with values in problem files: fixed in derivations and in hand-derivation checks."""

from __future__ import annotations

import sympy as sp

import symcalc as sc
from symcalc.cli.entry import main

PROBLEM = """
title = "constants with values"
objective = "a*x^2 + y^3"

[variables]
y = {{ shape = [] }}

[constants]
a = {{ shape = [], value = 2 }}
x = {{ shape = [], value = 3 }}

[[claims]]
of = "gradient"
expr = "[{claim}]"
"""


def _write(tmp_path, claim):
    path = tmp_path / "constants.toml"
    path.write_text(PROBLEM.format(claim=claim))
    return path


def test_a_wrong_claim_is_probed_only_over_the_variables(tmp_path):
    study = sc.load_problem(_write(tmp_path, "2*y^2")).run()
    (result,) = study.claims
    assert result.holds is False
    point = result.counterexample["point"]
    assert {str(k) for k in point} == {"y"}
    y = next(iter(point))
    assert 2 * point[y] ** 2 != 3 * point[y] ** 2  # the counterexample really separates them


def test_a_right_claim_holds_and_the_self_checks_see_the_constants(tmp_path):
    study = sc.load_problem(_write(tmp_path, "3*y^2")).run()
    assert study.claims[0].holds is True
    assert study.derivations and all(c.passed for d in study.derivations.values() for c in d.checks)


def test_derive_with_a_free_parameter_checks_at_random_parameter_values():
    x, k = sp.symbols("x k")
    d = sc.derive(k * sp.exp(k * x) + sp.sin(k), [x], order=2)
    assert d.all_checks_passed and len(d.checks) == 4


def test_cli_exit_codes_follow_the_verdict(tmp_path, capsys):
    assert main(["verify", str(_write(tmp_path, "2*y^2"))]) == 1
    assert main(["verify", str(_write(tmp_path, "3*y^2"))]) == 0
