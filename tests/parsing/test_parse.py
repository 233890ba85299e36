"""The math-syntax and LaTeX readers: what they accept, what they mean, where they object."""

from __future__ import annotations

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symcalc.errors import ParseError
from symcalc.expr.functions import sigmoid, softplus
from symcalc.expr.registry import canonical
from symcalc.expr.structure import matrix_symbol, positive_definite, symmetric, vector
from symcalc.parsing.parser import looks_like_latex, parse, parse_any, parse_latex

x, y, w, z = sp.symbols("x y w z")
n = sp.Symbol("n", integer=True, positive=True)
A = sp.MatrixSymbol("A", n, n)
xv, bv, mu = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("b", n, 1), sp.MatrixSymbol("mu", n, 1)
Sigma = sp.MatrixSymbol("Sigma", n, n)
MAT = {"A": A, "x": xv, "b": bv, "mu": mu, "Sigma": Sigma, "n": n}
SC = {"x": x, "y": y, "w": w}


def same(a, b) -> bool:
    """Equal up to the registry's canonical form (a user's sp.Abs(t) is symcalc's abs(t))."""
    a, b = canonical(a), canonical(b)
    if isinstance(a, sp.MatrixBase) or isinstance(b, sp.MatrixBase):
        return sp.ImmutableMatrix(a) == sp.ImmutableMatrix(b) or sp.simplify(
            sp.ImmutableMatrix(a) - sp.ImmutableMatrix(b)
        ) == sp.zeros(*a.shape)
    if isinstance(a, sp.MatrixExpr):
        return sp.expand(a - b).doit() == sp.ZeroMatrix(*a.shape) or a == b
    return sp.simplify(a - b) == 0


# --------------------------------------------------------------------------------------
# Math syntax
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected",
    [
        ("2*x*cos(x**2)", 2 * x * sp.cos(x**2)),
        ("2x cos(x^2)", 2 * x * sp.cos(x**2)),
        ("2 x y", 2 * x * y),
        ("xy", x * y),  # declared x and y: a product
        ("y(w+1)", y * (w + 1)),  # y declared: a product, not a call
        ("(x+1)(x-1)", (x + 1) * (x - 1)),
        ("-x^2", -(x**2)),
        ("2^-1", sp.Rational(1, 2)),
        ("x^-1", 1 / x),
        ("x^2^3", x**8),  # right-associative
        ("1/2 x", x / 2),  # juxtaposition binds like *
        ("1.5x", sp.Rational(3, 2) * x),  # decimals are exact
        ("e^x", sp.exp(x)),
        ("2e^x", 2 * sp.exp(x)),
        ("2e-x", 2 * sp.E - x),
        ("e", sp.E),
        ("pi x", sp.pi * x),
        ("exp(-x)/(1+exp(-x))^2", sp.exp(-x) / (1 + sp.exp(-x)) ** 2),
        ("ln x + log(x, 2)", sp.log(x) + sp.log(x, 2)),
        ("sin^2 x + cos x^2", sp.sin(x) ** 2 + sp.cos(x**2)),
        ("sin 2x", sp.sin(2 * x)),
        ("sigmoid(x) + sigma(y) + softplus(w)", sigmoid(x) + sigmoid(y) + softplus(w)),
        ("|x - y|", sp.Abs(x - y)),
        ("abs(x) sqrt(y)", sp.Abs(x) * sp.sqrt(y)),
        ("tanh(x)^2", sp.tanh(x) ** 2),
        ("grad f = 2x", 2 * x),  # the claim is what follows '='
        ("x−y·w", x - y * w),  # unicode minus and dot
    ],
)
def test_math_syntax_scalars(text, expected):
    assert same(parse(text, SC), expected)


def test_sigma_is_a_symbol_when_declared():
    s = sp.Symbol("sigma", positive=True)
    assert parse("sigma(x + 1)", {"sigma": s, "x": x}) == s * (x + 1)
    assert parse("sigma(x + 1)", {"x": x}) == sigmoid(x + 1)


