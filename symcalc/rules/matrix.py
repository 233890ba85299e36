"""Matrix differential rules, canonical-form rules and the identification theorems.

Three tables, all flat lists of :class:`symcalc.records.Rule` records:

* ``MATRIX_RULES``: ``apply(node, d)`` returns the differential of a matrix
  construct (or of a scalar made from matrices: trace, determinant, log det).
* ``CANONICAL_RULES``: ``apply(node, C, ctx)`` moves the differential to the right
  inside one trace. ``node`` contains the differential linearly and ``C`` is its
  cotangent, i.e. the term is tr(C^T node) (a scalar c times node when node is a
  scalar). The rule returns the list of (sub-expression, cotangent) pairs that
  the term equals, e.g. tr(C^T L M R) = tr((L^T C R^T)^T M) (cyclic trace).
* ``THEOREMS``: the identification theorems and the simplifications the engine
  reports as steps (no ``apply``: the engine performs them itself).

>>> import sympy as sp
>>> from symcalc.rules.matrix import MATRIX_RULES
>>> [r.name for r in MATRIX_RULES.lookup(sp.Inverse(sp.MatrixSymbol("X", 2, 2)))]
['inverse', 'matrix_power']
"""

from __future__ import annotations

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
    Trace,
    Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix

from symcalc.derivation.vecform import Unvec, Vec
from symcalc.expr.algebra import (  # re-exported: the rules' own vocabulary
    add,
    elementwise,
    elementwise_parts,
    hadamard,
    hadamard_power,
    is_zero,
    mul,
    transpose,
)
from symcalc.records import Rule
from symcalc.rules.kinds import BilinearKind, LinearKind, defbilinear, deflinear
from symcalc.rules.table import RuleTable

MATRIX_RULES = RuleTable("matrix", "differentials of matrix constructs")
CANONICAL_RULES = RuleTable("canonical", "moving dX to the right inside one trace")
THEOREMS = RuleTable("theorems", "identification theorems and simplifications")

D = r"\mathrm{d}"
CB = "Matrix Cookbook"
MN2 = "Magnus & Neudecker, ch. 2"


# --------------------------------------------------------------------------------------
# Linear rules
# --------------------------------------------------------------------------------------
def _trace_of(inner):
    return sp.S.Zero if is_zero(inner) else Trace(inner)


# Each linear construct is one definition: its differential and its canonical-form (adjoint)
# rule are registered together (symcalc.rules.kinds.deflinear).
deflinear(
    LinearKind(
        "matrix_sum",
        MatAdd,
        lambda node, dargs: add(*dargs.values()),
        lambda node, C, arg: C,
        "trace_linearity",
    ),
    (MATRIX_RULES, "Sum rule", rf"{D}(X + Y) = {D}X + {D}Y", f"{CB} (35)"),
    (
        CANONICAL_RULES,
        "Linearity of the trace",
        r"\operatorname{tr}(C^\top(X+Y)) = \operatorname{tr}(C^\top X)"
        r" + \operatorname{tr}(C^\top Y)",
        f"{CB} (15)",
    ),
)
deflinear(
    LinearKind(
        "transpose",
        Transpose,
        lambda node, dargs: transpose(dargs[node.arg]),
        lambda node, C, arg: transpose(C),
        "trace_transpose",
    ),
    (MATRIX_RULES, "Transpose", rf"{D}(X^\top) = ({D}X)^\top", f"{CB} (44)"),
    (
        CANONICAL_RULES,
        "Trace of a transpose",
        r"\operatorname{tr}(C^\top \mathrm{d}X^\top) = "
        r"\operatorname{tr}(C\,\mathrm{d}X) = \operatorname{tr}((C^\top)^\top"
        r"\mathrm{d}X)",
        f"{CB} (13)",
    ),
)
deflinear(
    LinearKind(
        "trace",
        Trace,
        lambda node, dargs: _trace_of(dargs[node.arg]),
        lambda node, c, arg: mul(c, Identity(arg.rows)),
        "scalar_as_trace",
    ),
    (
        MATRIX_RULES,
        "Linearity of the trace",
        rf"{D}\operatorname{{tr}}X = \operatorname{{tr}}({D}X)",
        f"{CB} (36)",
    ),
    (
        CANONICAL_RULES,
        "A scalar is its own trace",
        r"c\,\operatorname{tr}(M) = \operatorname{tr}((c I)^\top M)",
        "",
    ),
)
deflinear(
    LinearKind(
        "diag_matrix",
        DiagMatrix,
        lambda node, dargs: DiagMatrix(dargs[node.args[0]]),
        None,  # tr(C^T diag(dv)): not needed for first and second derivatives
    ),
    (
        MATRIX_RULES,
        "diag is linear",
        rf"{D}\operatorname{{diag}}(v) = \operatorname{{diag}}({D}v)",
        "",
    ),
)


