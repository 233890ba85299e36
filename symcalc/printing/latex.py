r"""LaTeX for people who read ML papers: a LatexPrinter subclass and layout helpers.

The printer changes notation through ``_print_ClassName`` methods only:
``X^\top`` for transposes, ``\operatorname{tr}``, ``\det``, ``\otimes``
(Kronecker), ``\odot`` (Hadamard), ``\operatorname{diag}``, ``\sigma`` and
``\operatorname{softplus}``, bracketed matrices, optional bold vectors.
The layout helpers keep long results on the page: shared subexpressions get
names (``u_1, u_2, ...``), long sums are split over aligned lines and big
matrices are shown entry by entry.

>>> import sympy as sp
>>> X = sp.MatrixSymbol("X", 3, 2); w = sp.MatrixSymbol("w", 2, 1)
>>> latex((X * w).T * X * w)
'w^\\top X^\\top X w'
>>> latex(sp.Trace(X.T * X))
'\\operatorname{tr}\\left(X^\\top X\\right)'
>>> x = sp.Symbol("x")
>>> print(equation("f", sum(sp.Symbol(f"a_{i}") * x**i for i in range(30)), width=40))  # doctest: +ELLIPSIS
f &= a_{0} + a_{1} x + ...\\
  &\quad + ...
"""

from __future__ import annotations

from symcalc.printing.layout import (  # noqa: F401 - the layout's private helpers, for reporting
    _Names,
    _shared,
    _sum_lines,
    _where_lines,
    equation,
    matrix_block,
    visible_width,
)
from symcalc.printing.printer import (
    DEFAULT_WIDTH,
    SymcalcLatexPrinter,
    escape_text,
    latex,
    options,
)

__all__ = [
    "SymcalcLatexPrinter",
    "latex",
    "options",
    "equation",
    "matrix_block",
    "visible_width",
    "escape_text",
    "DEFAULT_WIDTH",
]
