"""The command line: derive | verify | compile | report, help, exit codes, errors, start-up.

Most tests call ``main(argv, stdout, stderr)`` in-process (plain output, since the
streams are not terminals); a few run ``python -m symcalc`` as a user would.
Results are checked against independent routes (SymPy's own diff, finite
differences on the compiled module), not against strings copied from the CLI.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symcalc.cli.commands import to_declaration
from symcalc.cli.entry import main
from symcalc.cli.formula import parse_variable_spec
from symcalc.cli.terminal import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def run_json(*argv: str) -> tuple[int, dict]:
    code, out, err = run(*argv, "--format", "json")
    assert err == "", err
    return code, json.loads(out)


def sym(text: str) -> sp.Basic:
    """Our own JSON output back into SymPy (trusted text written by the CLI under test)."""
    return sp.sympify(text, locals={n: sp.Symbol(n) for n in "xyzabw"})


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------
# help, version, start-up
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["derive"], ["verify"], ["compile"], ["report"]])
def test_every_help_has_examples_and_exit_codes(command):
    code, text, _ = run(*command, "--help")
    assert code == EXIT_OK
    assert "examples:" in text
    assert "exit codes:" in text and "0  ok" in text and "2  bad input" in text
    assert (
        "symcalc " + (command[0] if command else "derive") in text
    )  # an example of the command itself


def test_no_command_prints_help_and_exits_2():
    code, out, err = run()
    assert code == EXIT_BAD_INPUT and "derive" in err


def test_version():
    code, out, _ = run("--version")
    assert code == EXIT_OK and out.startswith("symcalc ")


def test_help_starts_fast_without_heavy_imports():
    probe = (
        "import sys, io, contextlib\n"
        "from symcalc.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help']); main(['derive', '--help']); main(['report', '--help'])\n"
        "heavy = {'matplotlib', 'jax', 'torch', 'sympy', 'rich', 'numpy', 'jinja2'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=ENV, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_python_m_symcalc_help_as_a_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "symcalc", "--help"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert proc.returncode == 0 and "derive" in proc.stdout and "exit codes" in proc.stdout


# ---------------------------------------------------------------------------
# derive
# ---------------------------------------------------------------------------


def test_derive_gradient_and_hessian_match_sympy():
    x, y = sp.symbols("x y")
    f = x**2 * y + sp.sin(x * y)
    code, data = run_json("derive", "x^2*y + sin(x*y)", "--wrt", "x", "y")
    assert code == EXIT_OK and data["ok"]
    grad = sp.Matrix(sym(data["results"]["gradient"]["text"]))
    hess = sp.Matrix(sym(data["results"]["hessian"]["text"]))
    assert sp.simplify(grad - sp.Matrix([f.diff(x), f.diff(y)])) == sp.zeros(2, 1)
    assert sp.simplify(hess - sp.hessian(f, (x, y))) == sp.zeros(2, 2)
    assert data["results"]["gradient"]["shape"] == [2, 1]
    assert all(c["passed"] for c in data["checks"]) and data["checks"]


def test_derive_plain_text_is_readable_and_has_no_escape_codes():
    code, out, err = run("derive", "x^3 - 3*x + y^2", "--wrt", "x", "y")
    assert code == EXIT_OK
    assert "== results ==" in out and "gradient:" in out and "all checks passed" in out
    assert "\x1b[" not in out and err == ""
    assert "[3*x**2 - 3, 2*y]" in out.replace(" - 3", " - 3")  # the gradient as one line


def test_derive_rich_output_when_asked():
    code, out, _ = run("--color", "always", "derive", "x^2 + y^2", "--wrt", "x", "y")
    assert code == EXIT_OK
    assert "\x1b[" in out and "╭" in out and "results" in out


def test_derive_latex_fragment():
    code, out, _ = run("derive", "x^2*y", "--wrt", "x", "y", "--format", "latex")
    assert code == EXIT_OK
    assert r"\nabla f" in out and r"\begin{align*}" in out and r"\nabla^2 f" in out
    assert out.count(r"\begin{align*}") == out.count(r"\end{align*}")


def test_derive_critical_points_and_descent_identity():
    code, data = run_json(
        "derive",
        "x^3 - 3*x + y^2",
        "--wrt",
        "x",
        "y",
        "--analyses",
        "gradient",
        "hessian",
        "critical_points",
        "descent",
    )
    assert code == EXIT_OK
    kinds = {
        (sym(p["point"]["x"]["text"]), sym(p["point"]["y"]["text"])): p["kind"]
        for p in data["critical_points"]
    }
    # independent: the Hessian diag(6x, 2) is positive definite at x = 1, indefinite at x = -1
    assert kinds == {(1, 0): "minimum", (-1, 0): "saddle"}
    assert data["descent"]["holds"] is True
    x, y = sp.symbols("x y")
    rate = sym(data["descent"]["rate"]["text"])
    assert sp.expand(rate + (3 * x**2 - 3) ** 2 + (2 * y) ** 2) == 0


def test_derive_steps_name_their_rules():
    code, data = run_json("derive", "sin(x^2)", "--wrt", "x", "--steps")
    assert code == EXIT_OK
    assert data["steps"] and all(s["rule"] and s["title"] for s in data["steps"])
    code, out, _ = run("derive", "sin(x^2)", "--wrt", "x", "--steps")
    assert "== steps ==" in out


def test_derive_field_rotation_is_not_conservative():
    code, data = run_json("derive", "--field", "-y; x", "--wrt", "x", "y")
    assert code == EXIT_OK
    assert data["conservative"] is False
    assert "potential" not in data["results"]


def test_derive_field_gradient_is_conservative_with_potential():
    code, data = run_json("derive", "--field", "2*x*y; x^2 + cos(y)", "--wrt", "x", "y")
    assert code == EXIT_OK and data["conservative"] is True
    x, y = sp.symbols("x y")
    phi = sym(data["results"]["potential"]["text"])
    assert (
        sp.simplify(phi.diff(x) - 2 * x * y) == 0
        and sp.simplify(phi.diff(y) - x**2 - sp.cos(y)) == 0
    )


def test_derive_constants_and_latex_input():
    code, data = run_json("derive", r"\frac{a x^2}{2}", "--latex", "--wrt", "x", "--const", "a")
    a, x = sp.symbols("a x")
    assert sp.simplify(
        sp.Matrix(sym(data["results"]["gradient"]["text"])) - sp.Matrix([a * x])
    ) == sp.zeros(1, 1)
    assert [c["name"] for c in data["constants"]] == ["a"]


def test_derive_with_a_constant_passes_its_self_checks():
    code, data = run_json("derive", "a*x^2/2", "--wrt", "x", "--const", "a")
    assert code == EXIT_OK and data["ok"]


def test_derive_vector_variable():
    code, data = run_json("derive", "w1^2 + w2*w3", "--wrt", "w1", "w2", "w3")
    assert code == EXIT_OK
    assert data["results"]["gradient"]["shape"] == [3, 1]


def test_derive_problem_file(tmp_path):
    path = write(
        tmp_path,
        "bowl.toml",
        'title = "A bowl"\nobjective = "x^2 + 3*y^2"\n[variables]\nx = "scalar"\ny = "scalar"\n',
    )
    code, out, _ = run("derive", str(path))
    assert code == EXIT_OK and "== A bowl ==" in out and "6*y" in out


VECTORIZE = """\
title = "vec of a 2 x 3 matrix"
objective = "A_11^2 + A_23"
vectorization = { matrix = "A" }
[variables]
A = { shape = [2, 3] }
"""


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_derive_vectorization_section(tmp_path, fmt):
    path = write(tmp_path, "vec.toml", VECTORIZE)
    code, out, err = run("derive", str(path), "--format", fmt)
    assert code == EXIT_OK, err
    a = sp.Matrix(2, 3, lambda i, j: sp.Symbol(f"A_{i + 1}{j + 1}"))
    column_major = [a[i, j] for j in range(3) for i in range(2)]
    if fmt == "json":
        data = json.loads(out)["vectorization"]
        assert list(sym(data["vec"]["text"])) == column_major
        K = sp.Matrix(sym(data["commutation"]["text"]))
        assert K * sp.Matrix(column_major) == sp.Matrix(list(a))  # K vec(A) = vec(A^T) = row-major
    else:
        assert f"vec (column-major): {column_major}".replace("'", "") in out
        assert "commutation K(2,3)" in out


def test_derive_exits_1_when_a_check_fails(monkeypatch):
    from symcalc.study import schema as problem_module

    original = problem_module.Problem.run

    def broken_run(self, progress=None):
        study = original(self, progress)
        study.derivations["objective"].add_check("planted disagreement", False, "for the test")
        return study

    monkeypatch.setattr(problem_module.Problem, "run", broken_run)
    code, out, _ = run("derive", "x^2", "--wrt", "x")
    assert code == EXIT_FAILED and "CHECK FAILED" in out and "planted disagreement" in out


# ---------------------------------------------------------------------------
# bad input: one clear line, exit 2, no traceback
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, words",
    [
        (["derive", "x^2*y + sin(z)", "--wrt", "x", "y"], ["unknown name 'z'", "^"]),
        (["derive", "x^2 + (y", "--wrt", "x", "y"], ["the formula"]),
        (["derive", "x^2"], ["--wrt"]),
        (["derive", "x^2", "--wrt", "2x"], ['"2x" is not a variable']),
        (["derive", "x^2", "--wrt", "x[n]"], ["symbolic sizes"]),
        (["derive", "no_such_file.toml"], ["no_such_file.toml", "no such problem file"]),
        (["derive", "x^2", "--wrt", "x", "--analyses", "colour"], ["analyses", "colour"]),
        (["verify", "sin(x)", "--wrt", "x"], ["--claim"]),
        (["verify", "sin(x)", "--wrt", "x", "--claim", "cos(x"], ["cos(x"]),
        (["compile", "x^2", "--wrt", "x", "-o", "kernels.txt"], [".py file"]),
        (["compile", "--field", "x; y", "--wrt", "x", "y"], []),
        (["report", "no_such_file.toml"], ["no such problem file"]),
    ],
)
def test_bad_input_is_one_clear_error_with_exit_2(argv, words):
    code, out, err = run(*argv)
    assert code == EXIT_BAD_INPUT, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    assert err.startswith("symcalc: error:")
    for w in words:
        assert w in err


def test_unknown_key_in_a_problem_file_names_file_and_key(tmp_path):
    path = write(tmp_path, "p.toml", 'objective = "x"\ncolour = 1\n[variables]\nx = "scalar"\n')
    code, _, err = run("derive", str(path))
    assert code == EXIT_BAD_INPUT and str(path) in err and "colour" in err


def test_usage_error_exits_2():
    code, _, err = run("derive", "--no-such-option")
    assert (
        code == EXIT_BAD_INPUT and "--no-such-option" in err and err.startswith("symcalc: error:")
    )


def test_code_is_never_evaluated():
    code, _, err = run(
        "derive", "__import__('os').system('touch /tmp/symcalc_pwned')", "--wrt", "x"
    )
    assert code == EXIT_BAD_INPUT and not Path("/tmp/symcalc_pwned").exists()


def test_variable_specs():
    assert parse_variable_spec("w:3") == ("w", {"shape": [3]})
    assert parse_variable_spec("A[2, 3]") == ("A", {"shape": [2, 3]})
    assert parse_variable_spec("S[3,3] spd") == (
        "S",
        {"shape": [3, 3], "structure": ["positive_definite"]},
    )
    assert parse_variable_spec("a=-2.5e-1", allow_value=True) == (
        "a",
        {"shape": [], "value": -0.25},
    )
    assert to_declaration("S:3x3:symmetric") == "S[3,3] symmetric"
    assert to_declaration("Sigma[n,n] spd") == "Sigma[n,n] spd"


# ---------------------------------------------------------------------------
# verify
# ---------------------------------------------------------------------------


def test_verify_right_claim_exits_0():
    code, out, _ = run("verify", "sin(x^2)", "--wrt", "x", "--claim", "2x cos(x^2)")
    assert code == EXIT_OK and "HOLDS" in out


def test_verify_wrong_claim_exits_1_with_a_counterexample_that_is_real():
    code, data = run_json(
        "verify", "sigmoid(x)", "--wrt", "x", "--claim", "sigmoid(x)*(1 + sigmoid(x))"
    )
    assert code == EXIT_FAILED and data["holds"] is False
    x0 = float(sp.Rational(sym(data["counterexample"]["x"]["text"])))
    s = 1 / (1 + np.exp(-x0))
    claimed, true = s * (1 + s), s * (1 - s)
    assert not np.isclose(claimed, true)
    assert np.isclose(data["claim_value"]["value"], claimed, rtol=1e-8)
    assert np.isclose(data["truth_value"]["value"], true, rtol=1e-8)
    code, out, _ = run(
        "verify", "sigmoid(x)", "--wrt", "x", "--claim", "sigmoid(x)*(1 + sigmoid(x))"
    )
    assert "FAILS" in out and "counterexample: at (x = " in out


def test_verify_matrix_claim_depends_on_symmetry():
    base = ["verify", "x^T A x", "--wrt", "x[n]", "--claim", "2 A x"]
    assert run(*base, "--const", "A[n,n]")[0] == EXIT_FAILED
    assert run(*base, "--const", "A[n,n] symmetric")[0] == EXIT_OK
    assert (
        run("verify", "x^T A x", "--wrt", "x:3", "--claim", "(A + A^T) x", "--const", "A:3x3")[0]
        == EXIT_OK
    )


def test_verify_value_claim_and_positivity():
    base = ["verify", "sqrt(x^2)", "--kind", "value", "--claim", "x"]
    assert run(*base)[0] == EXIT_FAILED
    assert run(*base, "--positive", "x")[0] == EXIT_OK


def test_verify_problem_file_claims(tmp_path):
    path = write(
        tmp_path,
        "claims.toml",
        """\