def _vec_of(node, dF):
    return ZeroMatrix(*node.shape) if is_zero(dF) else Vec(dF)


def _unvec_of(node, dv):
    return ZeroMatrix(*node.shape) if is_zero(dv) else Unvec(dv, *node.shape)


deflinear(
    LinearKind(
        "vec",
        Vec,
        lambda node, dargs: _vec_of(node, dargs[node.arg]),
        lambda node, C, arg: Unvec(C, arg.rows, arg.cols),
        "trace_vec",
    ),
    (MATRIX_RULES, "vec is linear", rf"{D}\operatorname{{vec}}F = \operatorname{{vec}}({D}F)", MN2),
    (
        CANONICAL_RULES,
        "The adjoint of vec",
        r"\operatorname{tr}(C^\top \operatorname{vec}\mathrm{d}Y) = "
        r"\operatorname{tr}(\operatorname{unvec}(C)^\top \mathrm{d}Y)",
        MN2,
    ),
)
deflinear(
    LinearKind(
        "unvec",
        Unvec,
        lambda node, dargs: _unvec_of(node, dargs[node.args[0]]),
        lambda node, C, arg: Vec(C),
        "trace_unvec",
    ),
    (
        MATRIX_RULES,
        "unvec is linear",
        rf"{D}\operatorname{{unvec}}v = \operatorname{{unvec}}({D}v)",
        MN2,
    ),
    (
        CANONICAL_RULES,
        "The adjoint of unvec",
        r"\operatorname{tr}(C^\top \operatorname{unvec}\mathrm{d}v) = "
        r"\operatorname{vec}(C)^\top \mathrm{d}v",
        MN2,
    ),
)


# --------------------------------------------------------------------------------------
# Product rules
# --------------------------------------------------------------------------------------
def _matrix_constant_multiple(node, d):
    dependent = [a for a in node.args if d.depends(a)]
    if len(dependent) != 1:
        return None
    return _product_terms(node, d, MatMul)


def _sum_of_terms(node, terms):
    """The product rule's terms summed; a zero of the node's shape when there are none."""
    out = add(*terms)
    return ZeroMatrix(*node.shape) if is_zero(out) and isinstance(node, MatrixExpr) else out


def _product_terms(node, d, build):
    args = list(node.args)
    terms = []
    for i, a in enumerate(args):
        if not d.depends(a):
            continue
        da = d(a)
        if is_zero(da):
            continue
        new = args[:i] + [da] + args[i + 1 :]
        terms.append(mul(*new) if build is MatMul else build(*new))
    out = add(*terms)
    return ZeroMatrix(*node.shape) if is_zero(out) and isinstance(node, MatrixExpr) else out


def _matrix_product(node, d):
    return _product_terms(node, d, MatMul)


MATRIX_RULES.add(
    Rule(
        "matrix_constant_multiple",
        "Constant factors",
        rf"{D}(A X B) = A\,{D}X\,B",
        "linear",
        f"{CB} (34)",
        _matrix_constant_multiple,
    ),
    MatMul,
)
MATRIX_RULES.add(
    Rule(
        "matrix_product",
        "Product rule",
        rf"{D}(XY) = ({D}X)\,Y + X\,({D}Y)",
        "product",
        f"{CB} (37)",
        _matrix_product,
    ),
    MatMul,
)


# --------------------------------------------------------------------------------------
# Specific rules
# --------------------------------------------------------------------------------------
def _inverse(node, d):
    Xi = node
    return mul(-1, Xi, d(node.arg), Xi)


def _matrix_power(node, d):
    M, k = node.args
    if not (k.is_Integer and k != 0):
        return None
    if k < 0:
        P = MatPow(M, -k) if -k != 1 else M
        Pi = Inverse(P) if -k != 1 else Inverse(M)
        return mul(-1, Pi, d(P), Pi)
    dM = d(M)
    terms = []
    for i in range(int(k)):
        left = [MatPow(M, i)] if i > 1 else ([M] if i == 1 else [])
        j = int(k) - 1 - i
        right = [MatPow(M, j)] if j > 1 else ([M] if j == 1 else [])
        terms.append(mul(*left, dM, *right))
    return add(*terms)


