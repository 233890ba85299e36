"""symcalc.report: templates, escaping, the TeX build and its failures."""

from __future__ import annotations

import shutil
from pathlib import Path

import jinja2
import pytest
import sympy as sp

import symcalc as sc
from symcalc.errors import LaTeXBuildError, TeXNotFoundError
from symcalc.records import Derivation, Rule
from symcalc.reporting.build import Report, _templates_dir, template_env

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

HOSTILE = r"\input{/etc/passwd} 100% of $x_1$ & #2 ^ ~ {braces} \end{document}"
PROBLEM = f'''
title = "Bowl: {HOSTILE.replace(chr(92), chr(92) * 2)}"
description = "{HOSTILE.replace(chr(92), chr(92) * 2)}"
objective = "x^2 + 3*y^2"
analyses = ["gradient", "hessian", "critical_points", "descent", "finite_differences"]
[variables]
x = {{ shape = [], description = "{HOSTILE.replace(chr(92), chr(92) * 2)}" }}
y = "scalar"
'''


def test_templates_are_found_and_use_latex_safe_delimiters():
    root = _templates_dir()
    assert root.joinpath("report.tex.j2").is_file()
    env = template_env()
    assert env.variable_start_string == r"\VAR{" and env.block_start_string == r"\BLOCK{"
    assert env.undefined is jinja2.StrictUndefined


def test_a_missing_template_variable_is_an_error_not_blank():
    env = template_env()
    with pytest.raises(jinja2.UndefinedError):
        env.from_string(r"\VAR{nothing}").render()


def test_user_text_is_escaped_everywhere():
    tex = sc.report(sc.load_problem(PROBLEM), figures=False).tex
    assert r"\input{/etc/passwd}" not in tex
    assert r"\end{document}" in tex and tex.count(r"\end{document}") == 1
    assert r"100\% of \$x\_1\$ \& \#2" in tex


def test_report_of_a_bare_derivation():
    x = sp.Symbol("x")
    d = Derivation(
        expr=sp.sin(x) ** 2, wrt=(x,), results={"gradient": sp.Matrix([2 * sp.sin(x) * sp.cos(x)])}
    )
    d.add_step(
        Rule("chain", "Chain rule", r"\mathrm{d} g(u) = g'(u)\,\mathrm{d}u"),
        sp.sin(x) ** 2,
        2 * sp.sin(x) * sp.cos(x) * sp.Symbol("dx"),
    )
    d.add_check("finite differences", True, "agrees", max_abs_error=1e-10)
    tex = sc.report(d).tex
    assert "Chain rule" in tex and r"\mathrm{d}x" in tex
    assert r"2 \sin{\left(x \right)} \cos{\left(x \right)}" in tex


def test_report_accepts_a_path_a_problem_and_a_study():
    p = sc.load_problem(EXAMPLES / "rotational_field.toml")
    s = p.run()
    for source in (str(EXAMPLES / "rotational_field.toml"), p, s):
        tex = sc.report(source, figures=False).tex
        assert "A rotational field" in tex and r"\no" in tex  # not conservative
    with pytest.raises(TypeError):
        sc.report(42)


def test_progress_is_reported_for_the_whole_report():
    seen = []
    sc.report(EXAMPLES / "landscape_2d.toml", progress=seen.append)
    text = "\n".join(seen)
    for stage in (
        "deriving",
        "critical points",
        "typesetting",
        "drawing figures",
        "rendering LaTeX",
    ):
        assert stage in text


def test_figures_are_vector_pdf_with_truetype_fonts():
    r = sc.report(EXAMPLES / "landscape_2d.toml")
    data = r.figures["landscape-2d-figure-landscape.pdf"]
    assert data.startswith(b"%PDF")
    assert b"/FontFile2" in data  # TrueType (Type 42) embedded
    assert b"/Type3" not in data


