"""Problem files: the format, its errors, and Problem.run() -> Study.

Every derived number is compared with an independent route (sympy.diff on the
explicit expression, or numbers computed here), never with symcalc's own output.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
import sympy as sp

import symcalc as sc
from symcalc.errors import ProblemFileError
from symcalc.study.results import Study
from symcalc.study.run import _descent_identity

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

BOWL = """
title = "Bowl"
objective = "x^2 + 3*x*y + 5*y^2 - x"
[variables]
x = "scalar"
y = "scalar"
"""


# --- the format --------------------------------------------------------------------


def test_minimal_problem_reads_title_variables_and_default_analyses():
    p = sc.load_problem(BOWL)
    assert p.title == "Bowl"
    assert [(v.name, v.shape) for v in p.variables] == [("x", ()), ("y", ())]
    assert p.analyses == ("gradient", "hessian", "finite_differences")
    assert p.source == "<text>"


def test_shapes_become_entry_symbols_and_structure_is_respected():
    p = sc.load_problem("""
objective = "x.T*S*x"
[variables]
x = { shape = [2] }
[constants]
S = { shape = [2, 2], structure = ["symmetric", "positive_definite"] }
""")
    x, S = p.lookup("x").symbol, p.lookup("S").symbol
    assert x.shape == (2, 1) and S.shape == (2, 2)
    assert S[0, 1] == S[1, 0]  # symmetric: one symbol for both entries
    assert p.assumptions == ["S is symmetric", "S is positive definite"]
    assert len(p.wrt) == 2


def test_matrix_notation_uses_matrix_symbols_and_an_explicit_view():
    p = sc.load_problem(EXAMPLES / "least_squares.toml")
    w = p.lookup("w").symbol
    assert isinstance(w, sp.MatrixSymbol) and w.shape == (2, 1)
    f, syms = p.explicit()
    assert [str(s) for s in syms] == ["w_1", "w_2"]
    # independent: the sum of squared residuals written out by hand
    X = [[1, 0.5], [1, 1.5], [1, 2.0], [1, 3.0]]
    y = [1.0, 2.0, 2.5, 4.0]
    w1, w2 = syms
    by_hand = sum((r[0] * w1 + r[1] * w2 - t) ** 2 for r, t in zip(X, y))
    pt = {w1: 0.3, w2: -1.7}
    assert abs(float(f.subs(pt)) - float(by_hand.subs(pt))) < 1e-9


# --- errors name the file, the key and what was expected ---------------------------


@pytest.mark.parametrize(
    "text, key, expected",
    [
        ("colour = 1\n" + BOWL, "colour", "one of the keys"),
        (
            BOWL.replace('x = "scalar"', "x = { shape = [0] }"),
            "variables.x.shape",
            "positive integers",
        ),
        (BOWL.replace('x = "scalar"', "x = { size = 3 }"), "variables.x.size", "one of the keys"),
        (
            BOWL.replace('objective = "x^2 + 3*x*y + 5*y^2 - x"', 'objective = "x^2 + z"'),
            "objective",
            "unknown name",
        ),
        (BOWL.replace('objective = "x^2 + 3*x*y + 5*y^2 - x"', ""), "objective", "exactly one of"),
        ('field = ["x", "y"]\n' + BOWL, "objective", "exactly one of"),
        ('analyses = ["gradient", "magic"]\n' + BOWL, "analyses", "names from"),
        ('analyses = ["curl"]\n' + BOWL, "analyses", "analyses for an objective"),
        (
            BOWL + '[[claims]]\nof = "laplacian"\nexpr = "x"\n',
            "claims[0].of",
            "gradient or hessian",
        ),
        (
            BOWL + '[report]\nslice = { x = "x", y = "q" }\n',
            "report.slice.y",
            "one of the unknowns",
        ),
        (
            BOWL + '[constants]\nA = { shape = [2, 3], structure = ["symmetric"] }\n',
            "constants.A.structure",
            "square",
        ),
        (
            BOWL + "[constants]\nc = { value = [1, 2], shape = [3] }\n",
            "constants.c.value",
            "a list of 3 numbers",
        ),
    ],
)
def test_bad_problem_text_names_the_key_and_what_was_expected(text, key, expected):
    with pytest.raises(ProblemFileError) as err:
        sc.load_problem(text)
    msg = str(err.value)
    assert f"[{key}]" in msg and expected in msg and "<text>" in msg


def test_error_in_a_file_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BOWL + "[report]\nkernal = true\n")
    with pytest.raises(ProblemFileError) as err:
        sc.load_problem(path)
    assert str(path) in str(err.value) and "[report.kernal]" in str(err.value)


def test_toml_syntax_error_gives_the_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('title = "x"\nobjective = \n')
    with pytest.raises(ProblemFileError) as err:
        sc.load_problem(str(path))
    assert str(path) in str(err.value) and "line 2" in str(err.value)


def test_missing_file_is_a_problem_file_error(tmp_path):
    with pytest.raises(ProblemFileError, match="no such problem file"):
        sc.load_problem(tmp_path / "nope.toml")


def test_text_is_never_evaluated():
    with pytest.raises(ProblemFileError):
        sc.load_problem(BOWL.replace("x^2 + 3*x*y + 5*y^2 - x", "__import__('os').system('true')"))


def test_every_example_loads():
    files = sorted(EXAMPLES.glob("*.toml"))
    assert len(files) >= 10
    for f in files:
        p = sc.load_problem(f)
        assert p.title and p.variables


# --- run() -> Study ------------------------------------------------------------------


def test_study_fields_are_the_documented_ones():
    names = {f.name for f in dataclasses.fields(Study)}
    assert names == {
        "problem",
        "derivations",
        "results",
        "field",
        "landscape",
        "claims",
        "finite_differences",
        "gaussian",
        "score_matching",
        "vectorization",
        "kernel_source",
        "notes",
    }


def test_run_gradient_and_hessian_match_sympy_diff():
    p = sc.load_problem(BOWL)
    s = p.run()
    x, y = p.wrt
    f = x**2 + 3 * x * y + 5 * y**2 - x
    assert sp.simplify(s.results["gradient"] - sp.Matrix([f.diff(x), f.diff(y)])) == sp.zeros(2, 1)
    assert s.results["hessian"] == sp.hessian(f, (x, y))
    assert all(fd.passed and fd.max_abs_error < 1e-6 for fd in s.finite_differences)
    assert s.ok


def test_progress_reports_each_stage():
    seen = []
    sc.load_problem(EXAMPLES / "landscape_2d.toml").run(progress=seen.append)
    text = "\n".join(seen)
    for stage in ("deriving", "finite differences", "critical points", "descent"):
        assert stage in text
    assert seen[-1] == "done"


def test_landscape_classifies_minimum_and_saddle_like_an_independent_eigen_check():
    p = sc.load_problem(EXAMPLES / "landscape_2d.toml")
    s = p.run()
    x, y = p.wrt
    f = x**3 - 3 * x + y**2
    found = {(float(pt.point[x]), float(pt.point[y])): pt.kind for pt in s.landscape.points}
    # independent: solve grad f = 0 and read the signs of the Hessian's eigenvalues
    expected = {}
    for sol in sp.solve([f.diff(x), f.diff(y)], [x, y], dict=True):
        ev = [float(e) for e in sp.hessian(f, (x, y)).subs(sol).eigenvals()]
        expected[(float(sol[x]), float(sol[y]))] = "minimum" if min(ev) > 0 else "saddle"
    assert found == expected == {(1.0, 0.0): "minimum", (-1.0, 0.0): "saddle"}
    assert s.landscape.descent.holds


def test_descent_identity_check_can_fail():
    p = sc.load_problem(EXAMPLES / "landscape_2d.toml")
    x, y = p.wrt
    wrong = sp.Matrix([3 * x**2 - 3, y])  # the y-entry is off by a factor 2
    assert not _descent_identity(p, wrong).holds
    assert _descent_identity(p, sp.Matrix([3 * x**2 - 3, 2 * y])).holds


def test_matrix_least_squares_gradient_matches_explicit_differentiation():
    p = sc.load_problem(EXAMPLES / "least_squares.toml")
    s = p.run()
    f, (w1, w2) = p.explicit()
    g = p.to_explicit(s.results["gradient"])
    rng = random.Random(3)
    for _ in range(3):
        pt = {w1: rng.uniform(-2, 2), w2: rng.uniform(-2, 2)}
        for k, w in enumerate((w1, w2)):
            assert abs(float(g[k].subs(pt)) - float(f.diff(w).subs(pt))) < 1e-9
    # the unique minimum solves the normal equations (computed here with numpy)
    import numpy as np

    X = np.array([[1, 0.5], [1, 1.5], [1, 2.0], [1, 3.0]])
    yv = np.array([1.0, 2.0, 2.5, 4.0])
    w_star = np.linalg.solve(X.T @ X, X.T @ yv)
    [pt] = s.landscape.points
    assert pt.kind == "minimum"
    assert np.allclose([float(pt.point[w1]), float(pt.point[w2])], w_star)
    assert all(c.holds for c in s.claims)


def test_wrong_hand_derivation_gives_a_real_counterexample():
    p = sc.load_problem(EXAMPLES / "wrong_derivation.toml")
    s = p.run()
    wrong, right = s.claims
    assert wrong.holds is False and right.holds is True
    point = wrong.counterexample["point"]
    # independent: at that point, 2 A x differs from the true gradient (A + A^T) x
    A, x = p.lookup("A").symbol, p.lookup("x").symbol
    truth = ((A + A.T) * x).subs(point)
    claimed = (2 * A * x).subs(point)
    assert max(abs(float(a - b)) for a, b in zip(truth, claimed)) > 1e-6
    assert not s.ok and not s.claims_hold
    assert all(fd.passed for fd in s.finite_differences)


def test_rotational_field_is_not_conservative_and_lennard_jones_is():
    rot = sc.load_problem(EXAMPLES / "rotational_field.toml").run()
    assert rot.field.conservative is False and rot.field.potential is None
    p = sc.load_problem(EXAMPLES / "lennard_jones.toml")
    lj = p.run()
    assert lj.field.conservative is True
    x, y = p.wrt
    phi = lj.field.potential
    for comp, var in zip(p.field, (x, y)):  # independent: grad phi == F
        assert sp.simplify(sp.diff(phi, var) - comp) == 0


def test_gaussian_identities_match_an_entrywise_derivation():
    p = sc.load_problem(EXAMPLES / "gaussian.toml")
    s = p.run()
    assert s.gaussian.hessian_holds and s.gaussian.score_holds
    # independent: write the log-density entry by entry, differentiate with sympy
    f, (x1, x2) = p.explicit()
    from symcalc.study.schema import _entry_matrix

    S = _entry_matrix(p.lookup("Sigma"), "Sigma")
    mu = _entry_matrix(p.lookup("mu"), "mu")
    H = sp.hessian(f, (x1, x2))
    assert sp.simplify(H + S.inv()) == sp.zeros(2, 2)
    score = sp.Matrix([f.diff(x1), f.diff(x2)])
    assert sp.simplify(score + S.inv() * (sp.Matrix([x1, x2]) - mu)) == sp.zeros(2, 1)
    # and the closed forms symcalc reports equal these at the entries
    assert sp.simplify(p.to_explicit(s.results["hessian"]) - H) == sp.zeros(2, 2)


def test_vectorization_table_of_a_2x3_matrix():
    p = sc.load_problem(EXAMPLES / "vectorization_2x3.toml")
    s = p.run()
    A = p.lookup("A").symbol
    t = s.vectorization
    assert list(t.vec) == [A[0, 0], A[1, 0], A[0, 1], A[1, 1], A[0, 2], A[1, 2]]
    assert list(t.vec_row) == list(A)
    assert t.identity_holds
    # the gradient of tr(A^T A) over the entries (column-major) is 2 vec(A)
    assert s.results["gradient"] == 2 * sp.Matrix(t.vec)


def test_loop_work_obeys_greens_theorem():
    """Work around the circle = curl x disc area (constant curl 2); zero for the force field."""
    import math

    rot = sc.load_problem(EXAMPLES / "rotational_field.toml").run()
    lw = rot.field.loop_work
    assert abs(lw["work"] - 2 * math.pi * lw["radius"] ** 2) < 1e-9
    lj = sc.load_problem(EXAMPLES / "lennard_jones.toml").run()
    assert abs(lj.field.loop_work["work"]) < 1e-9