def _determinant(node, d):
    M = node.arg
    return node * Trace(mul(Inverse(M), d(M)))


def _log_det(node, d):
    if len(node.args) != 1 or not isinstance(node.args[0], Determinant):
        return None
    M = node.args[0].arg
    return Trace(mul(Inverse(M), d(M)))


def _hadamard_power(node, d):
    Z, p = node.args
    if d.depends(p):
        return None
    return hadamard(p * hadamard_power(Z, p - 1), d(Z)) if p != 2 else hadamard(2 * Z, d(Z))


MATRIX_RULES.add(
    Rule(
        "inverse",
        "Differential of the inverse",
        rf"{D}(X^{{-1}}) = -X^{{-1}}\,({D}X)\,X^{{-1}}",
        "specific",
        f"{CB} (40), (59)",
        _inverse,
    ),
    Inverse,
)
MATRIX_RULES.add(
    Rule(
        "matrix_power",
        "Integer matrix power",
        rf"{D}(X^k) = \sum_{{i=0}}^{{k-1}} X^i\,({D}X)\,X^{{k-1-i}}",
        "product",
        "Magnus & Neudecker, ch. 8",
        _matrix_power,
    ),
    MatPow,
)
MATRIX_RULES.add(
    Rule(
        "determinant",
        "Differential of the determinant (Jacobi)",
        rf"{D}\det X = \det X\,\operatorname{{tr}}(X^{{-1}}{D}X)",
        "specific",
        f"{CB} (42)",
        _determinant,
    ),
    Determinant,
)
MATRIX_RULES.add(
    Rule(
        "log_det",
        "Differential of the log-determinant",
        rf"{D}\log\det X = \operatorname{{tr}}(X^{{-1}}{D}X)",
        "specific",
        f"{CB} (43)",
        _log_det,
    ),
    sp.log,
)
MATRIX_RULES.add(
    Rule(
        "hadamard_power",
        "Hadamard power",
        rf"{D}(X^{{\circ p}}) = p\,X^{{\circ(p-1)}}\circ {D}X",
        "chain",
        "",
        _hadamard_power,
    ),
    HadamardPower,
)


# --------------------------------------------------------------------------------------
# Chain rules through elementwise functions: d f(Z) = f'(Z) o dZ
# --------------------------------------------------------------------------------------
# --------------------------------------------------------------------------------------
# Lifting a scalar derivative to an elementwise matrix expression (the elementwise rules)
# --------------------------------------------------------------------------------------
def lift(e, u, Z, F=None):
    """The matrix form of the scalar ``e(u)`` applied entry by entry to ``Z``: u -> Z,
    g(u) -> elementwise(g, Z), products -> Hadamard products, powers -> Hadamard powers,
    constants -> broadcast (c times the all-ones matrix). ``F``: the node f(Z) itself,
    standing for f(u) (so sigma'(Z) reads sigma(Z) o (1 - sigma(Z))).

    >>> import sympy as sp
    >>> from symcalc.expr.functions import sigmoid
    >>> from symcalc.printing.text import text
    >>> u, Z = sp.Symbol("u"), sp.MatrixSymbol("Z", 2, 2)
    >>> text(lift(sigmoid(u) * (1 - sigmoid(u)), u, Z))
    'sigmoid(Z) .* (1 - sigmoid(Z))'
    >>> text(lift(sigmoid(-u) + u**2, u, Z))
    'sigmoid(-Z) + Z.^2'
    """
    ones = sp.OneMatrix(*Z.shape)

    def go(x):
        if not x.has(u):
            return mul(x, ones) if x != 1 else ones
        if x == u:
            return Z
        if isinstance(x, sp.Add):
            const, rest = x.as_independent(u, as_Add=True)
            terms = [go(t) for t in sp.Add.make_args(rest)]
            if const != 0:
                terms.insert(0, go(const))
            return sp.MatAdd(*terms).doit(deep=False)
        if isinstance(x, sp.Mul):
            coeff, rest = x.as_independent(u, as_Add=False)
            factors = [go(a) for a in sp.Mul.make_args(rest)]
            # function values first, as a person writes them: sigma(Z) o (1 - sigma(Z))
            factors.sort(key=lambda m: not isinstance(m, ElementwiseApplyFunction))
            h = hadamard(*factors) if len(factors) > 1 else factors[0]
            return mul(coeff, h) if coeff != 1 else h
        if isinstance(x, sp.Pow) and not x.exp.has(u):
            return hadamard_power(go(x.base), x.exp)
        if F is not None and x == F[1]:
            return F[0]
        if isinstance(x, sp.Function) and x.args and not any(a.has(u) for a in x.args[1:]):
            t = sp.Dummy("t")  # g(h(u)) -> g.(h(Z)): sigma(-u) -> sigma.(-Z)
            return elementwise(sp.Lambda(t, x.func(t, *x.args[1:])), go(x.args[0]))
        return elementwise(sp.Lambda(u, x), Z)

    return go(sp.sympify(e, strict=True))


