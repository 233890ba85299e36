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

from symcalc.codegen.kernel_helpers import HELPERS, helper_source
from symcalc.codegen.stable_forms import (
    _exp_sum_argument,
    _is_exp,
    _nonnegative_vector,
    _softmax_argument,
    _stable_log,
    _stable_pow,
    logsumexp,
    stabilize,
    stabilize_matrix,
    vector_logsumexp,
)
from symcalc.expr.registry import REGISTRY

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

    def _print_softmax_hessian(self, expr):
        return self._helper_call("_softmax_hessian", self._print(expr.args[0]))

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
