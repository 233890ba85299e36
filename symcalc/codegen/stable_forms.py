"""Stable forms: the overflow-prone patterns a user (or a derivation) writes, rewritten into
named nodes (``softplus``, ``sigmoid``, :class:`logsumexp`, :class:`vector_logsumexp`, the
softmax ``exp.(z - lse(z) 1)``) before CSE can split them apart; the printers
(:mod:`symcalc.codegen.numpy_printer`, :mod:`symcalc.codegen.array_api`) print each node stably.

>>> z = sp.Symbol("z")
>>> stabilize(sp.log(1 + sp.exp(z)))
softplus(z)
"""

from __future__ import annotations

import sympy as sp

from symcalc.expr.registry import REGISTRY, canonical

__all__ = [
    "stabilize",
    "stabilize_matrix",
    "logsumexp",
    "softmax_weight",
    "vector_logsumexp",
    "complements",
]


class logsumexp(sp.Function):
    """log(exp(a_1) + ... + exp(a_k)), printed with a max shift.

    >>> a, b = sp.symbols("a b")
    >>> logsumexp(a, b).rewrite(sp.exp)
    log(exp(a) + exp(b))
    """

    def fdiff(self, argindex=1):
        return softmax_weight(sp.Integer(argindex - 1), *self.args)

    def _eval_rewrite_as_exp(self, *args, **kwargs):
        return sp.log(sp.Add(*[sp.exp(a) for a in args]))

    def _eval_evalf(self, prec):
        return self.rewrite(sp.exp)._eval_evalf(prec)


class softmax_weight(sp.Function):
    """p_k = exp(a_k - logsumexp(a)), the derivative of :class:`logsumexp` in its k-th term
    (arguments: k, then the terms). Its own derivative is written without a difference of
    nearly equal numbers: dp_k/da_k = p_k (sum of the other p_j), dp_k/da_j = -p_k p_j, so a
    second derivative of a log-sum-exp comes out as sums of p_i p_j and keeps its sign
    (1 - p_k would round to 0 where p_k ~ 1).

    >>> a, b = sp.symbols("a b")
    >>> sp.diff(logsumexp(a, 2*a), a, 2)
    softmax_weight(0, a, 2*a)*softmax_weight(1, a, 2*a)
    >>> softmax_weight(0, a, b).rewrite(sp.exp)
    exp(a - logsumexp(a, b))
    """

    def fdiff(self, argindex=1):
        k, terms = int(self.args[0]), self.args[1:]
        j = argindex - 2
        if j < 0:
            raise sp.ArgumentIndexError(self, argindex)
        p = [softmax_weight(sp.Integer(i), *terms) for i in range(len(terms))]
        if j == k:
            return p[k] * sp.Add(*[p[i] for i in range(len(terms)) if i != k])
        return -p[k] * p[j]

    def _eval_rewrite_as_exp(self, k, *terms, **kwargs):
        return sp.exp(terms[int(k)] - logsumexp(*terms))

    def _eval_evalf(self, prec):
        return self.rewrite(sp.exp)._eval_evalf(prec)

    def _eval_is_real(self):
        return all(t.is_real for t in self.args[1:]) or None

    def _eval_is_positive(self):
        return all(t.is_real for t in self.args[1:]) or None


def _is_exp(e):
    return isinstance(e, sp.exp)


def _log_of_exp_sum(arg):
    """If arg = c + exp(u_1) + ... return the log-sum-exp terms, else None."""
    if not isinstance(arg, sp.Add):
        return None
    terms = []
    for t in arg.args:
        if _is_exp(t):
            terms.append(t.args[0])
        elif t.is_number and t.is_positive:
            terms.append(sp.log(t))
        else:
            coeff, rest = t.as_coeff_Mul()
            if _is_exp(rest) and coeff.is_positive:
                terms.append(rest.args[0] + sp.log(coeff))
            else:
                return None
    return terms if any(_is_exp(t) or _is_exp(t.as_coeff_Mul()[1]) for t in arg.args) else None


