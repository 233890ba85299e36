"""Read formulas written by people, safely: everyday math syntax and a LaTeX subset.

Nothing here calls ``eval``, ``exec``, ``sympify`` or ``parse_expr`` on user
text. Two small lexers (math syntax, LaTeX) turn the text into one token
stream, and one recursive-descent parser builds SymPy objects from it, with a
whitelist of functions and constants. Names bind to the symbols and matrices
you declare (``symbols=``); anything else is a :class:`~symcalc.errors.ParseError`
that points at the position.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> parse("2x cos(x^2)", {"x": x})
2*x*cos(x**2)
>>> parse_latex(r"\\frac{e^{-x}}{(1+e^{-x})^2}", {"x": x})
exp(-x)/(1 + exp(-x))**2
>>> n = sp.Symbol("n", integer=True, positive=True)
>>> A, xv, b = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("b", n, 1)
>>> parse("2*A.T*(A*x - b)", {"A": A, "x": xv, "b": b})
2*A.T*(A*x - b)
>>> parse("x^T A x", {"A": A, "x": xv})
x.T*A*x

The grammar (both syntaxes) and what is not supported: ``docs/grammar.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from symcalc.budget import budgeted
from symcalc.errors import ParseError, reject_text
from symcalc.parsing.grammar import _Parser
from symcalc.parsing.latex import _LATEX_FUNCTIONS, _LatexLexer
from symcalc.parsing.lexer import _GREEK, LIMITS, _lex_math, _Source
from symcalc.parsing.names import CONSTANTS, FUNCTIONS
from symcalc.parsing.shapes import ShapeMismatchError

# The modules by job: lexer (tokens, LIMITS), latex (the LaTeX lexer), names (FUNCTIONS,
# CONSTANTS), shapes (size checks, ShapeMismatchError), operations (+ * / ^ of matrices
# and scalars), grammar (the recursive-descent parser); this module is the entry points.
__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "LIMITS",
    "ShapeMismatchError",
    "looks_like_latex",
    "parse",
    "parse_any",
    "parse_latex",
]


def _check_text(text: Any, what: str = "the formula") -> str:
    if not isinstance(text, str):
        raise ParseError(f"{what} must be text, got {type(text).__name__}")
    if len(text) > LIMITS["max_length"]:
        raise ParseError(
            f"{what} is {len(text)} characters long; the limit is "
            f"{LIMITS['max_length']} (split it, or build it with SymPy)"
        )
    if not text.strip():
        raise ParseError(f"{what} is empty")
    return text


def _right_hand_side(text: str) -> int:
    """Offset of the part after the '=' (``grad f = 2x`` reads ``2x``)."""
    return text.index("=") + 1 if "=" in text else 0


_LHS_CHARS = re.compile(r"[A-Za-z0-9\s\\_^{}()\[\]'/,.*+\-|]*")
_LHS_COMMANDS = {
    "nabla",
    "partial",
    "mathrm",
    "operatorname",
    "frac",
    "dfrac",
    "tfrac",
    "d",
    "left",
    "right",
    "mathbf",
    "boldsymbol",
    "bm",
    "top",
    "intercal",
    "mathsf",
    "mathit",
    "text",
    "vec",
    ",",
    ";",
    "!",
    " ",
}


def _check_left_hand_side(text: str, end: int, src: _Source):
    """The part before '=' is only read for safety: math characters and harmless commands."""
    lhs = text[: end - 1]
    m = _LHS_CHARS.match(lhs)
    if m.end() != len(lhs):
        raise src.error(f"unexpected character {lhs[m.end()]!r} before '='", m.end())
    for cm in re.finditer(r"\\([A-Za-z]+|.)", lhs):
        name = cm.group(1)
        if name not in _LHS_COMMANDS and name not in _GREEK and name not in _LATEX_FUNCTIONS:
            raise src.error(f"unknown LaTeX command \\{name} before '='", cm.start())


# ======================================================================================
# Public entry points
# ======================================================================================
def _symbol_table(symbols) -> dict[str, Any]:
    if symbols is None:
        return {}
    if isinstance(symbols, Mapping):
        table = {}
        for k, v in symbols.items():
            reject_text(v, f"symbols[{str(k)!r}]")  # names are text; what they stand for is not
            table[str(k)] = v
        return table
    table = {}
    for s in symbols:
        reject_text(s, "an entry of symbols")
        table[_name_of(s)] = s
    return table


def _name_of(s) -> str:
    return s.name if hasattr(s, "name") else str(s)


def _run(text, symbols, allow_undeclared, latex):
    text = _check_text(text)
    table = _symbol_table(symbols)
    if allow_undeclared is None:
        allow_undeclared = symbols is None
    offset = _right_hand_side(text)
    src = _Source(text, offset)
    if not text[offset:].strip():
        raise src.error("nothing after '='", len(text))
    if offset:
        _check_left_hand_side(text, offset, src)
    try:
        tokens = _LatexLexer(src).lex() if latex else _lex_math(src)
        return _Parser(tokens, src, table, allow_undeclared, latex).parse()
    except RecursionError:
        raise ParseError("the formula is nested too deeply") from None


@budgeted("parse")
def parse(text: str, symbols=None, allow_undeclared: bool | None = None):
    """Read everyday math syntax into a SymPy object (never evaluated as Python).

    symbols: a dict name -> SymPy object (Symbols, MatrixSymbols), or a list of them.
    allow_undeclared: create plain Symbols for names not in ``symbols``; by default
    only when no ``symbols`` are given.
    budget: seconds (default ``DEFAULT_BUDGETS["parse"]``; None: no limit), else
    BudgetExceededError. Sizes are checked before work starts (:data:`LIMITS`).

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> parse("x^2 y + sin^2 x", [x, y])
    x**2*y + sin(x)**2
    >>> parse("y(w+1)", {"y": y, "w": x})   # y is a declared name: a product
    y*(x + 1)
    >>> parse("2 z", {"x": x})
    Traceback (most recent call last):
    ...
    symcalc.errors.ParseError: unknown name 'z' (declared names: x)
      2 z
        ^
    """
    return _run(text, symbols, allow_undeclared, latex=False)


@budgeted("parse")
def parse_latex(text: str, symbols=None, allow_undeclared: bool | None = None):
    """Read a LaTeX formula (the subset in ``docs/grammar.md``) into a SymPy object.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> parse_latex(r"\\sigma(x)\\left(1-\\sigma(x)\\right)", [x])
    (1 - sigmoid(x))*sigmoid(x)
    >>> parse_latex(r"\\frac{1}{2} x^2 \\cdot 3", [x])
    3*x**2/2
    """
    return _run(text, symbols, allow_undeclared, latex=True)


_LATEX_HINT = re.compile(r"\\[A-Za-z]|[{}]|\\[,;!]")


def looks_like_latex(text: str) -> bool:
    """True when the text uses LaTeX markup (a backslash command or braces).

    >>> looks_like_latex(r"2x\\cos(x^2)"), looks_like_latex("2x cos(x^2)")
    (True, False)
    """
    return bool(_LATEX_HINT.search(text))


@budgeted("parse")
def parse_any(text: str, symbols=None, allow_undeclared: bool | None = None, syntax: str = "auto"):
    """parse or parse_latex, chosen by ``syntax`` ("math", "latex" or "auto")."""
    if syntax not in ("auto", "math", "latex"):
        raise ParseError(f"syntax must be 'auto', 'math' or 'latex', not {syntax!r}")
    latex = syntax == "latex" or (
        syntax == "auto" and isinstance(text, str) and looks_like_latex(text)
    )
    return _run(text, symbols, allow_undeclared, latex=latex)
