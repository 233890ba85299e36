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

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy import MatrixBase, MatrixExpr

from symcalc.budget import budgeted
from symcalc.errors import ParseError, ShapeError, reject_text
from symcalc.expr.registry import REGISTRY

__all__ = ["parse", "parse_latex", "parse_any", "looks_like_latex", "LIMITS"]

#: Limits that keep hostile or accidental input cheap to refuse.
LIMITS = {
    "max_length": 10_000,  # characters of input
    "max_depth": 120,  # nesting of parentheses / unary operators / calls
    "max_tokens": 4_000,
    "max_digits": 100,  # digits of one number literal
    "max_exponent": 1_000,  # |n| of a numeric exponent
    "max_result_digits": 20_000,  # digits of an exact numeric power
    "max_literal_entries": 1_024,  # entries of one matrix literal [[...], ...]
    "max_matrix_entries": 10_000,  # entries of an explicit result (kron of literals)
    "max_matrix_power": 32,  # |n| of A^n for a matrix literal with symbols in it
    "max_symbolic_inverse": 5,  # largest n x n literal with symbols that inv / ^-1 takes
    "max_symbolic_det": 8,  # largest n x n literal with symbols that det takes
}

_GREEK = (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu "
    "xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega "
    "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega"
).split()

_UNICODE_GREEK = {
    "α": "alpha",
    "β": "beta",
    "γ": "gamma",
    "δ": "delta",
    "ε": "epsilon",
    "ζ": "zeta",
    "η": "eta",
    "θ": "theta",
    "ι": "iota",
    "κ": "kappa",
    "λ": "lambda",
    "μ": "mu",
    "ν": "nu",
    "ξ": "xi",
    "π": "pi",
    "ρ": "rho",
    "σ": "sigma",
    "τ": "tau",
    "υ": "upsilon",
    "φ": "phi",
    "χ": "chi",
    "ψ": "psi",
    "ω": "omega",
    "Γ": "Gamma",
    "Δ": "Delta",
    "Θ": "Theta",
    "Λ": "Lambda",
    "Ξ": "Xi",
    "Π": "Pi",
    "Σ": "Sigma",
    "Φ": "Phi",
    "Ψ": "Psi",
    "Ω": "Omega",
}

_UNICODE_OPS = {"−": "-", "·": "*", "⋅": "*", "×": "*", "∘": "∘", "⊙": "∘", "÷": "/"}

