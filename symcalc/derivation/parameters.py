"""Gradients with respect to several matrix parameters at once (all the weights of a network).

One differentiation pass with a differential for every parameter and one canonical-form
pass: each parameter's gradient is read off the same canonical differential, so the
gradients share their subexpressions (the forward activations and the back-propagated
cotangents are the same SymPy objects in all of them), which the compiler's CSE then
computes once.

>>> import sympy as sp
>>> from symcalc.expr.structure import matrix_symbol, vector, ones, elementwise, norm_squared
>>> X, W, b = matrix_symbol("X", "m", "n"), matrix_symbol("W", "n", "k"), vector("b", "k")
>>> Y = matrix_symbol("Y", "m", "k")
>>> L = norm_squared(elementwise(sp.tanh, X*W + ones("m")*b.T) - Y)
>>> gW, gb = derive_parameters(L, [W, b]).results["gradient"]
>>> gW.shape, gb.shape
((n, k), (k, 1))
"""

from __future__ import annotations

import sympy as sp
from sympy import MatrixSymbol, Trace, ZeroMatrix

from symcalc.derivation.algebra import LAYOUT, _structured, collect, normalize
from symcalc.derivation.explicit import shrink
from symcalc.derivation.phases import Canonicalizer, Differentiator, differential_symbol
from symcalc.derivation.selfcheck import check_gradient
from symcalc.errors import InputError, ShapeError
from symcalc.expr.algebra import add, is_zero, mul, transpose
from symcalc.expr.structure import structure_of
from symcalc.records import Derivation
from symcalc.rules.matrix import THEOREMS

__all__ = ["derive_parameters", "is_parameter_list"]


def is_parameter_list(X) -> bool:
    """Whether X is a list or tuple of MatrixSymbols (the parameters of a model)."""
    return (
        isinstance(X, (list, tuple)) and len(X) > 0 and all(isinstance(p, MatrixSymbol) for p in X)
    )


def _validated(f, params):
    if len(set(params)) != len(params):
        raise InputError(f"the parameters {list(params)} name one matrix twice")
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise InputError(f"two parameters share a name: {names}")
    g = normalize(f)
    if isinstance(g, sp.MatrixExpr):
        raise ShapeError(f"{f} is a {g.rows} x {g.cols} matrix: a gradient needs a scalar function")
    return g


def derive_parameters(f, params, check: bool = True) -> Derivation:
    """The Derivation of the gradients of scalar f with respect to every parameter:
    ``results["gradient"]`` is the tuple of closed forms, one per parameter, each of its
    parameter's shape, each self-checked (sympy.diff and central differences).

    A structured parameter (symmetric, diagonal) gets its structured gradient, as with one
    parameter.
    """
    params = tuple(params)
    g = _validated(f, params)
    d = Derivation(
        expr=f,
        wrt=params,
        meta={
            "layout": LAYOUT,
            "shapes": {str(M): M.shape for M in g.atoms(MatrixSymbol) | set(params)},
            "structure": {str(M): structure_of(M) for M in params},
            "shared": "one differentiation and one canonical-form pass for all parameters",
        },
    )
    if g != f:
        d.add_step(THEOREMS["one_by_one"], f, g, "canonical")
    taken = set(g.atoms(MatrixSymbol)) | set(params)
    dparams = {}
    for p in params:
        dparams[p] = differential_symbol(p, taken)
        taken.add(dparams[p])
    df = Differentiator(dparams, d, "differential")(g)
    canon = Canonicalizer(dparams.values(), d, "canonical")
    canon.pull(df, sp.S.One)
    grads = []
    for p in params:
        raw = add(*canon.contributions[dparams[p]])
        G = ZeroMatrix(*p.shape) if is_zero(raw) else raw
        d.add_step(
            THEOREMS["identification"],
            Trace(mul(transpose(G), dparams[p])) if not is_zero(G) else sp.S.Zero,
            G,
            "identify",
        )
        simple = collect(G)
        if simple != G:
            d.add_step(THEOREMS["collect"], G, simple, "simplify")
        grads.append(_structured(simple, g, p, d))
    d.results["gradient"] = tuple(grads)
    if check:
        for p, G in zip(params, grads):
            check_gradient(d, *shrink(g, p, G))
    return d
