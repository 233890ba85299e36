"""`symcalc derive --format latex --steps`: the derivation as aligned LaTeX, each step's rule named."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest

from symcalc.cli.entry import main


def _run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_latex_steps_name_their_rules_and_print_differentials():
    code, out, _ = _run("derive", "x^2 sin(x)", "--wrt", "x", "--format", "latex", "--steps")
    assert code == 0
    assert r"\text{Product rule}" in out and r"\text{Power rule}" in out
    assert r"\mathrm{d}x" in out and " dx " not in out
    assert out.count(r"\begin{align*}") == out.count(r"\end{align*}") >= 2


@pytest.mark.tex
def test_latex_fragment_compiles(tmp_path):
    if not shutil.which("pdflatex"):
        pytest.fail("pdflatex is needed (CI installs TeX Live)")
    _, out, _ = _run("derive", "x^2 sin(x)", "--wrt", "x", "--format", "latex", "--steps")
    doc = tmp_path / "frag.tex"
    doc.write_text(
        "\\documentclass{article}\\usepackage{amsmath}\\begin{document}\n"
        + out
        + "\n\\end{document}\n"
    )
    run = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:]