def test_e_is_a_symbol_when_declared():
    e = sp.Symbol("e")
    assert parse("e x", {"e": e, "x": x}) == e * x


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2*A.T*(A*x - b)", 2 * A.T * (A * xv - bv)),
        ("2A^T(Ax - b)", 2 * A.T * (A * xv - bv)),
        ("2 A' (A x - b)", 2 * A.T * (A * xv - bv)),
        ("A^{-1} b", A.I * bv),
        ("A^(-1) b", A.I * bv),
        ("inv(A) b", A.I * bv),
        ("A^{-T}", A.I.T),
        ("A @ x", A * xv),
        ("x^T A x", xv.T * A * xv),
        ("x' A x", xv.T * A * xv),
        ("-Sigma^{-1}(x - mu)", -Sigma.I * (xv - mu)),
        ("det(A) tr(A)", sp.Determinant(A) * sp.Trace(A)),
        ("log(det(Sigma))", sp.log(sp.Determinant(Sigma))),
        ("A^2", A**2),
        ("kron(A, Sigma)", sp.kronecker_product(A, Sigma)),
        ("x .* b", sp.hadamard_product(xv, bv)),
        ("I_n + A", sp.Identity(n) + A),
    ],
)
def test_math_syntax_matrices(text, expected):
    got = parse(text, MAT)
    assert getattr(got, "shape", None) == getattr(expected, "shape", None)
    assert same(got, expected), got


def test_one_by_one_matrices_act_as_scalars():
    got = (
        parse("(x^T x) x + x^T b", {"x": xv, "b": xv, "n": n}) if False else parse("(x^T x) b", MAT)
    )
    assert got.shape == (n, 1)
    assert isinstance(parse("x^T A x + 1", MAT), sp.Expr)  # Trace(...) + 1
    assert parse("log(x^T x)", MAT) == sp.log(sp.Trace(xv.T * xv))


def test_elementwise_functions_of_matrices():
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

    got = parse("sigmoid(A x)", MAT)
    assert isinstance(got, ElementwiseApplyFunction) and got.shape == (n, 1)
    # evaluated at a concrete size it is sigmoid of each entry
    A2, x2 = sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("x", 2, 1)
    vals = {A2: sp.ImmutableMatrix([[1, 2], [3, 4]]), x2: sp.ImmutableMatrix([1, -1])}
    explicit = got.xreplace({n: 2}).xreplace(vals).doit()
    assert explicit == sp.ImmutableMatrix([sigmoid(-1), sigmoid(-1)])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[[x, y], [y, x]]", sp.ImmutableMatrix([[x, y], [y, x]])),
        ("[2x y, x^2]", sp.ImmutableMatrix([[2 * x * y], [x**2]])),  # a column
        ("[[2x y, x^2]]", sp.ImmutableMatrix([[2 * x * y, x**2]])),  # a row
        ("[x, y; y, x]", sp.ImmutableMatrix([[x, y], [y, x]])),  # MATLAB rows
        ("[x, y]^T", sp.ImmutableMatrix([[x, y]])),
        ("sin([x, y])", sp.ImmutableMatrix([sp.sin(x), sp.sin(y)])),
        ("det([[x, 1], [1, y]])", x * y - 1),
    ],
)
def test_matrix_literals(text, expected):
    assert same(parse(text, SC), expected)


def test_undeclared_names_without_a_table():
    got = parse("a x + b")
    assert {s.name for s in got.free_symbols} == {"a", "x", "b"}