def _record_form(node):
    """The registry's stable spelling of node (1/(1 + exp(-z)) -> sigmoid(z), ...), or None."""
    for spec in REGISTRY:
        for cls, form in spec.stable_forms:
            if isinstance(node, cls):
                new = form(node)
                if new is not None:
                    return new
    return None


def _stable_log(arg):
    new = _record_form(sp.log(arg, evaluate=False))
    if new is not None:
        return new
    terms = _log_of_exp_sum(arg)
    if terms is None:
        return None
    return logsumexp(*terms)


def _stable_pow(base, exponent):
    return _record_form(sp.Pow(base, exponent, evaluate=False))


def stabilize(expr, precise=False):
    """Rewrite overflow-prone patterns into named, stably printed functions.

    >>> z = sp.Symbol("z")
    >>> stabilize(sp.log(1 + sp.exp(z)))
    softplus(z)
    >>> stabilize(1 / (1 + sp.exp(-z)))
    sigmoid(z)
    >>> stabilize(sp.log(sp.exp(z) + sp.exp(2*z) + sp.exp(3*z)))
    logsumexp(z, 2*z, 3*z)
    """
    if not isinstance(expr, sp.Basic) or expr.is_Atom:
        return expr
    expr = canonical(expr)

    def rewrite(node):
        if isinstance(node, sp.log):
            new = _stable_log(node.args[0])
            if new is None and precise:
                new = _log1p_form(node.args[0])
            return new if new is not None else node
        if isinstance(node, sp.Pow):
            new = _stable_pow(*node.args)
            return new if new is not None else node
        if isinstance(node, sp.Mul):
            new = _record_form(node)
            return new if new is not None else node
        if isinstance(node, softmax_weight):
            return node.rewrite(sp.exp)
        if isinstance(node, sp.Add):
            node = _stable_add(node)
            return _expm1_form(node) if precise and isinstance(node, sp.Add) else node
        return node

    return _bottom_up(expr, rewrite)


def _log1p_form(arg):
    """log(1 + u) -> log1p(u) (a node CSE cannot split: 1 + u would lose u's low bits)."""
    from sympy.codegen.cfunctions import log1p

    if isinstance(arg, sp.Add):
        const, rest = arg.as_coeff_Add()
        if const == 1:
            return log1p(rest)
    return None


def _expm1_form(node):
    """exp(u) - 1 + rest -> expm1(u) + rest."""
    from sympy.codegen.cfunctions import expm1

    const, rest = node.as_coeff_Add()
    if const != -1:
        return node
    terms = list(rest.args) if isinstance(rest, sp.Add) else [rest]
    for k, t in enumerate(terms):
        if _is_exp(t):
            return sp.Add(expm1(t.args[0]), *(terms[:k] + terms[k + 1 :]))
    return node


def _complement_of(core):
    """The record of core = f(u) when f(-u) = 1 - f(u) (sigmoid, normal_cdf), else None."""
    spec = REGISTRY.of(core)
    return spec if spec is not None and spec.complement and len(core.args) == 1 else None


def complements(expr):
    """Every 1 - f(u) in expr written f(-u), where f(-u) = 1 - f(u) (bottom-up).

    >>> from symcalc.expr.functions import sigmoid
    >>> u = sp.Symbol("u")
    >>> complements(sigmoid(u) * (1 - sigmoid(u)))
    sigmoid(-u)*sigmoid(u)
    """
    if not isinstance(expr, sp.Basic) or expr.is_Atom:
        return expr
    return _bottom_up(expr, lambda n: _stable_add(n) if isinstance(n, sp.Add) else n)


