"""Split a hand derivation into lines and read the notation of its left-hand sides.

A derivation is an ``align`` / ``align*`` / ``aligned`` block, ``\\\\``-separated lines, or
plain lines (one per text line). Each line is ``LHS = RHS`` or ``= RHS`` (the RHS equals
the previous line's RHS); ``&`` alignment marks are dropped, a trailing ``\\text{...}``,
``\\quad ...`` or ``% ...`` is kept as the stated reason. Nothing here evaluates text: it
is only cut into pieces and rewritten into the grammar of :mod:`symcalc.parsing.parser`.

>>> [(ln.lhs, ln.rhs, ln.reason) for ln in split_lines(r'''
... \\begin{align*}
... f &= x^\\top A x \\\\
...   &= x^\\top A^\\top x \\quad \\text{(transpose of a scalar)}
... \\end{align*}''')]
[('f', 'x^\\\\top A x', ''), (None, 'x^\\\\top A^\\\\top x', '(transpose of a scalar)')]
>>> read_lhs(r"\\mathrm{d}L").kind, read_lhs(r"\\nabla_x f").kind, read_lhs(r"\\nabla^2 f").kind
('differential', 'gradient', 'hessian')
>>> normalize(r"\\operatorname{tr}(G^\\top \\mathrm{d}X)", ["X"])
'\\\\operatorname{tr}(G^\\\\top  dX )'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from symcalc.errors import ParseError

__all__ = ["Line", "Lhs", "split_lines", "read_lhs", "normalize", "LINE_LIMITS"]

#: a derivation is short: refuse anything that is not
LINE_LIMITS = {"max_lines": 60, "max_chars": 20_000, "max_line_chars": 2_000}

_ENV = re.compile(r"\\(begin|end)\{(align\*?|aligned|equation\*?|gather\*?|split|eqnarray\*?)\}")
_REASON = re.compile(r"(\\q?quad\b.*|\\text\{[^{}]*\}\s*[.,;]?\s*$|%.*$)", re.S)
_DROP = re.compile(r"\\(nonumber|notag|displaystyle|label\{[^{}]*\}|tag\{[^{}]*\})")


@dataclass(frozen=True)
class Line:
    """One line: its left side (None for ``= RHS``), right side and stated reason."""

    lhs: str | None
    rhs: str
    reason: str = ""
    source: str = ""


@dataclass(frozen=True)
class Lhs:
    """What a left-hand side means: kind and the formula it is about.

    kind: "differential" (d f), "gradient" (nabla f, df/dx), "hessian" (nabla^2 f),
    "rate" (dL/dt along a path), "expr" (an expression, or a name being defined).
    """

    kind: str
    body: str
    var: str = ""


def _check_size(text: str) -> None:
    if not isinstance(text, str):
        raise ParseError(f"a derivation must be text or a list of lines, not {type(text).__name__}")
    if len(text) > LINE_LIMITS["max_chars"]:
        raise ParseError(
            f"the derivation is {len(text)} characters long; the limit is "
            f"{LINE_LIMITS['max_chars']}"
        )


def _reason_of(piece: str) -> tuple[str, str]:
    """(the formula, its stated reason) of one line."""
    m = _REASON.search(piece)
    if not m:
        return piece, ""
    reason = m.group(0)
    reason = re.sub(r"\\q?quad|\\text\{|[{}]|^%", " ", reason)
    return piece[: m.start()], re.sub(r"\s+", " ", reason).strip(" .,;")


def _pieces(text: str) -> list[str]:
    text = _DROP.sub(" ", _ENV.sub("\n", text))
    if "\\\\" in text:
        return text.split("\\\\")
    return text.splitlines()


def split_lines(text: str) -> list[Line]:
    """The lines of a derivation (see the module docstring).

    >>> [ln.rhs for ln in split_lines("L = x^2\\n  = x x")]
    ['x^2', 'x x']
    """
    _check_size(text)
    lines = []
    for raw in _pieces(text):
        formula, reason = _reason_of(raw)
        formula = formula.replace("&", " ").strip().rstrip(",.;").strip()
        if not formula:
            continue
        lines.append(_one_line(formula, reason, re.sub(r"\s+", " ", raw.replace("&", " ")).strip()))
    _check_count(lines)
    return lines


def _check_count(lines: list) -> None:
    if not lines:
        raise ParseError("the derivation has no lines")
    if len(lines) > LINE_LIMITS["max_lines"]:
        raise ParseError(
            f"the derivation has {len(lines)} lines; the limit is {LINE_LIMITS['max_lines']}"
        )


def _one_line(formula: str, reason: str, source: str) -> Line:
    if len(formula) > LINE_LIMITS["max_line_chars"]:
        raise ParseError(
            f"a line is {len(formula)} characters long; the limit is "
            f"{LINE_LIMITS['max_line_chars']}"
        )
    if formula.count("=") > 1:
        raise ParseError(f"a line has more than one '=': {formula[:80]!r} (one step per line)")
    if "=" not in formula:
        raise ParseError(f"a line has no '=': {formula[:80]!r} (write LHS = RHS or = RHS)")
    lhs, rhs = (s.strip() for s in formula.split("="))
    if not rhs:
        raise ParseError(f"nothing after '=' in {formula[:80]!r}")
    return Line(lhs or None, rhs, reason, source)


# --------------------------------------------------------------------------------------
# Left-hand sides
# --------------------------------------------------------------------------------------
_D = r"(?:\\mathrm\{d\}|\\operatorname\{d\}|\{\\rm\s*d\}|d)"
_PARTIAL = r"(?:\\partial|\u2202)"
_SUB = r"(?:_\{?\\?[A-Za-z]+\}?|_\{\\mathbf\{[A-Za-z]+\}\})?"
_LHS_FORMS = [
    ("hessian", re.compile(r"^(?:\\nabla|∇)" + _SUB + r"\^\{?2\}?" + _SUB + r"\s*(?P<body>.+)$")),
    ("gradient", re.compile(r"^(?:\\nabla|∇|grad\b)" + _SUB + r"\s*(?P<body>.+)$")),
    (
        "hessian",
        re.compile(
            r"^\\[dt]?frac\{" + _PARTIAL + r"\^\{?2\}?\s*(?P<body>[^{}]*)\}\{" + r"[^{}]*\}$"
        ),
    ),
    (
        "deriv",
        re.compile(
            r"^\\[dt]?frac\{(?:"
            + _PARTIAL
            + "|"
            + _D
            + r")\s*(?P<body>[^{}]*(?:\{[^{}]*\}[^{}]*)*)"
            r"\}\{(?:" + _PARTIAL + "|" + _D + r")\s*(?P<var>[^{}]*(?:\{[^{}]*\}[^{}]*)*)\}$"
        ),
    ),
    (
        "deriv",
        re.compile(
            r"^(?:" + _PARTIAL + r"|d)\s*(?P<body>[A-Za-z]\w*)\s*/\s*(?:"
            r"" + _PARTIAL + r"|d)\s*(?P<var>[A-Za-z]\w*)$"
        ),
    ),
    ("differential", re.compile(r"^" + _D + r"\s*(?P<body>\(.*\)|\\left\(.*\\right\)|.+)$")),
]


def _strip_parens(body: str) -> str:
    body = body.strip()
    for left, right in (("\\left(", "\\right)"), ("(", ")")):
        if body.startswith(left) and body.endswith(right):
            inner = body[len(left) : -len(right)]
            if _balanced(inner):
                return inner.strip()
    return body


def _balanced(s: str) -> bool:
    depth = 0
    for c in s:
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth < 0:
            return False
    return depth == 0


def _unwrap(name: str) -> str:
    m = re.fullmatch(r"\\(?:mathbf|boldsymbol|bm|mathrm|mathit|vec)\{(.+)\}", name.strip())
    return m.group(1) if m else name.strip()


def read_lhs(lhs: str) -> Lhs:
    """Classify a left-hand side: a differential, a gradient, a Hessian, a rate or an expression.

    >>> read_lhs(r"\\frac{\\partial f}{\\partial X}")
    Lhs(kind='deriv', body='f', var='X')
    >>> read_lhs(r"d(\\log\\det X)")
    Lhs(kind='differential', body='\\\\log\\\\det X', var='')
    >>> read_lhs("f(x)")
    Lhs(kind='expr', body='f(x)', var='')
    """
    text = lhs.strip()
    for kind, pattern in _LHS_FORMS:
        m = pattern.match(text)
        if not m:
            continue
        body = _strip_parens(m.group("body"))
        if kind == "differential" and (re.match(r"^(et|iag)\b", body) or not body):
            continue  # \det ..., diag(...) are not differentials of "et", "iag"
        var = _unwrap(m.group("var")) if "var" in m.groupdict() else ""
        return Lhs(kind, body, var)
    return Lhs("expr", text)


# --------------------------------------------------------------------------------------
# Notation on right-hand sides
# --------------------------------------------------------------------------------------
_NORM_SQ = re.compile(
    r"(?:\\\||\\lVert|\\left\\\||‖)(?P<body>.+?)(?:\\\||\\rVert|\\right\\\||‖)"
    r"(?:_\{?(?:F|2)\}?)?(?P<sq>\^\{?2\}?)?"
)


def _norm(m: re.Match) -> str:
    body = m.group("body")
    inner = rf"\operatorname{{tr}}\left(\left({body}\right)^\top \left({body}\right)\right)"
    return inner if m.group("sq") else rf"\sqrt{{{inner}}}"


def normalize(text: str, directions: list[str], latex: bool = True) -> str:
    """Rewrite differentials ``dX``/``\\mathrm{d}X`` to the name ``dX`` and norms to traces.

    directions: the variables whose differentials may appear (``X`` makes ``dX`` a name).

    >>> normalize(r"\\|\\nabla L\\|^2", [])
    '\\\\operatorname{tr}\\\\left(\\\\left(\\\\nabla L\\\\right)^\\\\top \\\\left(\\\\nabla L\\\\right)\\\\right)'
    >>> normalize("dx^T A x + x^T A dx", ["x"], latex=False)
    ' dx ^T A x + x^T A  dx '
    """
    text = _NORM_SQ.sub(_norm, text)
    for v in sorted(directions, key=len, reverse=True):
        name = re.escape(v)
        wrapped = rf"(?:{name}|\{{{name}\}}|\\mathbf\{{{name}\}}|\\boldsymbol\{{{name}\}})"
        pattern = rf"(?<![\\A-Za-z0-9_]){_D}\s*{wrapped}(?![A-Za-z0-9_])"
        text = re.sub(pattern, f" d{v} ", text)
    text = re.sub(r"\\mathcal\{([A-Za-z])\}", r"\1", text)
    return text
