"""Plain-text printing of results, in the notation of symcalc's own grammar.

SymPy's ``str`` shows the machinery (``Trace(1*X*w)``, ``Lambda(_d, softplus(_d)).(X*w)``
for its own ElementwiseApplyFunction); this printer shows what a person writes, and what ``symcalc.parse`` reads back:
a scalar function of a matrix acts entry by entry (``sigmoid(X*w)``), ``sum(M)``
is the sum of the entries, ``.*`` the elementwise product, ``diag(v)`` the
diagonal matrix of a vector, and a 1 x 1 matrix stands for its only entry.

>>> import sympy as sp
>>> from symcalc.expr.structure import vector, matrix_symbol, logistic_loss
>>> X, w, y = matrix_symbol("X", "m", "n"), vector("w", "n"), vector("y", "m")
>>> text(logistic_loss(X, w, y))
'sum(softplus(X*w)) - y.T*X*w'
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.str import StrPrinter


def _is_ones(M: Any) -> bool:
    return isinstance(M, sp.OneMatrix)


def _ones_multiple(M: Any) -> Any:
    """c for the matrix c * ones(m, n) (c = 1 for ones itself), else None."""
    if _is_ones(M):
        return sp.S.One
    if isinstance(M, sp.MatMul):
        matrices = [a for a in M.args if getattr(a, "is_Matrix", False)]
        if len(matrices) == 1 and _is_ones(matrices[0]):
            return sp.Mul(*[a for a in M.args if not getattr(a, "is_Matrix", False)])
    return None


def elementwise_text(printer: StrPrinter, e: ElementwiseApplyFunction) -> str:
    """f.(M) as symcalc writes it: ``sigmoid(X*w)``, ``leaky_relu(X*w, 1/5)``, ``(z).^2``
    (``str()`` of :class:`symcalc.expr.elementwise.Elementwise` uses it with SymPy's printer).

    >>> import sympy as sp
    >>> from symcalc.expr.structure import elementwise, vector
    >>> elementwise_text(StrPrinter(), elementwise(sp.exp, vector("z", 3)))
    'exp(z)'
    """
    lam = e.function
    inner = printer._print(e.expr)
    if isinstance(lam, sp.Lambda) and len(lam.variables) == 1:
        var, body = lam.variables[0], lam.expr
        if isinstance(body, sp.Function) and body.args[:1] == (var,):
            params = body.args[1:]
            if not any(p.has(var) for p in params):  # leaky_relu(X*w, 1/5)
                shown = ", ".join([inner, *(printer._print(p) for p in params)])
                return f"{_function_name(body)}({shown})"
        if body.is_Pow and body.base == var:
            return f"({inner}).^{_exponent_text(printer, body.exp)}"
        shown = printer._print(body.xreplace({var: sp.Symbol("t")}))
        return f"({shown} for t = each entry of {inner})"
    return f"{printer._print(lam)}({inner})"


def _exponent_text(printer: StrPrinter, p: Any) -> str:
    """An exponent after ``.^``: bare when it is one token (2, n), else in parentheses
    (``x.^(-1/2)``, never ``x.^-1/2``, which reads as (x.^-1)/2)."""
    shown = printer._print(p)
    one_token = (p.is_Integer and p >= 0) or p.is_Symbol
    return shown if one_token else f"({shown})"


def _function_name(body: sp.Function) -> str:
    """The registry's parse name of the function (what symcalc.parse reads back)."""
    from symcalc.expr.registry import REGISTRY

    spec = REGISTRY.of(body)
    return spec.name if spec is not None else getattr(body.func, "__name__", str(body.func))


class SymcalcStrPrinter(StrPrinter):
    """StrPrinter with symcalc's matrix-loss notation (``_print_ClassName`` methods)."""

    def _print_ElementwiseApplyFunction(self, e: ElementwiseApplyFunction) -> str:
        return elementwise_text(self, e)

    def _print_Trace(self, e: sp.Trace) -> str:
        arg = e.arg
        factors = list(arg.args) if isinstance(arg, sp.MatMul) else [arg]
        core = [f for f in factors if not (_is_ones(f) or f == 1)]
        ones = len(factors) - len(core)
        if ones and core:
            return f"sum({self._print(sp.MatMul(*core).doit() if len(core) > 1 else core[0])})"
        if arg.shape == (1, 1):
            return self._print(arg)
        return f"tr({self._print(arg)})"

    def _print_MatMul(self, e) -> str:
        """Scalar factors first, a minus sign in front: -exp(z)*exp(z).T/sum(exp(z))**2."""
        scalars = [a for a in e.args if not getattr(a, "is_Matrix", False)]
        matrices = [a for a in e.args if getattr(a, "is_Matrix", False)]
        coeff = sp.Mul(*scalars)
        sign = ""
        if coeff.could_extract_minus_sign():
            sign, coeff = "-", -coeff
        numer, denom = sp.fraction(coeff)
        parts = [] if numer == 1 else [self.parenthesize(numer, precedence(e))]
        parts += [self._factor(m, precedence(e)) for m in matrices]
        body = "*".join(parts) or "1"
        if denom != 1:
            body += "/" + self.parenthesize(denom, PRECEDENCE["Mul"])  # x/(2*y), never x/2*y
        return sign + body

    def _factor(self, m, level) -> str:
        """A matrix factor of a product; a Hadamard product bracketed (W.T*(a .* b), never
        W.T*a .* b, which reads as (W.T*a) .* b)."""
        if isinstance(m, sp.HadamardProduct):
            return f"({self._print(m)})"
        return self.parenthesize(m, level)

    def _print_MatrixBase(self, M) -> str:
        """One line, in the grammar's literals: a column as [a, b], else rows [[a, b], [c, d]]."""
        if M.cols == 1:
            return "[" + ", ".join(self._print(e) for e in M) + "]"
        return (
            "["
            + ", ".join("[" + ", ".join(self._print(e) for e in row) + "]" for row in M.tolist())
            + "]"
        )

    def _print_HadamardProduct(self, e) -> str:
        return " .* ".join(self.parenthesize(a, 50) for a in e.args)

    def _print_HadamardPower(self, e) -> str:
        return f"{self.parenthesize(e.base, 50)}.^{_exponent_text(self, e.exp)}"

    def _print_DiagMatrix(self, e) -> str:
        return f"diag({self._print(e.args[0])})"

    def _print_MatAdd(self, e) -> str:
        """A multiple of the ones matrix next to another matrix is its scalar, as people
        write it and parse reads it (1 - sigmoid(X*w) adds 1 to every entry)."""
        if all(_ones_multiple(t) is not None for t in e.args):
            return self._positive_first(e.args, e)
        terms = [_ones_multiple(t) if _ones_multiple(t) is not None else t for t in e.args]
        return self._positive_first(terms, e)

    def _print_Add(self, e, order=None) -> str:
        return self._positive_first(e.args, e)

    def _positive_first(self, terms, whole) -> str:
        """a - b, not -b + a: terms printed with a minus sign go after the others (order kept)."""
        printed = [self._print(t) for t in terms]
        ordered = [p for p in printed if not p.startswith("-")] + [
            p for p in printed if p.startswith("-")
        ]
        out = ""
        for k, p in enumerate(ordered):
            if p.startswith("-"):
                out += f" - {p[1:]}" if k else p
            else:
                out += f" + {p}" if k else p
        return out

    def parenthesize(self, item, level, strict=False):
        """A scalar written as a 1 x 1 product (x.T*x) is bracketed inside products and powers."""
        if (
            isinstance(item, sp.Trace)
            and item.arg.shape == (1, 1)
            and isinstance(item.arg, (sp.MatMul, sp.MatAdd))
            and level >= PRECEDENCE["Mul"]
        ):
            shown = self._print(item)
            return shown if shown.startswith(("sum(", "tr(")) else f"({shown})"
        return super().parenthesize(item, level, strict)

    def _print_OneMatrix(self, e) -> str:
        """ones(n) (a column), ones(m, n): the size is printed, so parse reads it back."""
        rows, cols = e.shape
        if cols == 1:
            return f"ones({self._print(rows)})"
        return f"ones({self._print(rows)}, {self._print(cols)})"

    def _print_KroneckerProduct(self, e) -> str:
        return " kron ".join(self.parenthesize(a, 50) for a in e.args)

    def _print_Determinant(self, e) -> str:
        return f"det({self._print(e.arg)})"


_PRINTER = SymcalcStrPrinter({"order": "none"})


def text(expr: Any) -> str:
    """One line of text for a SymPy object, in symcalc's notation.

    >>> import sympy as sp
    >>> from symcalc.expr.structure import vector, matrix_symbol, logistic_loss
    >>> import symcalc as sc
    >>> X, w, y = matrix_symbol("X", "m", "n"), vector("w", "n"), vector("y", "m")
    >>> text(sc.hessian(logistic_loss(X, w, y), w))
    'X.T*diag(sigmoid(X*w) .* (1 - sigmoid(X*w)))*X'
    """
    from symcalc.expr.registry import canonical

    return _PRINTER.doprint(canonical(expr))  # Max(0, t) as relu(t): what parse reads back