# --------------------------------------------------------------------------------------
# LaTeX
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected",
    [
        (r"2x\cos(x^2)", 2 * x * sp.cos(x**2)),
        (r"\frac{e^{-x}}{(1+e^{-x})^2}", sp.exp(-x) / (1 + sp.exp(-x)) ** 2),
        (r"\frac12 x", x / 2),
        (r"\dfrac{1}{x}", 1 / x),
        (r"\sigma(x)\left(1-\sigma(x)\right)", sigmoid(x) * (1 - sigmoid(x))),
        (r"\operatorname{softplus}(x)", softplus(x)),
        (r"\sqrt{x^2+1}", sp.sqrt(x**2 + 1)),
        (r"\sqrt[3]{x}", x ** sp.Rational(1, 3)),
        (r"\ln x + \log(y)", sp.log(x) + sp.log(y)),
        (r"\exp\left(-\frac{x^2}{2}\right)", sp.exp(-(x**2) / 2)),
        (r"x \cdot y \times w", x * y * w),
        (r"x\,y", x * y),
        (r"x^23", 3 * x**2),  # TeX: one character after ^
        (r"x^{23}", x**23),
        (r"\sin^2 x", sp.sin(x) ** 2),
        (r"\tanh^2(x)", sp.tanh(x) ** 2),
        (r"\left[x+1\right]^2", (x + 1) ** 2),
        (r"\left|x\right|", sp.Abs(x)),
        (r"|x|", sp.Abs(x)),
        (r"\mathrm{e}^{x}", sp.exp(x)),
        (r"\pi", sp.pi),
        (r"\frac{\partial f}{\partial x} = 2x", 2 * x),
        (r"y(w+1)", y * (w + 1)),
    ],
)
def test_latex_scalars(text, expected):
    assert same(parse_latex(text, SC), expected)


def test_latex_greek_and_subscripts():
    mu_, s1 = sp.symbols("mu x_1")
    assert parse_latex(r"\mu + x_1", {"mu": mu_, "x_1": s1}) == mu_ + s1
    assert parse_latex(r"x_{1}", {"x1": s1}) == s1  # x_1 binds to a declared x1
    assert parse_latex(r"\sigma^2", {"sigma": sp.Symbol("sigma")}) == sp.Symbol("sigma") ** 2


@pytest.mark.parametrize(
    "text, expected",
    [
        (r"-\Sigma^{-1}(x-\mu)", -Sigma.I * (xv - mu)),
        (r"2A^\top(Ax-b)", 2 * A.T * (A * xv - bv)),
        (r"2A^T(Ax-b)", 2 * A.T * (A * xv - bv)),
        (r"2A^{\top}(Ax-b)", 2 * A.T * (A * xv - bv)),
        (r"2\mathbf{A}^\intercal(\mathbf{A}\mathbf{x}-\mathbf{b})", 2 * A.T * (A * xv - bv)),
        (r"\boldsymbol{\Sigma}^{-1}\boldsymbol{\mu}", Sigma.I * mu),
        (r"x^\top A x", xv.T * A * xv),
        (r"\log\det\Sigma", sp.log(sp.Determinant(Sigma))),
        (r"\operatorname{tr}(A\Sigma)", sp.Trace(A * Sigma)),
        (r"A \otimes \Sigma", sp.kronecker_product(A, Sigma)),
        (r"x \odot b", sp.hadamard_product(xv, bv)),
        (r"A^{-\top}", A.I.T),
    ],
)
def test_latex_matrices(text, expected):
    got = parse_latex(text, MAT)
    assert same(got, expected), got


@pytest.mark.parametrize(
    "text, expected",
    [
        (r"\begin{pmatrix} 2xy \\ x^2 \end{pmatrix}", [[2 * x * y], [x**2]]),
        (r"\begin{bmatrix} 2y & 2x \\ 2x & 0 \end{bmatrix}", [[2 * y, 2 * x], [2 * x, 0]]),
        (r"\begin{pmatrix} x & y \end{pmatrix}", [[x, y]]),
        (r"\begin{pmatrix} x \\ y \\ \end{pmatrix}", [[x], [y]]),  # trailing \\
        (r"\begin{vmatrix} x & 1 \\ 1 & y \end{vmatrix}", x * y - 1),  # a determinant
    ],
)
def test_latex_matrix_environments(text, expected):
    got = parse_latex(text, SC)
    exp = sp.ImmutableMatrix(expected) if isinstance(expected, list) else expected
    assert same(got, exp)


def test_auto_detection():
    assert looks_like_latex(r"\frac{1}{x}") and not looks_like_latex("1/x")
    assert parse_any(r"\frac{1}{x}", SC) == 1 / x
    assert parse_any("1/x", SC, syntax="math") == 1 / x
    assert parse_any("A^{-1}", MAT) == A.I  # braces alone read as LaTeX, too


