"""The report typesets a problem file's [[derivation]] tables, the wrong line marked."""

from __future__ import annotations

from pathlib import Path

import symcalc as sc
from symcalc.verification.derivation_report import render_latex

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_report_marks_the_wrong_line_in_tex_and_html():
    r = sc.report(ROOT / "examples" / "wrong_derivation.toml", figures=False, kernel=False)
    section = r.tex[r.tex.index("Hand derivations, line by line") :]
    marked = [ln for ln in section.splitlines() if "blacktriangleright" in ln and "&" in ln]
    assert len(marked) == 1 and " 3 &" in marked[0]
    assert "symmetric" in section and "Counterexample" in section
    html = r.to_html()
    page = html[html.index('id="derivations"') :]
    assert page.count("&#9654;") == 2  # the legend and the wrong line
    assert "Counterexample" in page


def test_user_text_in_a_reason_is_escaped():
    check = sc.check_derivation(
        r"f = x^2 \quad \text{see \input{/etc/passwd} $x$ 100%} \\ df/dx = x", wrt="x"
    )
    tex = render_latex(check)
    assert r"\input" not in tex and "100\\%" in tex
