"""Matrix algebra of results: normalization (1 x 1 matrices are scalars) and collecting.

>>> import sympy as sp
>>> n = sp.Symbol("n", integer=True, positive=True)
>>> A, x = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("x", n, 1)
>>> collect(A*x - A.T*x)
(A - A.T)*x
"""

from __future__ import annotations

from collections import Counter

import sympy as sp
from sympy import (
    Identity,
    MatAdd,
    MatMul,
    MatPow,
    MatrixExpr,
    MatrixSymbol,
    Trace,
    Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from symcalc.derivation.explicit import _close, pick_concrete
from symcalc.errors import ShapeError
from symcalc.expr.algebra import add, hadamard, is_zero, mul, transpose
from symcalc.expr.structure import structure_of
from symcalc.inputs import as_expr
from symcalc.rules.matrix import THEOREMS


def normalize(f):
    """Scalar functions of 1 x 1 matrices become functions of Trace(M).

    >>> from symcalc.expr.structure import vector
    >>> x = vector("x", "n")
    >>> normalize(x.T*x), normalize(sp.log(x.T*x))
    (Trace(x.T*x), log(Trace(x.T*x)))
    """
    if isinstance(f, MatrixExpr):
        if f.shape == (1, 1):
            return Trace(_normalize_inner(f))
        return _normalize_inner(f)
    return _normalize_inner(as_expr(f, "f"))


def _normalize_inner(e):
    if not isinstance(e, sp.Basic) or e.is_Atom or isinstance(e, MatrixSymbol):
        return e
    if isinstance(e, MatPow) and e.shape == (1, 1) and not (e.exp.is_Integer and e.exp > 0):
        return Trace(_normalize_inner(e.base)) ** e.exp
    if isinstance(e, (sp.Function, sp.Pow, sp.Add, sp.Mul)) and not isinstance(e, MatrixExpr):
        args = [
            Trace(_normalize_inner(a))
            if isinstance(a, MatrixExpr) and a.shape == (1, 1)
            else _normalize_inner(a)
            for a in e.args
        ]
        for a in args:
            if isinstance(a, MatrixExpr):
                raise ShapeError(
                    f"{e.func.__name__} applied to the {a.shape[0]} x "
                    f"{a.shape[1]} matrix {a}: a scalar function needs a scalar "
                    f"(use elementwise(f, M) for an entrywise function)"
                )
        return e.func(*args)
    if isinstance(e, ElementwiseApplyFunction):
        from symcalc.expr.algebra import elementwise

        return elementwise(e.function, _normalize_inner(e.expr))
    if isinstance(e, MatMul):
        args = [
            Trace(_normalize_inner(a.base)) ** a.exp
            if isinstance(a, MatPow) and a.shape == (1, 1) and not (a.exp.is_Integer and a.exp > 0)
            else _normalize_inner(a)
            for a in e.args
        ]
        return MatMul(*args)
    return e.func(*[_normalize_inner(a) for a in e.args])


def substitute(e, old, new):
    """e with ``old`` replaced by ``new``, rebuilt with the one algebra (transposes pushed
    in, so a row variable read as the transpose of a column leaves no (xᵀ)ᵀ behind).

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> A, x = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("x", n, 1)
    >>> w = sp.MatrixSymbol("w", 1, n)
    >>> substitute(A * w.T + sp.Trace(w * x) * w.T, w, x.T)
    Trace(x.T*x)*x + A*x
    """
    if e == old:
        return new
    if not isinstance(e, sp.Basic) or e.is_Atom or not e.args or not e.has(old):
        return e
    args = [substitute(a, old, new) for a in e.args]
    if isinstance(e, Transpose):
        return transpose(args[0])
    if isinstance(e, MatMul):
        return mul(*args)
    if isinstance(e, MatAdd):
        return add(*args)
    return e.func(*args)


# ======================================================================================
# Simplification: collect like terms, pull common factors out
# ======================================================================================
def _factors(term):
    """(scalar coefficient, [matrix factors]) of a matrix term."""
    if isinstance(term, MatMul):
        scal = [a for a in term.args if not isinstance(a, MatrixExpr)]
        mats = [a for a in term.args if isinstance(a, MatrixExpr)]
        return sp.Mul(*scal), mats
    return sp.S.One, [term]


def collect(expr):
    """Collect like terms and pull out common left / right factors.

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> A, B = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("B", n, n)
    >>> x, y = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("y", n, 1)
    >>> collect(A*x + B*x), collect(A*x - A*y)
    ((A + B)*x, A*(x - y))
    """
    if not isinstance(expr, MatrixExpr):
        return expr
    if isinstance(expr, MatMul):
        coef, mats = _factors(expr)
        return mul(coef, *[collect(m) for m in mats])
    if not isinstance(expr, MatAdd):
        return expr
    total = add(*[collect(a) for a in expr.args])
    if not isinstance(total, MatAdd):
        return total
    total = _collect_hadamard(list(total.args))
    if not isinstance(total, MatAdd):
        return total
    return _collect_terms([_factors(t) for t in total.args])


def _hadamard_parts(term):
    """(scalar coefficient, [Hadamard factors]) of a term, or None if not a Hadamard product."""
    coef, mats = _factors(term)
    if len(mats) == 1 and isinstance(mats[0], sp.HadamardProduct):
        return coef, list(mats[0].args)
    return None


def _collect_hadamard(terms):
    """a o c + b o c = (a + b) o c (the factor shared by the most Hadamard terms)."""
    parts = [(t, _hadamard_parts(t)) for t in terms]
    counts = Counter(f for _, p in parts if p for f in set(p[1]))
    if not counts or counts.most_common(1)[0][1] < 2:
        return add(*terms)
    factor = counts.most_common(1)[0][0]
    inside, outside = [], []
    for t, p in parts:
        if p and factor in p[1]:
            rest = [f for f in p[1] if f != factor]
            inside.append(mul(p[0], hadamard(*rest)) if len(rest) > 0 else None)
        else:
            outside.append(t)
    if any(r is None for r in inside):
        return add(*terms)
    return add(*outside, hadamard(collect(add(*inside)), factor))


def _collect_terms(terms):
    """Greedy: pull out the left or right factor shared by the most terms, repeat."""
    while len(terms) > 1:
        best = None
        for side in (0, -1):
            # a factor shared by whole terms only (never leaving an identity behind)
            counts = Counter(mats[side] for _, mats in terms if len(mats) > 1)
            if not counts:
                continue
            factor, count = counts.most_common(1)[0]
            if count >= 2 and (best is None or count > best[0]):
                best = (count, side, factor)
        if best is None:
            break
        _, side, factor = best
        inside, outside = [], []
        for c, m in terms:
            if m[side] != factor or len(m) == 1:
                outside.append((c, m))
                continue
            rest = m[1:] if side == 0 else m[:-1]
            if not rest:
                rest = [Identity(factor.cols if side == 0 else factor.rows)]
            inside.append(mul(c, *rest))
        inner = collect(add(*inside))
        if not is_zero(inner):
            outside.append(_factors(mul(factor, inner) if side == 0 else mul(inner, factor)))
        terms = outside
    if not terms:
        return 0
    return add(*[mul(c, *m) for c, m in terms])


# ======================================================================================
# Regrouping: expand into products, combine like products, group by coefficient
# ======================================================================================
MAX_PRODUCTS = 64  # expanding further is no simplification a reader would thank us for


def _products(expr):
    """``expr`` as a list of (scalar coefficient, tuple of matrix factors), every sum inside
    a product distributed; None when that gives more than MAX_PRODUCTS products."""
    if isinstance(expr, MatAdd):
        out = []
        for a in expr.args:
            part = _products(a)
            if part is None:
                return None
            out += part
        return out if len(out) <= MAX_PRODUCTS else None
    if isinstance(expr, MatMul):
        coef, mats = _factors(expr)
        out = [(coef, ())]
        for M in mats:
            part = _products(M)
            if part is None:
                return None
            out = [(c * c2, m + m2) for c, m in out for c2, m2 in part]
            if len(out) > MAX_PRODUCTS:
                return None
        return [_scalar_stretches(c, m) for c, m in out]
    return [(sp.S.One, (expr,))]


def _scalar_stretches(coef, mats):
    """A product with its inner 1 × 1 stretches as scalars: x aᵀ x bᵀ is (aᵀx) x bᵀ.

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> a, x = sp.MatrixSymbol("a", n, 1), sp.MatrixSymbol("x", n, 1)
    >>> _scalar_stretches(2, (x, a.T, x, a.T))
    (2*Trace(a.T*x), (x, a.T))
    """
    mats = list(mats)
    i = 0
    while i < len(mats):
        if mats[i].rows == 1 and (i == 0 or mats[i - 1].cols == 1):
            j = next((k for k in range(i, len(mats)) if mats[k].cols == 1), None)
            if j is not None and (j - i + 1) < len(mats):
                coef = coef * _oriented_trace(mul(*mats[i : j + 1]))
                del mats[i : j + 1]
                continue
        i += 1
    return coef, tuple(mats)


def _oriented_trace(M):
    """tr(M) of a 1 × 1 product, cut into its 1 × 1 pieces (tr(aᵀx bᵀx) = tr(aᵀx) tr(bᵀx)),
    each in one of its two spellings (tr(aᵀx) = tr(xᵀa)): the shorter, then the first in
    SymPy's order, so that equal scalars look equal.

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> a, x = sp.MatrixSymbol("a", n, 1), sp.MatrixSymbol("x", n, 1)
    >>> _oriented_trace(x.T * a * x.T * x)
    Trace(a.T*x)*Trace(x.T*x)
    """
    coef, mats = _factors(M)
    pieces, start = [], 0
    for k, F in enumerate(mats):
        if mats[start].rows == 1 and F.cols == 1:
            pieces.append(mul(*mats[start : k + 1]))
            start = k + 1
    if start != len(mats) or not pieces:
        pieces = [mul(*mats)]

    def oriented(P):
        spellings = {Trace(P), Trace(transpose(P))}
        return sorted(spellings, key=lambda t: (len(str(t)), str(t)))[0]

    return coef * sp.Mul(*[oriented(P) for P in pieces])


def _oriented_traces(c):
    """A scalar with every trace of a 1 × 1 product in its oriented spelling."""
    if not isinstance(c, sp.Basic) or not c.has(Trace):
        return c
    return c.replace(
        lambda e: isinstance(e, Trace) and e.arg.shape == (1, 1),
        lambda e: _oriented_trace(e.arg),
    )


def _sign_free(c):
    """(sign, |c|) for a scalar coefficient: -2/q and 2/q share the key 2/q."""
    return (-1, -c) if c.could_extract_minus_sign() else (1, c)


def regroup(expr):
    """A matrix sum written the way a person groups it: like products combined, terms
    with the same scalar coefficient (up to sign) under that coefficient, common factors
    collected inside each group.

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> A, x = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("x", n, 1)
    >>> q = sp.Symbol("q")
    >>> regroup((-2/q) * A * x * x.T + (-2/q) * A.T * x * x.T + A / q + A.T / q)
    (-2/q)*(A + A.T)*x*x.T + 1/q*(A + A.T)
    """
    collected = _tidy_scalars(collect(expr))
    if not isinstance(expr, MatAdd):
        return collected
    regrouped = _regrouped(expr)
    if regrouped is None:
        return collected
    # the shorter spelling: expanding (x - mu)(x - mu)^T to regroup it reads worse
    return min((collected, regrouped), key=lambda e: (len(str(e)), str(e)))


def _tidy_scalars(e):
    """Products with their 1 × 1 stretches as oriented traces, nothing expanded."""
    if isinstance(e, MatAdd):
        return add(*[_tidy_scalars(a) for a in e.args])
    if isinstance(e, MatMul):
        coef, mats = _factors(e)
        coef, mats = _scalar_stretches(coef, [_tidy_scalars(m) for m in mats])
        return mul(_oriented_traces(coef), *mats)
    return e


def _regrouped(expr):
    products = _products(expr)
    if products is None:
        return None
    combined: dict = {}
    for c, mats in products:
        combined[mats] = combined.get(mats, sp.S.Zero) + _oriented_traces(c)
    groups: dict = {}
    for mats, c in combined.items():
        c = sp.factor_terms(sp.together(c))
        if c == 0:
            continue
        sign, key = _sign_free(c)
        groups.setdefault(key, []).append((sign, mats))
    terms = []
    for key, members in groups.items():
        flip = -1 if 2 * sum(s < 0 for s, _ in members) > len(members) else 1
        inner = add(*[mul(sign * flip, *mats) for sign, mats in members])
        terms.append(mul(flip * key, collect(inner)))
    out = add(*terms)
    if is_zero(out):
        return ZeroMatrix(*expr.shape)
    return out


# ======================================================================================
# Layout and structured gradients
# ======================================================================================
LAYOUT = (
    "gradient has the shape of its variable (df = tr(G^T dX)); Jacobian dF/dx is "
    "m x n (dF = J dx); Hessian wrt a matrix X is d vec(grad) / d vec(X) "
    "(column-major vec)"
)


def _structured(G, f, X, d):
    structure = structure_of(X)
    if structure in ("symmetric", "positive_definite") and not is_zero(G):
        if transpose(G) != G and not _numerically_symmetric(G, f, X):
            sym = collect(add(G / 2, transpose(G) / 2))
            d.add_step(THEOREMS["symmetric_part"], G, sym, "simplify")
            G = sym
    if structure == "diagonal" and not is_zero(G):
        diag = hadamard(Identity(X.rows), G)
        d.add_step(THEOREMS["diagonal_part"], G, diag, "simplify")
        G = diag
    return G


def _numerically_symmetric(G, f, X):
    cc = pick_concrete(f, X, seed=7)
    v = cc.evaluate(G, cc.point)
    ok, _ = _close(list(v), list(v.T), 1e-12)
    return ok
