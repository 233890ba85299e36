r"""Piecewise functions: abs, sign, heaviside, with their a.e. derivatives.

Derivatives at the kink t = 0 (almost-everywhere conventions, as JAX and PyTorch choose
them): ``abs'(0) = sign(0) = 0``, ``sign' = 0``, ``heaviside' = 0`` (no Dirac delta:
symcalc's derivatives are the a.e. derivatives the compiled kernels compute), and
``heaviside(0) = 0`` (so that relu'(0) = heaviside(0) = 0). What a user writes with
SymPy is mapped onto these records by :func:`symcalc.expr.registry.canonical`:
``sp.Abs(t)`` -> ``abs(t)``, ``sp.sign(t)`` -> ``sign(t)``, ``sp.Heaviside(t, 0)`` ->
``heaviside(t)`` (SymPy's default ``Heaviside(t)`` has value 1/2 at 0 and is left alone).

>>> import sympy as sp
>>> t = sp.Symbol("t")
>>> sp.diff(abs(t), t), sp.diff(sign(t), t), sp.diff(heaviside(t), t)
(sign(t), 0, 0)
>>> abs(-3), sign(0), heaviside(0), heaviside(2)
(3, 0, 0, 1)
"""

from __future__ import annotations

import sympy as sp

from symcalc.expr.spec import FunctionSpec, NamedFunction, call, helper

D = r"\mathrm{d}"


class abs(NamedFunction):  # the name users write and read back; shadows the builtin here only
    """|t|, with abs'(0) = 0."""

    nargs = 1

    @classmethod
    def eval(cls, arg):
        if arg.is_number and arg.is_real:
            return sp.Abs(arg)
        if arg.is_nonnegative:
            return arg
        if arg.is_nonpositive:
            return -arg

    def _eval_is_nonnegative(self):
        if self.args[0].is_real:
            return True


class sign(NamedFunction):
    """-1, 0 or 1; sign' = 0 (a.e.)."""

    nargs = 1

    @classmethod
    def eval(cls, arg):
        if arg.is_number and arg.is_real:
            return sp.sign(arg)
        if arg.is_positive:
            return sp.S.One
        if arg.is_negative:
            return sp.S.NegativeOne


class heaviside(NamedFunction):
    """1 for t > 0, 0 for t <= 0; heaviside' = 0 (a.e.)."""

    nargs = 1

    @classmethod
    def eval(cls, arg):
        if arg.is_number and arg.is_real:
            return sp.S.One if arg > 0 else sp.S.Zero
        if arg.is_positive:
            return sp.S.One
        if arg.is_nonpositive:
            return sp.S.Zero


def _plain(t) -> bool:
    return not t.has(sp.MatrixExpr, sp.MatrixBase, sp.Determinant)


def _from_sympy(cls):
    def mapping(node):
        return cls(node.args[0]) if len(node.args) == 1 and _plain(node.args[0]) else None

    return mapping


def _from_heaviside(node):
    if len(node.args) == 2 and node.args[1] == 0 and _plain(node.args[0]):
        return heaviside(node.args[0])
    return None


_HEAVISIDE_HELPER = '''\
def _heaviside(z):
    """1 where z > 0, 0 elsewhere (heaviside(0) = 0)."""
    return {np}.where(z > 0, {np}.ones_like(z), {np}.zeros_like(z))
'''

SPECS = [
    FunctionSpec(
        "abs",
        abs,
        lambda u, f: sign(u),
        rf"{D}|u| = \operatorname{{sign}}(u)\,{D}u",
        r"\left|{0}\right|",
        aliases=("Abs",),
        numpy=call("abs"),
        native=lambda z: sp.Abs(z),
        rewrite=lambda u: sp.Piecewise((u, u > 0), (-u, True)),
        canonical=_from_sympy(abs),
        canonical_classes=(sp.Abs,),
        kinks=(0.0,),
        kink_note="abs'(0) = sign(0) = 0 (JAX, PyTorch)",
        stable=True,
    ),
    FunctionSpec(
        "sign",
        sign,
        lambda u, f: sp.S.Zero,
        rf"{D}\operatorname{{sign}}(u) = 0",
        r"\operatorname{sign}",
        aliases=("sgn",),
        latex_commands=("sgn", "sign"),
        numpy=call("sign"),
        native=lambda z: sp.sign(z),
        rewrite=lambda u: sp.Piecewise((1, u > 0), (-1, u < 0), (0, True)),
        canonical=_from_sympy(sign),
        canonical_classes=(sp.sign,),
        kinks=(0.0,),
        kink_note="sign' = 0 away from 0, and taken as 0 at 0",
        stable=True,
    ),
    FunctionSpec(
        "heaviside",
        heaviside,
        lambda u, f: sp.S.Zero,
        rf"{D}H(u) = 0",
        r"\operatorname{heaviside}",
        aliases=("Heaviside",),
        numpy=helper("_heaviside"),
        helpers={"_heaviside": _HEAVISIDE_HELPER},
        native=lambda z: sp.Max(sp.sign(z), 0),
        rewrite=lambda u: sp.Piecewise((1, u > 0), (0, True)),
        canonical=_from_heaviside,
        canonical_classes=(sp.Heaviside,),
        kinks=(0.0,),
        kink_note="heaviside(0) = 0 and heaviside' = 0 (no Dirac delta)",
        stable=True,
    ),
]
