"""printing/latex.py split by job: the same public names, and matrices measured by their widest row."""

from __future__ import annotations

import sympy as sp

import symcalc.printing.latex as facade
from symcalc.printing import layout, printer
from symcalc.printing.layout import visible_width


def test_every_public_name_is_still_reached_through_latex_py():
    expected = {
        "SymcalcLatexPrinter",
        "latex",
        "options",
        "equation",
        "matrix_block",
        "visible_width",
        "escape_text",
        "DEFAULT_WIDTH",
    }
    assert set(facade.__all__) == expected
    assert facade.latex is printer.latex and facade.equation is layout.equation
    assert facade.SymcalcLatexPrinter is printer.SymcalcLatexPrinter


def test_the_split_modules_stay_under_600_lines():
    for m in (facade, layout, printer):
        with open(m.__file__, encoding="utf-8") as f:
            assert sum(1 for _ in f) <= 600


def test_a_column_is_as_wide_as_its_widest_entry_not_their_sum():
    x, y = sp.symbols("x y")
    col = facade.latex(sp.Matrix([[x**2 + y**2 + 1], [x * y + 1]]))
    row = facade.latex(sp.Matrix([[x**2 + y**2 + 1, x * y + 1]]))
    assert visible_width(col) < visible_width(row)
    assert visible_width(col) >= visible_width(facade.latex(x**2 + y**2 + 1))
