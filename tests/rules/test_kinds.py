"""Kinds of rule (symcalc.rules.kinds): a linear construct's differential and canonical rule
come from one definition; check both against each other and against SymPy's as_explicit().

For a linear L: the differential rule applied with d = (X -> dX) is L(dX), and the canonical
rule's cotangents satisfy tr(C^T L(dX)) = sum tr(cot^T dX) (the adjoint identity), at random
explicit matrices. For a bilinear B: the product rule and the adjoint in each factor.
"""

from __future__ import annotations

import random

import pytest
import sympy as sp
from sympy import HadamardProduct, KroneckerProduct, MatrixSymbol, Trace, Transpose

from symcalc.derivation.vecform import Unvec, Vec
from symcalc.derivation.walker import Canonicalizer, Differentiator
from symcalc.rules.kinds import BILINEAR, LINEAR
from symcalc.rules.matrix import CANONICAL_RULES, MATRIX_RULES

dX, dY = MatrixSymbol("dX", 3, 2), MatrixSymbol("dY", 3, 2)
dS = MatrixSymbol("dS", 3, 3)
A, A2 = MatrixSymbol("A", 3, 2), MatrixSymbol("A", 2, 2)
dv = MatrixSymbol("dv", 3, 1)
dX2 = MatrixSymbol("dX", 2, 2)
dw = MatrixSymbol("dw", 6, 1)

#: name -> (node holding the differentials linearly, the differential symbols, cotangent kind)
SAMPLES = {
    "matrix_sum": (sp.MatAdd(dX, dY), [dX, dY], "C"),
    "transpose": (Transpose(dX), [dX], "C"),
    "trace": (Trace(dS), [dS], "c"),
    "diag_matrix": (sp.DiagMatrix(dv), [dv], "C"),
    "hadamard": (HadamardProduct(A, dX), [dX], "C"),
    "kronecker": (KroneckerProduct(A2, dX2), [dX2], "2I"),
    "vec": (Vec(dX), [dX], "C"),
    "unvec": (Unvec(dw, 3, 2), [dw], "C"),
}


def _explicit(M, rng):
    return sp.ImmutableMatrix(M.rows, M.cols, lambda i, j: sp.Rational(rng.randint(-9, 9), 7))


def test_every_kind_has_a_sample_and_both_rules():
    for kind in [*LINEAR, *BILINEAR]:
        assert kind.name in SAMPLES, f"add a sample for {kind.name}"
        assert MATRIX_RULES[kind.name].kind in ("linear", "product")
        if kind.adjoint is not None:
            rule = CANONICAL_RULES[kind.canonical_name]
            assert rule in CANONICAL_RULES.lookup(SAMPLES[kind.name][0])


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_differential_is_the_map_and_canonical_is_its_adjoint(name):
    node, dsyms, ckind = SAMPLES[name]
    rng = random.Random(name)
    # the differential rule, with the differentials as the variables: L(dX) itself
    variables = {s: MatrixSymbol("e" + s.name, *s.shape) for s in dsyms}
    out = MATRIX_RULES[name].apply(node, Differentiator(variables))
    env = {s: _explicit(s, rng) for s in node.atoms(MatrixSymbol)}
    env.update({variables[s]: env[s] for s in dsyms})
    got, want = out.subs(env).doit(), node.subs(env).doit()
    if isinstance(want, sp.MatrixBase):
        got, want = sp.ImmutableMatrix(got), sp.ImmutableMatrix(want)
    assert got == want
    kind = next(k for k in [*LINEAR, *BILINEAR] if k.name == name)
    if kind.adjoint is None:
        assert not [r for r in CANONICAL_RULES.lookup(node) if r.name == name]
        return
    # the canonical rule: tr(C^T node) = sum over differentials tr(cot^T dX)
    if ckind == "c":
        C = sp.Rational(3, 7)
    elif ckind == "2I":
        C = 2 * sp.Identity(node.rows)
    else:
        C = MatrixSymbol("C", *node.shape)
        env[C] = _explicit(C, rng)
    canon = Canonicalizer(dsyms)
    pairs = CANONICAL_RULES[kind.canonical_name].apply(node, C, canon)
    before = canon.inner(C, node)
    after = sp.Add(*[canon.inner(c, sub) for sub, c in pairs])

    def value(e):
        e = e.subs(env).doit()
        return e[0, 0] if isinstance(e, sp.MatrixBase) else e

    assert sp.simplify(value(before) - value(after)) == 0
