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

import contextlib
import contextvars
import re
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter
from sympy.printing.printer import Printer

from symcalc.expr.registry import REGISTRY
from symcalc.expr.spec import latex_call
from symcalc.printing.texsafe import escape_text, is_safe_math

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

#: a name SymPy's own layout handles: letters, digits and underscores
_PLAIN_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

#: the width budget of one display line, in visible characters (A4, 11pt, 2.2 cm margins)
DEFAULT_WIDTH = 62


class SymcalcLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with ML notation.

    Settings beyond LatexPrinter's: ``bold_vectors`` (column MatrixSymbols in
    bold), ``mat_delim`` defaults to brackets.
    """

    _default_settings = dict(
        LatexPrinter._default_settings,
        bold_vectors=False,
        differentials=frozenset(),
        long_columns_as_rows=0,
        show_scalar_trace=False,
    )

    def __init__(self, settings: dict | None = None):
        settings = dict(settings or {})
        settings.setdefault("mat_delim", "[")
        settings.setdefault("mat_str", "matrix")
        super().__init__(settings)

    # --- matrices -------------------------------------------------------
    def _print_MatrixBase(self, expr):
        """A long column prints as a transposed row when ``long_columns_as_rows`` is set."""
        n = self._settings["long_columns_as_rows"]
        if n and expr.cols == 1 and expr.rows >= n:
            return super()._print_MatrixBase(expr.T) + r"^\top"
        return super()._print_MatrixBase(expr)

    _print_ImmutableDenseMatrix = _print_MatrixBase
    _print_MutableDenseMatrix = _print_MatrixBase
    _print_ImmutableMatrix = _print_MatrixBase
    _print_Matrix = _print_MatrixBase

    def _print_MatrixSymbol(self, expr):
        if self._is_differential(expr):
            return r"\mathrm{d}" + self._print_MatrixSymbol(
                sp.MatrixSymbol(expr.name[1:], *expr.shape)
            )
        name = self._deal_with_super_sub(expr.name)
        name = name if name.startswith(r"\text{") else _one_symbol(expr.name, name)
        if self._settings["bold_vectors"] and expr.shape[1] == 1 and expr.shape[0] != 1:
            return rf"\boldsymbol{{{name}}}"
        return name

    def _print_Transpose(self, expr):
        arg = expr.arg
        inner = self._print(arg)
        if not isinstance(arg, (sp.MatrixSymbol, sp.Symbol)) and not arg.is_Atom:
            inner = rf"\left({inner}\right)"
        return rf"{inner}^\top"

    def _print_MatAdd(self, expr):
        """A sum of transposes prints as one transpose: (Xw - y)^T, not w^T X^T - y^T;
        positive terms first: x - mu, not -mu + x."""
        terms = list(expr.args)
        if len(terms) > 1 and all(t.has(sp.Transpose) for t in terms):
            inner = sp.MatAdd(*[sp.transpose(t) for t in terms]).doit()
            if _count(inner, sp.Transpose) == 0:
                return rf"\left({self._print(inner)}\right)^\top"
        terms.sort(key=_is_negative_term)
        out = self._print(terms[0])
        for t in terms[1:]:
            if _is_negative_term(t):
                out += " - " + self._print(-t)
            else:
                out += " + " + self._print(t)
        return out

    def _print_MatMul(self, expr):
        """Factors side by side; a scalar coefficient in front without parentheses
        (1/2 x, - X w); sums in parentheses unless already printed as (...)^T."""
        coeff, mats = expr.as_coeff_mmul()
        factors = list(mats.args) if isinstance(mats, sp.MatMul) else [mats]
        parts = []
        for f in factors:
            t = self._print(f)
            if isinstance(
                f, (sp.MatAdd, sp.Add, sp.HadamardProduct, sp.KroneckerProduct)
            ) and not t.endswith(r"\right)^\top"):
                t = rf"\left({t}\right)"
            parts.append(t)
        body = " ".join(parts)
        if coeff == 1:
            return body
        if coeff == -1:
            return "- " + body
        if getattr(coeff, "is_negative", False):
            return "- " + self._print(-coeff) + " " + body
        c = self._print(coeff)
        if isinstance(coeff, sp.Add):
            c = rf"\left({c}\right)"
        return c + " " + body

    def _print_Inverse(self, expr):
        arg = expr.arg
        inner = self._print(arg)
        if not isinstance(arg, (sp.MatrixSymbol, sp.Symbol)):
            inner = rf"\left({inner}\right)"
        return rf"{inner}^{{-1}}"

    def _print_Trace(self, expr):
        if getattr(expr.arg, "shape", None) == (1, 1) and not self._settings["show_scalar_trace"]:
            # a 1 x 1 matrix is its only entry (derivation steps show the trace: it is a rule there)
            return self._print(expr.arg)
        return rf"\operatorname{{tr}}\left({self._print(expr.arg)}\right)"

    def _print_Determinant(self, expr):
        return rf"\det\left({self._print(expr.arg)}\right)"

    def _print_KroneckerProduct(self, expr):
        return r" \otimes ".join(self._paren_if_sum(a) for a in expr.args)

    def _print_HadamardProduct(self, expr):
        return r" \odot ".join(self._paren_if_sum(a) for a in expr.args)

    def _print_HadamardPower(self, expr):
        return rf"{self._paren_if_sum(expr.base)}^{{\odot {self._print(expr.exp)}}}"

    def _print_DiagMatrix(self, expr):
        return rf"\operatorname{{diag}}\left({self._print(expr.args[0])}\right)"

    _print_DiagonalizeVector = _print_DiagMatrix
    _print_DiagonalOf = _print_DiagMatrix

    def _print_Identity(self, expr):
        return r"I" if expr.rows.is_Symbol else rf"I_{{{self._print(expr.rows)}}}"

    def _print_OneMatrix(self, expr):
        rows, cols = expr.shape
        return r"\mathbf{1}^\top" if rows == 1 and cols != 1 else r"\mathbf{1}"

    def _print_ZeroMatrix(self, expr):
        return r"0"

    def _print_ElementwiseApplyFunction(self, expr):
        fn = expr.function
        name = getattr(fn, "__name__", None)
        params: tuple = ()
        if isinstance(fn, sp.Lambda) and len(fn.variables) == 1:
            v, body = fn.variables[0], fn.expr
            applied = (
                isinstance(body, sp.Function)
                and body.args[:1] == (v,)
                and not any(p.has(v) for p in body.args[1:])
            )  # f(t, *params): printed as f(Z, *params); anything else as the Lambda
            name = str(body.func.__name__) if applied else None
            params = body.args[1:] if applied else ()
        spec = REGISTRY.get(str(name)) if name is not None else None
        if name is None:  # no name: the function as SymPy prints it (already LaTeX)
            head = rf"\operatorname{{{self._print(fn)}}}"
        elif spec is not None:  # the registry's LaTeX name (\sigma, \operatorname{ReLU}, ...)
            return latex_call(spec.latex, [self._print(a) for a in (expr.expr, *params)])
        elif re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", str(name)):
            head = rf"\operatorname{{{name}}}"
        else:  # a user's name: maths only when it is safe maths
            head = self._deal_with_super_sub(str(name))
        return rf"{head}\left({self._print(expr.expr)}\right)"

    def _paren_if_sum(self, arg):
        text = self._print(arg)
        if isinstance(arg, (sp.MatAdd, sp.Add, sp.MatMul, sp.Mul)):
            return rf"\left({text}\right)"
        return text

    # --- names: user text, printed as maths only when it is safe maths ----
    def _deal_with_super_sub(self, string: str, style="plain") -> str:
        r"""A Symbol / MatrixSymbol / Function name: SymPy's rendering when that is allowed
        maths (see :mod:`symcalc.printing.texsafe`), else the name as escaped text.

        >>> latex(sp.Symbol(r"\input{/etc/passwd}"))
        '\\text{\\textbackslash{}input\\{/etc/passwd\\}}'
        >>> latex(sp.Symbol("beta_1")), latex(sp.Symbol(r"\hat{\beta}_12"))
        ('\\beta_{1}', '{\\hat{\\beta}{}}_{12}')
        """
        tex = self._name_tex(string, style)
        return tex if tex is not None else _escaped_name(string)

    def _name_tex(self, string: str, style: str = "plain") -> str | None:
        """SymPy's rendering of a name, or None when it is not allowed maths."""
        if not isinstance(string, str) or not is_safe_math(
            string.replace("_", " ").replace("^", " ")
        ):
            return None
        braced = re.fullmatch(r"(.*\}.*)_(\d+)", string)
        if braced and is_safe_math(braced.group(1)):
            # SymPy leaves a name with braces as it is: \mathbf{x}_12 would print as x_1 2
            tex = (
                _atom(super()._deal_with_super_sub(braced.group(1), style))
                + "_{"
                + braced.group(2)
                + "}"
            )
        else:
            tex = super()._deal_with_super_sub(string, style)
        return tex if is_safe_math(tex) else None

    def _hprint_Function(self, func: str) -> str:
        """A function's name: SymPy's layout (\\operatorname{...}) for a plain identifier,
        otherwise the name as a symbol would print (safe maths or escaped text)."""
        if _PLAIN_IDENTIFIER.fullmatch(str(func)):
            return super()._hprint_Function(func)
        return self._deal_with_super_sub(str(func))

    def _print_Function(self, expr, exp=None):
        """An undefined function with a name that is not a plain identifier: its name, then (args)."""
        if isinstance(expr, AppliedUndef) and not _PLAIN_IDENTIFIER.fullmatch(expr.func.__name__):
            head = self._hprint_Function(expr.func.__name__)
            if exp is not None:
                head = _atom(head) + f"^{{{exp}}}"
            args = ",".join(self._print(a) for a in expr.args)
            return head + r"{\left(" + args + r" \right)}"
        return super()._print_Function(expr, exp)

    def _print_Str(self, expr):
        return self._deal_with_super_sub(str(expr.name))

    def _print_str(self, expr):
        return r"\text{" + escape_text(expr) + "}"

    def emptyPrinter(self, expr):
        """An object with no printer of its own: its str() in typewriter, escaped like all user text."""
        return r"\text{\ttfamily " + escape_text(Printer.emptyPrinter(self, expr)) + "}"

    # --- scalars --------------------------------------------------------
    def _is_differential(self, expr) -> bool:
        return getattr(expr, "name", None) in self._settings["differentials"]

    def _print_Symbol(self, expr, style="plain"):
        if self._is_differential(expr):
            return r"\mathrm{d}" + super()._print_Symbol(sp.Symbol(expr.name[1:]))
        tex = super()._print_Symbol(expr, style=style)
        return tex if tex.startswith(r"\text{") else _one_symbol(expr.name, tex)

    def _print_Mul(self, expr):
        """Differentials (dx, dX) print last: 3 x^2 dx, not 3 dx x^2."""
        if not self._settings["differentials"]:
            return super()._print_Mul(expr)
        diffs = [a for a in expr.args if self._is_differential(a)]
        if not diffs:
            return super()._print_Mul(expr)
        rest = sp.Mul(*[a for a in expr.args if a not in diffs], evaluate=False)
        tail = r"\,".join(self._print(dv) for dv in diffs)
        if rest == 1:
            return tail
        if rest == -1:
            return "- " + tail
        head = self._print(rest)
        if isinstance(rest, sp.Add):
            head = rf"\left({head}\right)"
        return rf"{head}\,{tail}"

    def _print_Dummy(self, expr):
        return self._print_Symbol(sp.Symbol(expr.name))

    def _print_Derivative(self, expr):
        # d/dt of a path x(t) prints as \dot x
        if len(expr.variables) == 1 and isinstance(expr.expr, sp.core.function.AppliedUndef):
            return rf"\dot{{{self._print(expr.expr)}}}"
        return super()._print_Derivative(expr)


