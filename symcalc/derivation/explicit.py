"""Explicit evaluation at a concrete size: sizes, random well-conditioned points, to_explicit.

The independent route of every self-check: a matrix expression is evaluated with its
MatrixSymbols replaced by explicit SymPy matrices (exact rationals).

>>> import sympy as sp
>>> A = sp.MatrixSymbol("A", 2, 2)
>>> to_explicit(A.T * A, {A: sp.ImmutableMatrix([[1, 2], [3, 4]])})
Matrix([
[10, 14],
[14, 20]])
"""

from __future__ import annotations

import math
import random

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

from symcalc.derivation.vecform import CommutationMatrix, Unvec, Vec
from symcalc.errors import NoRuleError
from symcalc.expr.structure import structure_of


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
    if isinstance(e, Unvec):
        return Unvec(to_explicit(e.args[0], env), *e.shape).doit()
    if isinstance(e, DiagMatrix):
        v = to_explicit(e.args[0], env)
        return sp.ImmutableMatrix(sp.diag(*list(v)))
    if isinstance(e, Trace):
        return to_explicit(e.arg, env).trace()
    if isinstance(e, Determinant):
        return to_explicit(e.arg, env).det()
    if hasattr(e, "_explicit"):  # a construct that evaluates itself (symcalc.expr.axis)
        return e._explicit(lambda a: to_explicit(a, env))
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
