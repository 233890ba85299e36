"""NumPy code printer with numerically stable lowering, for compiled kernels.

:class:`StableNumPyPrinter` is a :class:`sympy.printing.numpy.NumPyPrinter`
subclass: every construct has its own ``_print_ClassName`` method, and no
printed string is edited afterwards. It prints

* ``sigmoid(z)`` without overflow (one ``exp(-|z|)``, two branches by ``where``),
* ``softplus(z)`` and ``log(1 + exp(z))`` as ``np.logaddexp(0, z)``,
* ``log(exp(a) + exp(b) + ...)`` as a log-sum-exp with a max shift,
* ``log(1 + u)`` as ``np.log1p(u)``, ``exp(u) - 1`` as ``np.expm1(u)``,
* ``log(det(A))`` through ``slogdet`` (Cholesky when ``A`` is declared positive definite),
* ``A**-1 * B`` as ``np.linalg.solve(A, B)`` (never an explicit inverse where a solve will do),
* integer powers as products (``x**3`` -> ``x*x*x``; NumPy's ``pow`` is ~10x slower),
* matrix expressions with BLAS calls: ``X.T @ v``, ``X.T @ (d[:, None] * X)`` for
  ``X^T diag(d) X``, ``np.outer`` for ``u v^T``, ``np.sum`` for ``1^T v``.

Column vectors (``n x 1`` MatrixSymbols) are 1-D arrays of shape ``(n,)``.

:func:`stabilize` rewrites the unstable patterns a user (or a derivation) writes
into named functions (``softplus``, ``sigmoid``, :class:`logsumexp`), so that CSE
cannot split them apart before printing.

>>> import sympy as sp
>>> z = sp.Symbol("z")
>>> print(StableNumPyPrinter().doprint(stabilize(sp.log(1 + sp.exp(z)))))
np.logaddexp(0, z)
>>> print(StableNumPyPrinter().doprint(z**3))
(z*z*z)
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from symcalc.expr.registry import REGISTRY, canonical

__all__ = [
    "StableNumPyPrinter",
    "stabilize",
    "stabilize_matrix",
    "logsumexp",
    "vector_logsumexp",
    "HELPERS",
    "helper_source",
    "numpy_code",
]


class logsumexp(sp.Function):
    """log(exp(a_1) + ... + exp(a_k)), printed with a max shift.

    >>> a, b = sp.symbols("a b")
    >>> logsumexp(a, b).rewrite(sp.exp)
    log(exp(a) + exp(b))
    """

    def fdiff(self, argindex=1):
        args = self.args
        return sp.exp(args[argindex - 1] - self)

    def _eval_rewrite_as_exp(self, *args, **kwargs):
        return sp.log(sp.Add(*[sp.exp(a) for a in args]))

    def _eval_evalf(self, prec):
        return self.rewrite(sp.exp)._eval_evalf(prec)


# Helper functions a generated module defines when it uses them (numpy only), written against
# the name {np} the module imports NumPy as (``_np`` in generated kernels: see :func:`helper_source`).
_OWN_HELPERS = {
    "_logsumexp": '''\
def _logsumexp(*terms):
    """log(sum(exp(t))) with the max shifted out, so no exp overflows."""
    terms = {np}.broadcast_arrays(*terms)
    m = {np}.maximum.reduce(terms)
    m = {np}.where({np}.isfinite(m), m, 0)
    return m + {np}.log(sum({np}.exp(t - m) for t in terms))
''',
    "_logsumexp_vec": '''\
def _logsumexp_vec(z):
    """log(sum(exp(z))) over a vector, with its max shifted out."""
    m = {np}.max(z)
    m = m if {np}.isfinite(m) else 0
    return m + {np}.log({np}.sum({np}.exp(z - m)))
''',
    "_gram": '''\
def _gram(z):
    """z.T @ z: NumPy runs the symmetric rank-k update (syrk), half the work of a GEMM."""
    return z.T @ z
''',
    "_logdet_chol": '''\
def _logdet_chol(a):
    """log det of a symmetric positive definite matrix, via Cholesky."""
    return 2 * {np}.sum({np}.log({np}.diagonal({np}.linalg.cholesky(a), axis1=-2, axis2=-1)), axis=-1)
''',
}


# ... and the helpers of the registry's records (their stable forms: _sigmoid, _relu, ...)
_HELPER_TEMPLATES = {
    **_OWN_HELPERS,
    **{name: text for spec in REGISTRY for name, text in spec.helpers.items()},
}

#: The helpers as they read with NumPy imported as ``np`` (what :class:`StableNumPyPrinter` prints by default).
HELPERS = {name: text.format(np="np") for name, text in _HELPER_TEMPLATES.items()}


def helper_source(name: str, numpy_module: str = "np") -> str:
    """The source of helper ``name`` for a module that imports NumPy as ``numpy_module``.

    >>> print(helper_source("_gram", "_np").splitlines()[0])
    def _gram(z):
    >>> "_np.exp(-_np.abs(z))" in helper_source("_sigmoid", "_np")
    True
    """
    return _HELPER_TEMPLATES[name].format(np=numpy_module)


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


def _stable_add(node):
    """1 - f(u) -> f(-u) when f(-u) = 1 - f(u) (1 - sigmoid(u) -> sigmoid(-u)): no
    cancellation (1 - 1 = 0 where the answer is e^-u)."""
    const, rest = node.as_coeff_Add()
    if const != 1:
        return node
    terms = list(rest.args) if isinstance(rest, sp.Add) else [rest]
    for k, t in enumerate(terms):
        coeff, core = t.as_coeff_Mul()
        if coeff == -1 and _complement_of(core) is not None:
            others = terms[:k] + terms[k + 1 :]
            return sp.Add(core.func(-core.args[0]), *others)
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

    >>> z = sp.MatrixSymbol("z", 3, 1)
    >>> S = sp.Trace(sp.OneMatrix(1, 3) * _exp_vec(z))
    >>> H = sp.DiagMatrix(_exp_vec(z)) / S - _exp_vec(z) * _exp_vec(z).T / S**2
    >>> print(StableNumPyPrinter().doprint(stabilize_matrix(H)))  # diag(p) - p p^T, p = softmax(z)
    (np.diag(np.exp(((-_logsumexp_vec(z)*np.ones((3,))) + z))) - np.outer(np.exp(((-_logsumexp_vec(z)*np.ones((3,))) + z)), np.exp(((-_logsumexp_vec(z)*np.ones((3,))) + z))))
    """

    def rewrite(node):
        if isinstance(node, sp.log):
            z = _exp_sum_argument(node.args[0])
            if z is not None:
                return vector_logsumexp(z)
        if isinstance(node, sp.MatAdd):
            return _stable_matadd(node)
        if isinstance(node, sp.MatMul):
            return _softmax_products(node)
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