def elementwise_rule(spec):
    """The elementwise matrix rule of a registry record, generated from its scalar derivative:
    d f(Z) = f'(Z) o dZ with f'(Z) the lift of f'(u) (:func:`lift`:
    u -> Z, g(u) -> g(Z) elementwise, products -> Hadamard products, constants broadcast)."""
    u = sp.Dummy("u")
    shown = sp.latex(spec.fprime(sp.Symbol("Z"), *spec.sample_params))

    def apply(node, d):
        t, body = elementwise_parts(node)
        if not isinstance(body, spec.cls) or body.args[0] != t:
            return None
        params = body.args[1:]
        if any(p.has(t) or d.depends(p) for p in params):
            return None
        fprime = spec.derivative(u, body.func(u, *params), *params)
        if fprime == 0:  # sign, heaviside: a.e. zero
            return ZeroMatrix(*node.shape)
        lifted = lift(fprime, u, node.expr, (node, body.func(u, *params)))
        return hadamard(lifted, d(node.expr))

    return Rule(
        f"ew_{spec.name}",
        f"Chain rule through elementwise {spec.name}",
        rf"{D} f(Z) = f'(Z)\circ {D}Z,\quad f'(Z) = {shown}",
        "chain",
        "",
        apply,
    )


def _ew_power(node, d):
    t, body = elementwise_parts(node)
    if not (body.is_Pow and body.base == t and not body.exp.has(t)):
        return None
    p = body.exp
    fprime = 2 * node.expr if p == 2 else p * hadamard_power(node.expr, p - 1)
    return hadamard(fprime, d(node.expr))


def _ew_generic(node, d):
    t, body = elementwise_parts(node)
    fprime = sp.diff(body, t)
    if fprime.has(sp.Derivative, sp.Subs):
        return None
    return hadamard(elementwise(sp.Lambda(t, fprime), node.expr), d(node.expr))


def _register_elementwise_rules():
    from symcalc.expr.registry import REGISTRY

    for spec in REGISTRY:
        if spec.derivative is not None:
            MATRIX_RULES.add(elementwise_rule(spec), ElementwiseApplyFunction)


_register_elementwise_rules()
MATRIX_RULES.add(
    Rule(
        "ew_power",
        "Chain rule through an elementwise power",
        rf"{D}(Z^{{\circ p}}) = p\,Z^{{\circ(p-1)}}\circ {D}Z",
        "chain",
        "",
        _ew_power,
    ),
    ElementwiseApplyFunction,
)
MATRIX_RULES.add(
    Rule(
        "ew_function",
        "Chain rule through an elementwise function",
        rf"{D} f(Z) = f'(Z)\circ {D}Z",
        "chain",
        f"{CB} (38)",
        _ew_generic,
    ),
    ElementwiseApplyFunction,
)


# ======================================================================================
# CANONICAL FORM: tr(C^T node) rewritten until the differential stands alone on the right
# ======================================================================================
def _split_scalars(node):
    scalars = [a for a in node.args if not isinstance(a, MatrixExpr)]
    mats = [a for a in node.args if isinstance(a, MatrixExpr)]
    return sp.Mul(*scalars), mats


def _c_cyclic(node, C, ctx):
    coef, mats = _split_scalars(node)
    scalar_args = [a for a in node.args if not isinstance(a, MatrixExpr)]
    dep_scalars = [a for a in scalar_args if ctx.depends(a)]
    if dep_scalars:
        s = sp.Mul(*dep_scalars)
        others = [a for a in scalar_args if not ctx.depends(a)]
        rest = mul(sp.Mul(*others), *mats)
        return [(s, Trace(mul(transpose(C), rest)))]
    k = next(i for i, M in enumerate(mats) if ctx.depends(M))
    L, R = mats[:k], mats[k + 1 :]
    Lt = transpose(mul(*L)) if L else None
    Rt = transpose(mul(*R)) if R else None
    return [(mats[k], mul(coef, Lt, C, Rt))]


