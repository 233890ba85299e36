"""No Python in any output: pdftotext of every example's PDF and of user problem files.

Every record that reaches a template is formatted by the printing package; this
reads what a person reads (the PDF's text) and fails on Python reprs and on a
summary that a later section contradicts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import symcalc as sc

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
CORPUS = sorted((Path(__file__).parent / "problems").glob("*.toml"))

FORBIDDEN = {
    "a dict repr": re.compile(r"\{'|\{’|\{‘"),
    "a SymPy dummy": re.compile(r"(?<![A-Za-z0-9])_d(?![A-Za-z0-9])"),
    "a Python power": re.compile(r"\*\*"),
    "a SymPy Lambda": re.compile(r"Lambda\("),
    "an empty size dict": re.compile(r"size = \{\}"),
}
# the generated kernel is Python on purpose: there only its comments and docstrings are prose
KERNEL_FORBIDDEN = {k: v for k, v in FORBIDDEN.items() if k != "a Python power"}

needs_tex = pytest.mark.skipif(
    not (shutil.which("latexmk") and shutil.which("pdftotext")),
    reason="TeX Live and poppler-utils are installed by scripts/setup-system.sh",
)


def _pdf_text(problem: Path, tmp_path: Path) -> str:
    pdf = sc.report(problem).to_pdf(tmp_path / (problem.stem + ".pdf"))
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _prose_and_kernel(text: str) -> tuple[str, list[str]]:
    """The report's prose, and the kernel appendix's comment and docstring lines."""
    head, sep, kernel = text.partition("Generated kernel")
    comments = [
        line for line in kernel.splitlines() if "#" in line or line.strip().startswith(("'", "’"))
    ]
    return head, comments


def _python_found(text: str) -> list[str]:
    prose, comments = _prose_and_kernel(text)
    found = [f"{why}: {m.group(0)!r}" for why, rx in FORBIDDEN.items() for m in rx.finditer(prose)]
    for line in comments:
        found += [
            f"{why} in a kernel comment: {line.strip()!r}"
            for why, rx in KERNEL_FORBIDDEN.items()
            if rx.search(line)
        ]
    return found


def _summary_contradictions(text: str) -> list[str]:
    """A ticked summary line on critical points while the landscape says the solver gave up."""
    summary = text.split("Summary", 1)[-1].split("\n1 ", 1)[0] if "Summary" in text else ""
    gave_up = "could not solve" in text.split("Summary", 1)[-1][len(summary) :]
    ticked = re.search(r"✓\s*\d+ critical point", summary)
    if gave_up and ticked:
        return [f"summary says {ticked.group(0)!r} but the solver gave up"]
    if gave_up and "could not solve" not in summary:
        return ["the solver gave up but the summary does not say so in words"]
    return []


@needs_tex
@pytest.mark.parametrize("problem", EXAMPLES + CORPUS, ids=lambda p: p.stem)
def test_the_pdf_shows_no_python(problem, tmp_path):
    text = _pdf_text(problem, tmp_path)
    assert len(text) > 500, "the PDF has (almost) no text"
    assert _python_found(text) == []
    assert _summary_contradictions(text) == []


def test_the_checker_itself_finds_what_it_must():
    """The detector is not vacuous: each forbidden form in a made-up page is caught."""
    page = "Summary\n ✓ 0 critical point(s): none\n1 Problem\npoint = {'x': 1} size = {} x**2 _d Lambda(\nThe solver could not solve"
    found = _python_found(page)
    assert len(found) == 5
    assert _summary_contradictions(page) != []
    assert _python_found("kernel: y = x**2\nGenerated kernel\n    v = x**2\n    # value = x^2") == [
        "a Python power: '**'"
    ]


def test_a_parameter_named_lambda_builds(tmp_path):
    tex = sc.report(Path(__file__).parent / "problems" / "lambda_param.toml").tex
    assert r"\lambda" in tex and r"\mathit{lam}" in tex
    assert "lamw" not in tex.replace(r"\mathit{lam}", "")
