"""Every bundled example builds to a PDF that shows its key results, with no overfull lines.

The examples are built once per module, two at a time (processes), into a
temporary directory; each test then reads one PDF's text (pdftotext) and log.
These tests need TeX: in CI it is installed, and missing TeX is a failure here.
"""

from __future__ import annotations

import multiprocessing
import re
import shutil
import subprocess
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.tex

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))

# what a reader must find in each report (words, not typeset maths)
KEY_RESULTS = {
    "least_squares": [
        "Gradient",
        "Hessian",
        "minimum",
        "hand derivation of the gradient: correct",
        "finite differences agree",
        "Identity",
    ],
    "ridge": ["Gradient", "Hessian", "minimum", "hand derivation of the gradient: correct"],
    "logistic_regression": ["Gradient", "Hessian", "Descent along gradient flow", "passed"],
    "softmax_regression": [
        "Gradient",
        "finite differences agree",
        "hand derivation of the gradient: correct",
    ],
    "gaussian": ["Gaussian identities", "Score identity", "Hessian identity", "passed"],
    "landscape_2d": [
        "saddle",
        "minimum",
        "2 critical points",
        "Descent along gradient flow",
        "Loss landscape and gradient flow",
    ],
    "lennard_jones": [
        "Curl",
        "the field is conservative",
        "Potential",
        "potential energy",
        "zero, as for every closed loop of a conservative field",
    ],
    "rotational_field": [
        "Curl",
        "NOT conservative",
        "no: the curl is not zero",
        "Work around a closed loop",
    ],
    "rosenbrock": [
        "1 critical point: minimum",
        "Loss landscape and gradient flow",
        "Generated kernel",
    ],
    "score_matching": [
        "Gradient of the denoising loss with respect to W",
        "Gradient of the denoising loss with respect to b",
        "Score matching",
        "denoising-loss gradients (2 parameters) agree with finite differences",
        "loss gradient with respect to W",
    ],
    "vectorization_2x3": ["Vectorization", "vec", "vech", "commutation", "passed"],
    "wrong_derivation": [
        "hand derivation of the gradient: WRONG",
        "Counterexample at",
        "the claim gives",
        "the true value is",
        "wrong",
        "correct",
    ],
}


def _build(path: str, out: str) -> dict:
    import symcalc as sc
    from symcalc.errors import SymcalcError

    name = Path(path).stem
    try:
        report = sc.report(path)
        pdf = report.to_pdf(Path(out) / f"{name}.pdf")
    except SymcalcError as exc:
        return dict(name=name, error=f"{type(exc).__name__}: {exc}")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True
    ).stdout
    return dict(name=name, pdf=str(pdf), log=report.log, text=text, error="")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    assert shutil.which("latexmk") and shutil.which("pdftotext"), (
        "TeX Live and poppler-utils are needed: apt-get install --no-install-recommends "
        "texlive-latex-recommended texlive-fonts-recommended latexmk lmodern poppler-utils"
    )
    out = tmp_path_factory.mktemp("reports")
    # spawn, not fork: this pytest process may already run JAX's threads (test_array_api)
    with ProcessPoolExecutor(
        max_workers=2, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        results = list(pool.map(_build, [str(p) for p in EXAMPLES], [str(out)] * len(EXAMPLES)))
    return {r["name"]: r for r in results}


def test_the_required_examples_are_bundled():
    assert {p.stem for p in EXAMPLES} >= set(KEY_RESULTS)


@pytest.mark.parametrize("name", sorted(KEY_RESULTS))
def test_example_builds_and_shows_its_key_results(built, name):
    r = built[name]
    assert not r["error"], r["error"]
    assert Path(r["pdf"]).stat().st_size > 10_000
    text = re.sub(r"\s+", " ", r["text"])
    missing = [k for k in KEY_RESULTS[name] if k not in text]
    assert not missing, f"{name}.pdf does not show {missing}"


@pytest.mark.parametrize("name", sorted(KEY_RESULTS))
def test_example_has_no_overfull_lines(built, name):
    r = built[name]
    assert not r["error"], r["error"]
    overfull = [l for l in r["log"].splitlines() if l.startswith("Overfull \\hbox")]
    assert overfull == []


def test_wrong_hand_derivation_shows_a_counterexample_that_is_really_wrong(built):
    """The point printed in the PDF, put back into both formulas, shows the mistake."""
    import sympy as sp

    import symcalc as sc

    r = built["wrong_derivation"]
    assert not r["error"], r["error"]
    p = sc.load_problem(ROOT / "examples" / "wrong_derivation.toml")
    s = p.run()
    wrong = s.claims[0]
    A, x = p.lookup("A").symbol, p.lookup("x").symbol
    pt = wrong.counterexample["point"]
    truth = ((A + A.T) * x).subs(pt)
    claimed = (2 * A * x).subs(pt)
    assert truth != claimed
    # and the PDF prints that point's coordinates
    text = r["text"]
    shown = [str(sp.Rational(v).p) for v in pt.values()]
    assert all(num.lstrip("-") in text for num in shown)
