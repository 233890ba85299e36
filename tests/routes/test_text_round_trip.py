"""``symcalc.parse(symcalc.text(e))`` is ``e`` for every result of a corpus (issue 13).

The comparison is structural, up to the order of the arguments of commutative matrix
operations (SymPy sorts a parsed ``a .* b`` and ``x - a``; the engine keeps the order it
built): both sides are normalized by ``doit()`` and by sorting Hadamard factors. A wrong
reading (``x.^-1/2`` read as (x.^-1)/2, ``ones(n)`` read as the scalar 1) fails.
"""

from __future__ import annotations

import pytest
import sympy as sp
from sympy.matrices.expressions.hadamard import HadamardProduct

import symcalc as sc
from symcalc.expr.structure import dim

m, n = dim("m"), dim("n")
X = sc.matrix_symbol("X", "m", "n")
A = sc.matrix_symbol("A", "n", "n")
S = sc.matrix_symbol("S", "n", "n")
w, x, a, b = (sc.vector(s, "n") for s in "w x a b".split())
y = sc.vector("y", "m")
t, u = sp.symbols("t u", real=True)
E = sc.elementwise


def _sq(M):
    return sc.sum_entries(sc.hadamard_power(M, 2))


CORPUS = {
    "logistic gradient": lambda: sc.gradient(sc.logistic_loss(X, w, y), w),
    "logistic Hessian": lambda: sc.hessian(sc.logistic_loss(X, w, y), w),
    "least squares gradient": lambda: sc.gradient(_sq(X * w - y), w),
    "least squares Hessian": lambda: sc.hessian(_sq(X * w - y), w),
    "norm1 gradient (Abs)": lambda: sc.gradient(sc.sum_entries(E(sp.Abs, X * w - y)), w),
    "quadratic form": lambda: sc.gradient(x.T * A * x, x),
    "quadratic Hessian": lambda: sc.hessian(x.T * A * x, x),
    "ones row times x": lambda: sc.ones(x.rows).T * x,
    "ones outer": lambda: sc.ones(y.rows) * x.T,
    "twice ones": lambda: 2 * sc.ones(x.rows),
    "sum of exp": lambda: sc.gradient(sc.sum_entries(E(sp.exp, x)), x),
    "softplus": lambda: sc.gradient(sc.sum_entries(E(sc.softplus, X * w)), w),
    "tanh gradient": lambda: sc.gradient(sc.sum_entries(E(sp.tanh, X * w)), w),
    "tanh Hessian": lambda: sc.hessian(sc.sum_entries(E(sp.tanh, X * w)), w),
    "relu": lambda: sc.gradient(sc.sum_entries(E(sc.relu, X * w)), w),
    "leaky relu slope 1/5": lambda: sc.gradient(
        sc.sum_entries(E(sp.Lambda(t, sc.leaky_relu(t, sp.Rational(1, 5))), X * w)), w
    ),
    "cube Jacobian": lambda: sc.jacobian(sc.hadamard_power(x, 3), x),
    "square root of entries": lambda: sc.gradient(
        sc.sum_entries(sc.hadamard_power(E(sp.exp, x), sp.Rational(1, 2))), x
    ),
    "negative power": lambda: sc.hadamard_power(x, -2),
    "log det": lambda: sc.gradient(sp.log(sp.det(S)), S),
    "trace": lambda: sc.gradient(sp.Trace(A * S), S),
    "Gaussian, plain covariance": lambda: sc.gradient(
        sc.gaussian_logpdf(x, a, sp.MatrixSymbol("S", n, n)), x
    ),
    "scalar Abs and Max": lambda: sc.gradient(sp.Abs(t) + sp.Max(0, u), [t, u]),
    "relu of a scalar": lambda: sc.derive(sp.Max(0, t) * u, [t, u]).gradient,
    "log sigmoid Hessian": lambda: sc.hessian(sp.log(sc.sigmoid(t * u)), [t, u]),
    "Rayleigh quotient": lambda: sc.gradient((x.T * A * x)[0, 0] / (x.T * x)[0, 0], x),
    "sigmoid Jacobian": lambda: sc.jacobian(E(sc.sigmoid, A * x), x),
    "elementwise product": lambda: sc.gradient(sc.sum_entries(sp.hadamard_product(a, x)), x),
    "applyfunc (SymPy's spelling)": lambda: sc.gradient(
        sc.sum_entries((X * w).applyfunc(sp.tanh)), w
    ),
}