def test_write_tex_writes_the_figures_next_to_it(tmp_path):
    r = sc.report(EXAMPLES / "landscape_2d.toml")
    path = r.write_tex(tmp_path / "out" / "bowl.tex")
    assert path.read_text().startswith(r"\documentclass")
    assert (tmp_path / "out" / "landscape-2d-figure-landscape.pdf").is_file()


def test_no_tex_installed_raises_with_install_hint_and_writes_the_tex(tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    r = sc.report(sc.load_problem(PROBLEM), figures=False)
    with pytest.raises(TeXNotFoundError) as err:
        r.to_pdf(tmp_path / "bowl.pdf")
    msg = str(err.value)
    assert "apt-get install" in msg and "latexmk" in msg
    assert (tmp_path / "bowl.tex").read_text() == r.tex
    assert not (tmp_path / "bowl.pdf").exists()


@pytest.mark.tex
def test_a_latex_error_gives_file_line_messages_not_pages(tmp_path):
    tex = "\\documentclass{article}\n\\begin{document}\nfine\n\\undefinedcommand\n\\end{document}\n"
    with pytest.raises(LaTeXBuildError) as err:
        Report(tex=tex).to_pdf(tmp_path / "bad.pdf")
    msg = str(err.value)
    assert "report.tex:4:" in msg and "Undefined control sequence" in msg
    assert len(msg.splitlines()) < 15


@pytest.mark.tex
def test_hostile_text_compiles_and_reads_back(tmp_path):
    assert shutil.which("latexmk"), "TeX is needed (CI installs it)"
    r = sc.report(sc.load_problem(PROBLEM))
    pdf = r.to_pdf(tmp_path / "hostile.pdf")
    import subprocess

    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "100% of $x_1$ & #2" in text
    assert "minimum" in text
    assert "Overfull \\hbox" not in r.log


def test_build_script_shows_progress_and_writes_tex(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [
            sys.executable,
            str(root / "scripts" / "build_reports.py"),
            "--tex",
            "-v",
            "--out",
            str(tmp_path),
            str(EXAMPLES / "landscape_2d.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    for stage in (
        "landscape_2d: deriving",
        "landscape_2d: solving grad L = 0",
        "landscape_2d: drawing figures",
        "1 of 1 reports built",
    ):
        assert stage in proc.stdout
    assert (tmp_path / "landscape_2d.tex").read_text().startswith(r"\documentclass")
    assert (tmp_path / "landscape-2d-figure-landscape.pdf").is_file()


def test_bold_vectors_option_reaches_the_maths():
    text = (EXAMPLES / "least_squares.toml").read_text() + "bold_vectors = true\n"
    tex = sc.report(sc.load_problem(text), figures=False).tex
    assert r"\boldsymbol{w}" in tex
    plain = sc.report(EXAMPLES / "least_squares.toml", figures=False).tex
    assert r"\boldsymbol{w}" not in plain


@pytest.mark.tex
def test_unicode_in_user_text_compiles(tmp_path):
    text = """
title = "Régression: λ ≥ 0, ∇L = 0 — 学习"
description = "Σ is ‖x‖² ≤ 1 “quoted” … café"
objective = "x^2 + y^2"
[variables]
x = "scalar"
y = "scalar"
"""
    r = sc.report(sc.load_problem(text), figures=False)
    pdf = r.to_pdf(tmp_path / "unicode.pdf")
    import subprocess

    out = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Régression" in out and "café" in out and "λ" in out


def test_a_figure_that_cannot_be_drawn_becomes_a_note(monkeypatch):
    import importlib

    figures = importlib.import_module("symcalc.reporting.figures")

    def broken(study):
        raise ValueError("no numbers here")

    monkeypatch.setattr(figures, "figures_for", broken)
    tex = sc.report(EXAMPLES / "landscape_2d.toml").tex
    assert "the figure could not be drawn" in tex and "ValueError" not in tex  # in words
    assert r"\includegraphics" not in tex