def _one_symbol(name: str, tex: str) -> str:
    r"""A multi-letter name as one symbol, not a product: ``lam`` is ``\mathit{lam}``.

    Greek names and accents (lambda, nu, xhat) are SymPy's; only a plain run of
    letters that SymPy left as it is, in the base or a script, is wrapped.

    >>> _one_symbol("lam", "lam"), _one_symbol("lamw_2", "lamw_{2}"), _one_symbol("w_hat", "w_{hat}")
    ('\\mathit{lam}', '\\mathit{lamw}_{2}', 'w_{\\mathit{hat}}')
    >>> _one_symbol("lambda", r"\lambda"), _one_symbol("x_1", "x_{1}")
    ('\\lambda', 'x_{1}')
    """
    from sympy.printing.conventions import split_super_sub

    base, sups, subs = split_super_sub(name)
    words = {w for w in [base, *sups, *subs] if re.fullmatch(r"[A-Za-z]{2,}", w)}
    for w in sorted(words, key=len, reverse=True):
        tex = re.sub(
            rf"(?<![\\A-Za-z{{]){w}(?![A-Za-z])|(?<=\{{){w}(?=\}})", rf"\\mathit{{{w}}}", tex
        )
    return tex


def _atom(tex: str) -> str:
    r"""``tex`` as one atom that takes new scripts: {...{}} (TeX would take a group holding only
    an accent as the accent itself, so {\hat{x}_1}_2 is a double subscript; {\hat{x}_1{}}_2 is not).

    >>> _atom(r"\hat{\beta}_1")
    '{\\hat{\\beta}_1{}}'
    """
    return "{" + tex + "{}}"


