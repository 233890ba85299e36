r"""LaTeX primitives of the reports: the :class:`TeX` mark, the template environment, displays.

A string is marked :class:`TeX` only when symcalc built it: formulas from the
LaTeX printer (which sets unsafe names as text), symcalc's own words, and user
text that went through :func:`~symcalc.printing.texsafe.escape_text`. The
environment escapes anything else on output.

>>> eq("f", "x")  # a plain str is user text: it is escaped, never maths
'\\begin{align*}\nf &= \\text{x}\n\\end{align*}'
>>> code_text("a*b")
'{\\ttfamily a*\\allowbreak{}b}'
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

import sympy as sp

from symcalc.printing.latex import DEFAULT_WIDTH, equation, latex, visible_width
from symcalc.printing.texsafe import escape_text

__all__ = ["TeX", "template_env", "display", "eq", "inline", "code_text", "fit_tex", "WIDTH"]

WIDTH = DEFAULT_WIDTH


class TeX(str):
    """A string that is already LaTeX: the template environment prints it as is.

    Only symcalc's own LaTeX is marked TeX; user text inside it must have gone
    through :func:`~symcalc.printing.texsafe.escape_text` (or the LaTeX printer).
    """


def _finalize(value: Any) -> Any:
    if isinstance(value, TeX):
        return value
    if isinstance(value, sp.Basic):
        return latex(value)
    return escape_text(value)


def templates_dir():
    """Installed: the package symcalc.templates; source checkout: <repo>/templates."""
    try:
        root = importlib.resources.files("symcalc.templates")
        if root.joinpath("report.tex.j2").is_file():
            return root
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[2] / "templates"


def _loader():
    import jinja2

    root = templates_dir()

    def load(name: str):
        try:
            return root.joinpath(name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    return jinja2.FunctionLoader(load)


def template_env(finished: bool = False):
    """The Jinja environment: \\VAR{...}, \\BLOCK{...}, \\#{...}; StrictUndefined.

    ``finished=True``: the values arrive as finished LaTeX (no escaping on output).
    """
    import jinja2

    return jinja2.Environment(
        loader=_loader(),
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        line_statement_prefix="%%",
        line_comment_prefix="%#",
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        finalize=None if finished else _finalize,
    )


def display(body: str, lines_fit: bool | None = None) -> TeX:
    r"""A display of an aligned body: align* when every line fits, else scaled to fit."""
    rows = body.split("\\\\\n")
    fits = all(visible_width(r) <= WIDTH + 6 for r in rows) if lines_fit is None else lines_fit
    if fits:
        return TeX("\\begin{align*}\n" + body + "\n\\end{align*}")
    return TeX("\\fitmath{\\begin{aligned}\n" + body + "\n\\end{aligned}}")


def eq(lhs: str, expr: Any) -> TeX:
    """``lhs = expr`` displayed (long results broken over lines by the printer)."""
    return display(equation(lhs, expr, width=WIDTH))


def inline(expr: Any) -> TeX:
    """``$expr$``."""
    return TeX("$" + latex(expr) + "$")


def code_text(text: str) -> TeX:
    r"""User text in typewriter, escaped, breakable after operators (never overfull).

    >>> code_text("a*b+c_1")
    '{\\ttfamily a*\\allowbreak{}b+\\allowbreak{}c\\_1}'
    """
    out = []
    for ch in str(text):
        out.append(escape_text(ch))
        if ch in "*+-/,)=":
            out.append(r"\allowbreak{}")
    return TeX(r"{\ttfamily " + "".join(out) + "}")


def fit_tex(tex: str) -> TeX:
    """An opaque LaTeX string (a rule statement): displayed, scaled down only if too wide."""
    if visible_width(tex) <= WIDTH:
        return TeX("\\[\n" + tex + "\n\\]")
    return TeX("\\fitmath{" + tex + "}")
