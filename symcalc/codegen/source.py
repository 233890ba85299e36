r"""The text of generated kernel modules: user text as escaped literals, code names, listings.

Every generator (NumPy, array API) writes user text through these functions only, and
names user symbols through :class:`CodeNames`, so no user name reaches generated code.

>>> source_comment("a\nb")
'a b'
"""

from __future__ import annotations

import re
from typing import Any

import sympy as sp

from symcalc.codegen.arguments import _array_shape
from symcalc.errors import InputError
from symcalc.inputs import short

#: The name a generated module imports NumPy as: no user symbol is ever printed as code.
_FORMULA_CHARS = 600  # longest formula quoted in a generated comment

NUMPY_MODULE = "_np"


def source_comment(text: Any) -> str:
    r"""``text`` made safe for a ``#`` comment in generated code: every line break (``\n``,
    ``\r``, ``\v``, ``\f``, ``\x1c``-``\x1e``, ``\x85``, ``\u2028``, ``\u2029``) and every other
    non-printable character becomes a space, so the comment cannot end early.

    >>> source_comment("df/dx\r    import os")
    'df/dx     import os'
    """
    return "".join(ch if ch.isprintable() else " " for ch in str(text))


def source_literal(text: Any) -> str:
    r"""``text`` as a Python string literal (``repr``-escaped): it evaluates back to ``text``.

    >>> print(source_literal("it's \\x and a\rline break"))
    "it's \\x and a\rline break"
    """
    return repr(str(text))


def source_docstring(lines: list[str], indent: str = "") -> str:
    r"""A docstring built of repr-escaped lines, implicitly concatenated in parentheses.

    It is still the docstring (the parser joins adjacent literals into one), and no
    user text in it can end it: triple quotes, backslashes and line breaks are escaped.

    >>> print(source_docstring(["Title \\x", "", "body"]))
    (
        'Title \\x\n'
        '\n'
        'body\n'
    )
    """
    body = "".join(f"{indent}    {source_literal(line + chr(10))}\n" for line in lines)
    return f"{indent}(\n{body}{indent})"


