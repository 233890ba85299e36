"""Read the lines of a derivation: names, definitions, differentials and placeholders.

A :class:`Reader` holds the declared names, the direction ``dX`` of the variable, and the
names the derivation defines (``f = x^T A x``, ``L(X) = ...``, ``\\dot{x} = -\\nabla L``).
Text is read only by :func:`symcalc.parsing.parser.parse_any` (never evaluated): defined
names are parsed as placeholders and replaced by their definitions afterwards, and
``\\nabla f`` on a right-hand side becomes a placeholder for the gradient of the defined f.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> r = Reader({"x": x}, x)
>>> from symcalc.parsing.lines import Line
>>> r.definition(Line("f(x)", "x^3"))
('f', x**3)
>>> r.expr("3 f(x) + dx")
dx + 3*x**3
"""

from __future__ import annotations

import re
from typing import Any

import sympy as sp
from sympy import MatrixExpr, MatrixSymbol

from symcalc.errors import InputError
from symcalc.parsing.lines import Line, normalize
from symcalc.parsing.parser import parse_any

__all__ = ["Reader"]

_DEF = re.compile(
    r"^(?P<name>[A-Za-z][A-Za-z0-9]*)\s*(?:(?:\\left)?\((?P<args>[^()]*)(?:\\right)?\))?$"
)
_DOT = re.compile(r"\\dot\{?\s*(?:\\mathbf\{|\\boldsymbol\{)?([A-Za-z])\}?\}?")
_NABLA = re.compile(r"(?:\\nabla|∇)(?:_\{?[^{}\s]+\}?)?\s*(?P<name>[A-Za-z][A-Za-z0-9]*)")


def _placeholder(name: str, value):
    if isinstance(value, MatrixExpr):
        return MatrixSymbol(name, *value.shape)
    return sp.Symbol(name)


def _scalar(value):
    if isinstance(value, MatrixExpr) and value.shape == (1, 1):
        return sp.Trace(value)
    return value


class Reader:
    """Names and definitions of one derivation; see the module docstring."""

    def __init__(self, table: dict, wrt, syntax: str = "auto"):
        self.table = dict(table)
        self.wrt = wrt
        self.syntax = syntax
        self.defs: dict[str, tuple[Any, Any, str]] = {}  # name -> (placeholder, value, args)
        self.grads: dict[str, tuple[Any, Any]] = {}
        self.direction = None
        if wrt is not None:
            dname = "d" + wrt.name
            if dname in self.table:
                self.direction = self.table[dname]
            elif isinstance(wrt, MatrixSymbol):
                self.direction = MatrixSymbol(dname, *wrt.shape)
            else:
                self.direction = sp.Symbol(dname, real=True)

    # ------------------------------------------------------------------ text
    def prepare(self, text):
        """The text with ``\\dot{x}``, ``\\ell`` and defined calls ``f(x)`` made plain names."""
        if not isinstance(text, str):
            return text
        text = _DOT.sub(lambda m: f" {m.group(1)}dot ", text)
        text = re.sub(r"\\ell(?![A-Za-z])", " ell ", text)
        for name, (_, _, args) in self.defs.items():
            if args:
                call = rf"(?<![\\A-Za-z0-9_]){name}\s*(?:\\left)?\(\s*{re.escape(args)}\s*(?:\\right)?\)"
                text = re.sub(call, f" {name} ", text)
        return text.strip()

    def _gradients(self, text: str) -> str:
        def repl(m):
            name = m.group("name")
            if name not in self.defs or self.wrt is None:
                return m.group(0)
            if name not in self.grads:
                from symcalc.verification.derivation_differential import gradient_of

                value = gradient_of(self.defs[name][1], self.wrt)
                self.grads[name] = (_placeholder(f"nabla{name}", value), value)
            return f" nabla{name} "

        return _NABLA.sub(repl, text)

    def _names(self) -> dict:
        names = dict(self.table)
        if self.direction is not None:
            names[self.direction.name] = self.direction
        for name, (ph, _, _) in self.defs.items():
            names[name] = ph
        for ph, _ in self.grads.values():
            names[ph.name] = ph
        return names

    def _substitutions(self) -> dict:
        subs = {ph: v for ph, v, _ in self.defs.values()}
        subs.update({ph: v for ph, v in self.grads.values()})
        return subs

    # ------------------------------------------------------------------ reading
    def expr(self, text, expand: bool = True):
        """A formula (text or SymPy) with the defined names replaced by their definitions
        (``expand=False``: kept as names, for showing the line as written)."""
        if not isinstance(text, str):
            return self.bind(text) if expand else text
        text = self._gradients(self.prepare(text))
        dirs = [self.wrt.name] if self.wrt is not None else []
        text = normalize(text, dirs, latex=True)
        value = parse_any(text, self._names(), allow_undeclared=False, syntax=self.syntax)
        return _scalar(self._expand(value)) if expand else value

    def _expand(self, value):
        subs = self._substitutions()
        for _ in range(len(subs) + 1):  # definitions may use earlier definitions
            if not any(value.has(ph) for ph in subs):
                break
            value = value.xreplace(subs)
        return value

    def bind(self, obj):
        if not isinstance(obj, sp.Basic):
            raise InputError(f"a line's side must be text or a SymPy object, not {obj!r:.60}")
        return _scalar(self._expand(obj))

    def definition(self, line: Line):
        """(name, value) when the line defines a new name, else None."""
        if not isinstance(line.lhs, str):
            return None
        m = _DEF.match(self.prepare(line.lhs))
        if not m or m["name"] in self.table or m["name"] in self.defs:
            return None
        name = m["name"]
        if self.direction is not None and name == self.direction.name:
            return None
        value = self.expr(line.rhs)
        self.defs[name] = (_placeholder(name, value), value, (m["args"] or "").strip())
        return name, value

    def velocity(self):
        if self.wrt is None:
            return None
        entry = self.defs.get(self.wrt.name + "dot")
        return entry[1] if entry else None

    def objects(self) -> dict:
        """The names a verdict may bind: the declared ones and the direction."""
        names = dict(self.table)
        if self.direction is not None:
            names[self.direction.name] = self.direction
        return names
