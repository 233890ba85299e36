"""The command line builds a dict for the loader (never TOML text); errors name the flags."""

from __future__ import annotations

import argparse
import io
import tomllib

import pytest

from symcalc.cli.entry import main
from symcalc.cli.formula import flag_words, problem_from_arguments
from symcalc.cli.terminal import EXIT_BAD_INPUT, EXIT_OK


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_the_arguments_become_the_loaders_dict():
    args = argparse.Namespace(
        expression="a*x^2 + b*y",
        wrt=["x", "y:3"],
        const=["a=2.5"],
        param=["b"],
        analyses=["gradient"],
        matrix=False,
        latex=False,
        field=None,
    )
    data, flags = problem_from_arguments(args)
    assert data == {
        "title": "f = a*x^2 + b*y",
        "objective": "a*x^2 + b*y",
        "analyses": ["gradient"],
        "variables": {"x": {"shape": []}, "y": {"shape": [3]}},
        "constants": {"a": {"shape": [], "value": 2.5}, "b": {"shape": []}},
    }
    assert flags == {"x": "--wrt", "y": "--wrt", "a": "--const", "b": "--param"}


def test_no_toml_text_is_written_or_read(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the command line must not go through TOML text")

    monkeypatch.setattr(tomllib, "loads", refuse)
    code, out, err = run("derive", "x^2*y", "--wrt", "x", "y")
    assert code == EXIT_OK, err
    assert "2*x*y" in out


def test_a_hostile_formula_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    for formula in (
        f"__import__('os').system('touch {marker}')",
        f"x + eval(\"__import__('os').system('touch {marker}')\")",
    ):
        code, _, err = run("derive", formula, "--wrt", "x")
        assert code == EXIT_BAD_INPUT
        assert err.startswith("symcalc: error: the formula: cannot read the expression"), err
    code, _, err = run("derive", "--field", f"x; __import__('os').system('touch {marker}')",
                       "--wrt", "x", "y")  # fmt: skip
    assert code == EXIT_BAD_INPUT and "--field component 2" in err
    assert not marker.exists()


@pytest.mark.parametrize(
    "argv, words",
    [
        (["derive", "x^2 + (y", "--wrt", "x", "y"], ["the formula:"]),
        (["derive", "--field", "x; (y", "--wrt", "x", "y"], ["--field component 2:"]),
        (["derive", "x^2", "--wrt", "x", "x"], ["--wrt x", "declared twice"]),
        (["derive", "a*x", "--wrt", "x", "--const", "x"], ["--const x", "--wrt and --const"]),
        (["derive", "x^2", "--wrt", "x:2:diagonal"], ["--wrt x:", "square matrix"]),
        (["compile", "p*x", "--wrt", "x", "--param", "p:2x3:symmetric"], ["--param p:"]),
        (["derive", "x^2", "--wrt", "x", "--analyses", "colour"], ["--analyses:", "colour"]),
    ],
)
def test_errors_name_the_flag_the_user_wrote(argv, words):
    code, out, err = run(*argv)
    assert code == EXIT_BAD_INPUT and out == ""
    assert err.count("symcalc: error:") == 1 and "Traceback" not in err
    assert "<text>" not in err and "<dict>" not in err and "[variables" not in err
    for w in words:
        assert w in err, err


def test_flag_words_only_name_keys_never_rewrite_messages():
    where = flag_words({"A": "--param"})
    assert where("constants.A.structure") == "--param A"
    assert where("constants") == "--const"
    assert where("report.slice.x") == "[report.slice.x]"
