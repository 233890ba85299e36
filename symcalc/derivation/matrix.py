"""Matrix calculus in closed form: gradients, Hessians and Jacobians by differentials.

The method (``docs/matrix-calculus.md``): differentiate with the rule tables,
move dX to the right inside one trace, identify (df = tr(G^T dX) gives
grad f = G), then write the result the way a person does. Every result is
checked element by element against ``sympy.diff`` at a concrete size and by
central differences; a mismatch raises ``SelfCheckError``.

>>> import sympy as sp
>>> from symcalc.expr.structure import matrix_symbol, vector, squared_error
>>> A = matrix_symbol("A", "m", "n"); x = vector("x", "n"); b = vector("b", "m")
>>> matrix_gradient(squared_error(A, x, b), x)
2*A.T*(A*x - b)
>>> matrix_hessian(squared_error(A, x, b), x)
2*A.T*A
"""

from __future__ import annotations

import math
import random
from collections import Counter

import sympy as sp
from sympy import (
    Determinant,
    HadamardPower,
    HadamardProduct,
    Identity,
    Inverse,
    KroneckerProduct,
    MatAdd,
    MatMul,
    MatPow,
    MatrixExpr,
    MatrixSymbol,
    OneMatrix,
    Trace,
    Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix

from symcalc.checks.differences import central_difference
from symcalc.derivation.walker import Canonicalizer, Differentiator, differential_symbol
from symcalc.errors import InputError, NoRuleError, SelfCheckError, ShapeError
from symcalc.expr.canonical import declared_structure
from symcalc.expr.structure import dim, structure_of
from symcalc.inputs import as_expr, as_scalar_expr, reject_text
from symcalc.records import Derivation
from symcalc.rules.matrix import THEOREMS, add, hadamard, is_zero, mul, transpose

__all__ = [
    "matrix_gradient",
    "matrix_hessian",
    "matrix_jacobian",
    "derive_matrix",
    "CommutationMatrix",
    "Vec",
    "symmetrizer",
    "collect",
    "to_explicit",
    "concrete_sizes",
]

LAYOUT = (
    "gradient has the shape of its variable (df = tr(G^T dX)); Jacobian dF/dx is "
    "m x n (dF = J dx); Hessian wrt a matrix X is d vec(grad) / d vec(X) "
    "(column-major vec)"
)


# ======================================================================================
# Input: validation and normalization (a 1 x 1 matrix is a scalar)
# ======================================================================================
def _check_variable(X):
    if not isinstance(X, MatrixSymbol):
        raise InputError(
            f"differentiate with respect to a MatrixSymbol (a vector or matrix variable), not {X!r}"
        )


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
        from symcalc.rules.matrix import elementwise

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
# Explicit evaluation at a concrete size (for the self-checks and the tests)
# ======================================================================================
def concrete_sizes(*exprs, sizes=(3, 2, 4, 3, 2)):
    """Map each symbolic dimension of the expressions to a small concrete size."""
    dims = set()
    for e in exprs:
        if not isinstance(e, sp.Basic):
            continue
        for M in e.atoms(MatrixSymbol, Identity, OneMatrix, ZeroMatrix):
            for s in M.shape:
                if isinstance(s, sp.Basic):
                    dims |= s.free_symbols
    order = sorted(dims, key=lambda s: s.name)
    if len(exprs) > 1 and isinstance(exprs[1], MatrixExpr):
        own = [
            s
            for d in exprs[1].shape
            if isinstance(d, sp.Basic)
            for s in sorted(d.free_symbols, key=lambda s: s.name)
        ]
        order = list(dict.fromkeys(own + order))
    return {s: sp.Integer(sizes[i % len(sizes)]) for i, s in enumerate(order)}


def to_explicit(e, env):
    """Evaluate a (matrix) expression with its MatrixSymbols replaced by explicit matrices.

    env maps MatrixSymbol -> ImmutableMatrix; dimensions must already be concrete.
    """
    if isinstance(e, MatrixSymbol):
        if e not in env:
            raise KeyError(e)
        return env[e]
    if isinstance(e, sp.MatrixBase):
        return sp.ImmutableMatrix(e)
    if isinstance(e, Identity):
        return sp.ImmutableMatrix(sp.eye(int(e.rows)))
    if isinstance(e, ZeroMatrix):
        return sp.ImmutableMatrix(sp.zeros(int(e.rows), int(e.cols)))
    if isinstance(e, OneMatrix):
        return sp.ImmutableMatrix(sp.ones(int(e.rows), int(e.cols)))
    if isinstance(e, MatAdd):
        out = to_explicit(e.args[0], env)
        for a in e.args[1:]:
            out = out + to_explicit(a, env)
        return sp.ImmutableMatrix(out)
    if isinstance(e, MatMul):
        out = sp.S.One
        for a in e.args:
            v = to_explicit(a, env)
            out = out * v
        return sp.ImmutableMatrix(out)
    if isinstance(e, Transpose):
        return to_explicit(e.arg, env).T
    if isinstance(e, Inverse):
        M = to_explicit(e.arg, env)
        return M.inv(method="ADJ") if M.free_symbols else M.inv()
    if isinstance(e, MatPow):
        return sp.ImmutableMatrix(to_explicit(e.base, env) ** e.exp)
    if isinstance(e, HadamardProduct):
        out = to_explicit(e.args[0], env)
        for a in e.args[1:]:
            out = out.multiply_elementwise(to_explicit(a, env))
        return sp.ImmutableMatrix(out)
    if isinstance(e, HadamardPower):
        p = to_explicit(e.exp, env)
        return to_explicit(e.base, env).applyfunc(lambda t: t**p)
    if isinstance(e, KroneckerProduct):
        from sympy.physics.quantum import TensorProduct

        return sp.ImmutableMatrix(TensorProduct(*[to_explicit(a, env) for a in e.args]))
    if isinstance(e, ElementwiseApplyFunction):
        f = e.function
        return to_explicit(e.expr, env).applyfunc(lambda t: f(t))
    if isinstance(e, CommutationMatrix):
        return e.as_explicit()
    if isinstance(e, Vec):
        return sp.ImmutableMatrix(_vec(to_explicit(e.arg, env)))
    if isinstance(e, DiagMatrix):
        v = to_explicit(e.args[0], env)
        return sp.ImmutableMatrix(sp.diag(*list(v)))
    if isinstance(e, Trace):
        return to_explicit(e.arg, env).trace()
    if isinstance(e, Determinant):
        return to_explicit(e.arg, env).det()
    if isinstance(e, MatrixExpr):
        raise NoRuleError(f"cannot evaluate {type(e).__name__} explicitly")
    if not isinstance(e, sp.Basic) or e.is_Atom:
        return e
    return e.func(*[to_explicit(a, env) for a in e.args])


def _random_matrix(rng, M, structure, positive=True):
    """Random exact (rational) numbers for M, well conditioned for its structure."""
    r, c = int(M.rows), int(M.cols)

    def num(lo, hi):
        return sp.Rational(rng.randint(lo, hi), 100)

    if structure == "diagonal":
        return sp.ImmutableMatrix(sp.diag(*[num(50, 150) for _ in range(r)]))
    B = sp.Matrix(r, c, lambda i, j: num(10, 100) if positive else num(-100, 100))
    if structure == "positive_definite":
        return sp.ImmutableMatrix(B * B.T + r * sp.eye(r))
    if structure == "symmetric":
        return sp.ImmutableMatrix((B + B.T) / 2 + r * sp.eye(r))
    if r == c and r > 1:
        return sp.ImmutableMatrix(B + r * sp.eye(r))
    return sp.ImmutableMatrix(B)


def _vec(M):
    """Column-major vec of an explicit matrix, as a list."""
    return [M[i, j] for j in range(M.cols) for i in range(M.rows)]


class _Concrete:
    """One concrete instance of a problem: sizes, explicit matrices, random numbers."""

    def __init__(self, f, X, seed=20261128, extra=(), sizes=(3, 2, 4, 3, 2)):
        self.rng = random.Random(seed)
        self.sizes = concrete_sizes(f, X, *extra, sizes=sizes)
        self.f = f.xreplace(self.sizes) if isinstance(f, sp.Basic) else f
        self.X = X.xreplace(self.sizes)
        self.constants = {}
        for M in self.f.atoms(MatrixSymbol) | set().union(
            *[e.xreplace(self.sizes).atoms(MatrixSymbol) for e in extra]
        ):
            if M == self.X:
                continue
            self.constants[M] = _random_matrix(self.rng, M, structure_of(M))
        r, c = int(self.X.rows), int(self.X.cols)
        self.entries = sp.ImmutableMatrix(r, c, lambda i, j: sp.Symbol(f"{X.name}_{i}{j}"))
        self.point = _random_matrix(self.rng, self.X, structure_of(X))
        scalars = {s for s in self.f.free_symbols if isinstance(s, sp.Symbol)}
        self.scalars = {
            s: sp.Rational(self.rng.randint(50, 150), 100)
            for s in sorted(scalars, key=lambda s: s.name)
        }
        self.f = self.f.xreplace(self.scalars)
        self.env_symbolic = dict(self.constants)
        self.env_symbolic[self.X] = self.entries

    def numeric_env(self, value):
        env = dict(self.constants)
        env[self.X] = value
        return env

    def evaluate(self, expr, value):
        """Numbers of expr (scalar or matrix) at X = value (complex-safe floats)."""
        e = expr.xreplace(self.sizes).xreplace(self.scalars) if isinstance(expr, sp.Basic) else expr
        v = to_explicit(e, self.numeric_env(sp.ImmutableMatrix(value)))
        if isinstance(v, sp.MatrixBase):
            return sp.ImmutableMatrix(v.applyfunc(lambda t: sp.N(t, 30)))
        return sp.N(v, 30)


SIZE_CHOICES = ((3, 2, 4, 3, 2), (2, 3, 4, 2, 3), (4, 3, 2, 4, 3), (3, 3, 3, 3, 3))


def pick_concrete(f, X, seed=20261128, extra=()):
    """A concrete instance at which f is finite (tall/wide shapes tried in turn)."""
    last = None
    for sizes in SIZE_CHOICES:
        cc = _Concrete(f, X, seed, extra, sizes)
        try:
            v = complex(cc.evaluate(cc.f, cc.point))
        except (TypeError, ValueError, ZeroDivisionError):
            v = complex("nan")
        if math.isfinite(v.real) and math.isfinite(v.imag) and abs(v.imag) < 1e-12 and abs(v) < 1e8:
            return cc
        last = cc
    return last


def _close(a, b, tol):
    a = [complex(t) for t in a]
    b = [complex(t) for t in b]
    err = max((abs(u - v) for u, v in zip(a, b)), default=0.0)
    scale = 1.0 + max((abs(v) for v in b), default=0.0)
    finite = all(math.isfinite(abs(t)) for t in a + b)
    return finite and err <= tol * scale, err


def _project(G, structure):
    """The structured gradient of an unconstrained one (explicit matrices)."""
    if structure in ("symmetric", "positive_definite"):
        return (G + G.T) / 2
    if structure == "diagonal":
        return sp.diag(*[G[i, i] for i in range(G.rows)])
    return G


# ======================================================================================
# Self-checks (recorded in the Derivation; a mismatch raises SelfCheckError)
# ======================================================================================
def _with_symbols(cc, value, positions, symbols):
    """The explicit f-environment at X = value with some entries replaced by symbols."""
    M = sp.Matrix(value)
    for (i, j), t in zip(positions, symbols):
        M[i, j] = t
    return cc.numeric_env(sp.ImmutableMatrix(M))


def _vec_positions(X):
    return [(i, j) for j in range(int(X.cols)) for i in range(int(X.rows))]


def elementwise_gradient(cc, f, value):
    """df/dX_ij by sympy.diff of the explicit expression, one entry at a time."""
    t = sp.Symbol("t_entry")
    out = sp.zeros(int(cc.X.rows), int(cc.X.cols))
    for i, j in _vec_positions(cc.X):
        f_t = to_explicit(f, _with_symbols(cc, value, [(i, j)], [t]))
        out[i, j] = sp.N(sp.diff(f_t, t).subs(t, value[i, j]), 30)
    return out


def elementwise_second(cc, F, value, kind):
    """d vec(F)/d vec(X) (kind='jacobian') or the Hessian of scalar F, by sympy.diff."""
    pos = _vec_positions(cc.X)
    t, u = sp.symbols("t_entry u_entry")
    if kind == "jacobian":
        cols = []
        for p in pos:
            F_t = to_explicit(F, _with_symbols(cc, value, [p], [t]))
            cols.append([sp.N(sp.diff(e, t).subs(t, value[p]), 30) for e in _vec(F_t)])
        return sp.Matrix(cols).T
    H = sp.zeros(len(pos), len(pos))
    for a, p in enumerate(pos):
        for b in range(a, len(pos)):
            q = pos[b]
            if a == b:
                f_t = to_explicit(F, _with_symbols(cc, value, [p], [t]))
                v = sp.diff(f_t, t, 2).subs(t, value[p])
            else:
                f_tu = to_explicit(F, _with_symbols(cc, value, [p, q], [t, u]))
                v = sp.diff(f_tu, t, u).subs({t: value[p], u: value[q]})
            H[a, b] = H[b, a] = sp.N(v, 30)
    return H


_CENTRAL_STEP = sp.Rational(1, 10**12)


def _central(cc, phi, V, h=_CENTRAL_STEP):
    """(phi(X + hV) - phi(X - hV)) / 2h, exact numbers evaluated at 30 digits."""
    along = lambda t: cc.point + t * V  # the one central difference (symcalc.checks)
    return central_difference(phi, along, h, lambda d: complex(sp.N(d, 30)))


def shrink(*exprs, limit=4):
    """Replace concrete dimensions larger than ``limit`` by dimension symbols, so that
    the self-checks run at a small size whatever the size of the problem.

    The dimensions to shrink are those of the MatrixSymbols; the matrices the engine
    writes (``Identity``, ``ZeroMatrix``, ``OneMatrix``, ``CommutationMatrix``) follow
    them, a product of two such dimensions (the mn of a vec) included: I_{100} of a
    10 x 10 variable becomes I_{d^2}, and I_9 of a 3 x 3 variable stays as it is.
    """
    symbols, derived = set(), set()
    for e in exprs:
        if isinstance(e, sp.Basic):
            symbols |= e.atoms(MatrixSymbol)
            derived |= e.atoms(Identity, OneMatrix, ZeroMatrix, CommutationMatrix)
            if isinstance(e, MatrixSymbol):
                symbols.add(e)
    own = [int(s) for M in symbols for s in M.shape if isinstance(s, sp.Integer)]
    big = sorted({k for k in own if k > limit})
    if not big:
        return exprs
    dims = {sp.Integer(k): sp.Symbol(f"_d{k}", integer=True, positive=True) for k in big}
    factors = sorted(set(own))

    def small(s):
        if s in dims or not isinstance(s, sp.Integer) or int(s) <= limit:
            return dims.get(s, s)
        for a in factors:  # the mn of a vec: a product of two dims
            if int(s) % a == 0 and int(s) // a in factors and (a > limit or int(s) // a > limit):
                return dims.get(sp.Integer(a), sp.Integer(a)) * dims.get(
                    sp.Integer(int(s) // a), sp.Integer(int(s) // a)
                )
        return s

    new = {}
    for M in symbols:
        new[M] = M.func(M.name, *[dims.get(s, s) for s in M.shape])
    for M in derived:
        if isinstance(M, Identity):
            new[M] = Identity(small(M.rows))
        elif isinstance(M, CommutationMatrix):
            new[M] = CommutationMatrix(*[small(a) for a in M.args])
        else:
            new[M] = M.func(small(M.rows), small(M.cols))
    return tuple(e.xreplace(new) if isinstance(e, sp.Basic) else e for e in exprs)


def _exact_floats(*exprs):
    """Floats as the exact rationals they stand for: a 15-digit Float would limit the
    30-digit central differences (step 1e-12) to about 1e-5."""

    def exact(e):
        if not isinstance(e, sp.Basic):
            return e
        return e.xreplace({fl: sp.Rational(fl) for fl in e.atoms(sp.Float)})

    return tuple(exact(e) for e in exprs)


def check_gradient(d: Derivation, f, X, G, seed=20261128):
    f, G = _exact_floats(f, G)
    cc = pick_concrete(f, X, seed)
    structure = structure_of(X)
    ref = _project(elementwise_gradient(cc, cc.f, cc.point), structure)
    ours = cc.evaluate(G, cc.point)
    ok, err = _close(_vec(ours), _vec(ref), 1e-9)
    size = {str(k): int(v) for k, v in cc.sizes.items()}
    d.add_check(
        f"elementwise sympy.diff (gradient, {size or 'fixed size'})",
        ok,
        "closed form vs sympy.diff of the explicit-entry expression at random numbers",
        max_abs_error=err,
        size=size,
    )
    V = _random_matrix(cc.rng, cc.X, structure, positive=False)
    if structure in ("symmetric", "positive_definite"):
        V = sp.ImmutableMatrix((V + V.T) / 2)
    fd = _central(cc, lambda val: [to_explicit(cc.f, cc.numeric_env(val))], V)
    directional = sum(complex(a) * complex(b) for a, b in zip(_vec(ours), _vec(V)))
    ok2, err2 = _close([directional], fd, 1e-7)
    d.add_check(
        "central differences (gradient)",
        ok2,
        "<G, V> vs (f(X+hV) - f(X-hV))/2h",
        max_abs_error=err2,
        step=1e-12,
        size=size,
    )
    if not (ok and ok2):
        raise SelfCheckError(
            f"the derived gradient of {f} with respect to {X} disagrees with "
            f"an independent route (element-wise error {err:.3g}, central "
            f"difference error {err2:.3g}); please report this bug"
        )


def check_second(d: Derivation, f, X, G, H, kind, seed=20261128, swap=False):
    """Check a Hessian (kind='hessian', f scalar, G its gradient) or a Jacobian
    (kind='jacobian', f vector-valued) in vec form against sympy.diff and differences."""
    if swap:  # called as (f, X, J, None): the Jacobian has no gradient
        G, H = H, G
    f, G, H = _exact_floats(f, G, H)
    cc = pick_concrete(f, X, seed, extra=(H,))
    ref = elementwise_second(cc, cc.f, cc.point, kind)
    ours = cc.evaluate(H, cc.point)
    if ours.shape != ref.shape:
        raise SelfCheckError(
            f"the derived {kind} has shape {ours.shape} at sizes {cc.sizes}, expected {ref.shape}"
        )
    ok, err = _close(list(ours), list(ref), 1e-9)
    size = {str(k): int(v) for k, v in cc.sizes.items()}
    d.add_check(
        f"elementwise sympy.diff ({kind}, {size or 'fixed size'})",
        ok,
        "closed form vs sympy.diff of the explicit-entry expression at random numbers",
        max_abs_error=err,
        size=size,
    )
    V = _random_matrix(cc.rng, cc.X, "general", positive=False)
    inner = G if kind == "hessian" else cc.f
    inner = inner.xreplace(cc.sizes).xreplace(cc.scalars)
    fd = _central(cc, lambda val: _vec(to_explicit(inner, cc.numeric_env(val))), V)
    HV = ours * sp.Matrix(_vec(V))
    ok2, err2 = _close(list(HV), fd, 1e-7)
    d.add_check(
        f"central differences ({kind})",
        ok2,
        "H vec(V) vs central difference",
        max_abs_error=err2,
        step=1e-12,
        size=size,
    )
    if not (ok and ok2):
        raise SelfCheckError(
            f"the derived {kind} of {f} with respect to {X} disagrees with an "
            f"independent route (element-wise error {err:.3g}, central "
            f"difference error {err2:.3g}); please report this bug"
        )


def _vech_positions(n):
    """The free entries (i, j), i >= j, of a symmetric n x n matrix in vech order."""
    return [(i, j) for j in range(n) for i in range(j, n)]


def elementwise_vech_hessian(cc, f, value):
    """The Hessian of f with respect to the n(n+1)/2 free entries of a symmetric X, by
    sympy.diff of the explicit expression with X_ij = X_ji = one symbol."""
    n = int(cc.X.rows)
    pos = _vech_positions(n)
    t, u = sp.symbols("t_entry u_entry")
    H = sp.zeros(len(pos), len(pos))
    for a, (i, j) in enumerate(pos):
        for b in range(a, len(pos)):
            k, l = pos[b]
            if a == b:
                f_t = to_explicit(f, _with_symbols(cc, value, [(i, j), (j, i)], [t, t]))
                v = sp.diff(f_t, t, 2).subs(t, value[i, j])
            else:
                f_tu = to_explicit(
                    f, _with_symbols(cc, value, [(i, j), (j, i), (k, l), (l, k)], [t, t, u, u])
                )
                v = sp.diff(f_tu, t, u).subs({t: value[i, j], u: value[k, l]})
            H[a, b] = H[b, a] = sp.N(v, 30)
    return H


def check_symmetric_hessian(d: Derivation, f, X, G, H_raw, seed=20261128):
    """Check the Hessian N H N with respect to a symmetric X: D^T (N H N) D against
    sympy.diff in the free entries vech(X), and (N H N) vec(V) against a central
    difference of the symmetric gradient along a random symmetric V."""
    from symcalc.expr.vectorize import duplication_matrix

    f, G, H_raw = _exact_floats(f, G, H_raw)
    H = _sandwich(H_raw, X.rows)  # rebuilt at the (possibly shrunk) size
    cc = pick_concrete(f, X, seed, extra=(H,))
    n = int(cc.X.rows)
    ours = cc.evaluate(H, cc.point)
    size = {str(k): int(v) for k, v in cc.sizes.items()}
    if ours.shape != (n * n, n * n):
        raise SelfCheckError(
            f"the derived hessian has shape {ours.shape} at sizes "
            f"{cc.sizes}, expected {(n * n, n * n)}"
        )
    D = duplication_matrix(n)
    ref = elementwise_vech_hessian(cc, cc.f, cc.point)
    ok, err = _close(list(D.T * ours * D), list(ref), 1e-9)
    d.add_check(
        f"elementwise sympy.diff (hessian wrt vech, {size or 'fixed size'})",
        ok,
        "D^T H D vs sympy.diff of the explicit-entry expression in the n(n+1)/2 free "
        "entries of the symmetric matrix, at random numbers",
        max_abs_error=err,
        size=size,
    )
    B = _random_matrix(cc.rng, cc.X, "general", positive=False)
    V = sp.ImmutableMatrix((B + B.T) / 2)
    inner = G.xreplace(cc.sizes).xreplace(cc.scalars)
    fd = _central(cc, lambda val: _vec(to_explicit(inner, cc.numeric_env(val))), V)
    HV = ours * sp.Matrix(_vec(V))
    ok2, err2 = _close(list(HV), fd, 1e-7)
    d.add_check(
        "central differences (hessian, symmetric direction)",
        ok2,
        "H vec(V) vs central difference of the symmetric gradient, V symmetric",
        max_abs_error=err2,
        step=1e-12,
        size=size,
    )
    ok3, err3 = _close(list(ours), list(ours.T), 1e-9)
    if not (ok and ok2 and ok3):
        raise SelfCheckError(
            f"the derived hessian of {f} with respect to the symmetric {X} "
            f"disagrees with an independent route (element-wise error "
            f"{err:.3g}, central difference error {err2:.3g}, asymmetry "
            f"{err3:.3g}); please report this bug"
        )


# ======================================================================================
# Reading off a linear map: dF = J dx (vectors) or d vec F = H d vec X (matrices)
# ======================================================================================
def _right_factor(T, C, canon, d):
    """P with T = P C, for T linear in the column vector C (records Hadamard -> diag)."""
    if T == C:
        return Identity(C.rows)
    if not canon.depends(T):
        return 0
    if isinstance(T, MatAdd) or (isinstance(T, sp.Add) and not isinstance(T, MatrixExpr)):
        return add(*[_right_factor(a, C, canon, d) for a in T.args if canon.depends(a)])
    if isinstance(T, sp.Mul) and not isinstance(T, MatrixExpr):
        dep = [a for a in T.args if canon.depends(a)]
        others = sp.Mul(*[a for a in T.args if a not in dep])
        if len(dep) != 1:
            raise NoRuleError(f"{T} is not linear in the differential")
        return mul(others, _right_factor(dep[0], C, canon, d))
    if isinstance(T, Trace):
        return _right_factor(T.arg, C, canon, d)
    if isinstance(T, MatMul):
        scal = [a for a in T.args if not isinstance(a, MatrixExpr)]
        mats = [a for a in T.args if isinstance(a, MatrixExpr)]
        dep_s = [a for a in scal if canon.depends(a)]
        coef = sp.Mul(*[a for a in scal if not canon.depends(a)])
        if dep_s:
            row = _right_factor(sp.Mul(*dep_s), C, canon, d)
            return mul(coef, *mats, row)
        k = next(i for i, M in enumerate(mats) if canon.depends(M))
        L, Y, R = mats[:k], mats[k], mats[k + 1 :]
        if not R:
            return mul(coef, *L, _right_factor(Y, C, canon, d))
        if Y.cols == 1:
            return mul(coef * Trace(mul(*R)), *L, _right_factor(Y, C, canon, d))
        if Y.rows == 1:
            moved = mul(transpose(mul(*R)), transpose(Y))
            return mul(coef, *L, _right_factor(moved, C, canon, d))
        raise NoRuleError(
            f"cannot read a Jacobian off {T}: the differential sits inside a "
            f"{Y.rows} x {Y.cols} factor"
        )
    if isinstance(T, HadamardProduct) and T.cols == 1:
        dep = [a for a in T.args if canon.depends(a)]
        others = [a for a in T.args if not canon.depends(a)]
        b = hadamard(*others)
        out = mul(DiagMatrix(b), _right_factor(dep[0], C, canon, d))
        d.add_step(THEOREMS["hadamard_as_diag"], T, mul(DiagMatrix(b), dep[0]), "canonical")
        return out
    if isinstance(T, Transpose) and T.arg.rows == 1:
        return _right_factor(T.arg.T if T.arg.T != T else T.arg, C, canon, d)
    raise NoRuleError(f"cannot read a Jacobian off {type(T).__name__} ({T})")


class CommutationMatrix(MatrixExpr):
    """K_{m,n}: the mn x mn permutation with K vec(A) = vec(A^T) for an m x n matrix A.

    >>> K = CommutationMatrix(2, 3)
    >>> K.shape, K.T
    ((6, 6), CommutationMatrix(3, 2))
    >>> A = sp.Matrix(2, 3, range(6))
    >>> list(to_explicit(K, {}) * sp.Matrix([A[i, j] for j in range(3) for i in range(2)]))
    [0, 1, 2, 3, 4, 5]
    """

    def __new__(cls, m, n):
        return super().__new__(cls, _size_arg(m, "m"), _size_arg(n, "n"))

    @property
    def shape(self):
        m, n = self.args
        return (m * n, m * n)

    def _eval_transpose(self):
        m, n = self.args
        return CommutationMatrix(n, m)

    def as_explicit(self):
        m, n = (int(a) for a in self.args)
        K = sp.zeros(m * n, m * n)
        for i in range(m):
            for j in range(n):
                K[j + i * n, i + j * m] = 1
        return sp.ImmutableMatrix(K)

    def _latex(self, printer):
        m, n = self.args
        return rf"K_{{{printer._print(m)},{printer._print(n)}}}"

    def _entry(self, r, c, **kwargs):
        """1 where row r = (c // m) + (c % m) n, the position of entry c of vec(A) in vec(A^T)."""
        m, n = self.args
        return sp.KroneckerDelta(r, sp.floor(c / m) + sp.Mod(c, m) * n)


class Vec(MatrixExpr):
    """vec(M): the columns of M stacked into one column (mn x 1).

    >>> to_explicit(Vec(sp.ImmutableMatrix([[1, 2], [3, 4]])), {}).T
    Matrix([[1, 3, 2, 4]])
    """

    def __new__(cls, M):
        reject_text(M, "vec's argument")
        if not isinstance(M, (MatrixExpr, sp.MatrixBase)):
            raise InputError(
                f"Vec needs a matrix expression (a MatrixSymbol, an "
                f"ImmutableMatrix, ...), not {type(M).__name__}"
            )
        return super().__new__(cls, M)

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return (self.arg.rows * self.arg.cols, sp.S.One)

    def _latex(self, printer):
        return rf"\operatorname{{vec}}\left({printer._print(self.arg)}\right)"

    def _entry(self, i, j, **kwargs):
        """Entry i of vec(M) is M[i mod rows, i div rows] (column-major)."""
        rows = self.arg.rows
        return self.arg._entry(sp.Mod(i, rows), sp.floor(i / rows), **kwargs)


def _vec_row(s, C):
    """The row r with s = r vec(C), for a scalar s linear in the matrix C."""
    if isinstance(s, sp.Add):
        return add(*[_vec_row(a, C) for a in s.args if a.has(C)])
    if isinstance(s, sp.Mul):
        dep = [a for a in s.args if a.has(C)]
        if len(dep) != 1:
            raise NoRuleError(f"{s} is not linear in the differential")
        return mul(sp.Mul(*[a for a in s.args if not a.has(C)]), _vec_row(dep[0], C))
    if isinstance(s, Trace):
        W = s.arg
        if (
            isinstance(W, MatMul)
            and len(W.args) == 2
            and not W.args[1].has(C)
            and W.args[0] == Transpose(C)
        ):
            return transpose(Vec(W.args[1]))  # tr(C^T A) = vec(A)^T vec(C)
        if W == C or W == Transpose(C):
            return transpose(Vec(Identity(C.rows)))  # tr(C) = vec(I)^T vec(C)
        if isinstance(W, MatMul) and len(W.args) == 2 and W.args[1] == C and not W.args[0].has(C):
            return transpose(Vec(transpose(W.args[0])))  # tr(A C) = vec(A^T)^T vec(C)
        return mul(transpose(Vec(Identity(W.rows))), _vec_factor(W, C))
    raise NoRuleError(f"cannot write {s} as a row times vec of the differential")


def _vec_factor(T, C):
    """M with vec(T) = M vec(C), for T linear in the matrix C (Kronecker form)."""
    if T == C:
        return Identity(C.rows * C.cols)
    if isinstance(T, Transpose) and T.arg == C:
        return CommutationMatrix(C.rows, C.cols)
    if isinstance(T, MatAdd):
        return add(*[_vec_factor(a, C) for a in T.args if a.has(C)])
    if isinstance(T, MatMul):
        scal = [a for a in T.args if not isinstance(a, MatrixExpr)]
        mats = [a for a in T.args if isinstance(a, MatrixExpr)]
        if any(a.has(C) for a in scal):  # s(C) M: vec = vec(M) (row of s) vec(C)
            dep = sp.Mul(*[a for a in scal if a.has(C)])
            coef = sp.Mul(*[a for a in scal if not a.has(C)])
            return mul(coef, Vec(mul(*mats)), _vec_row(dep, C))
        k = next(i for i, M in enumerate(mats) if M.has(C))
        L, Y, R = mats[:k], mats[k], mats[k + 1 :]
        Lm = mul(*L) if L else Identity(Y.rows)
        Rm = mul(*R) if R else Identity(Y.cols)
        return mul(sp.Mul(*scal), KroneckerProduct(transpose(Rm), Lm), _vec_factor(Y, C))
    if isinstance(T, HadamardProduct):  # vec(B o Y) = diag(vec B) vec(Y)
        dep = [a for a in T.args if a.has(C)]
        if len(dep) == 1:
            B = hadamard(*[a for a in T.args if not a.has(C)])
            return mul(DiagMatrix(Vec(B)), _vec_factor(dep[0], C))
    if isinstance(T, Transpose):  # vec(Y^T) = K vec(Y)
        return mul(CommutationMatrix(T.arg.rows, T.arg.cols), _vec_factor(T.arg, C))
    raise NoRuleError(
        f"cannot write d vec F = H d vec X for {type(T).__name__} ({T}) in Kronecker form"
    )


def _linear_map(F, X, d: Derivation, note: str):
    """J with d vec F = J d vec X, for a matrix expression F (the gradient or a vector)."""
    dX = differential_symbol(X, F.atoms(MatrixSymbol))
    dF = Differentiator({X: dX}, d, note)(F)
    if is_zero(dF):
        return ZeroMatrix(F.rows * F.cols, X.rows * X.cols)
    C = (
        MatrixSymbol("C", *F.shape)
        if not F.has(MatrixSymbol("C", *F.shape))
        else MatrixSymbol("C_", *F.shape)
    )
    canon = Canonicalizer([dX], d, note)
    canon.pull(dF, C)
    adjoint = collect(add(*canon.contributions[dX]))
    if X.cols == 1 and F.cols == 1:
        cdepends = Canonicalizer([C])
        Jt = (
            _right_factor(adjoint, C, cdepends, d)
            if not is_zero(adjoint)
            else ZeroMatrix(X.rows, F.rows)
        )
        J = collect(transpose(Jt))
        d.add_step(THEOREMS["jacobian_identification"], mul(J, dX), J, "identify")
    else:
        Jt = (
            _vec_factor(adjoint, C)
            if not is_zero(adjoint)
            else ZeroMatrix(X.rows * X.cols, F.rows * F.cols)
        )
        J = collect(transpose(Jt))
        d.add_step(THEOREMS["vec_identification"], adjoint, J, "identify")
    return J


# ======================================================================================
# The derivations
# ======================================================================================
def _gradient(f, X, d: Derivation, note: str = "differential"):
    dX = differential_symbol(X, f.atoms(MatrixSymbol))
    df = Differentiator({X: dX}, d, note)(f)
    canon = Canonicalizer([dX], d, "canonical")
    canon.pull(df, sp.S.One)
    raw = add(*canon.contributions[dX])
    if is_zero(raw):
        G = ZeroMatrix(*X.shape)
    else:
        G = raw
    d.add_step(
        THEOREMS["identification"],
        Trace(mul(transpose(G), dX)) if not is_zero(G) else sp.S.Zero,
        G,
        "identify",
    )
    simple = collect(G)
    if simple != G:
        d.add_step(THEOREMS["collect"], G, simple, "simplify")
        G = simple
    d.meta["differential"] = dX
    return _structured(G, f, X, d)


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


# --------------------------------------------------------------------------------------
# Hessians with respect to a symmetric matrix: N H N, N = (I + K_nn)/2
# --------------------------------------------------------------------------------------
SYMMETRIC_HESSIAN = THEOREMS["symmetric_hessian"]


def _size_arg(d, what: str):
    """A size: an int or a name (as in ``matrix_symbol``), or a SymPy integer expression.

    >>> _size_arg("n", "n").is_integer, _size_arg(3, "m")
    (True, 3)
    """
    if isinstance(d, (str, int)):
        return dim(d)
    d = as_scalar_expr(d, what)
    if d.is_integer is False or d.is_positive is False:
        raise InputError(f"the size {what} must be a positive integer or a name, not {d}")
    return d


def symmetrizer(n):
    """N_n = (I_{n^2} + K_{n,n}) / 2: N vec(A) = vec((A + A^T)/2), the projection onto the
    vecs of symmetric n x n matrices (N^2 = N = N^T, K N = N K = N).

    >>> symmetrizer(2)
    (1/2)*CommutationMatrix(2, 2) + (1/2)*I
    >>> A = sp.Matrix([[1, 2], [3, 4]])
    >>> list(to_explicit(symmetrizer(2), {}) * sp.Matrix(_vec(A)))
    [1, 5/2, 5/2, 4]
    """
    n = _size_arg(n, "n")
    return mul(sp.Rational(1, 2), MatAdd(Identity(n * n), CommutationMatrix(n, n)))


def _sandwich(H, n):
    """N H N written the short way: a K_{n,n} or an identity next to N is absorbed
    (K N = N K = N, N N = N), and N (A kron A) N = N (A kron A) since A kron A commutes
    with K.

    >>> _sandwich(2 * CommutationMatrix(3, 3), 3)
    CommutationMatrix(3, 3) + I
    """
    n = as_expr(n, "n")
    if is_zero(H):
        return ZeroMatrix(n * n, n * n)
    if isinstance(H, MatMul):
        coef = sp.Mul(*[a for a in H.args if not isinstance(a, MatrixExpr)])
        mats = [a for a in H.args if isinstance(a, MatrixExpr)]
    else:
        coef, mats = sp.S.One, [H]

    def absorbed(M):
        return isinstance(M, Identity) or M == CommutationMatrix(n, n)

    while mats and absorbed(mats[0]):
        mats = mats[1:]
    while mats and absorbed(mats[-1]):
        mats = mats[:-1]
    N = symmetrizer(n)
    if not mats:
        return mul(coef, N)
    if (
        len(mats) == 1
        and isinstance(mats[0], KroneckerProduct)
        and len(mats[0].args) == 2
        and mats[0].args[0] == mats[0].args[1]
    ):
        return mul(coef, N, mats[0])
    return mul(coef, N, *mats, N)


def _general_twin(X):
    """The general MatrixSymbol of X's name and shape (the structure dropped)."""
    return MatrixSymbol(X.name, *X.shape)


def _restore(e, Xg, X):
    """e with the general twin Xg replaced by the symmetric X, transposes of symmetric
    factors dropped (X^T = X, (X^-1)^T = X^-1)."""
    if e == Xg:
        return X
    if not isinstance(e, sp.Basic) or e.is_Atom or not e.args or not e.has(Xg):
        return e
    args = [_restore(a, Xg, X) for a in e.args]
    if isinstance(e, Transpose):
        return transpose(args[0])
    if isinstance(e, MatMul):
        return mul(*args)
    if isinstance(e, MatAdd):
        return add(*args)
    return e.func(*args)


def _symmetric_hessian(G, X, d: Derivation):
    """(H, N H N): H = d vec(G)/d vec(X) of the symmetric gradient G written as a
    function of a general matrix, and the Hessian on symmetric matrices N H N.

    Along a symmetric direction V, d vec(G)[V] = H vec(V) = H N vec(V), and G stays
    symmetric, so N H N vec(V) is the derivative of the symmetric gradient; N H N equals
    N H_f N for H_f the Hessian of f with X replaced by a general matrix (both are the
    bilinear form d^2 f[V, W] on symmetric V, W), whatever extension f has off them.
    """
    Xg = _general_twin(X)
    H = _linear_map(G.xreplace({X: Xg}) if isinstance(G, sp.Basic) else G, Xg, d, "hessian")
    H = (
        collect(_restore(H, Xg, X))
        if not is_zero(H)
        else ZeroMatrix(X.rows * X.cols, X.rows * X.cols)
    )
    H_sym = _sandwich(H, X.rows)
    d.add_step(SYMMETRIC_HESSIAN, H, H_sym, "hessian")
    d.meta["hessian_convention"] = (
        "Hessian wrt a symmetric n x n X: N H N with N = (I + K_nn)/2, H the Hessian of f "
        "with X replaced by a general matrix; vec(V)^T H_sym vec(W) = d^2 f[V, W] for "
        "symmetric V, W; D^T H_sym D (D the duplication matrix) is the Hessian wrt vech(X)"
    )
    return H, H_sym


def derive_matrix(f, X, order: int = 1, check: bool = True) -> Derivation:
    """The Derivation of the gradient (and Hessian) of scalar f, or the Jacobian of a
    vector-valued F, with respect to the MatrixSymbol X.

    >>> from symcalc.expr.structure import vector, matrix_symbol
    >>> x = vector("x", "n"); A = matrix_symbol("A", "n", "n")
    >>> d = derive_matrix(x.T*A*x, x, order=2)
    >>> d.results["gradient"], d.results["hessian"]
    ((A + A.T)*x, A + A.T)
    """
    reject_text(f, "f")
    reject_text(X, "the variable")
    if isinstance(X, sp.Symbol) or (
        isinstance(X, (list, tuple)) and X and all(isinstance(s, sp.Symbol) for s in X)
    ):
        return _derive_scalar_parameters(
            f, [X] if isinstance(X, sp.Symbol) else list(X), order, check
        )
    _check_variable(X)
    if isinstance(f, sp.MatrixBase):
        raise InputError(
            "f is an explicit Matrix; differentiate its entries with respect to "
            "Symbols, or write it as a matrix expression"
        )
    if not isinstance(f, (sp.Basic, int, float)):
        raise InputError(f"f must be a SymPy expression, not {type(f).__name__}")
    g = normalize(f)
    d = Derivation(
        expr=f,
        wrt=(X,),
        meta={
            "layout": LAYOUT,
            "shapes": {str(M): M.shape for M in g.atoms(MatrixSymbol) | {X}},
            "structure": {str(M): structure_of(M) for M in g.atoms(MatrixSymbol) | {X}},
            "assumed": declared_structure(g),  # a plain covariance taken as SPD (expr.canonical)
        },
    )
    if g != f:
        d.add_step(THEOREMS["one_by_one"], f, g, "canonical")
    if isinstance(g, MatrixExpr):
        if g.cols != 1:
            raise ShapeError(
                f"{f} is a {g.rows} x {g.cols} matrix; a Jacobian needs a column "
                f"vector (or a scalar for a gradient)"
            )
        if order != 1:
            raise ShapeError(
                f"{f} is a {g.rows} x 1 vector; a Hessian (order=2) needs a scalar function"
            )
        J = _linear_map(g, X, d, "jacobian")
        d.results["jacobian"] = J
        if check:
            check_second(d, *shrink(g, X, J), None, "jacobian", swap=True)
        return d
    G = _gradient(g, X, d)
    d.results["gradient"] = G
    if check:
        check_gradient(d, *shrink(g, X, G))
    if order == 2:
        if structure_of(X) == "diagonal" and X.cols != 1:
            raise NoRuleError(
                f"second derivatives with respect to the diagonal matrix {X} "
                f"are not supported (only for general, symmetric and positive "
                f"definite matrices)"
            )
        d.add_step(THEOREMS["hessian_from_gradient"], G, G, "hessian")
        if structure_of(X) in ("symmetric", "positive_definite") and X.cols != 1:
            H_raw, H = _symmetric_hessian(G, X, d)
            d.results["hessian"] = H
            if check:
                check_symmetric_hessian(d, *shrink(g, X, G, H_raw))
            return d
        H = _linear_map(G, X, d, "hessian")
        d.results["hessian"] = H
        if check:
            check_second(d, *shrink(g, X, G, H), "hessian")
    return d


def _parameter_gradient(g, syms, d, note):
    taken = g.free_symbols | set(syms)
    dsyms = {s: differential_symbol(s, taken) for s in syms}
    df = Differentiator(dsyms, d, note)(g)
    canon = Canonicalizer(dsyms.values(), d, "canonical" if note == "differential" else note)
    canon.pull(df, sp.S.One)
    grad = [sp.powsimp(sp.Add(*canon.contributions[dsyms[s]])) for s in syms]
    d.add_step(
        THEOREMS["scalar_identification"],
        df,
        sp.Matrix(grad),
        "identify" if note == "differential" else note,
    )
    return grad


def _derive_scalar_parameters(f, syms, order, check):
    """Derivatives of a scalar matrix expression with respect to scalar Symbols."""
    g = normalize(f)
    if isinstance(g, MatrixExpr):
        raise InputError(f"{f} is a matrix; differentiate a scalar with respect to Symbols")
    d = Derivation(expr=f, wrt=tuple(syms), meta={"layout": LAYOUT})
    grad = _parameter_gradient(g, syms, d, "differential")
    d.results["gradient"] = sp.Matrix(grad)
    if order == 2:
        d.results["hessian"] = sp.Matrix([_parameter_gradient(e, syms, d, "hessian") for e in grad])
    if check:
        _check_parameters(d, g, syms, order)
    return d


def _check_parameters(d, g, syms, order, seed=20261128):
    """sympy.diff of the explicit expression and central differences, at random numbers."""
    rng = random.Random(seed)
    (gs,) = shrink(g)
    sizes = concrete_sizes(gs)
    gs = gs.xreplace(sizes)
    env = {M: _random_matrix(rng, M, structure_of(M)) for M in gs.atoms(MatrixSymbol)}
    point = {s: sp.Rational(rng.randint(50, 150), 100) for s in syms}
    others = {
        s: sp.Rational(rng.randint(50, 150), 100)
        for s in gs.free_symbols
        if isinstance(s, sp.Symbol) and s not in point
    }
    explicit = to_explicit(gs.xreplace(others), env)

    def numbers(exprs):
        return [
            to_explicit(shrink(e)[0].xreplace(sizes).xreplace(others), env).xreplace(point)
            for e in exprs
        ]

    ours = numbers(list(d.results["gradient"]))
    ref = [sp.diff(explicit, s).xreplace(point) for s in syms]
    ok, err = _close(ours, ref, 1e-9)
    d.add_check(
        "elementwise sympy.diff (gradient)",
        ok,
        "closed form vs sympy.diff of the explicit-entry expression at random numbers",
        max_abs_error=err,
    )
    h = sp.Rational(1, 10**12)
    v = {s: sp.Rational(rng.randint(-100, 100), 100) for s in syms}
    fd = (
        explicit.xreplace({s: point[s] + h * v[s] for s in syms})
        - explicit.xreplace({s: point[s] - h * v[s] for s in syms})
    ) / (2 * h)
    ok2, err2 = _close([sum(o * v[s] for o, s in zip(ours, syms))], [fd], 1e-7)
    d.add_check(
        "central differences (gradient)",
        ok2,
        "directional central difference",
        max_abs_error=err2,
        step=float(h),
    )
    if order == 2:
        H = numbers(list(d.results["hessian"]))
        ref2 = [sp.diff(explicit, a, b).xreplace(point) for a in syms for b in syms]
        ok3, err3 = _close(H, ref2, 1e-9)
        d.add_check(
            "elementwise sympy.diff (hessian)", ok3, "closed form vs sympy.diff", max_abs_error=err3
        )
        ok2 = ok2 and ok3
    if not (ok and ok2):
        raise SelfCheckError(
            f"the derived derivatives of {g} with respect to {syms} disagree "
            f"with an independent route; please report this bug"
        )


_CACHE: dict = {}


def _cached(f, X, order):
    if isinstance(X, list):
        X = tuple(X)
    key = (f, X, order)
    if key not in _CACHE:
        if len(_CACHE) > 256:
            _CACHE.clear()
        _CACHE[key] = derive_matrix(f, X, order)
    return _CACHE[key]


def matrix_gradient(f, X):
    """The gradient of a scalar f with respect to X: a MatrixExpr of X's shape.

    >>> from symcalc.expr.structure import matrix_symbol
    >>> X = matrix_symbol("X", "n", "n")
    >>> matrix_gradient(sp.log(sp.det(X)), X)
    X.T**(-1)
    """
    d = _cached(f, X, 1)
    if "gradient" not in d.results:
        raise ShapeError(
            f"{f} is a vector ({normalize(f).shape[0]} x 1), not a scalar: a gradient needs "
            "a scalar function; use jacobian() for a vector-valued one"
        )
    return d.results["gradient"]


def matrix_hessian(f, x):
    """The Hessian of a scalar f: n x n for a vector x; mn x mn (vec, Kronecker form) for X.

    >>> from symcalc.expr.structure import matrix_symbol
    >>> X = matrix_symbol("X", "n", "k"); A = matrix_symbol("A", "n", "n")
    >>> matrix_hessian(sp.Trace(X.T*A*X), X)
    KroneckerProduct(I, A + A.T)
    """
    return _cached(f, x, 2).results["hessian"]


def matrix_jacobian(F, x):
    """The m x n Jacobian of a column-vector matrix expression F (m x 1) wrt x (n x 1).

    >>> from symcalc.expr.structure import matrix_symbol, vector
    >>> A = matrix_symbol("A", "m", "n"); x = vector("x", "n")
    >>> matrix_jacobian(A*x, x)
    A
    """
    d = _cached(F, x, 1)
    if "jacobian" not in d.results:  # a scalar F: its Jacobian is the gradient as a row
        if x.cols != 1:
            raise ShapeError(
                f"{F} is a scalar and {x} a {x.rows} x {x.cols} matrix: use gradient() "
                "(a Jacobian is taken with respect to a column vector)"
            )
        return d.results["gradient"].T
    return d.results["jacobian"]
