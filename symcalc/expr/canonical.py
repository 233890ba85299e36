"""Canonical forms of what users write with plain SymPy objects.

The derivation engine, the verifier and the compiler each expect one spelling of a
construct. People write others: a size ``sp.Symbol("n")`` where symcalc makes sizes
positive integers, ``(x.T*A*x)[0, 0]`` for the scalar xᵀAx, a power of a 1 × 1 matrix,
a plain ``MatrixSymbol`` for a covariance. The functions here rewrite those spellings into
the canonical ones before any rule runs, and say what they assumed.

>>> import sympy as sp
>>> from symcalc.expr.structure import vector
>>> x, y = vector("x", "n"), vector("y", "n")
>>> canonical_scalars(sp.MatPow(x.T * y, sp.Rational(1, 2)))
sqrt(Trace(x.T*y))
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy import MatrixExpr, MatrixSymbol
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.matrices.expressions.matexpr import MatrixElement

from symcalc.expr.elementwise import as_elementwise
from symcalc.expr.structure import PositiveDefiniteMatrixSymbol, StructuredMatrixSymbol, dim

__all__ = [
    "CovarianceMatrixSymbol",
    "adopt_declared",
    "as_column",
    "canonical_max_min",
    "canonical_problem",
    "canonical_result",
    "canonical_scalars",
    "canonical_sizes",
    "declared_structure",
    "spd_covariance",
]


def _is_one_by_one(M: Any) -> bool:
    return isinstance(M, MatrixExpr) and M.shape == (1, 1)


def _scalar_of(M: MatrixExpr) -> sp.Expr:
    """The scalar a 1 × 1 matrix expression stands for (its trace; the entry of a literal)."""
    if isinstance(M, sp.MatrixBase):
        return M[0, 0]
    return sp.Trace(M)


def canonical_scalars(expr: Any) -> Any:
    """Scalars written through 1 × 1 matrices, as the engine's scalars (traces of 1 × 1).

    ``M[0, 0]`` of a 1 × 1 ``M``, ``MatPow(M, p)`` and ``hadamard_power(M, p)`` of a 1 × 1
    ``M`` become ``tr(M)`` and ``tr(M)**p``; anything else is left as it is.

    >>> import sympy as sp
    >>> from symcalc.expr.structure import vector, matrix_symbol
    >>> x, A = vector("x", "n"), matrix_symbol("A", "n", "n")
    >>> canonical_scalars((x.T * A * x)[0, 0])
    Trace(x.T*A*x)
    >>> canonical_scalars(sp.sqrt((x.T * x)[0, 0]))
    sqrt(Trace(x.T*x))
    >>> canonical_scalars(sp.Symbol("t") + 1)
    t + 1
    """
    if not isinstance(expr, sp.Basic):
        return expr

    expr = _sums_of_products(_conforming_products(_matrix_form_of_sums(expr)))

    def is_spelling(node: sp.Basic) -> bool:
        if isinstance(node, MatrixElement):
            return _is_one_by_one(node.parent) and node.i == 0 and node.j == 0
        if isinstance(node, (sp.MatPow, HadamardPower)):
            return _is_one_by_one(node.args[0])
        return False

    def rewrite(node: sp.Basic) -> sp.Basic:
        if isinstance(node, MatrixElement):
            return _scalar_of(node.parent)
        base, exponent = node.args
        return _scalar_of(base) ** exponent

    return expr.replace(is_spelling, rewrite)


def _chain(M: sp.MatMul) -> tuple[list, list, bool]:
    """(scalar factors, matrix factors, expanded?) of a product, a power of a non-square
    factor written out (SymPy merges ``x*x`` of a column x into ``x**2``)."""
    scalars = [a for a in M.args if not isinstance(a, MatrixExpr)]
    mats: list = []
    expanded = False
    for a in M.args:
        if not isinstance(a, MatrixExpr):
            continue
        base = a.args[0] if isinstance(a, sp.MatPow) else None
        if base is not None and not base.is_square and a.exp.is_Integer and a.exp > 1:
            mats += [base] * int(a.exp)
            expanded = True
        else:
            mats.append(a)
    return scalars, mats, expanded


def _segments(mats: list) -> list[list]:
    """The factors cut where two neighbours do not conform (columns ≠ next rows)."""
    segments: list[list] = []
    for m in mats:
        if segments and segments[-1][-1].cols == m.rows:
            segments[-1].append(m)
        else:
            segments.append([m])
    return segments


def _conforming_products(expr: sp.Basic) -> sp.Basic:
    """A scalar written as a 1 × 1 matrix inside a product, as the scalar it is.

    ``(vᵀx) * x`` in SymPy is the product ``vᵀ x x`` (even ``vᵀ x²``), whose factors do
    not conform; read each 1 × 1 stretch of it that stands next to a non-conforming
    factor as its trace: ``tr(vᵀx) x``. A product that cannot be read so is left alone.

    >>> from symcalc.expr.structure import vector, matrix_symbol
    >>> x, v, A = vector("x", "n"), vector("v", "n"), matrix_symbol("A", "n", "n")
    >>> _conforming_products((v.T * x) * x), _conforming_products(A * (x.T * v))
    (Trace(v.T*x)*x, Trace(x.T*v)*A)
    """

    def is_broken(node: sp.Basic) -> bool:
        if not isinstance(node, sp.MatMul):
            return False
        _, mats, expanded = _chain(node)
        return expanded or len(_segments(mats)) > 1

    def rewrite(node: sp.Basic) -> sp.Basic:
        scalars, mats, _ = _chain(node)
        segments = _segments(mats)
        shapes = [(seg[0].rows, seg[-1].cols) for seg in segments]
        matrices = [seg for seg, shape in zip(segments, shapes) if shape != (1, 1)]
        if len(matrices) > 1:
            return node
        traces = [sp.Trace(sp.MatMul(*seg)) for seg, sh in zip(segments, shapes) if sh == (1, 1)]
        if not matrices:  # every stretch 1 × 1: the product of their scalars, as 1 × 1
            return sp.Mul(*scalars, *traces[1:]) * sp.MatMul(*segments[0])
        return sp.Mul(*scalars, *traces) * sp.MatMul(*matrices[0]).doit(deep=False)

    return expr.replace(is_broken, rewrite)


def _hadamard_square(M: Any) -> Any:
    """U for U.^2 or U ∘ U, else None (only squares: a weighted sum 1ᵀ(y ∘ log p) keeps
    the form its Hessian is built from)."""
    if isinstance(M, HadamardPower) and M.exp == 2:
        return M.base
    if isinstance(M, sp.HadamardProduct) and len(M.args) == 2 and M.args[0] == M.args[1]:
        return M.args[0]
    return None


def _sums_of_products(expr: sp.Basic) -> sp.Basic:
    """The sum of the entries of a Hadamard square, as the inner product it is:
    ``sum(x.^2)`` is ``xᵀx`` and ``1ᵀ(U ∘ U)1`` is ``tr(UᵀU)``.

    >>> from symcalc.expr.structure import vector, matrix_symbol, sum_entries
    >>> x, U = vector("x", "n"), matrix_symbol("U", "m", "n")
    >>> _sums_of_products(sum_entries(sp.HadamardPower(x, 2)))
    Trace(x.T*x)
    >>> _sums_of_products(sum_entries(sp.HadamardProduct(U, U)))
    Trace(U.T*U)
    """

    def inner(node: sp.Basic) -> Any:
        if not (isinstance(node, sp.Trace) and isinstance(node.arg, sp.MatMul)):
            return None
        mats = [a for a in node.arg.args if isinstance(a, MatrixExpr)]
        coef = sp.Mul(*[a for a in node.arg.args if not isinstance(a, MatrixExpr)])
        ones = [isinstance(M, sp.OneMatrix) for M in mats]
        vector = len(mats) == 2 and ones == [True, False] and mats[1].cols == 1
        if not (vector or (len(mats) == 3 and ones == [True, False, True])):
            return None
        U = _hadamard_square(mats[1])
        if U is None:
            return None
        return coef * sp.Trace(sp.MatMul(sp.Transpose(U).doit(), U).doit(deep=False))

    return expr.replace(lambda e: inner(e) is not None, inner)


def _hadamard_entries(function: sp.Basic) -> sp.Basic:
    """A product of entries with the same index pair, ``A[i, j] B[i, j]`` (or ``B[j, i]``),
    as one entry of the Hadamard product ``(A ∘ B)[i, j]`` (``(A ∘ Bᵀ)[i, j]``).

    >>> A, B = sp.MatrixSymbol("A", 3, 3), sp.MatrixSymbol("B", 3, 3)
    >>> i, j = sp.symbols("i j", integer=True)
    >>> _hadamard_entries(A[i, j] * B[j, i] * 2)
    2*(HadamardProduct(A, B.T))[i, j]
    """
    if not isinstance(function, sp.Mul):
        return function
    groups: dict = {}
    rest = []
    for a in function.args:
        if isinstance(a, MatrixElement):
            key = (a.i, a.j)
            if key not in groups and (a.j, a.i) in groups:
                groups[(a.j, a.i)].append(sp.Transpose(a.parent).doit())
                continue
            groups.setdefault(key, []).append(a.parent)
        else:
            rest.append(a)
    entries = [
        MatrixElement(sp.HadamardProduct(*ps) if len(ps) > 1 else ps[0], i, j)
        for (i, j), ps in groups.items()
    ]
    return sp.Mul(*rest, *entries)


def _matrix_form_of_sums(expr: sp.Basic) -> sp.Basic:
    """Index sums over matrix entries (what SymPy makes of ``(x.T*A*x)[0, 0]`` at a
    symbolic size) back in matrix form, where SymPy can read them."""

    def is_entry_sum(node: sp.Basic) -> bool:
        return isinstance(node, sp.Sum) and node.function.has(MatrixElement)

    def squares_as_products(f: sp.Basic) -> sp.Basic:  # SymPy reads x_i*x_i, not x_i**2
        return f.replace(
            lambda e: e.is_Pow and isinstance(e.base, MatrixElement) and e.exp == 2,
            lambda e: sp.Mul(e.base, e.base, evaluate=False),
        )

    def matrix_form(function: sp.Basic, limits) -> Any:
        try:
            return MatrixExpr.from_index_summation(sp.Sum(function, *limits))
        except Exception:  # SymPy raises several kinds when it cannot
            return None

    def scalar(form: Any) -> Any:
        if isinstance(form, MatrixElement) and _is_one_by_one(form.parent):
            return _scalar_of(form.parent)
        return _scalar_of(form) if _is_one_by_one(form) else None

    def rewrite(node: sp.Basic) -> sp.Basic:
        function = squares_as_products(node.function)
        # A[i, j] B[i, j]: SymPy reads no Hadamard product (and may misread one), so the
        # entries of one index pair are first made one entry of a Hadamard product
        for candidate in dict.fromkeys([_hadamard_entries(function), function]):
            out = scalar(matrix_form(candidate, node.limits))
            if out is not None:
                return out
        return node

    return expr.replace(is_entry_sum, rewrite)


def canonical_max_min(expr: Any) -> Any:
    """Scalar ``Max`` / ``Min`` of matrix-valued scalars (a trace inside) through relu.

    The registry maps ``Max(0, t)`` onto ``relu(t)`` for plain scalars only; a ``t`` such as
    ``tr(wᵀx) + b`` holds matrix objects. Each such argument stands in for a real dummy while
    the registry rewrites, and is put back afterwards.

    >>> import sympy as sp
    >>> from symcalc.expr.structure import vector
    >>> w, x = vector("w", "n"), vector("x", "n")
    >>> canonical_max_min(sp.Max(0, sp.Trace(w.T * x) + 1))
    relu(Trace(w.T*x) + 1)
    """
    from symcalc.expr.registry import canonical

    if not isinstance(expr, sp.Basic) or not expr.has(sp.Max, sp.Min):
        return expr

    def is_matrix_max_min(node: sp.Basic) -> bool:
        return (
            isinstance(node, (sp.Max, sp.Min))
            and not getattr(node, "is_Matrix", False)
            and node.has(MatrixExpr)
        )

    def rewrite(node: sp.Basic) -> sp.Basic:
        standins = {a: sp.Dummy(real=True) for a in node.args if a.has(MatrixExpr)}
        plain = node.func(*[standins.get(a, a) for a in node.args])
        back = {d: a for a, d in standins.items()}
        return canonical(plain).xreplace(back)

    return expr.replace(is_matrix_max_min, rewrite)


def canonical_result(expr: Any) -> Any:
    """A derivative as a person writes it: ``sign(u) u / |u|`` is 1, ``sign(u) / |u|`` is
    ``1/u`` and ``sign(u) |u|`` is ``u`` (u ≠ 0 wherever the expression is defined: the
    gradient of log|det X| is X⁻ᵀ, not sign(det X) det X/|det X| X⁻ᵀ; of log|t| it is 1/t).
    SymPy's ``sign`` / ``Abs`` and the registry's ``sign`` / ``abs`` alike.

    >>> import sympy as sp
    >>> X = sp.MatrixSymbol("X", 3, 3)
    >>> d = sp.det(X)
    >>> canonical_result(sp.sign(d) * d / sp.Abs(d) * X.T.I)
    X.T**(-1)
    >>> t = sp.Symbol("t")
    >>> canonical_result(3 * sp.sign(t) / sp.Abs(t)), canonical_result(sp.sign(t) * sp.Abs(t))
    (3/t, t)
    """
    if not isinstance(expr, sp.Basic) or not expr.has(*_SIGNS):
        return expr

    def is_sign_ratio(node: sp.Basic) -> bool:
        return isinstance(node, sp.Mul) and _sign_ratio(node) is not None

    def rewrite(node: sp.Basic) -> sp.Basic:
        found = _sign_ratio(node)
        if found is None:
            return node
        s, absolute, u = found
        rest = list(node.args)
        rest.remove(s)
        rest.remove(absolute)
        if absolute.is_Pow and u in rest:  # sign(u) u / |u| = 1
            rest.remove(u)
            return sp.Mul(*rest)
        return sp.Mul(*rest) * (1 / u if absolute.is_Pow else u)

    out = expr
    for _ in range(4):  # one ratio per pass: a product of two is rare, four is plenty
        new = out.replace(is_sign_ratio, rewrite)
        if new == out:
            break
        out = new
    return out.replace(  # the 1 * M left where the ratio was the whole coefficient
        lambda e: isinstance(e, sp.MatMul) and e.args[0] == 1,
        lambda e: sp.MatMul(*e.args[1:]) if len(e.args) > 2 else e.args[1],
    )


def _sign_classes() -> tuple[tuple, tuple]:
    from symcalc.expr.families.piecewise import abs as registry_abs
    from symcalc.expr.families.piecewise import sign as registry_sign

    return (sp.sign, registry_sign), (sp.Abs, registry_abs)


_SIGNS, _ABSOLUTES = _sign_classes()


def _sign_ratio(product: sp.Mul) -> tuple | None:
    """(the sign(u) factor, the |u| or 1/|u| factor, u) of a product, or None."""
    for s in product.args:
        if not isinstance(s, _SIGNS):
            continue
        u = s.args[0]
        for a in product.args:
            base = a.base if a.is_Pow and a.exp == -1 else a
            if isinstance(base, _ABSOLUTES) and base.args[0] == u:
                return s, a, u
    return None


def as_column(F: Any) -> Any:
    """A row vector's Jacobian is its column's: ``xᵀ`` (1 × n) is read as ``x``.

    >>> import sympy as sp
    >>> from symcalc.expr.structure import vector
    >>> x = vector("x", "n")
    >>> as_column(sp.HadamardPower(x.T, 2))
    HadamardPower(x, 2)
    >>> as_column(x.T * x)
    x.T*x
    """
    if isinstance(F, MatrixExpr) and F.shape[0] == 1 and F.shape[1] != 1:
        return sp.Transpose(F).doit()
    if isinstance(F, sp.MatrixBase) and F.rows == 1 and F.cols != 1:
        return F.T
    return F


def _size_symbols(expr: sp.Basic) -> set[sp.Symbol]:
    """The Symbols that appear in the shape of a matrix in ``expr``."""
    sizes: set[sp.Symbol] = set()
    for node in sp.preorder_traversal(expr):
        if isinstance(node, MatrixExpr):
            for d in node.shape:
                if isinstance(d, sp.Expr):
                    sizes |= {s for s in d.free_symbols if isinstance(s, sp.Symbol)}
    return sizes


def canonical_sizes(*exprs: Any) -> tuple[Any, ...]:
    """The same expressions with every size named ``n`` one symbol: a positive integer.

    symcalc's constructors make sizes ``Symbol("n", integer=True, positive=True)``; a user's
    ``MatrixSymbol("S", sp.Symbol("n"), ...)`` carries a plain ``n``, which SymPy treats as a
    different symbol (the shapes then "differ" although both print ``(n, n)``).

    >>> import sympy as sp
    >>> from symcalc.expr.structure import vector
    >>> S = sp.MatrixSymbol("S", sp.Symbol("n"), sp.Symbol("n"))
    >>> x, S2 = canonical_sizes(vector("x", "n"), S)
    >>> S2.shape == (x.rows, x.rows), S2.rows.is_integer
    (True, True)
    """
    found: set[sp.Symbol] = set()
    for e in exprs:
        if isinstance(e, sp.Basic):
            found |= _size_symbols(e)
    mapping = {s: dim(s.name) for s in found if not (s.is_integer and s.is_positive)}
    mapping = {s: t for s, t in mapping.items() if s != t}
    if not mapping:
        return exprs
    return tuple(e.xreplace(mapping) if isinstance(e, sp.Basic) else e for e in exprs)


class CovarianceMatrixSymbol(PositiveDefiniteMatrixSymbol):
    """A plain MatrixSymbol passed as a covariance: positive definite by definition, and
    remembered as an assumption symcalc made (the Derivation and the report say so)."""

    declared_role = "covariance"


def spd_covariance(Sigma: Any, role: str = "covariance") -> Any:
    """A covariance as the symmetric positive definite matrix it is by definition.

    A plain ``MatrixSymbol`` becomes a :class:`PositiveDefiniteMatrixSymbol` of the same
    name and shape; a structured symbol or any other expression is returned unchanged.

    >>> import sympy as sp
    >>> S = spd_covariance(sp.MatrixSymbol("Sigma", 3, 3))
    >>> type(S).__name__, S.T == S, S.structure
    ('CovarianceMatrixSymbol', True, 'positive_definite')
    """
    if isinstance(Sigma, MatrixSymbol) and not isinstance(Sigma, StructuredMatrixSymbol):
        return CovarianceMatrixSymbol(Sigma.name, *Sigma.shape)
    return Sigma


_STRUCTURE_WORDS = {
    "general": "a general matrix",
    "symmetric": "symmetric",
    "positive_definite": "symmetric positive definite",
    "diagonal": "diagonal",
}


def declared_structure(expr: Any) -> list[str]:
    """Sentences naming the structure symcalc assumed for the matrices in ``expr``.

    >>> import sympy as sp
    >>> from symcalc.expr.densities import gaussian_logpdf
    >>> from symcalc.expr.structure import vector
    >>> lp = gaussian_logpdf(vector("x", 2), vector("mu", 2), sp.MatrixSymbol("Sigma", 2, 2))
    >>> declared_structure(lp)
    ['Sigma is symmetric positive definite (a covariance)']
    """
    if not isinstance(expr, sp.Basic):
        return []
    sentences = []
    for s in sorted(expr.atoms(StructuredMatrixSymbol), key=lambda s: s.name):
        role = getattr(s, "declared_role", None)
        if role:
            sentences.append(f"{s.name} is {_STRUCTURE_WORDS[s.structure]} (a {role})")
    return sentences


def adopt_declared(expr: Any, wrt: Any) -> Any:
    """``wrt`` as it appears in ``expr``: the structured symbol of the same name and shape.

    After :func:`spd_covariance` the objective holds a positive definite ``Sigma``; a user
    who differentiates with respect to their own plain ``MatrixSymbol("Sigma", n, n)``
    means that one.

    >>> import sympy as sp
    >>> from symcalc.expr.densities import gaussian_logpdf
    >>> from symcalc.expr.structure import vector
    >>> S = sp.MatrixSymbol("Sigma", 2, 2)
    >>> lp = gaussian_logpdf(vector("x", 2), vector("mu", 2), S)
    >>> type(adopt_declared(lp, S)).__name__
    'CovarianceMatrixSymbol'
    """
    if isinstance(wrt, (list, tuple)):
        return type(wrt)(adopt_declared(expr, w) for w in wrt)
    if not isinstance(expr, sp.Basic) or not isinstance(wrt, MatrixSymbol):
        return wrt
    if isinstance(wrt, StructuredMatrixSymbol):
        return wrt
    for s in expr.atoms(StructuredMatrixSymbol):
        if s.name == wrt.name and s.shape == wrt.shape:
            return s
    return wrt


def canonical_problem(expr: Any, wrt: Any) -> tuple[Any, Any]:
    """(expr, wrt) in the engine's canonical spelling: one size symbol per name, scalars
    of 1 × 1 matrices as traces, ``wrt`` the declared symbol of its name.

    >>> import sympy as sp
    >>> n = sp.Symbol("n")
    >>> x, A = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("A", n, n)
    >>> f, w = canonical_problem((x.T * A * x)[0, 0], x)
    >>> f, w.rows.is_integer
    (Trace(x.T*A*x), True)
    """
    if isinstance(wrt, (list, tuple)):
        expr, *ws = canonical_sizes(expr, *wrt)
        wrt = type(wrt)(ws)
    else:
        expr, wrt = canonical_sizes(expr, wrt)
    expr = as_elementwise(canonical_max_min(canonical_scalars(expr)))  # M.applyfunc(f) too
    return expr, adopt_declared(expr, wrt)