def _escaped_name(name: Any) -> str:
    r"""A name that is not allowed maths, set as text: it shows what was written and never runs.

    >>> _escaped_name("x}%")
    '\\text{x\\}\\%}'
    """
    return r"\text{" + escape_text(name) + "}"


def _is_negative_term(t: Any) -> bool:
    if isinstance(t, sp.MatMul):
        c = t.as_coeff_mmul()[0]
        return bool(getattr(c, "is_negative", False))
    return bool(getattr(t, "could_extract_minus_sign", lambda: False)())


def _count(expr: Any, cls: type) -> int:
    return sum(1 for a in sp.preorder_traversal(expr) if isinstance(a, cls))


_PRINTER_CACHE: dict[tuple, SymcalcLatexPrinter] = {}
_DEFAULTS: contextvars.ContextVar[dict] = contextvars.ContextVar(
    "symcalc_latex_defaults",
    default=MappingProxyType({}),  # read-only: set() replaces it
)


@contextlib.contextmanager
def options(**opts: Any):
    r"""Printer settings for every ``latex`` call inside the block (e.g. differentials).

    >>> import sympy as sp
    >>> x, dx = sp.symbols("x dx")
    >>> with options(differentials={"dx"}):
    ...     latex(2 * dx * x)
    '2 x\\,\\mathrm{d}x'
    """
    token = _DEFAULTS.set({**_DEFAULTS.get(), **opts})
    try:
        yield
    finally:
        _DEFAULTS.reset(token)


def latex(expr: Any, **opts: Any) -> str:
    r"""LaTeX of a SymPy object (or a list / number) in symcalc's notation.

    >>> import sympy as sp
    >>> from symcalc.expr.functions import sigmoid
    >>> latex(sigmoid(sp.Symbol("z")))
    '\\sigma\\left(z\\right)'
    """
    opts = {**_DEFAULTS.get(), **opts}
    if "differentials" in opts:
        opts["differentials"] = frozenset(opts["differentials"])
    key = tuple(sorted(opts.items()))
    printer = _PRINTER_CACHE.get(key)
    if printer is None:
        printer = _PRINTER_CACHE[key] = SymcalcLatexPrinter(opts)
    if isinstance(expr, (list, tuple)):
        return ", ".join(latex(e, **opts) for e in expr)
    if isinstance(expr, (int, float)):
        expr = sp.sympify(expr, strict=True)
    return printer.doprint(expr)


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
