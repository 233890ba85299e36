r"""Layout helpers that keep long results on the page: width estimates, names for shared
subexpressions (``u_1, u_2, ...``), long sums split over aligned lines, big matrices entry
by entry. Reached through :mod:`symcalc.printing.latex`.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> print(equation("f", sum(sp.Symbol(f"a_{i}") * x**i for i in range(30)), width=40))  # doctest: +ELLIPSIS
f &= a_{0} + a_{1} x + ...\\
  &\quad + ...
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sympy as sp

from symcalc.printing.printer import DEFAULT_WIDTH, latex

__all__ = ["equation", "matrix_block", "visible_width"]


# ---------------------------------------------------------------------------
# Width: a conservative estimate of how wide a formula prints
# ---------------------------------------------------------------------------

_CMD = re.compile(r"\\([a-zA-Z]+)")
_WIDE = {
    "operatorname": 0,
    "left": 0,
    "right": 0,
    "frac": 0,
    "dfrac": 0,
    "mathrm": 0,
    "boldsymbol": 0,
    "mathbf": 0,
    "quad": 2,
    "qquad": 4,
    "sqrt": 1,
    "text": 0,
    "cdot": 1,
    "otimes": 2,
    "odot": 2,
    "top": 1,
    "log": 3,
    "exp": 3,
    "sin": 3,
    "cos": 3,
    "det": 3,
    "tanh": 4,
    "begin": 0,
    "end": 0,
}


def visible_width(tex: str) -> int:
    """Roughly how many characters wide ``tex`` prints (fractions count the wider part).

    >>> visible_width(r"\\frac{a + b}{c}") <= 6
    True
    """
    total = 0
    i = 0
    while i < len(tex):
        if tex.startswith(r"\begin{matrix}", i):  # a matrix is as wide as its widest row
            body, i = _environment(tex, i)
            total += _matrix_text_width(body)
            continue
        if tex.startswith(r"\frac", i):
            num, j = _group(tex, i + 5)
            den, k = _group(tex, j)
            total += max(visible_width(num), visible_width(den))
            i = k
            continue
        if (
            tex.startswith(r"\operatorname", i)
            or tex.startswith(r"\text", i)
            or tex.startswith(r"\mathrm", i)
        ):
            j = tex.index("{", i)
            body, k = _group(tex, j)
            total += len(body)
            i = k
            continue
        m = _CMD.match(tex, i)
        if m:
            total += _WIDE.get(m.group(1), 1)
            i = m.end()
            continue
        ch = tex[i]
        if ch in "{}&":
            pass
        elif ch in "_^":  # sub/superscripts are small: count their body as half
            if i + 1 < len(tex) and tex[i + 1] == "{":
                body, k = _group(tex, i + 1)
                total += (visible_width(body) + 1) // 2
                i = k
                continue
        elif ch == " ":
            pass
        elif ch in "+-=<>":
            total += 2
        else:
            total += 1
        i += 1
    return total


def _environment(tex: str, i: int) -> tuple[str, int]:
    """The body of the matrix environment starting at i, and the index after its end."""
    start = i + len(r"\begin{matrix}")
    depth, j = 1, start
    while j < len(tex):
        if tex.startswith(r"\begin{matrix}", j):
            depth += 1
        elif tex.startswith(r"\end{matrix}", j):
            depth -= 1
            if depth == 0:
                return tex[start:j], j + len(r"\end{matrix}")
        j += 1
    return tex[start:], len(tex)


def _matrix_text_width(body: str) -> int:
    r"""The printed width of a matrix body: the widest row, its cells side by side.

    >>> _matrix_text_width(r"a + b\\c") == visible_width("a + b")
    True
    """
    rows = re.split(r"(?<!\\)\\\\(?!\\)", body) if "\\begin" not in body else [body]
    return max(sum(visible_width(c) + 4 for c in row.split("&")) - 4 for row in rows)


def _group(tex: str, i: int) -> tuple[str, int]:
    """The {...} group starting at or after i, and the index after it."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex) or tex[i] != "{":
        return (tex[i : i + 1], i + 1)
    depth = 0
    for j in range(i, len(tex)):
        if tex[j] == "{" and (j == 0 or tex[j - 1] != "\\"):
            depth += 1
        elif tex[j] == "}" and tex[j - 1] != "\\":
            depth -= 1
            if depth == 0:
                return tex[i + 1 : j], j + 1
    return tex[i + 1 :], len(tex)


# ---------------------------------------------------------------------------
# Layout: naming subexpressions and splitting sums
# ---------------------------------------------------------------------------


class _Names:
    """Fresh names u_1, u_2, ... for subexpressions, and their definitions."""

    def __init__(self, prefix: str = "u", start: int = 1):
        self.prefix = prefix
        self.count = start - 1
        self.defs: list[tuple[sp.Symbol, Any]] = []

    def fresh(self) -> sp.Symbol:
        self.count += 1
        return sp.Symbol(f"{self.prefix}_{self.count}")

    def name(self, sub: Any) -> sp.Symbol:
        for known, defined in self.defs:  # one name per subexpression
            if defined == sub:
                return known
        s = self.fresh()
        if isinstance(sub, sp.MatrixExpr) or isinstance(sub, sp.MatrixBase):
            s = sp.MatrixSymbol(s.name.upper(), *sub.shape)
        self.defs.append((s, sub))
        return s


def _shared(exprs: Sequence[Any], names: _Names, width: int) -> list[Any]:
    """Name shared subexpressions (SymPy cse) when the printed result is too wide."""
    if all(visible_width(latex(e)) <= width for e in exprs):
        return list(exprs)
    try:
        defs, reduced = sp.cse(list(exprs), symbols=iter(names.fresh, None), order="none")
    except Exception:  # noqa: BLE001 - cse is an optimisation of display only
        return list(exprs)
    defs, reduced = _inline_small(defs, list(reduced))
    names.defs.extend(defs)
    # cse consumed names it may not have used: renumber compactly
    return _renumber(reduced, names)


def _inline_small(defs: list, reduced: list, small: int = 10) -> tuple[list, list]:
    """Put back names for tiny subexpressions (-y, diag(-y)): a name must save room."""
    kept = []
    for k, (sym, sub) in enumerate(defs):
        if visible_width(latex(sub)) <= small:
            rule = {sym: sub}
            defs[k + 1 :] = [(s, d.xreplace(rule)) for s, d in defs[k + 1 :]]
            kept = [(s, d.xreplace(rule)) for s, d in kept]
            reduced = [r.xreplace(rule) if hasattr(r, "xreplace") else r for r in reduced]
        else:
            kept.append((sym, sub))
    return kept, reduced


def _renumber(reduced: list[Any], names: _Names) -> list[Any]:
    used = [s for s, _ in names.defs]
    mapping = {}
    fresh = _Names(names.prefix)
    new_defs = []
    for s, d in names.defs:
        t = fresh.fresh()
        if isinstance(s, sp.MatrixSymbol):
            t = sp.MatrixSymbol(t.name.upper(), *s.shape)
        mapping[s] = t
        new_defs.append((t, d.xreplace(mapping) if hasattr(d, "xreplace") else d))
    names.defs = new_defs
    names.count = fresh.count
    del used
    return [r.xreplace(mapping) if hasattr(r, "xreplace") else r for r in reduced]


def _shrink(expr: Any, names: _Names, width: int) -> Any:
    """Name the widest proper subexpressions until expr prints within width."""
    for _ in range(12):
        if visible_width(latex(expr)) <= width or not getattr(expr, "args", ()):
            return expr
        candidates = [
            a
            for a in _subtrees(expr)
            if a is not expr
            and a.args
            and not a.is_Atom
            and not isinstance(a, (sp.Tuple, sp.Lambda))
            and not (isinstance(a, sp.Pow) and a.base.is_Atom and a.exp.is_Atom)
            and not any(isinstance(s, sp.Dummy) for s in a.free_symbols)
        ]
        candidates = [a for a in candidates if visible_width(latex(a)) <= width]
        if not candidates:
            return expr
        widest = max(candidates, key=lambda a: visible_width(latex(a)))
        if visible_width(latex(widest)) < 6:
            return expr
        expr = expr.xreplace({widest: names.name(widest)})
    return expr


def _subtrees(expr: Any):
    """Every subexpression, not descending into Lambdas (their variables are bound)."""
    yield expr
    if isinstance(expr, sp.Lambda):
        return
    for a in getattr(expr, "args", ()):
        if isinstance(a, sp.Basic):
            yield from _subtrees(a)


def _sum_lines(expr: Any, width: int, names: _Names) -> list[str]:
    """Print expr over lines of at most width; long sums break before + / -."""
    text = latex(expr)
    if visible_width(text) <= width:
        return [text]
    if isinstance(expr, (sp.Add, sp.MatAdd)):
        terms = list(sp.Add.make_args(expr)) if isinstance(expr, sp.Add) else list(expr.args)
        if isinstance(expr, sp.Add):
            terms = expr.as_ordered_terms()
        lines: list[str] = []
        current = ""
        for k, term in enumerate(terms):
            term = _shrink(term, names, width - 4)
            piece = latex(term)
            if k > 0:
                piece = (" - " + latex(-term)) if _is_negative(term) else (" + " + piece)
            if current and visible_width(current + piece) > width:
                lines.append(current)
                current = piece
            else:
                current += piece
        if current:
            lines.append(current)
        return lines
    shrunk = _shrink(expr, names, width)
    return [latex(shrunk)]


def _is_negative(term: Any) -> bool:
    return isinstance(term, sp.Expr) and term.could_extract_minus_sign()


def equation(
    lhs: str, expr: Any, width: int = DEFAULT_WIDTH, names: _Names | None = None, where: bool = True
) -> str:
    r"""The body of an ``align*`` environment for ``lhs = expr``, kept within width.

    Long sums break over lines (``&\quad + ...``); subexpressions that are shared
    or too wide are named u_1, u_2, ... and defined below ("where").

    >>> import sympy as sp
    >>> print(equation("g", sp.Symbol("x") + 1))
    g &= x + 1
    """
    names = names or _Names()
    if isinstance(expr, sp.MatrixBase):
        return matrix_block(lhs, expr, width=width, names=names)
    budget = max(width - visible_width(lhs) - 3, 20)
    reduced = _shared([expr], names, budget)[0] if _worth_cse(expr, budget) else expr
    lines = _sum_lines(reduced, budget, names)
    out = [f"{lhs} &= {lines[0]}"] + [rf"  &\quad {line.strip()}" for line in lines[1:]]
    if where:
        out += _where_lines(names, width)
    return "\\\\\n".join(out)


def _worth_cse(expr: Any, width: int) -> bool:
    return visible_width(latex(expr)) > width and isinstance(expr, sp.Basic)


def _where_lines(names: _Names, width: int) -> list[str]:
    """Definitions of the names, each itself kept within width."""
    out: list[str] = []
    done = 0
    first = True
    while done < len(names.defs):
        sym, sub = names.defs[done]
        done += 1
        lines = _sum_lines(sub, max(width - 12, 20), names)
        head = r"\text{where } " if first else ""
        first = False
        out.append(rf"{head}{latex(sym)} &= {lines[0]}")
        out += [rf"  &\quad {line.strip()}" for line in lines[1:]]
    return out


def matrix_block(
    lhs: str,
    M: Any,
    width: int = DEFAULT_WIDTH,
    names: _Names | None = None,
    symmetric: bool | None = None,
) -> str:
    r"""A matrix as a whole when it fits, else with named parts, else entry by entry.

    >>> import sympy as sp
    >>> print(matrix_block("H", sp.Matrix([[2, 0], [0, 6]])))
    H &= \left[\begin{matrix}2 & 0\\0 & 6\end{matrix}\right]
    """
    names = names or _Names()
    M = sp.Matrix(M)
    budget = max(width - visible_width(lhs) - 3, 20)
    short = _structured(M)
    if short is not None:
        return f"{lhs} &= {short}"
    whole = latex(M)
    if _matrix_width(M) <= budget:
        return f"{lhs} &= {whole}"
    entries = list(M)
    reduced = sp.Matrix(
        M.shape[0], M.shape[1], _shared(entries, names, budget // max(M.shape[1], 1))
    )
    if _matrix_width(reduced) <= budget and len(names.defs) <= 2 * M.rows * M.cols:
        lines = [f"{lhs} &= {latex(reduced)}"] + _where_lines(names, width)
        return "\\\\\n".join(lines)
    # entry by entry (upper triangle for a symmetric matrix)
    names = _Names(names.prefix)
    symmetric = M.is_symmetric() if symmetric is None else symmetric
    base = _entry_base(lhs)
    out = []
    for i in range(M.rows):
        for j in range(M.cols):
            if symmetric and j < i:
                continue
            idx = (
                f"{i + 1}{j + 1}"
                if M.cols > 1 and M.rows > 1
                else f"{(i if M.cols == 1 else j) + 1}"
            )
            body = equation(f"{base}_{{{idx}}}", M[i, j], width=width, names=names, where=False)
            out.append(body)
    if symmetric and M.rows > 1:
        out.append(rf"{base}_{{ji}} &= {base}_{{ij}} \quad\text{{(symmetric)}}")
    out += _where_lines(names, width)
    return "\\\\\n".join(out)


def _structured(M: sp.Matrix, at_least: int = 4) -> str | None:
    r"""A big zero, scalar-identity or diagonal matrix in one symbol: 0, c I_n, diag(...).

    >>> _structured(2 * sp.eye(6))
    '2 I_{6}'
    """
    if M.rows < at_least and M.cols < at_least:
        return None
    if M.is_zero_matrix:
        return rf"0_{{{M.rows} \times {M.cols}}}"
    if not M.is_square or not M.is_diagonal():
        return None
    d = M.diagonal()
    if all(e == d[0] for e in d):
        c = d[0]
        head = "" if c == 1 else ("- " if c == -1 else latex(c) + " ")
        if isinstance(c, sp.Add):
            head = rf"\left({latex(c)}\right) "
        return rf"{head}I_{{{M.rows}}}"
    entries = ", ".join(latex(e) for e in d)
    if visible_width(entries) > DEFAULT_WIDTH - 12:
        return None
    return rf"\operatorname{{diag}}\left({entries}\right)"


def _entry_base(lhs: str) -> str:
    """The name to index entries with: 'H' from 'H', '\\nabla f' stays."""
    return lhs if re.fullmatch(r"[A-Za-z]|\\[A-Za-z]+", lhs.strip()) else rf"\left({lhs}\right)"


def _matrix_width(M: sp.Matrix) -> int:
    """Width of a matrix: the widest entry of each column, plus gaps."""
    cols = []
    for j in range(M.cols):
        cols.append(max(visible_width(latex(M[i, j])) for i in range(M.rows)))
    return sum(cols) + 3 * M.cols + 2