def _identity_multiple(C):
    if isinstance(C, Identity):
        return sp.S.One
    if isinstance(C, MatMul):
        coef, mats = _split_scalars(C)
        if len(mats) == 1 and isinstance(mats[0], Identity):
            return coef
    return None


def _kronecker_adjoint(node, k, C):
    """tr(C^T (A (x) dB)) for C = c I: c tr(A) tr(dB) (and likewise in A), else None."""
    c = _identity_multiple(C)
    if c is None or len(node.args) != 2:
        return None
    A, B = node.args
    if not (A.is_square and B.is_square):
        return None
    dep, other = node.args[k], node.args[1 - k]
    return mul(c * Trace(other), Identity(dep.rows))


def _hadamard_adjoint(node, k, C):
    """tr(C^T (B o dX)) = tr((C o B)^T dX)."""
    return hadamard(C, *[a for i, a in enumerate(node.args) if i != k])


def _s_sum(node, c, ctx):
    return [(a, c) for a in node.args if ctx.depends(a)]


def _s_product(node, c, ctx):
    dep = [a for a in node.args if ctx.depends(a)]
    if len(dep) != 1:
        return None
    others = sp.Mul(*[a for a in node.args if a is not dep[0]])
    return [(dep[0], c * others)]


def _s_piecewise(node, c, ctx):
    """c Piecewise((u_i, cond_i)) = sum_i (c [branch i]) u_i, [branch i] the indicator."""
    branches = node.args
    out = []
    for i, (e, _) in enumerate(branches):
        if ctx.depends(e):
            indicator = sp.Piecewise(
                *[(1 if j == i else 0, cj) for j, (_, cj) in enumerate(branches)]
            )
            out.append((e, c * indicator))
    return out