_SUPERSCRIPT_DIGITS = {c: str(d) for d, c in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")}
_SUPERSCRIPT_MINUS = "⁻"


def _is_digit(c: str) -> bool:
    """An ASCII digit (``str.isdigit`` also accepts '²' and other scripts' digits)."""
    return "0" <= c <= "9" and len(c) == 1


def _starts_number(text: str, i: int) -> bool:
    return _is_digit(text[i]) or (text[i] == "." and i + 1 < len(text) and _is_digit(text[i + 1]))


def _superscript_tokens(text: str, i: int, src: _Source) -> tuple[list[Token], int]:
    """``x²``, ``x⁻¹``: a run of superscript digits (after an optional ⁻) is a power.

    >>> toks, end = _superscript_tokens("x⁻¹²", 1, _Source("x⁻¹²"))
    >>> [t.value for t in toks], end
    (['^', '(', '-', '12', ')'], 4)
    """
    start, j = i, i
    negative = text[j] == _SUPERSCRIPT_MINUS
    j += negative
    digits = ""
    while j < len(text) and text[j] in _SUPERSCRIPT_DIGITS:
        digits += _SUPERSCRIPT_DIGITS[text[j]]
        j += 1
    if not digits:
        raise src.error(
            "a superscript minus '⁻' must be followed by superscript digits (x⁻¹)", start
        )
    if len(digits) > LIMITS["max_digits"]:
        raise src.error(f"number with more than {LIMITS['max_digits']} digits", start)
    toks = [Token("op", "^", start), Token("op", "(", start)]
    if negative:
        toks.append(Token("op", "-", start))
    toks += [Token("num", digits, start), Token("op", ")", j)]
    return toks, j


# ======================================================================================
# Tokens
# ======================================================================================
@dataclass
class Token:
    kind: str  # "num" | "name" | "op" | "top" | "end"
    value: str
    pos: int
    run: bool = False  # LaTeX letter run: may be read letter by letter


class _Source:
    """The text being read, with the offset of the part parsed (after a ``lhs =``)."""

    def __init__(self, text: str, offset: int = 0):
        self.text = text
        self.offset = offset

    def error(self, message: str, pos: int) -> ParseError:
        return ParseError(message, self.text, max(0, min(pos, len(self.text))))


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


def _number_token(text: str, i: int, src: _Source) -> tuple[Token, int]:
    m = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+").match(text, i)
    digits = m.group(0)
    if re.compile(r"[eE][+-]?\d").match(text, m.end()):
        raise src.error("scientific notation (1e-3) is not supported: write 0.001 or 1/1000", i)
    if len(digits.replace(".", "")) > LIMITS["max_digits"]:
        raise src.error(f"number with more than {LIMITS['max_digits']} digits", i)
    return Token("num", digits, i), m.end()


# --------------------------------------------------------------------------------------
# Math-syntax lexer
# --------------------------------------------------------------------------------------
_MATH_OPS = {"+", "-", "*", "/", "^", "(", ")", "[", "]", ",", ";", "|", "@", "'", "∘"}
_MATH_BRACES = {"{": "(", "}": ")"}  # A^{-1}: braces group, as in LaTeX


def _lex_math(src: _Source) -> list[Token]:
    text, i, out = src.text, src.offset, []
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif _starts_number(text, i):
            tok, i = _number_token(text, i, src)
            out.append(tok)
        elif c in _SUPERSCRIPT_DIGITS or c == _SUPERSCRIPT_MINUS:
            toks, i = _superscript_tokens(text, i, src)
            out.extend(toks)
        elif c.isalpha() and c.isascii() or c == "_":
            m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(text, i)
            name = m.group(0)
            if "__" in name or name.startswith("_"):
                raise src.error(
                    f"'{name}': names starting with '_' or containing '__' are "
                    "not math (symcalc reads formulas, never Python)",
                    i,
                )
            out.append(Token("name", name, i))
            i = m.end()
        elif c in _UNICODE_GREEK:
            out.append(Token("name", _UNICODE_GREEK[c], i))
            i += 1
        elif c == "*" and text.startswith("**", i):
            out.append(Token("op", "^", i))
            i += 2
        elif c == "." and text.startswith(".*", i):
            out.append(Token("op", "∘", i))
            i += 2
        elif c == "." and re.compile(r"\.T(?![A-Za-z0-9_])").match(text, i):
            out.append(Token("op", "'", i))
            i += 2
        elif c == ".":
            raise src.error(
                "'.' is only allowed in numbers (1.5), in .T (transpose) and in "
                ".* (elementwise product); attribute access is not math",
                i,
            )
        elif c == "ᵀ":
            out.append(Token("op", "'", i))
            i += 1
        elif c in _UNICODE_OPS:
            out.append(Token("op", _UNICODE_OPS[c], i))
            i += 1
        elif c in _MATH_BRACES:
            out.append(Token("op", _MATH_BRACES[c], i))
            i += 1
        elif c in _MATH_OPS:
            out.append(Token("op", "*" if c == "@" else c, i))
            i += 1
        elif c == "=":
            raise src.error("only one '=' is allowed (the claim is what follows it)", i)
        else:
            raise src.error(f"unexpected character {c!r} ({unicodedata.name(c, 'unknown')})", i)
        if len(out) > LIMITS["max_tokens"]:
            raise src.error(f"more than {LIMITS['max_tokens']} tokens", i)
    out.append(Token("end", "", len(text)))
    return out


# --------------------------------------------------------------------------------------
# LaTeX lexer: commands become the same tokens as math syntax
# --------------------------------------------------------------------------------------
#: LaTeX commands read as function names: the registry's (\sin, \arcsin, ...) and the
#: matrix functions'.
_LATEX_FUNCTIONS = {c for spec in REGISTRY for c in spec.latex_commands} | {
    "det",
    "tr",
    "Tr",
    "trace",
    "diag",
}
_LATEX_NAME_WRAPPERS = {
    "mathbf",
    "boldsymbol",
    "bm",
    "mathrm",
    "mathit",
    "operatorname",
    "text",
    "textrm",
    "mathsf",
    "vec",
    "mathbfit",
    "symbf",
    "mathnormal",
}
_LATEX_SKIP = {
    "left",
    "right",
    "big",
    "Big",
    "bigg",
    "Bigg",
    "bigl",
    "bigr",
    "Bigl",
    "Bigr",
    "biggl",
    "biggr",
    "Biggl",
    "Biggr",
    "displaystyle",
    "textstyle",
    "limits",
    "quad",
    "qquad",
    "nonumber",
    "mkern",
}
_LATEX_OPS = {
    "cdot": "*",
    "times": "*",
    "ast": "*",
    "div": "/",
    "circ": "∘",
    "odot": "∘",
    "otimes": "⊗",
}
_LATEX_TOP = {"top", "intercal", "mathsf{T}"}
_LATEX_UNSUPPORTED = {
    "sum": "sums with an index",
    "prod": "products with an index",
    "int": "integrals",
    "lim": "limits",
    "partial": "partial-derivative notation",
    "nabla": "nabla notation",
    "infty": "infinity",
    "max": "max",
    "min": "min",
    "lVert": "norms",
    "|": "norms",
    "Vert": "norms",
    "approx": "approximate equality",
    "leq": "inequalities",
    "geq": "inequalities",
    "neq": "inequalities",
    "hat": "accents",
    "bar": "accents",
    "tilde": "accents",
    "dot": "accents",
    "mathbb": "blackboard letters",
    "ldots": "ellipses",
    "cdots": "ellipses",
    "vdots": "ellipses",
    "ddots": "ellipses",
}
_MATRIX_ENVS = {"pmatrix", "bmatrix", "Bmatrix", "matrix", "smallmatrix", "vmatrix"}


class _LatexLexer:
    """Turns LaTeX into math-syntax tokens (\\frac{a}{b} -> ( (a) / (b) ), ...)."""

    def __init__(self, src: _Source):
        self.src, self.text, self.i, self.out = src, src.text, src.offset, []
        self.envs: list[tuple[str, int]] = []

    def error(self, message, pos=None):
        return self.src.error(message, self.i if pos is None else pos)

    def emit(self, kind, value, pos, run=False):
        self.out.append(Token(kind, value, pos, run))
        if len(self.out) > LIMITS["max_tokens"]:
            raise self.error(f"more than {LIMITS['max_tokens']} tokens", pos)

    def peek(self, k=0):
        j = self.i + k
        return self.text[j] if j < len(self.text) else ""

    def skip_space(self):
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def read_command(self) -> tuple[str, int]:
        """At a backslash: the command name (letters, or one symbol character)."""
        start = self.i
        self.i += 1
        m = re.compile(r"[A-Za-z]+").match(self.text, self.i)
        if m:
            self.i = m.end()
            return m.group(0), start
        if self.i >= len(self.text):
            raise self.error("a lone backslash at the end", start)
        self.i += 1
        return self.text[self.i - 1], start

    def read_group_text(self) -> tuple[str, int]:
        """The raw text of a {...} group (or one character) after a command."""
        self.skip_space()
        start = self.i
        if self.peek() == "{":
            depth, j = 0, self.i
            while j < len(self.text):
                if self.text[j] == "{":
                    depth += 1
                elif self.text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        self.i = j + 1
                        return self.text[start + 1 : j], start + 1
                j += 1
            raise self.error("this '{' is never closed", start)
        if self.peek() == "\\":
            name, pos = self.read_command()
            return "\\" + name, pos
        if not self.peek():
            raise self.error("an argument is missing here", start)
        self.i += 1
        return self.text[start], start

    def lex_argument(self):
        """Lex one argument ({...} group, a command, or one character) wrapped in ( )."""
        self.skip_space()
        start = self.i
        self.emit("op", "(", start)
        if self.peek() == "{":
            self.i += 1
            self.lex_until("}")
            self.i += 1
        elif self.peek() == "\\":
            self.lex_one()
        elif self.peek():
            c = self.peek()
            if _is_digit(c):
                self.emit("num", c, self.i)
            elif c.isalpha():
                self.emit("name", c, self.i, run=True)
            else:
                raise self.error(f"unexpected {c!r} as an argument")
            self.i += 1
        else:
            raise self.error("an argument is missing here", start)
        self.emit("op", ")", self.i)

    def lex_until(self, closer: str | None):
        start = self.i
        self.depth = getattr(self, "depth", 0) + 1
        if self.depth > LIMITS["max_depth"]:
            raise self.error(f"braces nested more than {LIMITS['max_depth']} levels deep")
        try:
            self._lex_until(closer, start)
        finally:
            self.depth -= 1

    def _lex_until(self, closer, start):
        while self.i < len(self.text):
            if closer and self.peek() == closer:
                return
            if self.peek() == "}":
                raise self.error("this '}' has no matching '{'")
            self.lex_one()
        if closer:
            raise self.error(f"this '{{' is never closed (expected '{closer}')", start - 1)

    def lex_one(self):
        c, i = self.peek(), self.i
        if c.isspace():
            self.i += 1
        elif _starts_number(self.text, i):
            tok, self.i = _number_token(self.text, i, self.src)
            self.out.append(tok)
        elif c in _SUPERSCRIPT_DIGITS or c == _SUPERSCRIPT_MINUS:
            toks, self.i = _superscript_tokens(self.text, i, self.src)
            for tok in toks:
                self.emit(tok.kind, tok.value, tok.pos)
        elif c.isascii() and c.isalpha():
            m = re.compile(r"[A-Za-z]+").match(self.text, i)
            self.emit("name", m.group(0), i, run=True)
            self.i = m.end()
        elif c in _UNICODE_GREEK:
            self.emit("name", _UNICODE_GREEK[c], i)
            self.i += 1
        elif c == "{":
            self.emit("op", "(", i)
            self.i += 1
            self.lex_until("}")
            self.emit("op", ")", self.i)
            self.i += 1
        elif c == "_":
            self.subscript()
        elif c == "^":
            self.i += 1
            self.emit("op", "^", i)
            self.skip_space()
            if self.peek() == "\\":
                self.lex_command_as_argument()
            else:
                self.lex_argument()
        elif c == "\\":
            self.command()
        elif c == "&":
            self.matrix_separator("&", i)
        elif c in "[]":
            self.emit("op", "(" if c == "[" else ")", i)
            self.i += 1
        elif c in "+-*/()|,'!" or c in _UNICODE_OPS or c == "ᵀ":
            value = _UNICODE_OPS.get(c, c)
            if c == "ᵀ":
                value = "'"
            if c == "!":
                raise self.error("factorials are not supported")
            self.emit("op", value, i)
            self.i += 1
        elif c == "=":
            raise self.error("only one '=' is allowed (the claim is what follows it)")
        else:
            raise self.error(f"unexpected character {c!r}")

    def lex_command_as_argument(self):
        """After ^: \\top, \\intercal, \\mathsf{T}, or another command as one argument."""
        save = self.i
        name, pos = self.read_command()
        if name in ("top", "intercal", "T"):
            self.emit("top", "T", pos)
            return
        if name in _LATEX_NAME_WRAPPERS:
            inner, ipos = self.read_group_text()
            if inner.strip() == "T":
                self.emit("top", "T", pos)
                return
        self.i = save
        self.emit("op", "(", save)
        self.lex_one()
        self.emit("op", ")", self.i)

    def subscript(self):
        i = self.i
        self.i += 1
        if not self.out or self.out[-1].kind != "name":
            raise self.error("a subscript must follow a name (x_1, \\mu_0)", i)
        raw, pos = self.read_group_text()
        sub = raw.replace("\\", "").replace(" ", "").replace(",", "")
        if not re.fullmatch(r"[A-Za-z0-9]+", sub):
            raise self.error(f"subscript {raw!r}: only letters and digits are supported", pos)
        prev = self.out[-1]
        if prev.run and len(prev.value) > 1:  # "xy_1": the subscript binds to y
            self.out[-1] = Token("name", prev.value[:-1], prev.pos, True)
            prev = Token("name", prev.value[-1], prev.pos + len(prev.value) - 1, True)
            self.out.append(prev)
        self.out[-1] = Token("name", f"{prev.value}_{sub}", prev.pos)

    def matrix_separator(self, which, pos):
        if not self.envs:
            what = "'&'" if which == "&" else "'\\\\'"
            raise self.error(f"{what} outside a matrix environment (pmatrix, bmatrix)", pos)
        if which == "&":
            self.emit("op", ",", pos)
            self.i += 1
        else:
            self.emit("op", "]", pos)
            self.emit("op", ",", pos)
            self.emit("op", "[", pos)

    def begin(self, pos):
        env, _ = self.read_group_text()
        if env not in _MATRIX_ENVS:
            raise self.error(
                f"environment '{env}' is not supported (matrices: "
                "pmatrix, bmatrix, matrix, vmatrix)",
                pos,
            )
        self.envs.append((env, pos))
        if env == "vmatrix":
            self.emit("name", "det", pos)
            self.emit("op", "(", pos)
        self.emit("op", "[", pos)
        self.emit("op", "[", pos)

    def end(self, pos):
        env, _ = self.read_group_text()
        if not self.envs or self.envs[-1][0] != env:
            raise self.error(f"\\end{{{env}}} without a matching \\begin{{{env}}}", pos)
        self.envs.pop()
        tail = [t.value for t in self.out[-3:]]
        if tail == ["]", ",", "["]:  # a trailing \\ before \end: drop the empty row
            del self.out[-2:]
        else:
            self.emit("op", "]", pos)
        self.emit("op", "]", pos)
        if env == "vmatrix":
            self.emit("op", ")", pos)

    def frac(self, pos):
        self.emit("op", "(", pos)
        self.lex_argument()
        self.emit("op", "/", pos)
        self.lex_argument()
        self.emit("op", ")", self.i)

    def sqrt(self, pos):
        self.skip_space()
        if self.peek() == "[":
            close = self.text.find("]", self.i)
            if close < 0:
                raise self.error("this '[' is never closed", self.i)
            index_pos = self.i + 1
            self.i = close + 1
            self.emit("op", "(", pos)
            self.lex_argument()
            self.emit("op", "^", pos)
            self.emit("op", "(", pos)
            self.emit("num", "1", pos)
            self.emit("op", "/", pos)
            self.emit("op", "(", pos)
            sub = _LatexLexer(_Source(self.src.text, index_pos))
            sub.text = self.src.text[:close]
            sub.lex_until(None)
            self.out.extend(sub.out)
            self.emit("op", ")", pos)
            self.emit("op", ")", pos)
            self.emit("op", ")", pos)
        else:
            self.emit("name", "sqrt", pos)
            self.lex_argument()

    def delimiter_after_left_right(self, which, pos):
        self.skip_space()
        c = self.peek()
        if c == ".":
            self.i += 1
            return
        if c in "([":
            self.emit("op", "(", self.i)
            self.i += 1
        elif c in ")]":
            self.emit("op", ")", self.i)
            self.i += 1
        elif c == "|":
            self.emit("op", "|", self.i)
            self.i += 1
        elif c == "\\":
            name, p = self.read_command()
            if name in ("{", "lbrace", "langle"):
                self.emit("op", "(", p)
            elif name in ("}", "rbrace", "rangle"):
                self.emit("op", ")", p)
            elif name in ("lvert", "rvert", "vert"):
                self.emit("op", "|", p)
            else:
                raise self.error(f"\\{which}\\{name}: this delimiter is not supported", p)
        else:
            raise self.error(f"\\{which} needs a delimiter such as ( ) [ ] |", pos)

    def command(self):
        name, pos = self.read_command()
        if name in (",", ";", ":", "!", " ", "quad", "qquad"):
            return
        if name == "\\":
            self.matrix_separator("\\\\", pos)
        elif name in ("{", "}"):
            self.emit("op", "(" if name == "{" else ")", pos)
        elif name in ("left", "right"):
            self.delimiter_after_left_right(name, pos)
        elif name in _LATEX_SKIP:
            return
        elif name in ("frac", "dfrac", "tfrac", "cfrac"):
            self.frac(pos)
        elif name == "sqrt":
            self.sqrt(pos)
        elif name in _LATEX_OPS:
            if name == "otimes":
                self.emit("name", "kron", pos)  # read by the parser as an infix product
                self.out[-1] = Token("op", "⊗", pos)
            else:
                self.emit("op", _LATEX_OPS[name], pos)
        elif name in ("top", "intercal"):
            self.emit("top", "T", pos)
        elif name in ("lvert", "rvert", "vert"):
            self.emit("op", "|", pos)
        elif name == "begin":
            self.begin(pos)
        elif name == "end":
            self.end(pos)
        elif name in _LATEX_FUNCTIONS or name in _GREEK:
            self.emit("name", name, pos)
        elif name in _LATEX_NAME_WRAPPERS:
            raw, ipos = self.read_group_text()
            inner = raw.strip().lstrip("\\")
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", inner):
                if inner == "1":
                    raise self.error(
                        f"\\{name}{{1}} (the all-ones vector) is not supported: "
                        "write sum(...) for a sum of entries",
                        pos,
                    )
                if re.fullmatch(r"[0-9]+", inner):
                    self.emit("num", inner, ipos)
                    return
                raise self.error(f"\\{name}{{{raw}}}: expected a name inside", ipos)
            self.emit("name", inner, ipos)
        elif name in _LATEX_UNSUPPORTED:
            raise self.error(
                f"\\{name} ({_LATEX_UNSUPPORTED[name]}) is not supported; "
                "write the expression it stands for",
                pos,
            )
        else:
            raise self.error(f"unknown LaTeX command \\{name}", pos)

    def lex(self) -> list[Token]:
        self.lex_until(None)
        if self.envs:
            env, pos = self.envs[-1]
            raise self.error(f"\\begin{{{env}}} is never closed by \\end{{{env}}}", pos)
        self.out.append(Token("end", "", len(self.text)))
        return self.out


# ======================================================================================
# What names mean
# ======================================================================================
def _is_matrix(v) -> bool:
    return isinstance(v, (MatrixExpr, MatrixBase))


def _as_scalar(v):
    """A 1 x 1 matrix as a scalar (Trace of a 1 x 1 matrix expression is its entry)."""
    if isinstance(v, MatrixBase) and v.shape == (1, 1):
        return v[0, 0]
    if isinstance(v, MatrixExpr) and v.shape == (1, 1):
        return sp.Trace(v)
    return v


def _elementwise(f: Callable, v):
    """f of a scalar; f entry by entry of a matrix (the engine's ElementwiseApplyFunction)."""
    v = _as_scalar(v)
    if isinstance(v, MatrixBase):
        return v.applyfunc(f)
    if isinstance(v, MatrixExpr):
        from symcalc.expr.structure import elementwise

        return elementwise(f, v)
    return f(v)


def _scalar_fn(f):
    return lambda args: _elementwise(f, args[0])


def _record_call(spec):
    """A registry function: f(u) entry by entry of a matrix u; further arguments (the slope
    of leaky_relu(u, a), the base of log(u, b)) are scalars."""

    def call(args):
        if len(args) == 1:
            return _elementwise(spec.cls, args[0])
        params = [_as_scalar(a) for a in args[1:]]
        if any(_is_matrix(p) for p in params):
            raise _Refused(f"the arguments of {spec.name} after the first are scalars")
        u = _as_scalar(args[0])
        if spec.cls is sp.log and _is_matrix(u):
            raise _Refused("log(value, base) takes scalars (log(A) alone applies to every entry)")
        return (
            _elementwise(sp.Lambda(_T, spec.cls(_T, *params)), u)
            if _is_matrix(u)
            else spec.cls(u, *params)
        )

    return call


_T = sp.Dummy("t")


def _det(args):
    v = args[0]
    if isinstance(v, MatrixBase):
        _check_symbolic_square(v, "max_symbolic_det", "determinant")
        # Berkowitz is division-free: polynomial time in the size for symbolic entries
        # (SymPy's default, Bareiss, took 6 s for a 5 x 5 of distinct symbols).
        return v.det(method="berkowitz") if _has_symbols(v) else v.det()
    if isinstance(v, MatrixExpr):
        return _as_scalar(v) if v.shape == (1, 1) else sp.Determinant(v)
    return v


def _trace(args):
    v = args[0]
    if isinstance(v, MatrixBase):
        return v.trace()
    if isinstance(v, MatrixExpr):
        return sp.Trace(v)
    return v


def _inverse(args):
    v = args[0]
    if isinstance(v, MatrixBase):
        _check_symbolic_square(v, "max_symbolic_inverse", "inverse")
        return _symbolic_inverse(v) if _has_symbols(v) else v.inv()
    if isinstance(v, MatrixExpr):
        return sp.Inverse(v)
    return 1 / v


def _symbolic_inverse(v: MatrixBase) -> MatrixBase:
    """adj(V) / det(V), both by Berkowitz (division-free), for a literal with symbols.

    SymPy's default inverse simplifies as it eliminates: 60 s for a 3 x 3 of sines;
    this takes milliseconds. Singular (det expands to 0): NonInvertibleMatrixError.

    >>> a, b = sp.symbols("a b")
    >>> _symbolic_inverse(sp.Matrix([[a, 1], [0, b]]))
    Matrix([
    [1/a, -1/(a*b)],
    [  0,      1/b]])
    """
    if v.shape[0] != v.shape[1]:
        raise _ShapeMismatch(f"only a square matrix has an inverse; this one is {_dims(v)}")
    det = v.det(method="berkowitz")
    if sp.expand(det) == 0:
        raise sp.matrices.exceptions.NonInvertibleMatrixError("det == 0")
    return sp.ImmutableMatrix(v.adjugate(method="berkowitz") / det)


def _transpose(args):
    return _transpose_of(args[0])


def _transpose_of(v):
    if isinstance(v, (MatrixExpr, MatrixBase)):
        return v.T
    return v


def _sum(args):
    from symcalc.expr.structure import sum_entries

    v = args[0]
    if isinstance(v, MatrixBase):
        return sum(v)
    if isinstance(v, MatrixExpr):
        return sum_entries(v)
    return v


def _diag(args):
    v = args[0]
    if isinstance(v, MatrixBase):
        return sp.diag(*v) if 1 in v.shape else sp.Matrix(v.diagonal())
    if isinstance(v, MatrixExpr):
        from sympy.matrices.expressions.diagonal import DiagMatrix

        return DiagMatrix(v)
    return v


def _kron(args):
    if all(isinstance(a, MatrixBase) for a in args):
        _check_explicit_entries([a.shape for a in args], "Kronecker product")
    return sp.kronecker_product(*args)


def _hadamard(args):
    return sp.hadamard_product(*args)


#: name -> (function of the argument list, allowed argument counts)
#: name -> (function of the argument list, allowed argument counts): the registry's
#: functions under their parse names, then the powers and matrix functions.
FUNCTIONS: dict[str, tuple[Callable, tuple[int, ...]]] = {
    **{name: (_record_call(spec), spec.nargs) for name, spec in REGISTRY.names().items()},
    "sqrt": (_scalar_fn(sp.sqrt), (1,)),
    "det": (_det, (1,)),
    "tr": (_trace, (1,)),
    "Tr": (_trace, (1,)),
    "trace": (_trace, (1,)),
    "inv": (_inverse, (1,)),
    "transpose": (_transpose, (1,)),
    "sum": (_sum, (1,)),
    "diag": (_diag, (1,)),
    "kron": (_kron, (2, 3, 4)),
    "hadamard": (_hadamard, (2, 3, 4)),
}

CONSTANTS = {"pi": sp.pi, "e": sp.E, "E": sp.E}

_PYTHON_WORDS = {
    "lambda",
    "import",
    "exec",
    "eval",
    "open",
    "class",
    "def",
    "return",
    "globals",
    "locals",
    "getattr",
    "setattr",
    "compile",
    "input",
    "os",
    "sys",
    "subprocess",
    "builtins",
    "print",
    "for",
    "while",
    "if",
    "else",
    "not",
    "and",
    "or",
    "is",
    "in",
    "from",
    "with",
    "yield",
    "None",
    "True",
    "False",
}


# ======================================================================================
# The parser (recursive descent with precedence levels)
# ======================================================================================
class _Parser:
    """expr := term (('+'|'-') term)*
    term  := unary (('*'|'/'|'∘'|'⊗') unary | <juxtaposition> power)*
    unary := ('-'|'+') unary | power
    power := postfix ('^' exponent)*        exponent := T | \\top | (T) | unary
    postfix := primary ("'")*
    primary := number | name | function args | '(' expr ')' | '[' rows ']' | '|' expr '|'
    """

    def __init__(self, tokens, src, symbols, allow_undeclared, latex):
        self.toks, self.k, self.src = tokens, 0, src
        self.symbols = dict(symbols or {})
        self.allow_undeclared = allow_undeclared
        self.latex = latex
        self.depth = 0
        self.created: dict[str, sp.Symbol] = {}

    # -- token helpers ---------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.toks[self.k]

    def next(self) -> Token:
        t = self.toks[self.k]
        self.k += 1
        return t

    def at(self, *values) -> bool:
        t = self.tok
        return t.kind == "op" and t.value in values

    def expect(self, value, opener: Token | None = None):
        if not self.at(value):
            if opener is not None and self.tok.kind == "end":
                raise self.src.error(
                    f"this '{opener.value}' is never closed (missing '{value}')", opener.pos
                )
            raise self.error(f"expected '{value}' here")
        return self.next()

    def error(self, message, tok: Token | None = None):
        tok = tok or self.tok
        if tok.kind == "end" and "expected" in message:
            message += " (the formula ended too early)"
        return self.src.error(message, tok.pos)

    def enter(self):
        self.depth += 1
        if self.depth > LIMITS["max_depth"]:
            raise self.error(f"nested more than {LIMITS['max_depth']} levels deep")

    def leave(self):
        self.depth -= 1

    def guard(self, fn, tok, *args):
        """Build a SymPy object; turn SymPy's shape/type errors into a positioned ParseError."""
        try:
            return fn(*args)
        except ParseError:
            raise
        except _ShapeMismatch as exc:
            raise ShapeMismatchError(
                f"cannot combine these: {exc}", self.src.text, tok.pos
            ) from None
        except _TooLarge as exc:
            raise self.src.error(str(exc), tok.pos) from None
        except _Refused as exc:
            raise self.src.error(f"cannot combine these: {exc}", tok.pos) from None
        except sp.matrices.exceptions.NonInvertibleMatrixError:
            raise self.src.error(
                "this matrix is not invertible (its determinant is 0)", tok.pos
            ) from None
        except (
            TypeError,
            ValueError,
            AttributeError,
            NotImplementedError,
            IndexError,
            ArithmeticError,
        ) as exc:
            # SymPy's own message (and a Python exception's text) is not shown: it speaks
            # of SymPy's internals. Say what was combined instead.
            message = f"cannot {_operation(tok)} {_kinds(args)}"
            if "shape" in str(exc).lower():
                raise ShapeMismatchError(
                    message + " (their sizes do not fit)", self.src.text, tok.pos
                ) from None
            raise self.src.error(message, tok.pos) from None

    # -- grammar ---------------------------------------------------------------------
    def parse(self):
        if self.tok.kind == "end":
            raise self.error("the formula is empty")
        value = self.expr()
        if self.tok.kind != "end":
            t = self.tok
            if t.kind == "op" and t.value in ")]":
                raise self.error(f"this '{t.value}' has no matching opening bracket")
            raise self.error(f"unexpected {t.value!r}")
        return value

    def expr(self):
        self.enter()
        left = self.unary()
        while self.at("+", "-"):
            op = self.next()
            right = self.term_after_sign()
            left = self.guard(_add, op, left, right, op.value)
        self.leave()
        return left

    def term_after_sign(self):
        return self.term(self.unary_operand())

    def unary(self):
        return self.term(self.unary_operand())

    def unary_operand(self):
        if self.at("-", "+"):
            op = self.next()
            self.enter()
            value = self.unary_operand()
            self.leave()
            if op.value == "-":
                value = self.guard(lambda v: -v, op, value)
            return value
        return self.power()

    def starts_operand(self) -> bool:
        t = self.tok
        if t.kind in ("num", "name"):
            return True
        if t.kind == "op" and t.value in ("(", "["):
            return True
        if t.kind == "op" and t.value == "|":
            return self.abs_opens()
        return False

    def abs_opens(self) -> bool:
        prev = self.toks[self.k - 1] if self.k else None
        return prev is None or (prev.kind == "op" and prev.value not in (")", "]", "'", "|"))

    def term(self, left):
        while True:
            if self.at("*", "/", "∘", "⊗"):
                op = self.next()
                right = self.unary_operand()
                left = self.guard(_BINARY[op.value], op, left, right)
            elif self.starts_operand():
                tok = self.tok
                right = self.power()
                left = self.guard(_mul, tok, left, right)
            else:
                return left

    def power(self):
        base = self.postfix()
        while self.at("^"):
            op = self.next()
            if self.transpose_follows(base):
                base = _transpose_of(base)
                continue
            if self.inverse_transpose_follows(base):
                base = _transpose_of(_inverse([base]))
                continue
            self.enter()
            exponent = self.unary_operand()
            self.leave()
            base = self.guard(lambda b, e, op=op: _power(b, e, self.src, op), op, base, exponent)
            base = self.postfix_ops(base)
        return base

    def inverse_transpose_follows(self, base) -> bool:
        """After '^': -T, {-T}, -\\top: the inverse of the transpose."""
        if not _is_matrix(base):
            return False
        ks = [self.toks[j] for j in range(self.k, min(self.k + 4, len(self.toks)))]
        vals = [(t.kind, t.value) for t in ks]
        is_t = lambda kv: kv[0] == "top" or kv == ("name", "T")  # noqa: E731
        if len(vals) >= 2 and vals[0] == ("op", "-") and is_t(vals[1]):
            self.k += 2
            return True
        if (
            len(vals) >= 4
            and vals[0] == ("op", "(")
            and vals[1] == ("op", "-")
            and is_t(vals[2])
            and vals[3] == ("op", ")")
        ):
            self.k += 4
            return True
        return False

    def transpose_follows(self, base) -> bool:
        """After '^': T, \\top, (T) or {T} mean transpose (unless T is a declared scalar)."""

        def is_t(t):
            if t.kind == "top":
                return True
            if t.kind == "name" and t.value == "T":
                declared = self.symbols.get("T")
                return declared is None or _is_matrix(base)
            return False

        if is_t(self.tok):
            self.next()
            return True
        if (
            self.at("(")
            and is_t(self.toks[self.k + 1])
            and self.toks[self.k + 2].kind == "op"
            and self.toks[self.k + 2].value == ")"
        ):
            self.k += 3
            return True
        return False

    def postfix(self):
        return self.postfix_ops(self.primary())

    def postfix_ops(self, value):
        while self.at("'"):
            self.next()
            value = _transpose_of(value)
        return value

    def primary(self):
        t = self.tok
        if t.kind == "num":
            self.next()
            return sp.Rational(t.value) if "." in t.value else sp.Integer(t.value)
        if t.kind == "name":
            return self.name()
        if t.kind == "top":
            raise self.error("\\top is a transpose: write it as a superscript, A^\\top")
        if self.at("("):
            self.enter()
            opener = self.next()
            if self.at(")"):
                raise self.error("empty parentheses: nothing to compute here")
            value = self.expr()
            self.expect(")", opener)
            self.leave()
            return value
        if self.at("["):
            return self.matrix_literal()
        if self.at("|"):
            self.enter()
            opener = self.next()
            value = self.expr()
            self.expect("|", opener)
            self.leave()
            return self.guard(FUNCTIONS["abs"][0], opener, [value])
        if t.kind == "end":
            raise self.error("expected a number, a name or '('")
        raise self.error(f"unexpected {t.value!r}")

    # -- names ---------------------------------------------------------------------
    def lookup(self, name):
        """A declared name, also under the spellings x_1 / x1 and \\mu / mu."""
        for candidate in (
            name,
            name.replace("_", ""),
            re.sub(r"^([A-Za-z]+)(\d+)$", r"\1_\2", name),
        ):
            if candidate in self.symbols:
                return self.symbols[candidate]
        return None

    def name(self):
        t = self.next()
        value = self.lookup(t.value)
        if value is not None:
            return value
        if t.value in FUNCTIONS:
            return self.call(t)
        if t.value in CONSTANTS:
            return CONSTANTS[t.value]
        identity = self.identity(t.value)
        if identity is not None:
            return identity
        parts = self.split_run(t)
        if parts is not None:
            value = parts[0]
            for p in parts[1:]:
                value = self.guard(_mul, t, value, p)
            return value
        if self.allow_undeclared:
            if t.run and len(t.value) > 1:  # LaTeX: letters are separate names
                value = self.undeclared(t.value[0])
                for ch in t.value[1:]:
                    value = self.guard(_mul, t, value, self.undeclared(ch))
                return value
            return self.undeclared(t.value)
        if t.run and len(t.value) > 1:
            bad = self.first_unknown_letter(t.value)
            raise self.src.error(self.unknown_name_message(t.value[bad]), t.pos + bad)
        raise self.error(self.unknown_name_message(t.value), t)

    def first_unknown_letter(self, run: str) -> int:
        """Index of the first letter of a LaTeX run that no declared name covers."""
        i = 0
        while i < len(run):
            for n in sorted(self.symbols, key=len, reverse=True) + list(CONSTANTS):
                if "_" not in n and run.startswith(n, i):
                    i += len(n)
                    break
            else:
                return i
        return 0

    def identity(self, name):
        """I_n (or I_3): the identity matrix of a declared size n."""
        m = re.fullmatch(r"I_?([A-Za-z][A-Za-z0-9]*|[0-9]+)", name)
        if not m or (m.group(1).isalpha() and "_" not in name and len(name) > 2):
            return None
        size = m.group(1)
        if size.isdigit():
            return sp.Identity(int(size)) if 0 < int(size) <= 1000 else None
        dim = self.symbols.get(size)
        return sp.Identity(dim) if isinstance(dim, sp.Symbol) else None

    def undeclared(self, name):
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name not in self.created:
            self.created[name] = sp.Symbol(name)
        return self.created[name]

    def split_run(self, t: Token):
        """'xy' -> [x, y] when x and y are declared (or constants); else None."""
        known = {k: v for k, v in self.symbols.items() if "_" not in k}
        known.update({k: v for k, v in CONSTANTS.items() if k not in known})
        if not known:
            return None
        names = _split_letters(t.value, sorted(known, key=len, reverse=True))
        parts = None if names is None else [known[n] for n in names]
        return parts if parts and len(parts) > 1 else None

    def unknown_name_message(self, name):
        if name in _PYTHON_WORDS:
            return f"'{name}' is Python, not math: symcalc reads formulas only"
        declared = ", ".join(sorted(self.symbols)) or "none"
        return f"unknown name '{name}' (declared names: {declared})"

    def call(self, t: Token):
        fn, nargs = FUNCTIONS[t.value]
        power = None
        if self.at("^"):  # sin^2(x) = sin(x)^2
            op = self.next()
            self.enter()
            power = (op, self.postfix())
            self.leave()
        if self.at("("):
            self.enter()
            opener = self.next()
            if self.at(")"):
                raise self.error(f"'{t.value}' needs an argument, e.g. {t.value}(x)")
            args = [self.expr()]
            while self.at(","):
                self.next()
                args.append(self.expr())
            self.expect(")", opener)
            self.leave()
        elif self.starts_operand():
            self.enter()
            arg = self.power()
            while self.tok.kind in ("num", "name") and not (
                self.tok.kind == "name"
                and self.tok.value in FUNCTIONS
                and self.lookup(self.tok.value) is None
            ):
                tok = self.tok
                arg = self.guard(_mul, tok, arg, self.power())
            self.leave()
            args = [arg]
        else:
            raise self.error(f"'{t.value}' needs an argument, e.g. {t.value}(x)")
        if len(args) not in nargs:
            raise self.src.error(
                f"'{t.value}' takes {' or '.join(map(str, nargs))} argument(s), got {len(args)}",
                t.pos,
            )
        value = self.guard(fn, t, args)
        if power is not None:
            value = self.guard(
                lambda b, e: _power(b, e, self.src, power[0]), power[0], value, power[1]
            )
        return value

    # -- matrix literals -------------------------------------------------------------
    def matrix_literal(self):
        self.enter()
        opener = self.next()
        rows, nested = [], self.at("[")
        if self.at("]"):
            raise self.error("an empty matrix")
        if nested:
            while True:
                row_open = self.expect("[")
                rows.append(self.row(row_open))
                if not self.at(","):
                    break
                self.next()
        else:
            row = [self.entry()]
            while self.at(",", ";"):
                sep = self.next()
                if sep.value == ";":
                    rows.append(row)
                    row = []
                row.append(self.entry())
            rows.append(row)
            if len(rows) == 1:  # [a, b, c] is a column vector
                rows = [[v] for v in rows[0]]
        self.expect("]", opener)
        self.leave()
        entries = sum(len(r) for r in rows)
        if entries > LIMITS["max_literal_entries"]:
            raise self.src.error(
                f"this matrix has {entries} entries; the limit is "
                f"{LIMITS['max_literal_entries']} "
                "(parse.LIMITS['max_literal_entries'])",
                opener.pos,
            )
        widths = {len(r) for r in rows}
        if len(widths) != 1:
            raise self.src.error(
                "the rows of this matrix have different lengths "
                f"({', '.join(str(len(r)) for r in rows)})",
                opener.pos,
            )
        return sp.ImmutableMatrix(rows)

    def row(self, row_open):
        values = [self.entry()]
        while self.at(","):
            self.next()
            values.append(self.entry())
        self.expect("]", row_open)
        return values

    def entry(self):
        t = self.tok
        v = _as_scalar(self.expr())
        if _is_matrix(v):
            raise self.src.error("a matrix entry must be a scalar", t.pos)
        return v


def _split_letters(run: str, names: list[str]) -> list[str] | None:
    """Split ``run`` into a sequence of ``names`` (None when it cannot be), in linear time.

    The preference is that of a depth-first search trying ``names`` in their order at
    each position (longest first, as the parser passes them), but found without
    backtracking: ``fits[i]`` says whether ``run[i:]`` can be split at all (computed
    from the end), and the walk from the start takes the first name that leaves a
    splittable rest.

    >>> _split_letters("xyx", ["xy", "x", "y"])
    ['xy', 'x']
    >>> _split_letters("aab", ["aa", "a", "b"])
    ['aa', 'b']
    >>> _split_letters("a" * 5000 + "c", ["aa", "a", "b"]) is None
    True
    """
    names = [m for m in names if m]
    n = len(run)
    fits = [False] * n + [True]
    for i in range(n - 1, -1, -1):
        fits[i] = any(run.startswith(name, i) and fits[i + len(name)] for name in names)
    if not fits[0]:
        return None
    out, i = [], 0
    while i < n:
        name = next(m for m in names if run.startswith(m, i) and fits[i + len(m)])
        out.append(name)
        i += len(name)
    return out


class ShapeMismatchError(ParseError, ShapeError):
    """The formula multiplies or adds matrices whose sizes do not fit (says where)."""


class _Refused(TypeError):
    """An operation the parser's own rules refuse; its message is written for the user."""


class _ShapeMismatch(_Refused):
    pass


class _TooLarge(_Refused):
    """The work asked for is over one of the LIMITS (checked before it starts)."""


def _has_symbols(v) -> bool:
    return isinstance(v, sp.Basic) and bool(v.free_symbols)


def _check_symbolic_square(v, limit: str, what: str) -> None:
    """An explicit matrix with symbols in it is at most LIMITS[limit] x LIMITS[limit] for ``what``."""
    n = LIMITS[limit]
    if isinstance(v, MatrixBase) and max(v.shape) > n and _has_symbols(v):
        raise _TooLarge(
            f"the {what} of a {_dims(v)} matrix with symbols in it is too costly "
            f"to compute (limit {n} x {n}, parse.LIMITS['{limit}']): use a "
            "MatrixSymbol for it"
        )


def _check_explicit_entries(shapes, what: str) -> None:
    """An explicit result of ``what`` has at most LIMITS['max_matrix_entries'] entries."""
    entries = math.prod(r * c for r, c in shapes)
    if entries > LIMITS["max_matrix_entries"]:
        raise _TooLarge(
            f"the {what} would have {entries} entries; the limit is "
            f"{LIMITS['max_matrix_entries']} (parse.LIMITS['max_matrix_entries'])"
        )


_OPERATIONS = {
    "+": "add",
    "-": "subtract",
    "*": "multiply",
    "/": "divide",
    "^": "raise to a power",
    "∘": "take the elementwise product of",
    "⊗": "take the Kronecker product of",
}


def _operation(tok: Token) -> str:
    """The verb for what the token does: 'multiply', "apply 'det' to", ..."""
    if tok.kind == "name":
        return f"apply '{tok.value}' to"
    return _OPERATIONS.get(tok.value, "multiply")


def _kind(v) -> str:
    """'a scalar', 'a 3 x 2 matrix', 'a n x n matrix expression' (never SymPy's text)."""
    if isinstance(v, MatrixBase):
        return f"a {_dims(v)} matrix"
    if isinstance(v, MatrixExpr):
        return f"a {_dims(v)} matrix expression"
    if isinstance(v, sp.Basic) and not isinstance(v, sp.Expr):
        return f"a {type(v).__name__}"
    return "a scalar"


def _kinds(args) -> str:
    """The operands of an operation, by kind: 'a 2 x 2 matrix and a scalar'."""
    flat = []
    for a in args:
        if isinstance(a, (list, tuple)):
            flat.extend(a)
        elif not isinstance(a, str):
            flat.append(a)
    kinds = [_kind(v) for v in flat]
    if len(kinds) <= 1:
        return kinds[0] if kinds else "these"
    return ", ".join(kinds[:-1]) + " and " + kinds[-1]


# --------------------------------------------------------------------------------------
# Operations with the matrix conventions (1 x 1 matrices act as scalars)
# --------------------------------------------------------------------------------------
def _shape(v):
    return v.shape if _is_matrix(v) else None


def _broadcast(c, like):
    """A scalar added to a matrix is added to every entry: c -> c * (all-ones matrix)."""
    if isinstance(like, MatrixBase):
        return c * sp.ones(*like.shape)
    return c * sp.OneMatrix(*like.shape)


def _add(a, b, op="+"):
    if _is_matrix(a) != _is_matrix(b):
        a, b = _as_scalar(a), _as_scalar(b)
        if _is_matrix(a) != _is_matrix(b):  # 1 - sigmoid(X*w): the scalar goes to every entry
            a, b = (_broadcast(a, b), b) if _is_matrix(b) else (a, _broadcast(b, a))
    if _is_matrix(a) and a.shape != b.shape and _definitely_different(a.shape, b.shape):
        raise _ShapeMismatch(f"cannot add a {_dims(a)} and a {_dims(b)} matrix")
    return a + b if op == "+" else a - b


def _dims(v):
    r, c = v.shape
    return f"{r} x {c}"


def _definitely_different(s1, s2) -> bool:
    return any(sp.simplify(p - q) != 0 for p, q in zip(s1, s2))


def _mul(a, b):
    if _is_matrix(a) and _is_matrix(b):
        if _definitely_different((a.shape[1],), (b.shape[0],)):
            if a.shape == (1, 1):
                a = _as_scalar(a)
            elif b.shape == (1, 1):
                b = _as_scalar(b)
            else:
                raise _ShapeMismatch(
                    f"cannot multiply a {_dims(a)} by a {_dims(b)} matrix (inner sizes differ)"
                )
    return a * b


def _div(a, b):
    b = _as_scalar(b)
    if _is_matrix(b):
        raise _Refused("division by a matrix: write the inverse, A^{-1}")
    if _is_matrix(a) and a.shape == (1, 1):
        a = _as_scalar(a)
    return a / b


def _hadamard_op(a, b):
    if _is_matrix(a) and _is_matrix(b):
        return sp.hadamard_product(a, b)
    return _mul(a, b)


def _kron_op(a, b):
    if _is_matrix(a) and _is_matrix(b):
        return _kron([a, b])
    return _mul(a, b)


_BINARY = {"*": _mul, "/": _div, "∘": _hadamard_op, "⊗": _kron_op}


def _power(base, exponent, src: _Source, op: Token):
    exponent = _as_scalar(exponent)
    if _is_matrix(exponent):
        raise _Refused("an exponent must be a scalar")
    if exponent.is_Number:
        if abs(exponent) > LIMITS["max_exponent"]:
            raise src.error(
                f"exponent {_short_number(exponent)} is too large (limit {LIMITS['max_exponent']})",
                op.pos,
            )
        if isinstance(base, sp.Basic) and base.is_Rational and base != 0:
            size = max(abs(base.p), abs(base.q))
            if float(abs(exponent)) * math.log10(size) > LIMITS["max_result_digits"]:
                raise src.error(
                    f"{_short_number(base)}^{_short_number(exponent)} would have more "
                    f"than {LIMITS['max_result_digits']} digits "
                    "(parse.LIMITS['max_result_digits'])",
                    op.pos,
                )
    if _is_matrix(base):
        if base.shape == (1, 1):
            base = _as_scalar(base)
        elif exponent == -1:
            return _inverse([base])
        elif exponent.is_Integer:
            if base.shape[0] != base.shape[1]:
                raise _ShapeMismatch(f"only a square matrix has powers; this one is {_dims(base)}")
            _check_matrix_power(base, exponent)
            if isinstance(base, MatrixBase) and _has_symbols(base):
                if exponent < 0:
                    base, exponent = _inverse([base]), -exponent
                # plain repeated squaring: SymPy's default simplifies every product
                # (3 s for [[x,1],[1,y]]^32; this takes 0.02 s and gives the same matrix)
                return base.pow(exponent, method="multiply")
            return base**exponent
        else:
            raise _Refused(
                "a matrix power must be an integer (use .^ or hadamard for elementwise powers)"
            )
    if exponent.is_Number:
        _check_power_growth(base, exponent)
    result = base**exponent
    if (
        isinstance(result, sp.Pow)
        and result.exp.is_Number
        and abs(result.exp) > LIMITS["max_exponent"]
    ):
        raise src.error(
            f"the exponent {_short_number(result.exp)} is too large (limit "
            f"{LIMITS['max_exponent']})",
            op.pos,
        )
    return result


def _short_number(v) -> str:
    """A number as written, or 'a number of N digits' when it is long.

    >>> _short_number(sp.Integer(12)), _short_number(sp.Integer(10) ** 40)
    ('12', 'a number of 41 digits')
    """
    text = str(v)
    return text if len(text) <= 24 else f"a number of {len(text)} digits"


def _check_matrix_power(base, exponent) -> None:
    """A^n of a matrix literal: |n| bounded when it has symbols; A^-n needs the inverse."""
    if not isinstance(base, MatrixBase):
        return
    limit = LIMITS["max_matrix_power"]
    if _has_symbols(base) and abs(exponent) > limit:
        raise _TooLarge(
            f"the power {exponent} of a {_dims(base)} matrix with symbols in it is "
            f"too costly to compute (limit {limit}, parse.LIMITS['max_matrix_power'])"
        )
    if exponent < 0:
        _check_symbolic_square(base, "max_symbolic_inverse", "inverse")


def _check_power_growth(base, exponent) -> None:
    """Refuse b^n whose automatic expansion is over the limits, before SymPy computes it.

    SymPy distributes an integer power over a product and multiplies nested exponents:
    ((3x)^1000)^1000 is 3^1000000 x^1000000. Each factor of the base is checked: a
    power x^e becomes x^(e n) (|e n| <= max_exponent) and a rational c becomes c^n
    (at most max_result_digits digits).

    >>> x = sp.Symbol("x")
    >>> _check_power_growth(2 * x ** 1000, sp.Integer(1000))
    Traceback (most recent call last):
    ...
    symcalc.parsing.parser._TooLarge: this power would raise x to the power 1000000 (limit 1000, parse.LIMITS['max_exponent'])
    """
    n = abs(exponent)
    if not n.is_finite:
        return
    for factor in sp.Mul.make_args(base):
        if factor.is_Rational and factor != 0:
            size = max(abs(factor.p), abs(factor.q))
            if float(n) * math.log10(size) > LIMITS["max_result_digits"]:
                raise _TooLarge(
                    f"this power would give a number of more than "
                    f"{LIMITS['max_result_digits']} digits "
                    "(parse.LIMITS['max_result_digits'])"
                )
        elif isinstance(factor, sp.Pow) and factor.exp.is_Number:
            grown = abs(factor.exp) * n
            if grown > LIMITS["max_exponent"]:
                raise _TooLarge(
                    f"this power would raise {_kind_or_name(factor.base)} to the "
                    f"power {grown} (limit {LIMITS['max_exponent']}, "
                    "parse.LIMITS['max_exponent'])"
                )


def _kind_or_name(v) -> str:
    return v.name if isinstance(v, sp.Symbol) else "an expression"


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
