"""A matrix CSE that knows transposes and elementwise functions.

A closed-form gradient writes the same product in both orientations: the network's hidden
layer is ``tanh(X W + 1 bᵀ)`` in one parameter's gradient and ``tanh(Wᵀ Xᵀ + b 1ᵀ)`` in the
next. Both are one array and its transpose (a free view in NumPy), so the forward GEMM and the
tanh pass should run once. This module

1. brings every expression to a **canonical form** (:func:`canonical`): transposes pushed down
   to the symbols (``(A B)ᵀ = Bᵀ Aᵀ``, ``f.(A)ᵀ = f.(Aᵀ)``, ``(A ∘ B)ᵀ = Aᵀ ∘ Bᵀ``), nested
   products flattened with their numeric factors multiplied out, the terms of sums and
   Hadamard products sorted, and a numeric factor common to all terms of a sum taken out
   (``½A − ½Y`` is ``½(A − Y)``);
2. names every matrix subexpression used more than once *up to a transpose*
   (:func:`transpose_cse`): a subtree whose transpose was named is replaced by ``tᵀ``.

>>> import sympy as sp
>>> from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction as Apply
>>> X, W = sp.MatrixSymbol("X", 5, 3), sp.MatrixSymbol("W", 3, 4)
>>> hidden, again = Apply(sp.tanh, X * W), Apply(sp.tanh, W.T * X.T)
>>> transpose_cse([hidden * sp.OneMatrix(4, 1), again * sp.OneMatrix(5, 1)])
([(t0, Lambda(_u, tanh(_u)).(X*W))], [t0*1, t0.T*1])
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

__all__ = ["canonical", "transposed", "transpose_cse"]

_LEAVES = (sp.MatrixSymbol, sp.Lambda, sp.OneMatrix, sp.Identity, sp.ZeroMatrix)


def _is_leaf(expr) -> bool:
    return expr.is_Atom or isinstance(expr, _LEAVES) or isinstance(expr, sp.MatrixBase)


def _key(expr):
    return sp.default_sort_key(expr)


def _matmul(coeff, mats):
    """coeff * M1 * M2 ... with nested products flattened (their numbers multiplied in)."""
    flat = []
    for m in mats:
        if isinstance(m, sp.MatMul):
            c, inner = m.as_coeff_matrices()
            coeff = coeff * c
            flat.extend(inner)
        else:
            flat.append(m)
    if coeff == 0:
        return sp.ZeroMatrix(flat[0].shape[0], flat[-1].shape[1])
    if len(flat) == 1 and coeff == 1:
        return flat[0]
    return sp.MatMul(coeff, *flat) if coeff != 1 else sp.MatMul(*flat)


def _matadd(terms):
    """A sum with nested sums flattened, its terms sorted and a common |number| taken out."""
    flat = []
    for t in terms:
        flat.extend(t.args if isinstance(t, sp.MatAdd) else [t])
    flat = [t for t in flat if not isinstance(t, sp.ZeroMatrix)]
    if len(flat) == 1:
        return flat[0]
    parts = [t.as_coeff_matrices() if isinstance(t, sp.MatMul) else (sp.S.One, (t,)) for t in flat]
    sizes = {abs(c) for c, _ in parts}
    common = sizes.pop() if len(sizes) == 1 else sp.S.One
    if common not in (0, 1) and common.is_Rational:
        flat = [_matmul(c / common, list(mats)) for c, mats in parts]
        return _matmul(common, [sp.MatAdd(*sorted(flat, key=_key))])
    return sp.MatAdd(*sorted(flat, key=_key))


_BOUND = sp.Dummy("u")


def _function(fn):
    """An elementwise function's Lambda with one fixed bound variable (two spellings of
    ``tanh`` made with their own dummies are then equal)."""
    if isinstance(fn, sp.Lambda) and len(fn.variables) == 1:
        return sp.Lambda(_BOUND, fn.expr.xreplace({fn.variables[0]: _BOUND}))
    return fn


def _hadamard(factors):
    """A ∘ B ∘ ... with the factors sorted and their numbers in front: (½A) ∘ B is ½(A ∘ B)."""
    coeff, flat = sp.S.One, []
    for f in factors:
        c, mats = f.as_coeff_matrices() if isinstance(f, sp.MatMul) else (sp.S.One, (f,))
        coeff = coeff * c
        flat.append(_matmul(sp.S.One, list(mats)))
    product = sp.HadamardProduct(*sorted(flat, key=_key))
    return product if coeff == 1 else _matmul(coeff, [product])


def canonical(expr, memo=None):
    """expr with transposes at the symbols, products flat, sums and Hadamard products sorted.

    >>> A, B = sp.MatrixSymbol("A", 2, 3), sp.MatrixSymbol("B", 3, 2)
    >>> canonical(sp.Transpose(A * B) + sp.Transpose(B) * sp.Transpose(A))
    2*B.T*A.T
    """
    memo = {} if memo is None else memo
    if expr in memo:
        return memo[expr]
    if _is_leaf(expr):
        out = expr
    elif isinstance(expr, sp.Transpose):
        out = transposed(canonical(expr.args[0], memo), memo)
    elif isinstance(expr, sp.MatMul):
        coeff, mats = expr.as_coeff_matrices()
        out = _matmul(canonical(coeff, memo), [canonical(m, memo) for m in mats])
    elif isinstance(expr, sp.MatAdd):
        out = _matadd([canonical(a, memo) for a in expr.args])
    elif isinstance(expr, sp.HadamardProduct):
        out = _hadamard([canonical(a, memo) for a in expr.args])
    elif isinstance(expr, ElementwiseApplyFunction):
        out = expr.func(_function(expr.function), canonical(expr.expr, memo))
    else:
        args = [canonical(a, memo) if isinstance(a, sp.Basic) else a for a in expr.args]
        same = all(a is b for a, b in zip(args, expr.args))
        out = expr if same else expr.func(*args)
    memo[expr] = out
    return out


def transposed(expr, memo=None):
    """The canonical form of exprᵀ, for expr in canonical form.

    >>> from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction as Apply
    >>> X, W = sp.MatrixSymbol("X", 5, 3), sp.MatrixSymbol("W", 3, 4)
    >>> transposed(Apply(sp.tanh, X * W + sp.OneMatrix(5, 4)))
    Lambda(_d, tanh(_d)).(1 + W.T*X.T)
    """
    memo = {} if memo is None else memo
    if not isinstance(expr, sp.MatrixExpr):
        return expr
    if isinstance(expr, sp.Transpose):  # (Aᵀ)ᵀ = A
        return expr.args[0]
    if isinstance(expr, (sp.OneMatrix, sp.ZeroMatrix)):
        return type(expr)(expr.shape[1], expr.shape[0])
    if isinstance(expr, (sp.Identity, sp.DiagMatrix)):
        return expr
    if isinstance(expr, sp.MatMul):
        coeff, mats = expr.as_coeff_matrices()
        return _matmul(coeff, [transposed(m, memo) for m in reversed(mats)])
    if isinstance(expr, sp.MatAdd):
        return _matadd([transposed(a, memo) for a in expr.args])
    if isinstance(expr, sp.HadamardProduct):
        return _hadamard([transposed(a, memo) for a in expr.args])
    if isinstance(expr, sp.HadamardPower):
        return sp.HadamardPower(transposed(expr.args[0], memo), expr.args[1])
    if isinstance(expr, ElementwiseApplyFunction):
        return expr.func(expr.function, transposed(expr.expr, memo))
    if isinstance(expr, sp.Inverse):
        return sp.Inverse(transposed(expr.args[0], memo))
    return sp.Transpose(expr)


def _worth_naming(expr) -> bool:
    """A compound matrix (or matrix-valued scalar) node a temporary may hold."""
    if _is_leaf(expr) or isinstance(expr, sp.DiagMatrix):
        return False
    if isinstance(expr, sp.Transpose):  # a view of its argument
        return not isinstance(expr.args[0], sp.MatrixSymbol)
    if _is_broadcast(expr) or _is_scaled_leaf(expr):  # 1 bᵀ, -Y: printed in the sum they are in
        return False
    if isinstance(expr, sp.MatrixExpr):
        return True
    return isinstance(expr, (sp.Trace, sp.Determinant)) or (
        isinstance(expr, sp.Function) and any(isinstance(a, sp.MatrixExpr) for a in expr.args)
    )


def _is_broadcast(expr) -> bool:
    """1 vᵀ or v 1ᵀ (a vector repeated along rows or columns), possibly scaled."""
    if not isinstance(expr, sp.MatMul):
        return False
    _, mats = expr.as_coeff_matrices()
    return len(mats) == 2 and any(isinstance(m, sp.OneMatrix) for m in mats)


def _is_scaled_leaf(expr) -> bool:
    """c A or c Aᵀ for a symbol A (a sum subtracts it; a temporary would cost a pass)."""
    if not isinstance(expr, sp.MatMul):
        return False
    _, mats = expr.as_coeff_matrices()
    return len(mats) == 1 and (_is_leaf(mats[0]) or isinstance(mats[0], sp.Transpose))


#: nodes printed with each argument once (any other repeats its argument: name it)
_TRANSPARENT = (
    sp.MatMul,
    sp.MatAdd,
    sp.HadamardProduct,
    sp.HadamardPower,
    sp.Transpose,
    sp.Trace,
    ElementwiseApplyFunction,
    sp.Add,
    sp.Mul,
    sp.Pow,
)


class _Classes:
    """Subtrees up to a transpose: each class has one representative orientation."""

    def __init__(self):
        self.rep: dict = {}  # subtree -> (representative, flipped)
        self.memo: dict = {}
        self.counts: dict = {}
        self.sizes: dict = {}

    def of(self, expr):
        if expr not in self.rep:
            flip = transposed(expr, self.memo) if isinstance(expr, sp.MatrixExpr) else expr
            if flip in self.rep:
                rep, flipped = self.rep[flip]
                self.rep[expr] = (rep, not flipped)
            else:
                self.rep[expr] = (expr, False)
                self.rep.setdefault(flip, (expr, flip != expr))
        return self.rep[expr]

    def count(self, expr) -> int:
        """Count the named-able subtrees of expr (a repeated one's inside only once); its size."""
        if _is_leaf(expr):
            return 1
        named = _worth_naming(expr)
        rep = self.of(expr)[0] if named else None
        if named and rep in self.counts:
            self.counts[rep] += 1
            return self.sizes[rep]
        size = 1 + sum(self.count(a) for a in _children(expr))
        if not isinstance(expr, _TRANSPARENT):  # softmax(Z): its printing repeats Z
            for a in expr.args:
                if isinstance(a, sp.MatrixExpr) and _worth_naming(a):
                    self.counts[self.of(a)[0]] += 1
        if named:
            self.counts[rep] = 1
            self.sizes[rep] = size
        return size


def _children(expr):
    """The subtrees a CSE looks into (a scaled product's matrix part is one of them)."""
    if isinstance(expr, sp.MatMul):
        coeff, mats = expr.as_coeff_matrices()
        if coeff != 1 and len(mats) > 1:
            return [coeff, sp.MatMul(*mats)]
    return [a for a in expr.args if isinstance(a, sp.Basic)]


def _rebuild(expr, children):
    if isinstance(expr, sp.MatMul):
        coeff, mats = expr.as_coeff_matrices()
        if coeff != 1 and len(mats) > 1:
            c, core = children
            return sp.MatMul(c, core) if not isinstance(core, sp.MatMul) else _matmul(c, [core])
    it = iter(children)
    args = [next(it) if isinstance(a, sp.Basic) else a for a in expr.args]
    if all(a is b for a, b in zip(args, expr.args)):
        return expr
    return expr.func(*args)


def transpose_cse(exprs, prefix="t"):
    """(replacements, reduced exprs): every matrix subexpression used more than once, up to a
    transpose, named ``t0, t1, ...`` (smallest first); the exprs are brought to
    :func:`canonical` form first.

    >>> A, B = sp.MatrixSymbol("A", 3, 3), sp.MatrixSymbol("B", 3, 3)
    >>> transpose_cse([A * B + sp.Transpose(B) * sp.Transpose(A)])
    ([(t0, A*B)], [t0 + t0.T])
    """
    memo: dict = {}
    exprs = [canonical(e, memo) for e in exprs]
    classes = _Classes()
    for e in exprs:
        classes.count(e)
    repeated = sorted(
        (r for r, c in classes.counts.items() if c > 1), key=lambda r: (classes.sizes[r], _key(r))
    )
    names: dict = {}
    cache: dict = {}

    def replace(expr, top=False):
        if not top and expr in cache:
            return cache[expr]
        if _is_leaf(expr):
            return expr
        if _worth_naming(expr) and not top:
            rep, flipped = classes.of(expr)
            if rep in names:
                out = sp.Transpose(names[rep]) if flipped else names[rep]
                cache[expr] = out
                return out
        out = _rebuild(expr, [replace(a) for a in _children(expr)])
        if not top:
            cache[expr] = out
        return out

    repl = []
    for k, rep in enumerate(repeated):
        temp = (
            sp.MatrixSymbol(f"{prefix}{k}", *rep.shape)
            if rep.is_Matrix
            else sp.Symbol(f"{prefix}{k}")
        )
        repl.append((temp, replace(rep, top=True)))
        names[rep] = temp
        cache.clear()
    return repl, [replace(e) for e in exprs]