CANONICAL_RULES.add(
    Rule(
        "cyclic_trace",
        "Cyclic property of the trace",
        r"\operatorname{tr}(C^\top A\,\mathrm{d}X\,B) = "
        r"\operatorname{tr}((A^\top C B^\top)^\top\mathrm{d}X)",
        "canonical",
        f"{CB} (16)",
        _c_cyclic,
    ),
    MatMul,
)
# The bilinear products: product rule and canonical form from one definition each.
defbilinear(
    BilinearKind(
        "kronecker", KroneckerProduct, KroneckerProduct, _kronecker_adjoint, "trace_kronecker"
    ),
    (
        MATRIX_RULES,
        "Product rule for the Kronecker product",
        rf"{D}(X\otimes Y) = {D}X\otimes Y + X\otimes {D}Y",
        f"{CB} (39)",
    ),
    (
        CANONICAL_RULES,
        "Trace of a Kronecker product",
        r"\operatorname{tr}(A\otimes B) = \operatorname{tr}A\,\operatorname{tr}B",
        f"{CB} sec. 10.2.1",
    ),
    add=_sum_of_terms,
)
defbilinear(
    BilinearKind("hadamard", HadamardProduct, hadamard, _hadamard_adjoint, "trace_hadamard"),
    (
        MATRIX_RULES,
        "Product rule for the Hadamard product",
        rf"{D}(X\circ Y) = {D}X\circ Y + X\circ {D}Y",
        f"{CB} (38)",
    ),
    (
        CANONICAL_RULES,
        "Hadamard product inside a trace",
        r"\operatorname{tr}(C^\top(B\circ \mathrm{d}X)) = "
        r"\operatorname{tr}((C\circ B)^\top \mathrm{d}X)",
        "Magnus & Neudecker, ch. 9",
    ),
    add=_sum_of_terms,
)
CANONICAL_RULES.add(
    Rule("scalar_sum", "Linearity", r"c\,(u+v) = c\,u + c\,v", "canonical", "", _s_sum), sp.Add
)
CANONICAL_RULES.add(
    Rule(
        "scalar_factor",
        "Scalar factors commute",
        r"c\,(a\,u) = (c\,a)\,u",
        "canonical",
        "",
        _s_product,
    ),
    sp.Mul,
)
CANONICAL_RULES.add(
    Rule(
        "scalar_piecewise",
        "A differential branch by branch",
        r"c\,\begin{cases}u & p\\ v & \text{else}\end{cases} = (c\,[p])\,u + (c\,[\lnot p])\,v",
        "canonical",
        "",
        _s_piecewise,
    ),
    sp.Piecewise,
)
# ======================================================================================
# THEOREMS and simplifications (performed by the engine, recorded as steps)
# ======================================================================================
THEOREMS.add(
    Rule(
        "one_by_one",
        "A 1 x 1 matrix is a scalar",
        r"M \in \mathbb{R}^{1\times 1} \Rightarrow M = \operatorname{tr}M",
        "canonical",
        f"{CB} (17)",
    )
)
THEOREMS.add(
    Rule(
        "identification",
        "First identification theorem",
        r"\mathrm{d}f = \operatorname{tr}(G^\top \mathrm{d}X) \;\Rightarrow\;"
        r" \frac{\partial f}{\partial X} = G",
        "identification",
        "Magnus & Neudecker, Table 9.2",
    )
)
THEOREMS.add(
    Rule(
        "scalar_identification",
        "Identification of partial derivatives",
        r"\mathrm{d}f = \sum_i g_i\,\mathrm{d}x_i \;\Rightarrow\;"
        r" \frac{\partial f}{\partial x_i} = g_i",
        "identification",
        "Magnus & Neudecker, ch. 5",
    )
)
THEOREMS.add(
    Rule(
        "jacobian_identification",
        "Identification of the Jacobian",
        r"\mathrm{d}F = J\,\mathrm{d}x \;\Rightarrow\; \frac{\partial F}{\partial x}"
        r" = J",
        "identification",
        "Magnus & Neudecker, Table 9.2",
    )
)
THEOREMS.add(
    Rule(
        "vec_identification",
        "Identification of the Jacobian in vec form",
        r"\operatorname{vec}(A\,\mathrm{d}X\,B) = (B^\top\otimes A)\,"
        r"\operatorname{vec}\mathrm{d}X \;\Rightarrow\; \frac{\partial\operatorname{vec}"
        r"F}{\partial\operatorname{vec}X} = B^\top\otimes A",
        "identification",
        f"{CB} sec. 10.2.2",
    )
)
THEOREMS.add(
    Rule(
        "as_written",
        "A sign times its ratio is one",
        r"u \neq 0 \;\Rightarrow\; \operatorname{sign}(u)\,\frac{u}{|u|} = 1",
        "canonical",
        "",
    )
)
THEOREMS.add(
    Rule(
        "hadamard_as_diag",
        "A Hadamard product with a vector is a diagonal matrix",
        r"b\circ v = \operatorname{diag}(b)\,v",
        "canonical",
        "",
    )
)
THEOREMS.add(
    Rule(
        "collect",
        "Collect like terms",
        r"A B + A C = A(B + C),\quad B A + C A = (B + C)A",
        "canonical",
        "",
    )
)
THEOREMS.add(
    Rule(
        "symmetric_part",
        "Gradient on symmetric matrices",
        r"X = X^\top \;\Rightarrow\; \nabla f = \tfrac12(G + G^\top)",
        "theorem",
        "Magnus & Neudecker, ch. 9",
    )
)
THEOREMS.add(
    Rule(
        "diagonal_part",
        "Gradient on diagonal matrices",
        r"X \text{ diagonal} \;\Rightarrow\; \nabla f = I\circ G",
        "theorem",
        "",
    )
)
THEOREMS.add(
    Rule(
        "hessian_from_gradient",
        "The Hessian is the Jacobian of the gradient",
        r"\nabla^2 f = \frac{\partial \nabla f}{\partial x}",
        "theorem",
        "Magnus & Neudecker, ch. 10",
    )
)
THEOREMS.add(
    Rule(
        "symmetric_hessian",
        "Hessian on symmetric matrices",
        r"X = X^\top \;\Rightarrow\; \nabla^2 f = N_n H N_n,\quad "
        r"N_n = \tfrac12\,(I_{n^2} + K_{n,n})",
        "theorem",
        "Magnus & Neudecker, ch. 3.7 (the symmetrizer N_n) and ch. 10",
    )
)

__all__ = [
    "MATRIX_RULES",
    "CANONICAL_RULES",
    "THEOREMS",
    "transpose",
    "mul",
    "add",
    "hadamard",
    "hadamard_power",
    "is_zero",
    "elementwise_parts",
]
