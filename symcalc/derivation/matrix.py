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

import random

import sympy as sp
from sympy import (
    MatrixExpr,
    MatrixSymbol,
    Trace,
    ZeroMatrix,
)

from symcalc.derivation.algebra import (  # noqa: F401
    LAYOUT,
    _structured,
    collect,
    normalize,
    regroup,
    substitute,
)
from symcalc.derivation.explicit import (
    _close,
    _random_matrix,
    concrete_sizes,
    shrink,
    to_explicit,
)
from symcalc.derivation.linearmap import _linear_map
from symcalc.derivation.parameters import derive_parameters, is_parameter_list
from symcalc.derivation.phases import Canonicalizer, Differentiator, differential_symbol
from symcalc.derivation.selfcheck import check_gradient, check_second, check_symmetric_hessian
from symcalc.derivation.vecform import CommutationMatrix, Vec, _sandwich, symmetrizer
from symcalc.errors import InputError, NoRuleError, SelfCheckError, ShapeError
from symcalc.expr.algebra import add, is_zero, mul, transpose
from symcalc.expr.canonical import canonical_result, declared_structure
from symcalc.expr.structure import structure_of
from symcalc.inputs import reject_text
from symcalc.records import Derivation
from symcalc.rules.matrix import THEOREMS

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
    "normalize",
    "shrink",
    "check_gradient",
    "check_second",
    "check_symmetric_hessian",
]

JACOBIAN_LAYOUT = (
    "Jacobian of a matrix F (p x q) wrt a matrix X (m x n): d vec(F) / d vec(X)^T, "
    "pq x mn, column-major vec (vec stacks the columns): d vec F = J d vec X"
)


# ======================================================================================
# Input: validation and normalization (a 1 x 1 matrix is a scalar)
# ======================================================================================
def _check_variable(X):
    if not isinstance(X, MatrixSymbol):
        raise InputError(
            f"differentiate with respect to a MatrixSymbol (a vector or matrix variable), not {X!r}"
        )


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
    simple = regroup(G)
    if simple != G:
        d.add_step(THEOREMS["collect"], G, simple, "simplify")
        G = simple
    d.meta["differential"] = dX
    return _structured(G, f, X, d)


# --------------------------------------------------------------------------------------
# Hessians with respect to a symmetric matrix: N H N, N = (I + K_nn)/2
# --------------------------------------------------------------------------------------
SYMMETRIC_HESSIAN = THEOREMS["symmetric_hessian"]


def _general_twin(X):
    """The general MatrixSymbol of X's name and shape (the structure dropped)."""
    return MatrixSymbol(X.name, *X.shape)


def _restore(e, Xg, X):
    """e with the general twin Xg replaced by the symmetric X, transposes of symmetric
    factors dropped (X^T = X, (X^-1)^T = X^-1)."""
    return substitute(e, Xg, X)


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


def _as_written(R, d: Derivation):
    """A result as a person writes it (:func:`symcalc.expr.canonical.canonical_result`:
    sign(u) u / |u| is 1), the rewriting recorded as a step. Every route (gradient,
    hessian, jacobian, derive) reads its results from here, so all give the same answer."""
    out = canonical_result(R)
    if out != R:
        d.add_step(THEOREMS["as_written"], R, out, "simplify")
    return out


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
    if is_parameter_list(X):  # all the weights of a model at once: a tuple of gradients
        if order != 1:
            raise InputError("Hessians with respect to several matrix parameters are not supported")
        return derive_parameters(f, X, check)
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
        if order != 1:
            raise ShapeError(
                f"{f} is a {g.rows} x {g.cols} matrix; a Hessian (order=2) needs a scalar function"
            )
        if g.cols != 1 or X.cols != 1:
            d.meta["jacobian_convention"] = JACOBIAN_LAYOUT
        J = _as_written(_linear_map(g, X, d, "jacobian"), d)
        d.results["jacobian"] = J
        if check:
            g_small, X_small, J_small = shrink(g, X, J)
            check_second(d, g_small, X_small, J_small, None, "jacobian", swap=True)
        return d
    G = _as_written(_gradient(g, X, d), d)
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
            H = _as_written(H, d)
            d.results["hessian"] = H
            if check:
                check_symmetric_hessian(d, *shrink(g, X, G, H_raw))
            return d
        H = _as_written(_linear_map(G, X, d, "hessian"), d)
        d.results["hessian"] = H
        if check:
            g_small, X_small, G_small, H_small = shrink(g, X, G, H)
            check_second(d, g_small, X_small, G_small, H_small, "hessian")
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
    grad = [canonical_result(e) for e in _parameter_gradient(g, syms, d, "differential")]
    d.results["gradient"] = sp.Matrix(grad)
    if order == 2:
        rows = [_parameter_gradient(e, syms, d, "hessian") for e in grad]
        d.results["hessian"] = sp.Matrix([[canonical_result(e) for e in r] for r in rows])
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
    d = _cached(f, X, 1)  # X may be a list of parameters: then a tuple of gradients
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
    """The Jacobian d vec(F) / d vec(x)^T of a matrix expression F, in closed form.

    F m x 1 and x n x 1: the m x n Jacobian (dF = J dx). F p x q or X m x n a matrix:
    the pq x mn matrix with d vec F = J d vec X (column-major vec, as ``sc.vec``).

    >>> from symcalc.expr.structure import matrix_symbol, vector
    >>> A = matrix_symbol("A", "m", "n"); x = vector("x", "n")
    >>> matrix_jacobian(A*x, x)
    A
    >>> X = matrix_symbol("X", "n", "k"); B = matrix_symbol("B", "k", "p")
    >>> matrix_jacobian(A*X*B, X)
    KroneckerProduct(B.T, A)
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
