"""load_problem reads a dict as well as TOML: the same Problem, the same checks, the same errors."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
import sympy as sp

import symcalc as sc
from symcalc.errors import ProblemFileError
from symcalc.study.load import problem_from_dict

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.toml"))


def _fields(problem) -> dict:
    """Every field of a Problem but where it came from (and the cache)."""
    return {
        f.name: getattr(problem, f.name)
        for f in dataclasses.fields(problem)
        if f.name not in ("source", "_explicit_cache")
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_a_dict_gives_the_same_problem_as_its_toml(path):
    from_toml = sc.load_problem(path)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    from_dict = sc.load_problem(data)
    assert from_dict.source == "<dict>"
    assert _fields(from_dict) == _fields(from_toml)


def test_the_same_study_from_a_dict():
    data = {
        "title": "A bowl",
        "objective": "x^2 + 3*y^2",
        "analyses": ["gradient", "hessian", "critical_points"],
        "variables": {"x": "scalar", "y": "scalar"},
    }
    x, y = sp.symbols("x y")
    study = sc.load_problem(data).run()
    assert study.results["gradient"] == sp.Matrix([sp.diff(x**2 + 3 * y**2, v) for v in (x, y)])
    assert study.results["hessian"] == sp.hessian(x**2 + 3 * y**2, (x, y))
    assert [c.kind for c in study.landscape.points] == ["minimum"]


def test_the_dict_is_not_changed():
    data = {"objective": "x^2", "variables": {"x": "scalar"}}
    before = repr(data)
    sc.load_problem(data)
    assert repr(data) == before


@pytest.mark.parametrize(
    "data, words",
    [
        ({"objective": "x", "variables": {"x": ("scalar",)}}, ["[variables.x]", "tuple"]),
        ({"objective": "x", "variables": {1: "scalar"}}, ["[variables]", "keys must be strings"]),
        ({"objective": sp.Symbol("x"), "variables": {"x": "scalar"}}, ["[objective]", "Symbol"]),
        ({"objective": "x", "variables": {"x": {"shape": [1e9]}}}, ["variables.x"]),
        ({"objective": "x", "colour": 1, "variables": {"x": "scalar"}}, ["[colour]"]),
    ],
)
def test_data_that_is_not_a_problem_is_one_clear_error(data, words):
    with pytest.raises(ProblemFileError) as err:
        sc.load_problem(data)
    for w in words:
        assert w in str(err.value), str(err.value)


def test_a_dict_that_holds_itself_is_refused_not_recursed_into():
    data = {"objective": "x", "variables": {"x": "scalar"}}
    data["report"] = data
    with pytest.raises(ProblemFileError, match="nested more than"):
        sc.load_problem(data)


def test_a_hostile_formula_in_a_dict_is_data(tmp_path):
    marker = tmp_path / "pwned"
    data = {
        "objective": f"__import__('os').system('touch {marker}')",
        "variables": {"x": "scalar"},
    }
    with pytest.raises(ProblemFileError, match=r"\[objective\]: cannot read the expression"):
        sc.load_problem(data)
    assert not marker.exists()


def test_where_names_the_keys_in_the_callers_words():
    data = {"objective": "x +", "variables": {"x": "scalar"}}
    with pytest.raises(ProblemFileError) as err:
        problem_from_dict(data, source="mine", where=lambda key: f"<{key} here>")
    assert str(err.value).startswith("<objective here>: cannot read the expression")


def test_only_a_dict_is_a_problem():
    with pytest.raises(ProblemFileError, match="a problem is a dict"):
        problem_from_dict([("objective", "x")])
