"""The math-syntax lexer: tokens, the text being read, and the size limits of a formula."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from symcalc.errors import ParseError

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
        elif c == "." and text.startswith(".^", i):  # x.^2: the elementwise power
            out.append(Token("op", ".^", i))
            i += 2
        elif c == "." and text.startswith(".*", i):
            out.append(Token("op", "∘", i))
            i += 2
        elif c == "." and re.compile(r"\.T(?![A-Za-z0-9_])").match(text, i):
            out.append(Token("op", "'", i))
            i += 2
        elif c == ".":
            raise src.error(
                "'.' is only allowed in numbers (1.5), in .T (transpose), in "
                ".* (elementwise product) and in .^ (elementwise power); attribute access "
                "is not math",
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