class CodeNames:
    """The one map from the user's symbols to the identifiers generated code uses.

    Variables are ``v0, v1, ...``, parameters ``p0, p1, ...``, symbolic sizes of
    matrix-form arguments ``d0, d1, ...``; common subexpressions are
    ``t0, t1, ...`` (:attr:`TEMP_PREFIX`; power ladders append ``_p3``, ``_m2``,
    ``_inv`` to one of these). The expressions are renamed *before* CSE and
    printing, so a user name (a keyword, a builtin, ``np``, ``t0``, one with
    quotes or line breaks) never reaches the code and no temporary equals a
    user symbol. Assumptions and matrix structure are kept. Readers see the
    user names in :meth:`listing` (for a docstring).

    >>> import sympy as sp
    >>> x, lam = sp.Symbol("x", real=True), sp.Symbol("lambda")
    >>> names = CodeNames([x], [lam])
    >>> names.rename(lam * x**2), names.code(lam)
    (p0*v0**2, 'p0')
    >>> names.listing()
    ['v0 = x', 'p0 = lambda']
    """

    TEMP_PREFIX = "t"
    #: every identifier the generators make for a symbol (the printers refuse any other)
    PATTERN = re.compile(r"(?:[vpdt]|tb)\d+(?:_(?:[pm]\d+|inv))?")

    def __init__(self, wrt, params=(), matrix: bool = False):
        self.pairs: list[tuple[Any, Any]] = []  # (user symbol, code symbol), in order
        self.map: dict = {}
        self.dims = (
            [
                self._add(d, sp.Symbol(f"d{k}", **d.assumptions0))
                for k, d in enumerate(self._dims([wrt] + list(params)))
            ]
            if matrix
            else []
        )
        self.variables = self._add_all([wrt] if matrix else wrt, "v")
        self.parameters = self._add_all(params, "p")

    @staticmethod
    def _dims(syms):
        """The size symbols (m, n) in the shapes of the MatrixSymbols among syms, first seen first."""
        dims: list = []
        for s in syms:
            if not isinstance(s, sp.MatrixSymbol):
                continue
            for d in s.shape:
                dims += [
                    sym
                    for sym in sorted(getattr(d, "free_symbols", ()), key=str)
                    if sym not in dims
                ]
        return dims

    def _add_all(self, syms, prefix):
        """Code symbols prefix0, prefix1, ... for syms (a MatrixSymbol keeps its class and
        gets its sizes in code names); returns them."""
        out = []
        for k, s in enumerate(syms):
            if isinstance(s, sp.MatrixSymbol):
                shape = [d.xreplace(self.map) if isinstance(d, sp.Basic) else d for d in s.shape]
                out.append(self._add(s, type(s)(f"{prefix}{k}", *shape)))
            else:
                out.append(self._add(s, sp.Symbol(f"{prefix}{k}", **s.assumptions0)))
        return out

    def _add(self, user, code):
        self.pairs.append((user, code))
        self.map[user] = code
        return code

    def rename(self, expr):
        """expr with every user symbol replaced by its code symbol."""
        return expr.xreplace(self.map) if isinstance(expr, sp.Basic) else expr

    def symbol(self, user):
        return self.map[user]

    def code(self, user) -> str:
        """The identifier generated code uses for the user's symbol."""
        return self.map[user].name

    def listing(self) -> list[str]:
        """'v0 = x' per symbol: which code name stands for which user name (for a docstring)."""
        return [f"{code.name} = {user}" for user, code in self.pairs]

    def summary(self) -> list[str]:
        """Docstring lines (user text: for a repr-escaped docstring only): the variables and
        the parameters in call order, then the code name of each."""
        users = {code: user for user, code in self.pairs}
        params = ", ".join(str(users[p]) for p in self.parameters)
        return [
            "variables: "
            + ", ".join(str(users[v]) for v in self.variables)
            + " (along the variables axis of xs)",
            "parameters: " + (f"{params} (in call order)" if params else "none"),
            "names in the code: " + ", ".join(self.listing()),
        ]


def _short(expr, limit=_FORMULA_CHARS) -> str:
    return short(expr, limit)  # the one short-print (symcalc.inputs)


def kernel_functions(with_hessian: bool) -> list[tuple[str, list[str]]]:
    """The functions a kernel module defines, each with the results it returns."""
    funcs = [("value", ["value"]), ("gradient", ["gradient"])]
    if with_hessian:
        funcs.append(("hessian", ["hessian"]))
    funcs.append(("value_and_gradient", ["value", "gradient"]))
    if with_hessian:
        funcs.append(("value_gradient_hessian", ["value", "gradient", "hessian"]))
    return funcs


def _dimension_lines(arg_syms):
    """[(size name, '    d0 = v0.shape[0]')]: each symbolic size read off the first array that has it."""
    lines, seen = [], set()
    for a in arg_syms:
        for axis, d in enumerate(_array_shape(a)):
            if isinstance(d, sp.Symbol) and d not in seen:
                seen.add(d)
                lines.append((d.name, f"    {d.name} = {a.name}.shape[{axis}]"))
    return lines


def _argument_listing(names: CodeNames) -> str:
    """'v0 = w (n,), p0 = X (m, n)' (user names and sizes: for a docstring)."""
    users = [u for u, c in names.pairs if c in names.variables or c in names.parameters]
    codes = names.variables + names.parameters
    return ", ".join(f"{c.name} = {u} {_array_shape(u) or '()'}" for u, c in zip(users, codes))


def _generate(fn, *args, library: str = "NumPy"):
    """Run a source generator; a construct ``library`` cannot print becomes an InputError naming it."""
    from sympy.printing.codeprinter import PrintMethodNotImplementedError

    try:
        return fn(*args)
    except PrintMethodNotImplementedError as exc:
        what = str(exc).splitlines()[0].split(":", 1)[-1].strip()
        raise InputError(f"cannot compile {what}: {library} has no function for it") from None