def _normal(e):
    """doit(), then the factors of every Hadamard product in SymPy's sort order."""
    if not isinstance(e, sp.Basic):
        return e

    def sort_hadamard(z):
        return z.replace(
            lambda h: isinstance(h, HadamardProduct),
            lambda h: HadamardProduct(*sorted(h.args, key=sp.default_sort_key)),
        )

    return sort_hadamard(sort_hadamard(e).doit())


def _names(e) -> dict:
    """The result's own symbols and matrices, by name (what a reader declares)."""
    atoms = e.atoms(sp.Symbol, sp.MatrixSymbol) if isinstance(e, sp.Basic) else set()
    return {s.name: s for s in atoms}


@pytest.mark.parametrize("name", list(CORPUS))
def test_text_reads_back_as_the_result(name):
    from symcalc.expr.registry import canonical

    e = CORPUS[name]()
    e = sp.ImmutableMatrix(e) if isinstance(e, sp.MatrixBase) else e
    shown = sc.text(e)
    back = sc.parse(shown, symbols=_names(e))
    back = sp.ImmutableMatrix(back) if isinstance(back, sp.MatrixBase) else back
    assert _normal(back) == _normal(canonical(e)), f"{shown!r} reads back as {back!r}"


def test_ones_are_printed_with_their_size():
    assert sc.text(sc.ones(x.rows).T * x) == "ones(1, n)*x"
    assert sc.text(sc.ones(y.rows)) == "ones(m)"
    assert sc.parse("ones(n)", symbols={"x": x}) == sp.OneMatrix(n, 1)
    assert sc.parse("ones(1, n)*x", symbols={"x": x}) != x  # the old silent misreading


def test_a_scalar_next_to_a_matrix_stays_a_scalar():
    z = sc.vector("z", "m")
    assert sc.text(sc.ones(z.rows) - z) == "1 - z"
    assert sc.parse("1 - z", symbols={"z": z}) == sc.ones(z.rows) - z


def test_elementwise_power_reads_in_both_syntaxes_of_the_exponent():
    assert sc.parse("x.^2", symbols={"x": x}) == sp.HadamardPower(x, 2)
    assert sc.parse("x.^(-1/2)", symbols={"x": x}) == sp.HadamardPower(x, sp.Rational(-1, 2))
    assert sc.parse("t.^3", symbols={"t": t}) == t**3
    assert sc.parse("[1, 2].^2") == sp.Matrix([1, 4])
    assert sc.text(sp.HadamardPower(x, sp.Rational(-1, 2))) == "x.^(-1/2)"


@pytest.mark.parametrize(
    "text, message",
    [
        ("x.^x", r"exponent of \.\^"),
        ("ones(x)", "size"),
        ("ones", "needs its size"),
        ("x.y", "'.'"),
    ],
)
def test_bad_spellings_are_refused_with_a_reason(text, message):
    with pytest.raises(sc.ParseError, match=message):
        sc.parse(text, symbols={"x": x})


def test_str_of_a_result_is_symcalc_notation():
    g = sc.gradient(sc.sum_entries(E(sc.softplus, A * w)), w)
    assert str(g) == "A.T*sigmoid(A*w)"
    assert "Lambda" not in str(sc.hessian(sc.logistic_loss(X, w, y), w))
    assert str(sc.elementwise(sp.Lambda(t, sc.leaky_relu(t, 2)), x)) == "leaky_relu(x, 2)"