def _stable_add(node):
    """1 - f(u) -> f(-u) when f(-u) = 1 - f(u) (1 - sigmoid(u) -> sigmoid(-u)): no
    cancellation (1 - 1 = 0 where the answer is e^-u)."""
    const, rest = node.as_coeff_Add()
    if const not in (1, -1):  # f(u) - 1 = -f(-u) too
        return node
    terms = list(rest.args) if isinstance(rest, sp.Add) else [rest]
    for k, t in enumerate(terms):
        coeff, core = t.as_coeff_Mul()
        if coeff == -const and _complement_of(core) is not None:
            others = terms[:k] + terms[k + 1 :]
            return sp.Add(const * core.func(-core.args[0]), *others)
    return node


class vector_logsumexp(sp.Function):
    """log(1^T exp.(z)) of a vector z, as one node (printed with a max shift)."""

    nargs = 1
    is_commutative = True  # a scalar, although its argument is a matrix

    def _eval_is_real(self):
        return True


def stabilize_matrix(expr):
    """Matrix-form patterns -> stable nodes, before CSE can split them apart.

    log(1^T exp.(z)) -> vector_logsumexp(z); every exp.(z) / 1^T exp.(z) in a product
    (the softmax, and the factors of the log-sum-exp Hessian
    diag(exp.(z))/S - exp.(z) exp.(z)^T/S^2) -> exp.(z - lse(z) 1), which cannot overflow.

    >>> from symcalc.codegen.numpy_printer import StableNumPyPrinter
    >>> z = sp.MatrixSymbol("z", 3, 1)
    >>> S = sp.Trace(sp.OneMatrix(1, 3) * _exp_vec(z))
    >>> H = sp.DiagMatrix(_exp_vec(z)) / S - _exp_vec(z) * _exp_vec(z).T / S**2
    >>> print(StableNumPyPrinter().doprint(stabilize_matrix(H)))  # diag(p) - p p^T, p = softmax(z), as one node
    _softmax_hessian(z)
    """

    def rewrite(node):
        if isinstance(node, sp.log):
            z = _exp_sum_argument(node.args[0])
            if z is not None:
                return vector_logsumexp(z)
        if isinstance(node, sp.MatAdd):
            return _softmax_hessian_form(_stable_matadd(node))
        if isinstance(node, sp.MatMul):
            return _softmax_products(merged_diagonals(node))
        return node

    return _bottom_up(canonical(expr), rewrite) if isinstance(expr, sp.Basic) else expr


_D = sp.Dummy("d")


def _exp_vec(u):
    """exp.(u), the elementwise exponential of a matrix expression."""
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

    return ElementwiseApplyFunction(sp.Lambda(_D, sp.exp(_D)), u)


def _exp_of(M):
    """(u, transposed) when M is exp.(u), or exp.(u^T) / exp.(u)^T (transposed True), else None."""
    if isinstance(M, sp.Transpose):
        inner = _exp_of(M.args[0])
        return None if inner is None else (inner[0], not inner[1])
    u = _elementwise_exp_of(M)
    if u is None:
        return None
    return (u.args[0], True) if isinstance(u, sp.Transpose) else (u, False)


def _softmax_node(u, transposed):
    """exp.(u - lse(u) 1): exp.(u) / 1^T exp.(u) with no overflow (a row when transposed)."""
    node = _exp_vec(u - vector_logsumexp(u) * sp.OneMatrix(*u.shape))
    return sp.Transpose(node) if transposed else node  # unevaluated: CSE shares p with p^T


def _softmax_products(node):
    """S^-k exp.(u) ... exp.(u)^T (k such factors, S = 1^T exp.(u)) -> a product of softmax(u) factors.

    The matrix engine writes the log-sum-exp Hessian as diag(exp.(u))/S - exp.(u) exp.(u)^T/S^2,
    which overflows for |u| > ~700; each exp.(u)/S is softmax(u) = exp.(u - lse(u) 1), which
    does not. A factor may be exp.(u), its transpose, or diag(exp.(u)). Other nodes are returned as is.
    """
    if not isinstance(node, sp.MatMul):
        return node
    coeff, factors = node.as_coeff_matrices()
    for base, power in [b.as_base_exp() for b in sp.Mul.make_args(coeff)]:
        u = _exp_sum_argument(base) if power.is_Integer and power < 0 else None
        if u is None:
            continue
        need, new = int(-power), []
        for fac in factors:
            inner = fac.args[0] if isinstance(fac, sp.DiagMatrix) else fac
            found = _exp_of(inner) if need else None
            if found is not None and found[0] == u:
                soft = _softmax_node(u, found[1])
                new.append(sp.DiagMatrix(soft) if isinstance(fac, sp.DiagMatrix) else soft)
                need -= 1
            else:
                new.append(fac)
        if need == 0:
            rest = coeff / base**power
            if rest == 1:
                return new[0] if len(new) == 1 else sp.MatMul(*new)
            return sp.MatMul(rest, *new)
    return node