title = "Two hand derivations"
objective = "sin(x^2) + y^3"
[variables]
x = "scalar"
y = "scalar"
[[claims]]
of = "gradient"
expr = ["2*x*cos(x^2)", "3*y^2"]
[[claims]]
of = "gradient"
expr = ["x*cos(x^2)", "3*y^2"]
""",
    )
    code, out, _ = run("verify", str(path))
    assert code == EXIT_FAILED
    assert "1 of 2 hand derivations hold" in out and "HOLDS" in out and "FAILS" in out
    code, data = run_json("verify", str(path))
    assert [c["holds"] for c in data["claims"]] == [True, False]


def test_verify_problem_file_without_claims_is_bad_input(tmp_path):
    path = write(tmp_path, "none.toml", 'objective = "x^2"\n[variables]\nx = "scalar"\n')
    code, _, err = run("verify", str(path))
    assert code == EXIT_BAD_INPUT and "claims" in err


# ---------------------------------------------------------------------------
# compile
# ---------------------------------------------------------------------------


def _import(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rosenbrock():
    x, y, a = sp.symbols("x y a")
    return (a - x) ** 2 + 100 * (y - x**2) ** 2, [x, y], [a]


def test_compile_writes_the_kernel_source_as_a_standalone_module(tmp_path):
    from symcalc.codegen.kernels import compile as compile_kernel

    out_path = tmp_path / "kernels.py"
    code, out, err = run(
        "compile",
        "(a - x)^2 + 100*(y - x^2)^2",
        "--wrt",
        "x",
        "y",
        "--param",
        "a",
        "-o",
        str(out_path),
    )
    assert code == EXIT_OK and out == "" and f"wrote {out_path}" in err
    source = out_path.read_text()
    f, wrt, params = _rosenbrock()
    kernel = compile_kernel(f, wrt, params=params)
    assert source == kernel.source  # the same kernel the library compiles
    imports = {
        line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))
    }
    assert imports == {"numpy"}  # standalone
    module = _import(out_path)
    assert all(callable(getattr(module, name)) for name in ("value", "gradient", "hessian"))
    # and that kernel is right: compare with finite differences of f at random points
    pts, a = np.random.default_rng(3).normal(size=(5, 2)), 1.3
    fn = sp.lambdify([*wrt, *params], f, "numpy")
    h = 1e-6
    fd = np.stack(
        [(fn(*(pts + h * e).T, a) - fn(*(pts - h * e).T, a)) / (2 * h) for e in np.eye(2)], axis=-1
    )
    assert np.allclose(kernel.gradient(pts, a), fd, rtol=1e-6, atol=1e-5)


def test_compile_problem_file_substitutes_constant_values(tmp_path):
    problem = write(
        tmp_path,
        "q.toml",
        'objective = "c*x^2 + y"\n[variables]\nx = "scalar"\ny = "scalar"\n[constants]\nc = 3\n',
    )
    code, out, _ = run("compile", str(problem))
    assert code == EXIT_OK and "def gradient" in out
    assert "parameters: none" in out  # c = 3 was substituted, not a parameter
    assert "6*x" in out.replace(" ", "")  # df/dx = 6 x


RIDGE = """\
title = "Ridge"
notation = "matrix"
objective = "(X*w - y).T*(X*w - y) + lam*w.T*w"
[variables]
w = { shape = [2] }
[constants]
X = { shape = [3, 2], value = [[1, 2], [2, 4.1], [3, 6.2]] }
y = { shape = [3], value = [1, 2, 3] }
lam = { value = 0.5 }
"""


def test_compile_matrix_problem_takes_the_data_as_arrays(tmp_path):
    problem = write(tmp_path, "ridge.toml", RIDGE)
    out_path = tmp_path / "ridge_kernels.py"
    code, _, err = run("compile", str(problem), "-o", str(out_path))
    assert code == EXIT_OK and "parameters X, y" in err  # lam = 0.5 is substituted
    module = _import(out_path)
    rng = np.random.default_rng(0)
    X, y, w = rng.normal(size=(6, 2)), rng.normal(size=6), rng.normal(size=2)
    assert np.allclose(module.gradient(w, X, y), 2 * X.T @ (X @ w - y) + 2 * 0.5 * w)
    assert np.allclose(module.hessian(w, X, y), 2 * X.T @ X + 2 * 0.5 * np.eye(2))


def test_compile_matrix_constant_without_value_in_components_becomes_entry_parameters(tmp_path):
    problem = write(
        tmp_path,
        "quad.toml",
        'objective = "x.T*A*x"\n[variables]\nx = { shape = [2] }\n'
        "[constants]\nA = { shape = [2, 2] }\n",
    )
    code, out, err = run("compile", str(problem))
    assert code == EXIT_OK and "def gradient" in out
    assert "A_11, A_12, A_21, A_22" in out  # parameters in row-major order


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------

LANDSCAPE = (
    'title = "Saddle and minimum"\nobjective = "x^3 - 3*x + y^2"\n'
    'analyses = ["gradient", "hessian", "critical_points"]\n[variables]\nx = "scalar"\ny = "scalar"\n'
)


def test_report_tex_only(tmp_path):
    problem = write(tmp_path, "land.toml", LANDSCAPE)
    out = tmp_path / "out" / "land.tex"
    code, _, err = run("report", str(problem), "--tex", "-o", str(out))
    assert code == EXIT_OK and f"wrote {out}" in err
    tex = out.read_text()
    assert r"\begin{document}" in tex and "Saddle and minimum" in tex


def test_report_tex_default_name(tmp_path, monkeypatch):
    problem = write(tmp_path, "land.toml", LANDSCAPE)
    monkeypatch.chdir(tmp_path)
    assert run("report", str(problem), "--tex")[0] == EXIT_OK
    assert (tmp_path / "land.tex").exists()


@pytest.mark.tex
@pytest.mark.skipif(
    not os.environ.get("CI") and not (shutil.which("latexmk") and shutil.which("pdftotext")),
    reason="needs TeX and pdftotext (CI installs them, and there this test always runs)",
)
def test_report_pdf_as_a_subprocess(tmp_path):
    problem = write(tmp_path, "land.toml", LANDSCAPE)
    pdf = tmp_path / "land.pdf"
    proc = subprocess.run(
        [sys.executable, "-m", "symcalc", "report", str(problem), "-o", str(pdf)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Saddle and minimum" in text and "saddle" in text.lower()


def test_report_without_tex_says_how_to_install_it_and_writes_the_tex(tmp_path, monkeypatch):
    report_module = importlib.import_module(
        "symcalc.reporting.build"
    )  # the module (sc.report is the function)
    monkeypatch.setattr(report_module.shutil, "which", lambda name: None)
    problem = write(tmp_path, "land.toml", LANDSCAPE)
    code, _, err = run("report", str(problem), "-o", str(tmp_path / "land.pdf"))
    assert code == EXIT_BAD_INPUT and "Traceback" not in err
    assert err.startswith("symcalc: error:") and "apt-get install" in err
    assert (tmp_path / "land.tex").exists() and not (tmp_path / "land.pdf").exists()


def test_report_strict_exits_1_for_a_wrong_hand_derivation(tmp_path):
    problem = write(
        tmp_path,
        "wrong.toml",
        'objective = "x^3"\n[variables]\nx = "scalar"\n'
        '[[claims]]\nof = "gradient"\nexpr = ["3*x"]\n',
    )
    assert run("report", str(problem), "--tex", "-o", str(tmp_path / "w.tex"))[0] == EXIT_OK
    assert (
        run("report", str(problem), "--tex", "--strict", "-o", str(tmp_path / "w.tex"))[0]
        == EXIT_FAILED
    )


# ---------------------------------------------------------------------------
# as a user runs it
# ---------------------------------------------------------------------------


def test_subprocess_exit_codes_and_json_on_stdout():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "symcalc",
            "verify",
            "x^2",
            "--wrt",
            "x",
            "--claim",
            "x",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert proc.returncode == EXIT_FAILED
    assert json.loads(proc.stdout)["holds"] is False
    proc = subprocess.run(
        [sys.executable, "-m", "symcalc", "derive", "--wrt", "x", "--", "-x^2"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert proc.returncode == EXIT_OK and "[-2*x]" in proc.stdout


def test_notebooks_are_committed_without_outputs():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


class _FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_shown_on_a_terminal_and_silent_otherwise(monkeypatch):
    import symcalc.cli.terminal as cli

    seen = []
    original = cli._Progress.update
    monkeypatch.setattr(
        cli._Progress, "update", lambda self, text: (seen.append(text), original(self, text))
    )
    err = _FakeTerminal()
    out = io.StringIO()
    code = main(
        [
            "derive",
            "x^3 - 3*x + y^2",
            "--wrt",
            "x",
            "y",
            "--analyses",
            "gradient",
            "critical_points",
        ],
        stdout=out,
        stderr=err,
    )
    assert code == EXIT_OK
    assert "deriving" in err.getvalue()  # a live status on the terminal
    assert any("critical points" in m for m in seen)  # ... told what is being done
    assert "\x1b[" not in out.getvalue()  # stdout was not a terminal: plain
    code, _, quiet = run("derive", "x^3 - 3*x + y^2", "--wrt", "x", "y")
    assert code == EXIT_OK and quiet == ""