_DIAGONAL_OF_VECTOR = (sp.DiagMatrix,)


def _is_vector(shape):
    return shape[1] == 1 and shape[0] != 1


def _is_row(shape):
    return shape[0] == 1 and shape[1] != 1


class StableNumPyPrinter(NumPyPrinter):
    """NumPy printer with ``np.`` prefixes and stable lowering (see module doc).

    Settings beyond NumPyPrinter's: ``positive_definite`` (names of matrix
    symbols known to be symmetric positive definite: their log det uses
    Cholesky); ``numpy_module`` (the name NumPy is imported as: ``np`` by
    default, ``_np`` in generated kernels, a name no user symbol reaches);
    ``symbol_names`` (a compiled regular expression: every symbol printed must
    match it, else an internal SymcalcError; kernels pass their code-name pattern,
    so a user name can never be printed as code).
    After printing, ``helpers_used`` names the helper functions from
    :data:`HELPERS` the code calls.

    Every module-qualified call goes through :meth:`_np` and every helper call
    through :meth:`_helper_call`, so a printer for another array namespace
    (:class:`symcalc.codegen.array_api.ArrayAPIPrinter`) overrides those two and the
    few constructs its namespace lacks (:meth:`_outer`, :meth:`_diag`,
    :meth:`_solve`, :meth:`_power`).

    >>> from symcalc.expr.functions import sigmoid
    >>> x = sp.Symbol("x")
    >>> p = StableNumPyPrinter()
    >>> p.doprint(sigmoid(x)), sorted(p.helpers_used)
    ('_sigmoid(x)', ['_sigmoid'])
    """

    _default_settings = {
        **NumPyPrinter._default_settings,
        "positive_definite": frozenset(),
        "numpy_module": "np",
        "symbol_names": None,
    }
    _zero = "0"  # the literal 0 in logaddexp(0, z)

    def __init__(self, settings=None):
        super().__init__(settings=settings)
        self.helpers_used: set[str] = set()
        self._substitutions: dict = {}

    # -- naming ---------------------------------------------------------------
    def _np(self, name):
        """The qualified name of NumPy's function name.

        >>> StableNumPyPrinter()._np("linalg.solve")
        'np.linalg.solve'
        >>> StableNumPyPrinter({"numpy_module": "_np"})._np("exp")
        '_np.exp'
        """
        return f"{self._settings['numpy_module']}.{name}"

    def _call(self, name, *codes):
        """Code calling NumPy's function name on the argument codes."""
        return f"{self._np(name)}({', '.join(codes)})"

    def _helper_call(self, name, *args):
        """A call of the helper function name (from :data:`HELPERS`), recorded in helpers_used."""
        self.helpers_used.add(name)
        return f"{name}({', '.join(args)})"

    def _module_format(self, fqn, register=True):
        if fqn.startswith("numpy."):
            return self._np(fqn[len("numpy.") :])
        if fqn.startswith(("math.", "scipy.", "mpmath.")):
            from sympy.printing.codeprinter import PrintMethodNotImplementedError

            # a scalar-only (math) or non-NumPy function: the kernel would not vectorise
            raise PrintMethodNotImplementedError(f"Unsupported by NumPy: {fqn.split('.', 1)[1]}")
        return fqn

    def _print_NumberSymbol(self, expr):
        return repr(float(expr))

    def _print_Derivative(self, expr):
        from symcalc.errors import InputError

        fn = expr.expr.func.__name__ if isinstance(expr.expr, sp.Function) else str(expr.expr)
        raise InputError(
            f"the derivative of {expr.expr} has no closed form ({fn} is not differentiable "
            "as a smooth function); compile a smooth expression instead"
        )

    def _print_Symbol(self, expr):
        if expr in self._substitutions:
            return self._substitutions[expr]
        allowed = self._settings["symbol_names"]
        if allowed is not None and not allowed.fullmatch(expr.name):
            from symcalc.errors import SymcalcError

            raise SymcalcError(
                f"internal error: the symbol {expr.name!r} has no code name (only the "
                "generator's names are printed as code); please report this"
            )
        return super()._print_Symbol(expr)

    _print_Dummy = _print_Symbol

    def _print_MatrixSymbol(self, expr):
        return self._print(sp.Symbol(expr.name))

    # -- scalar functions -------------------------------------------------------
    def _print_Function(self, expr):
        # log1p / expm1 protected from SymEngine's CSE as opaque functions (symcalc.codegen.native)
        name = type(expr).__name__
        if name in ("np_log1p", "np_expm1"):
            return self._call(name[3:], self._print(expr.args[0]))
        return super()._print_Function(expr)

    def _print(self, expr, **kwargs):
        spec = REGISTRY.of(expr) if isinstance(expr, sp.Function) else None
        lowering = self._lowering(spec) if spec is not None else None
        if lowering is not None:  # the record's lowering (its stable form)
            return lowering(self, [self._print(a) for a in expr.args])
        return super()._print(expr, **kwargs)

    def _lowering(self, spec):
        """The record's lowering for this printer's namespace (None: SymPy's printer's own)."""
        return spec.numpy

    def _print_vector_logsumexp(self, expr):
        return self._helper_call("_logsumexp_vec", self._print(expr.args[0]))

    def _print_logsumexp(self, expr):
        terms = [self._print(t) for t in expr.args]
        if len(terms) == 2:
            return self._call("logaddexp", *terms)
        return self._helper_call("_logsumexp", *terms)

    def _print_log(self, expr):
        arg = expr.args[0]
        stable = _stable_log(arg)
        if stable is not None:
            return self._print(stable)
        if isinstance(arg, sp.Determinant):
            return self._print_logdet(arg.args[0])
        z = _exp_sum_argument(arg)
        if z is not None:
            return self._helper_call("_logsumexp_vec", self._print(z))
        if isinstance(arg, sp.Abs) and isinstance(arg.args[0], sp.Determinant):
            return self._print_logdet(arg.args[0].args[0])
        if isinstance(arg, sp.Add):
            const, rest = arg.as_coeff_Add()
            if const == 1:
                return self._call("log1p", self._print(rest))
        return self._call("log", self._print(arg))

    def _print_logdet(self, mat):
        code = self._print(mat)
        names = self._settings["positive_definite"]
        declared = getattr(mat, "structure", None) == "positive_definite"
        if isinstance(mat, sp.MatrixSymbol) and (declared or mat.name in names):
            return self._helper_call("_logdet_chol", code)
        return self._call("linalg.slogdet", code) + "[1]"

    def _print_Add(self, expr, order=None):
        const, rest = expr.as_coeff_Add()
        if const == -1 and _is_exp(rest):
            return self._call("expm1", self._print(rest.args[0]))
        if const == -1 and isinstance(rest, sp.Add):
            exps = [t for t in rest.args if _is_exp(t)]
            if exps:  # exp(u) - 1 + (other terms): keep expm1's accuracy near u = 0
                others = sp.Add(*[t for t in rest.args if t is not exps[0]])
                return f"{self._call('expm1', self._print(exps[0].args[0]))} + {self._atom(others)}"
        return super()._print_Add(expr, order=order)

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.args
        if expr.is_Matrix or getattr(base, "is_Matrix", False):
            return super()._print_Pow(expr, rational=rational)
        stable = _stable_pow(base, exp)
        if stable is not None:
            return self._print(stable)
        if exp == 1:
            return self._print(base)
        b = self._atom(base)
        if exp.is_Integer and 1 < abs(int(exp)) <= 16:
            product = "(" + "*".join([b] * abs(int(exp))) + ")"
            return product if exp > 0 else f"(1/{product})"
        if exp == -1:
            return f"(1/{b})"
        if exp == sp.S.Half:
            return self._call("sqrt", self._print(base))
        if exp == -sp.S.Half:
            return f"(1/{self._call('sqrt', self._print(base))})"
        if exp.is_Rational and exp.q == 2 and abs(exp.p) <= 15:
            k = (abs(exp.p) - 1) // 2
            whole = self._print(sp.Pow(base, k, evaluate=False)) + "*" if k else ""
            product = f"({whole}{self._call('sqrt', self._print(base))})"
            return product if exp > 0 else f"(1/{product})"
        return self._power(expr, rational)

    def _power(self, expr, rational=False):
        """A power with no cheaper form (x**y, x**20): NumPyPrinter's ``**``."""
        return super()._print_Pow(expr, rational=rational)

    def _atom(self, expr):
        """Code for expr that is safe as an operand: parenthesised unless atomic."""
        code = self._print(expr)
        if expr.is_Atom or isinstance(expr, sp.MatrixSymbol) or _is_wrapped(code):
            return code
        return f"({code})"

    def _print_Max(self, expr):
        return self._nary(self._np("maximum"), expr.args)

    def _print_Min(self, expr):
        return self._nary(self._np("minimum"), expr.args)

    def _nary(self, fn, args):
        code = self._print(args[0])
        for a in args[1:]:
            code = f"{fn}({code}, {self._print(a)})"
        return code

    # -- matrix expressions (1-D arrays for column vectors) ---------------------
    def _print_Transpose(self, expr):
        arg = expr.args[0]
        if arg.shape[1] == 1 or arg.shape[0] == 1:
            return self._print(arg)  # vectors are 1-D: transposing is a no-op
        return f"{self._atom(arg)}.T"

    def _print_HadamardProduct(self, expr):
        return "(" + "*".join(self._atom(a) for a in expr.args) + ")"

    def _print_HadamardPower(self, expr):
        base, exp = expr.args
        return self._elementwise(lambda d: sp.Pow(d, exp, evaluate=False), base)

    def _elementwise(self, fn, arg):
        d = sp.Dummy("elem")
        self._substitutions[d] = self._atom(arg)
        try:
            return self._print(fn(d))
        finally:
            del self._substitutions[d]

    def _print_ElementwiseApplyFunction(self, expr):
        fn = expr.function
        return self._elementwise(lambda d: fn(d), expr.expr)

    def _print_Trace(self, expr):
        arg = expr.args[0]
        if arg.shape == (1, 1):  # a scalar written as a 1 x 1 matrix: its only entry
            return self._print(arg)
        if isinstance(arg, sp.MatMul) and len(arg.args) == 2 and not arg.args[0].is_number:
            a, b = arg.args
            return self._call("sum", f"{self._atom(a)} * {self._print(sp.Transpose(b))}")
        return self._call("trace", self._print(arg))

    def _print_Determinant(self, expr):
        return self._call("linalg.det", self._print(expr.args[0]))

    def _print_Inverse(self, expr):
        return self._call("linalg.inv", self._print(expr.args[0]))

    def _print_Identity(self, expr):
        return self._call("eye", self._print(expr.shape[0]))

    def _print_ZeroMatrix(self, expr):
        return self._call("zeros", self._shape_code(expr.shape))

    def _print_OneMatrix(self, expr):
        return self._call("ones", self._shape_code(expr.shape))

    def _shape_code(self, shape):
        if shape[1] == 1:
            return f"({self._print(shape[0])},)"
        if shape[0] == 1:
            return f"({self._print(shape[1])},)"
        return f"({self._print(shape[0])}, {self._print(shape[1])})"

    def _print_DiagMatrix(self, expr):
        return self._diag(self._print(expr.args[0]))

    def _diag(self, vec):
        """The diagonal matrix with the vector vec on its diagonal."""
        return self._call("diag", vec)

    def _outer(self, left, right):
        """The outer product u v^T of two vectors."""
        return self._call("outer", left, right)

    def _solve(self, a, right, right_shape):
        """A^-1 B as a solve (right: B's code; right_shape: B's shape, (n, 1) for a vector)."""
        return self._call("linalg.solve", self._print(a), right)

    def _print_MatrixElement(self, expr):
        parent, i, j = expr.args
        if parent.shape[1] == 1:
            return f"{self._print(parent)}[{self._print(i)}]"
        if parent.shape[0] == 1:
            return f"{self._print(parent)}[{self._print(j)}]"
        return f"{self._print(parent)}[{self._print(i)}, {self._print(j)}]"

    def _print_MatMul(self, expr):
        coeff, factors = expr.as_coeff_matrices()
        z = _softmax_argument(coeff, factors)
        if z is not None:  # exp.(z) / 1^T exp.(z): shift by the log-sum-exp, no overflow
            code = self._print(z)
            return self._call("exp", f"{code} - {self._helper_call('_logsumexp_vec', code)}")
        code = self._matmul_chain(list(factors))
        if coeff != 1:
            return f"({self._print(coeff)}*{code})"
        return code

    def _matmul_chain(self, factors):
        """Print a product left to right, choosing solve / outer / diagonal scaling."""
        # 1^T M (sum over rows) and M 1 (sum over columns)
        if isinstance(factors[0], sp.OneMatrix) and factors[0].shape[0] == 1 and len(factors) > 1:
            return self._call("sum", self._chain_or_one(factors[1:]), "axis=0")
        if isinstance(factors[-1], sp.OneMatrix) and factors[-1].shape[1] == 1 and len(factors) > 1:
            return self._call("sum", self._chain_or_one(factors[:-1]), "axis=-1")
        # A^T diag(d) A with d >= 0 -> Z^T Z, Z = sqrt(d) A: a symmetric rank-k update (syrk), half a GEMM
        if (
            len(factors) == 3
            and isinstance(factors[1], _DIAGONAL_OF_VECTOR)
            and factors[0] == factors[2].T
            and _nonnegative_vector(factors[1].args[0], getattr(self, "nonnegative", frozenset()))
        ):
            d, a = self._print(factors[1].args[0]), self._print(factors[2])
            return self._helper_call("_gram", f"{self._call('sqrt', d)}[:, None] * {a}")
        # A^{-1} B ... -> solve(A, B ...)
        for k, fac in enumerate(factors):
            if isinstance(fac, sp.Inverse) and k + 1 < len(factors):
                right = self._matmul_chain(factors[k + 1 :])
                solved = self._solve(fac.args[0], right, factors[-1].shape)
                shape = (fac.shape[0], factors[-1].shape[1])
                if k == 0:
                    return solved
                return self._combine(
                    self._matmul_chain(factors[:k]),
                    sp.MatMul(*factors[:k]).shape if k > 1 else factors[0].shape,
                    solved,
                    shape,
                )
        items = self._scaled_items(factors)
        code, shape = items[0]
        for right, rshape in items[1:]:
            code = self._combine(code, shape, right, rshape)
            shape = (shape[0], rshape[1])
        return code

    def _chain_or_one(self, factors):
        return self._matmul_chain(factors) if len(factors) > 1 else self._print(factors[0])

    def _scaled_items(self, factors):
        """(code, shape) per factor, a diagonal D(d) folded into its neighbour:
        D(d) B -> d[:, None] * B (the right neighbour first), A D(d) -> A * d."""
        items, pending = [], None
        for fac in factors:
            if isinstance(fac, _DIAGONAL_OF_VECTOR):
                vec = self._print(fac.args[0])
                if pending is not None:  # two diagonals in a row: multiply vectors
                    pending = f"({pending} * {vec})"
                else:
                    pending = vec
                continue
            code = self._print(fac)
            if pending is not None:
                code = (
                    f"({pending} * {code})"
                    if fac.shape[1] == 1
                    else f"({pending}[:, None] * {code})"
                )
                pending = None
            items.append((code, fac.shape))
        if pending is not None:
            if not items:
                n = factors[0].shape[0]
                return [(self._diag(pending), (n, n))]
            code, shape = items[-1]
            items[-1] = (f"({code} * {pending})", shape)
        return items

    def _combine(self, left, lshape, right, rshape):
        if lshape[1] == 1 and rshape[0] == 1:
            if lshape[0] == 1 or rshape[1] == 1:
                return f"({left} * {right})"
            return self._outer(left, right)
        if _is_row(lshape) and lshape[1] == rshape[0] and left.startswith(self._np("ones") + "("):
            return self._call("sum", right, "axis=0")  # 1^T M: the column sums
        return f"({left} @ {right})"

    def _print_MatAdd(self, expr):
        # an all-ones term broadcasts as the number 1 next to full-size terms
        full = [a for a in expr.args if not isinstance(a, sp.OneMatrix)]
        plus, minus = [], []
        for a in expr.args:
            if isinstance(a, sp.OneMatrix) and full:
                plus.append("1.0")
                continue
            coeff, mats = a.as_coeff_matrices() if isinstance(a, sp.MatMul) else (1, None)
            if coeff == -1 and mats:  # a - b, not a + (-1*b): one pass less
                minus.append(
                    self._print(sp.MatMul(*mats)) if len(mats) > 1 else self._atom(mats[0])
                )
            else:
                plus.append(self._print(a))
        if not plus:
            return "(-" + " - ".join(minus) + ")"
        return "(" + " + ".join(plus) + "".join(f" - {m}" for m in minus) + ")"


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


def _is_wrapped(code):
    """True when code is one parenthesised group or a plain call like np.f(...)."""
    if not code.endswith(")"):
        return False
    depth = 0
    start = code.find("(")
    if start < 0 or (start > 0 and not code[:start].replace(".", "").replace("_", "").isalnum()):
        return False
    for k, ch in enumerate(code[start:], start):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and k != len(code) - 1:
            return False
    return True


def numpy_code(expr, **settings):
    """Print one expression as NumPy code (stabilized first).

    >>> print(numpy_code(sp.log(1 + sp.Symbol("u"))))
    np.log1p(u)
    """
    return StableNumPyPrinter(settings).doprint(stabilize(expr))