class softmax_hessian(sp.MatrixExpr):
    """diag(p) - p p^T with p = softmax(u), the Hessian of log(1^T exp.(u)), as one node: the
    printers call a helper that takes each diagonal p_i (1 - p_i) with 1 - p_i as the sum of
    the other p_j where p_i is the largest (p_i - p_i^2 would cancel to 0 where p_i ~ 1)."""

    def __new__(cls, u):
        return sp.Basic.__new__(cls, u)

    @property
    def shape(self):
        n = self.args[0].shape[0]
        return (n, n)

    def _eval_transpose(self):
        return self


def _softmax_of(v):
    """u when v is the softmax node exp.(u - lse(u) 1), else None."""
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

    if not isinstance(v, ElementwiseApplyFunction) or v.function(_D) != sp.exp(_D):
        return None
    for term in sp.MatAdd.make_args(v.expr):
        if isinstance(term, sp.MatrixSymbol) or not term.has(vector_logsumexp):
            u = term
            return u if v == _softmax_node(u, False) else None
    return None


def _softmax_hessian_form(node):
    """diag(p) - p p^T (p = softmax(u), from the matrix engine) -> softmax_hessian(u).

    >>> z = sp.MatrixSymbol("z", 3, 1)
    >>> p = _softmax_node(z, False)
    >>> _softmax_hessian_form(sp.DiagMatrix(p) - p * sp.Transpose(p))
    softmax_hessian(z)
    """
    if not isinstance(node, sp.MatAdd) or len(node.args) != 2:
        return node
    diag = [a for a in node.args if isinstance(a, sp.DiagMatrix)]
    other = [a for a in node.args if not isinstance(a, sp.DiagMatrix)]
    if len(diag) != 1 or len(other) != 1 or not isinstance(other[0], sp.MatMul):
        return node
    u = _softmax_of(diag[0].args[0])
    coeff, mats = other[0].as_coeff_matrices()
    if u is None or coeff != -1 or len(mats) != 2:
        return node
    p = _softmax_node(u, False)
    if mats[0] == p and mats[1] in (sp.Transpose(p), p.T):
        return softmax_hessian(u)
    return node


def merged_diagonals(node):
    """diag(a) diag(b) -> diag(a o b) in a product, so that no diagonal matrix of data is ever
    formed: the printers write diag(d) M as a broadcast ``d[:, None] * M`` (O(mn) memory, where
    ``np.diag(d)`` would be m x m).

    >>> a, b = sp.MatrixSymbol("a", 4, 1), sp.MatrixSymbol("b", 4, 1)
    >>> X = sp.MatrixSymbol("X", 4, 2)
    >>> merged_diagonals(sp.MatMul(X.T, sp.DiagMatrix(a), sp.DiagMatrix(b), X))
    X.T*DiagMatrix(HadamardProduct(a, b))*X
    """
    if not isinstance(node, sp.MatMul):
        return node
    coeff, mats = node.as_coeff_matrices()
    out: list = []
    for m in mats:
        if out and isinstance(m, sp.DiagMatrix) and isinstance(out[-1], sp.DiagMatrix):
            out[-1] = sp.DiagMatrix(sp.HadamardProduct(out[-1].args[0], m.args[0]).doit())
        else:
            out.append(m)
    if len(out) == len(mats):
        return node
    return sp.MatMul(coeff, *out) if coeff != 1 else (out[0] if len(out) == 1 else sp.MatMul(*out))


