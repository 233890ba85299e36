r"""Records in words: every number, point, size and solver message a report shows.

Nothing reaches a template as a Python repr: a point is a tuple in maths, a
size is a sentence, a solver failure is a sentence, an expression in a comment
is written in symcalc's own grammar (``inv(Sigma)*(mu - x)``, ``x^2``).

>>> point_tex({"x": 0.5, "lambda": 2.0})
'$(x, \\lambda) = (0.5, 2)$'
>>> size_words({"m": 3, "n": 2}), size_words({})
('at the size $m = 3$, $n = 2$', 'at the declared sizes')
>>> plain(sp.MatrixSymbol("S", 2, 2).I * sp.MatrixSymbol("x", 2, 1))
'inv(S)*x'
"""

from __future__ import annotations

import re
from typing import Any

import sympy as sp

from symcalc.printing.latex import latex
from symcalc.printing.texsafe import escape_text
from symcalc.printing.text import text

__all__ = [
    "plain",
    "point_tex",
    "size_words",
    "number_tex",
    "check_words",
    "solver_sentence",
    "kernel_listing",
]


def plain(expr: Any) -> str:
    """One line in symcalc's grammar (what a user writes): ``^`` for powers, ``inv(A)``.

    >>> plain(sp.Symbol("x") ** 2 + 1)
    '1 + x^2'
    """
    out = text(expr)
    out = re.sub(r"\b([A-Za-z]\w*)\*\*\(-1\)", r"inv(\1)", out)
    return out.replace("**", "^")


def _name_tex(key: Any) -> str:
    return latex(key if isinstance(key, sp.Basic) else sp.Symbol(str(key)))


def number_tex(v: Any) -> str:
    r"""A number in maths: integers exactly, floats to 3 significant digits, rationals as fractions.

    >>> number_tex(2.0), number_tex(0.123456), number_tex(sp.Rational(1, 2))
    ('2', '0.123', '\\frac{1}{2}')
    """
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e12:
            return str(int(v))
        mant, _, exp = f"{v:.3g}".partition("e")
        return mant if not exp else rf"{mant} \times 10^{{{int(exp)}}}"
    if isinstance(v, sp.MatrixBase):
        return latex(v.applyfunc(lambda e: sp.Float(e, 3) if e.is_Float else e))
    try:
        e = sp.sympify(v, strict=True)
    except (sp.SympifyError, TypeError):
        return r"\text{" + escape_text(v) + "}"
    if e.is_number and not e.is_Rational:
        value = complex(sp.N(e))
        if abs(value.imag) < 1e-12:
            return number_tex(float(value.real))
    return latex(e)


def point_tex(point: dict) -> str:
    """A point as a tuple in maths: $(x, y) = (0.761, 1.03)$ (one name: $x = 0.761$)."""
    if not point:
        return "$\\text{(none)}$"
    names = [_name_tex(k) for k in point]
    values = [number_tex(v) for v in point.values()]
    if len(names) == 1:
        return f"${names[0]} = {values[0]}$"
    return "$(" + ", ".join(names) + ") = (" + ", ".join(values) + ")$"


def size_words(size: Any) -> str:
    """The sizes a check used, in words (an empty size: the sizes the file declares)."""
    if not size:
        return "at the declared sizes"
    if isinstance(size, dict):
        return "at the size " + ", ".join(f"${_name_tex(k)} = {int(v)}$" for k, v in size.items())
    return "at the size " + escape_text(size)


_NUMBER_WORDS = {
    "max_abs_error": "largest error",
    "step": "step",
    "tolerance": "tolerance",
    "max_rel_error": "largest relative error",
}


def check_words(name: str, numbers: dict) -> tuple[str, str]:
    """A check's name and its numbers as (escaped TeX name, TeX text), no dict reprs.

    >>> check_words("diff (gradient, {'m': 3})", {"max_abs_error": 0.0, "size": {"m": 3}})
    ('diff (gradient, at the size $m = 3$)', 'largest error $0$, at the size $m = 3$')
    """
    size = numbers.get("size")
    shown = escape_text(name)
    if isinstance(size, dict) and size:
        before, _, after = name.partition(str(size))
        shown = escape_text(before) + size_words(size) + escape_text(after)
    parts = []
    for key, value in numbers.items():
        if key == "size":
            parts.append(size_words(value))
        elif key == "point" and isinstance(value, dict):
            parts.append("at " + point_tex(value))
        else:
            word = _NUMBER_WORDS.get(key, key.replace("_", " "))
            parts.append(f"{escape_text(word)} ${number_tex(value)}$")
    return shown, ", ".join(parts)


_EXPRESSION = re.compile(r"[*()=^_]|\d[a-z]|exp|log|sqrt")


def solver_sentence(note: str) -> str:
    r"""Why the solver stopped, as a sentence (a solver's expression is never shown).

    >>> solver_sentence("SymPy cannot solve grad f = 0 for this f: could not solve 5*w_2 - exp(w_2)")
    'SymPy could not solve $\\nabla L = 0$ in closed form (the equations mix powers and transcendental functions), so the critical points are not known.'
    >>> solver_sentence("")
    ''
    """
    note = (note or "").strip()
    if not note:
        return ""
    if "solve" in note or _EXPRESSION.search(note):
        return (
            r"SymPy could not solve $\nabla L = 0$ in closed form (the equations mix powers and "
            r"transcendental functions), so the critical points are not known."
        )
    return escape_text(note[:1].upper() + note[1:].rstrip(".") + ".")


_COMMENT = re.compile(r"^(\s*#\s*)(\w+)( = ).*$", re.M)
_DOC_LINE = re.compile(r"^(\s*')(\w+)( = ).*?(\\n)?'$", re.M)


def kernel_listing(source: str, expressions: dict[str, Any]) -> str:
    """The kernel's source with every ``name = <expression>`` comment in symcalc's grammar.

    >>> x = sp.Symbol("x")
    >>> kernel_listing("    # gradient = 2*x**1\\n    g = 2*v0", {"gradient": 2 * x})
    '    # gradient = 2*x\\n    g = 2*v0'
    """

    def comment(m: re.Match) -> str:
        expr = expressions.get(m.group(2))
        return m.group(0) if expr is None else m.group(1) + m.group(2) + m.group(3) + plain(expr)

    def doc(m: re.Match) -> str:
        expr = expressions.get(m.group(2))
        if expr is None:
            return m.group(0)
        return m.group(1) + m.group(2) + m.group(3) + plain(expr) + (m.group(4) or "") + "'"

    return _DOC_LINE.sub(doc, _COMMENT.sub(comment, source))
