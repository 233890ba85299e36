"""One table of result titles: the CLI's text and LaTeX read it."""

from __future__ import annotations

import io

from symcalc.cli.entry import main
from symcalc.printing.titles import RESULT_TITLES, title


def test_every_result_has_a_name_a_heading_and_both_symbols():
    for key, t in RESULT_TITLES.items():
        assert t.name and t.heading and t.latex and t.text, key
        assert t.heading[0].isupper()


def test_the_objective_is_f_everywhere():
    assert title("gradient").latex == r"\nabla f" and title("gradient").text == "∇f"
    assert title("hessian").latex == r"\nabla^2 f"


def test_the_cli_prints_the_tables_titles():
    out = io.StringIO()
    main(["derive", "x^2*y", "--wrt", "x", "y", "--format", "latex"], stdout=out)
    assert title("gradient").latex in out.getvalue() and title("hessian").latex in out.getvalue()
    out = io.StringIO()
    main(["--color", "never", "derive", "x^2*y", "--wrt", "x", "y"], stdout=out)
    assert title("hessian").name in out.getvalue()