# --------------------------------------------------------------------------------------
# A property: SymPy's own printers read back to the same expression
# --------------------------------------------------------------------------------------
_atoms = st.sampled_from([x, y, w, sp.Integer(2), sp.Integer(3), sp.Rational(1, 2)])
_unary = [
    sp.sin,
    sp.cos,
    sp.exp,
    sp.tanh,
    lambda a: sp.sqrt(1 + a**2),
    lambda a: sp.log(1 + a**2),
    sigmoid,
]


def _exprs():
    return st.recursive(
        _atoms,
        lambda kids: st.one_of(
            st.tuples(kids, kids).map(lambda p: p[0] + p[1]),
            st.tuples(kids, kids).map(lambda p: p[0] * p[1]),
            st.tuples(kids, kids).map(lambda p: p[0] - 2 * p[1]),
            st.tuples(kids, st.integers(1, 3)).map(lambda p: p[0] ** p[1]),
            st.tuples(kids, kids).map(lambda p: p[0] / (1 + p[1] ** 2)),
            st.tuples(st.sampled_from(_unary), kids).map(lambda p: p[0](p[1])),
        ),
        max_leaves=8,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_exprs())
def test_str_round_trip(expr):
    got = parse(str(expr), SC)
    assert got == expr or sp.simplify(got - expr) == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_exprs())
def test_latex_round_trip(expr):
    text = sp.latex(expr)
    got = parse_latex(text, SC)
    assert sp.simplify(got - expr) == 0 or sp.expand(got - expr) == 0, text


# --------------------------------------------------------------------------------------
# Errors point at the position
# --------------------------------------------------------------------------------------
def _error(fn, text, symbols):
    with pytest.raises(ParseError) as info:
        fn(text, symbols)
    return info.value


@pytest.mark.parametrize(
    "fn, text, position, words",
    [
        (parse, "2*(x + 1", 2, "never closed"),
        (parse, "sin(x))", 6, "no matching"),
        (parse, "2x + z", 5, "unknown name 'z'"),
        (parse, "x +", 3, "ended too early"),
        (parse, "x $ y", 2, "unexpected character"),
        (parse, "x.real", 1, "attribute access"),
        (parse, "sin()", 4, "needs an argument"),
        (parse, "[[x, y], [x]]", 0, "different lengths"),
        (parse, "x = y = 2", 6, "only one '='"),
        (parse, "3 + 1e-3 x", 4, "scientific notation"),
        (parse_latex, r"2.5E+4", 0, "scientific notation"),
        (parse_latex, r"\frac{1}{2", 8, "never closed"),
        (parse_latex, r"2x + \foo{x}", 5, r"unknown LaTeX command \foo"),
        (parse_latex, r"\sum_i x_i", 0, r"\sum"),
        (parse_latex, r"x \\ y", 2, "outside a matrix"),
        (parse_latex, r"\begin{pmatrix} x & y", 0, "never closed"),
        (parse_latex, r"\begin{align} x \end{align}", 0, "not supported"),
        (parse_latex, r"2xz", 2, "unknown name 'z'"),
        (parse_latex, r"\left( x + y", 5, "never closed"),
    ],
)
def test_errors_point_at_the_position(fn, text, position, words):
    err = _error(fn, text, SC)
    assert words in str(err)
    assert err.position == position, str(err)
    caret_line = str(err).splitlines()[-1]
    assert caret_line.index("^") - 2 == position  # the caret sits under it


def test_shape_errors_name_the_sizes():
    m = sp.Symbol("m", integer=True, positive=True)
    R = sp.MatrixSymbol("R", m, n)
    err = _error(parse, "R R", {"R": R})
    assert "m x n" in str(err) and err.position == 2
    err = _error(parse, "x + A", MAT)
    assert "cannot add" in str(err)


def test_structured_symbols_keep_their_structure():
    S = symmetric("S", "n")
    P = positive_definite("P", "n")
    assert parse("S^T", {"S": S}) == S
    assert parse("P^{-1}", {"P": P}).T == P.I
    v = vector("v", "n")
    M = matrix_symbol("M", "n", "n")
    assert parse("v^T M v", {"v": v, "M": M}).shape == (1, 1)