def _stable_matadd(node):
    """1 - f.(u) -> f.(-u), elementwise, when f(-u) = 1 - f(u) (sigmoid)."""
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

    ones = [a for a in node.args if isinstance(a, sp.OneMatrix)]
    rest = [a for a in node.args if not isinstance(a, sp.OneMatrix)]
    if len(ones) != 1 or len(rest) != 1 or not isinstance(rest[0], sp.MatMul):
        return node
    coeff, mats = rest[0].as_coeff_matrices()
    if coeff != -1 or len(mats) != 1 or not isinstance(mats[0], ElementwiseApplyFunction):
        return node
    inner = mats[0]
    body = inner.function(_D)
    if _complement_of(body) is None or body.args[0] != _D:
        return node
    return ElementwiseApplyFunction(sp.Lambda(_D, body), -inner.expr)


def _bottom_up(expr, fn):
    if expr.is_Atom or isinstance(expr, (sp.MatrixSymbol, sp.Lambda)):
        return expr
    args = [_bottom_up(a, fn) if isinstance(a, sp.Basic) else a for a in expr.args]
    if any(a is not b for a, b in zip(args, expr.args)):
        expr = expr.func(*args)
    return fn(expr)


def _elementwise_exp_of(M):
    """z when M is exp.(z) (an elementwise exp), else None."""
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

    if isinstance(M, ElementwiseApplyFunction):
        d = sp.Dummy()
        if M.function(d) == sp.exp(d):
            return M.expr
    return None


def _exp_sum_argument(arg):
    """z when arg is the sum of entries of exp.(z) (Trace(1^T exp.(z))), else None."""
    if isinstance(arg, sp.Trace) and arg.args[0].shape == (1, 1):
        inner = arg.args[0]
        if (
            isinstance(inner, sp.MatMul)
            and len(inner.args) == 2
            and isinstance(inner.args[0], sp.OneMatrix)
        ):
            return _elementwise_exp_of(inner.args[1])
    return None


def _softmax_argument(coeff, factors):
    if len(factors) != 1:
        return None
    z = _elementwise_exp_of(factors[0])
    if z is None or not isinstance(coeff, sp.Pow) or coeff.args[1] != -1:
        return None
    return z if _exp_sum_argument(coeff.args[0]) == z else None


def _nonnegative_vector(v, known=frozenset()) -> bool:
    """True when every entry of the vector expression v is provably >= 0.

    known: names of MatrixSymbols (temporaries) already shown to be >= 0.
    """
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

    if isinstance(v, sp.MatrixSymbol):
        return v.name in known
    if isinstance(v, ElementwiseApplyFunction):
        d = sp.Dummy(real=True)
        return bool(v.function(d).is_nonnegative)
    if isinstance(v, sp.HadamardProduct):
        return all(_nonnegative_vector(a, known) for a in v.args)
    if isinstance(v, sp.HadamardPower):
        return v.args[1].is_even is True or _nonnegative_vector(v.args[0], known)
    if isinstance(v, sp.MatAdd):  # 1 - sigmoid.(u)
        ones = [a for a in v.args if isinstance(a, sp.OneMatrix)]
        rest = [a for a in v.args if not isinstance(a, sp.OneMatrix)]
        if len(ones) == 1 and len(rest) == 1:
            coeff, mats = (
                rest[0].as_coeff_mmul() if hasattr(rest[0], "as_coeff_mmul") else (1, rest[0])
            )
            inner = mats.args[0] if isinstance(mats, sp.MatMul) and len(mats.args) == 1 else mats
            if coeff == -1 and isinstance(inner, ElementwiseApplyFunction):
                d = sp.Dummy(real=True)
                return _complement_of(inner.function(d)) is not None  # f in [0, 1]
    return False
