r"""The LaTeX printer: SymPy's LatexPrinter with ML notation, and :func:`latex` / :func:`options`.

The printer changes notation through ``_print_ClassName`` methods only:
``X^\top`` for transposes, ``\operatorname{tr}``, ``\det``, ``\otimes``
(Kronecker), ``\odot`` (Hadamard), ``\operatorname{diag}``, ``\sigma`` and
``\operatorname{softplus}``, bracketed matrices, optional bold vectors.
The layout of long results is :mod:`symcalc.printing.layout`; both are
reached through :mod:`symcalc.printing.latex`.

>>> import sympy as sp
>>> X = sp.MatrixSymbol("X", 3, 2); w = sp.MatrixSymbol("w", 2, 1)
>>> latex((X * w).T * X * w)
'w^\\top X^\\top X w'
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from types import MappingProxyType
from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter
from sympy.printing.printer import Printer

from symcalc.expr.registry import REGISTRY
from symcalc.expr.spec import latex_call
from symcalc.printing.texsafe import escape_text, is_safe_math

__all__ = ["SymcalcLatexPrinter", "latex", "options", "escape_text", "DEFAULT_WIDTH"]

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
