r"""Activation functions: sigmoid, softplus, log_sigmoid, relu, leaky_relu, gelu (and the
normal CDF Phi its derivative uses).

Each is one :class:`~symcalc.expr.spec.FunctionSpec` record: its class, its derivative
(from which the scalar and elementwise rules, ``fdiff`` and the Hessian come), its stable
NumPy lowering, its native (SymEngine LLVM) form, its names and its sampling domain.

Derivatives at kinks (almost-everywhere conventions, as JAX and PyTorch choose them):

* ``relu'(0) = 0`` (relu'(t) = heaviside(t), with heaviside(0) = 0);
* ``leaky_relu(t, a)``: the slope ``a`` is the second argument, default ``1/100``
  (PyTorch's ``negative_slope``); ``d/dt leaky_relu(0, a) = a`` (PyTorch's choice), and
  ``d/da leaky_relu(t, a) = min(t, 0) = t (1 - heaviside(t))``.

>>> import sympy as sp
>>> t = sp.Symbol("t")
>>> sp.diff(log_sigmoid(t), t), sp.diff(relu(t), t)
(sigmoid(-t), heaviside(t))
>>> leaky_relu(t), sp.diff(leaky_relu(t, 0.2), t)
(leaky_relu(t, 1/100), 0.8*heaviside(t) + 0.2)
>>> sp.diff(gelu(t), t)
sqrt(2)*t*exp(-t**2/2)/(2*sqrt(pi)) + normal_cdf(t)
"""

from __future__ import annotations

import sympy as sp

from symcalc.expr.families.piecewise import heaviside
from symcalc.expr.spec import FunctionSpec, NamedFunction, helper

D = r"\mathrm{d}"


class normal_cdf(NamedFunction):
    """The standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2 (no cancellation for x << 0)."""

    nargs = 1

    @classmethod
    def eval(cls, arg):
        if arg.is_zero:
            return sp.S.Half


class _PositiveFunction(NamedFunction):
    """Real and positive on the reals."""

    nargs = 1

    def _eval_is_positive(self):
        if self.args[0].is_real:
            return True


class sigmoid(_PositiveFunction):
    """The logistic function sigma(x) = 1 / (1 + exp(-x))."""

    @classmethod
    def eval(cls, arg):
        if arg.is_zero:
            return sp.S.Half
        if arg is sp.S.Infinity:
            return sp.S.One
        if arg is sp.S.NegativeInfinity:
            return sp.S.Zero


class softplus(_PositiveFunction):
    """softplus(x) = log(1 + exp(x)), computed without overflow when compiled."""

    @classmethod
    def eval(cls, arg):
        if arg.is_zero:
            return sp.log(2)


class log_sigmoid(NamedFunction):
    """log sigma(x) = -softplus(-x), computed as -logaddexp(0, -x) (no overflow, no log 0)."""

    nargs = 1

    @classmethod
    def eval(cls, arg):
        if arg.is_zero:
            return -sp.log(2)

    def _eval_is_negative(self):
        if self.args[0].is_real:
            return True


class relu(NamedFunction):
    """relu(x) = max(x, 0); relu'(0) = 0."""

    nargs = 1

    @classmethod
    def eval(cls, arg):
        if arg.is_number and arg.is_real:
            return sp.Max(arg, 0)
        if arg.is_nonnegative:
            return arg
        if arg.is_nonpositive:
            return sp.S.Zero

    def _eval_is_nonnegative(self):
        if self.args[0].is_real:
            return True


class leaky_relu(NamedFunction):
    """leaky_relu(x, a) = x for x > 0, a x otherwise; the slope a defaults to 1/100."""

    nargs = (1, 2)

    @classmethod
    def eval(cls, arg, slope=None):
        if slope is None:
            return cls(arg, sp.Rational(1, 100))
        if arg.is_number and arg.is_real:
            return arg if arg > 0 else slope * arg


class gelu(NamedFunction):
    """The exact GELU: x Phi(x) = x (1 + erf(x / sqrt 2)) / 2."""

    nargs = 1

    @classmethod
    def eval(cls, arg):
        if arg.is_zero:
            return sp.S.Zero


def _max0(z):
    return sp.Max(z, 0)


def _softplus_native(z):
    """max(z, 0) + log1p(e), e = exp(-|z|), for SymEngine's LLVM (which has no log1p):
    log1p(e) = 2 atanh(e / (2 + e)), accurate where log(1 + e) would round 1 + e to 1."""
    e = sp.exp(-sp.Abs(z))
    return sp.Max(z, 0) + 2 * sp.atanh(e / (2 + e))


def _no_matrix(args) -> bool:
    return not any(a.has(sp.MatrixExpr, sp.MatrixBase) for a in args)


def _max_min(node):
    """Max / Min written by a user, through relu: Max(0, t) = Max(t, 0) = relu(t),
    Min(0, t) = -relu(-t), Max(a, b) = b + relu(a - b), Min(a, b) = a - relu(a - b)
    (more arguments one at a time). None when an argument holds a matrix object."""
    args = list(node.args)
    if not _no_matrix(args):
        return None
    is_max = isinstance(node, sp.Max)
    if len(args) == 2 and sp.S.Zero in args:
        (t,) = [a for a in args if a != 0]
        return relu(t) if is_max else -relu(-t)
    first, rest = args[0], type(node)(*args[1:])
    return rest + relu(first - rest) if is_max else first - relu(first - rest)


def _is_exp(e) -> bool:
    return isinstance(e, sp.exp)


def _sigmoid_of_power(node):
    """1/(1 + exp(-z)) -> sigmoid(z); 1/(1 + exp(z)) -> sigmoid(-z)."""
    base, exponent = node.args
    if exponent != -1 or not isinstance(base, sp.Add) or len(base.args) != 2:
        return None
    one, other = base.args if base.args[0] == 1 else base.args[::-1]
    if one != 1 or not _is_exp(other):
        return None
    return sigmoid(-other.args[0])


def _sigmoid_of_product(node):
    """exp(u) * sigmoid(-u) -> sigmoid(u) (exp(u) / (1 + exp(u)) after the power form)."""
    args = list(node.args)
    for k, a in enumerate(args):
        if isinstance(a, sigmoid):
            for m, b in enumerate(args):
                if _is_exp(b) and b.args[0] == -a.args[0]:
                    rest = [t for idx, t in enumerate(args) if idx not in (k, m)]
                    return sp.Mul(sigmoid(b.args[0]), *rest)
    return None


def _softplus_of_log(node):
    """log(1 + exp(z)) (or log(exp(z) + 1)) -> softplus(z)."""
    arg = node.args[0]
    if not isinstance(arg, sp.Add) or len(arg.args) != 2:
        return None
    one, other = arg.args if arg.args[0] == 1 else arg.args[::-1]
    if one != 1 or not _is_exp(other):
        return None
    return softplus(other.args[0])


def _log_sigmoid_of_log(node):
    """log(sigmoid(z)) -> log_sigmoid(z) (log of a sigmoid that underflows to 0 is -inf)."""
    arg = node.args[0]
    return log_sigmoid(arg.args[0]) if isinstance(arg, sigmoid) else None


_SIGMOID_HELPER = '''\
def _sigmoid(z):
    """1 / (1 + exp(-z)) without overflow: exp is only taken of min(z, 0) and -|z|."""
    return {np}.exp({np}.minimum(z, 0)) / (1 + {np}.exp(-{np}.abs(z)))
'''
_RELU_HELPER = '''\
def _relu(z):
    """max(z, 0) entry by entry."""
    return {np}.where(z > 0, z, {np}.zeros_like(z))
'''
_LEAKY_HELPER = '''\
def _leaky_relu(z, a):
    """z where z > 0, a z elsewhere."""
    return {np}.where(z > 0, z, a * z)
'''
_NORMAL_CDF_HELPER = '''\
def _normal_cdf(z):
    """Phi(z) = erfc(-z / sqrt 2) / 2: no cancellation for z << 0."""
    import math
    return 0.5 * {np}.vectorize(math.erfc, otypes=[float])(-z * 0.7071067811865476)
'''
_GELU_HELPER = '''\
def _gelu(z):
    """z Phi(z) as z erfc(-z / sqrt 2) / 2: no cancellation for z << 0."""
    import math
    return 0.5 * z * {np}.vectorize(math.erfc, otypes=[float])(-z * 0.7071067811865476)
'''


def _neg(code: str) -> str:
    """-code, bracketed: the code of an argument may be a sum (v0 - v1)."""
    return f"(-({code}))"


SPECS = [
    FunctionSpec(
        "sigmoid",
        sigmoid,
        lambda u, f: f * (1 - f),
        rf"{D}\sigma(u) = \sigma(u)(1-\sigma(u))\,{D}u",
        r"\sigma",
        aliases=("sigma",),
        latex_commands=("sigmoid",),
        numpy=helper("_sigmoid"),
        helpers={"_sigmoid": _SIGMOID_HELPER},
        # exp(-z) = inf gives 1/inf = 0: no NaN, no overflow trap
        native=lambda z: 1 / (1 + sp.exp(-z)),
        rewrite=lambda u: 1 / (1 + sp.exp(-u)),
        stable_forms=((sp.Pow, _sigmoid_of_power), (sp.Mul, _sigmoid_of_product)),
        complement=True,
        stable=True,
    ),
    FunctionSpec(
        "softplus",
        softplus,
        lambda u, f: sigmoid(u),
        rf"{D}\operatorname{{softplus}}(u) = \sigma(u)\,{D}u",
        r"\operatorname{softplus}",
        latex_commands=("softplus",),
        numpy=lambda p, c: p._call("logaddexp", p._zero, c[0]),
        native=_softplus_native,
        rewrite=lambda u: sp.log(1 + sp.exp(u)),
        stable_forms=((sp.log, _softplus_of_log),),
        stable=True,
    ),
    FunctionSpec(
        "log_sigmoid",
        log_sigmoid,
        lambda u, f: sigmoid(-u),
        rf"{D}\log\sigma(u) = \sigma(-u)\,{D}u",
        r"\operatorname{logsigmoid}",
        aliases=("logsigmoid",),
        numpy=lambda p, c: _neg(p._call("logaddexp", p._zero, _neg(c[0]))),
        native=lambda z: -_softplus_native(-z),
        rewrite=lambda u: -sp.log(1 + sp.exp(-u)),
        stable_forms=((sp.log, _log_sigmoid_of_log),),
        stable=True,
    ),
    FunctionSpec(
        "relu",
        relu,
        lambda u, f: heaviside(u),
        rf"{D}\operatorname{{ReLU}}(u) = H(u)\,{D}u",
        r"\operatorname{ReLU}",
        aliases=("ReLU",),
        numpy=helper("_relu"),
        helpers={"_relu": _RELU_HELPER},
        native=_max0,
        rewrite=lambda u: sp.Piecewise((u, u > 0), (0, True)),
        canonical=_max_min,
        canonical_classes=(sp.Max, sp.Min),
        kinks=(0.0,),
        kink_note="relu'(0) = 0 (JAX, PyTorch): relu'(t) = heaviside(t), heaviside(0) = 0",
        stable=True,
    ),
    FunctionSpec(
        "leaky_relu",
        leaky_relu,
        lambda u, f, a: a + (1 - a) * heaviside(u),
        rf"{D}\operatorname{{LeakyReLU}}(u, a) = (a + (1-a)H(u))\,{D}u",
        r"\operatorname{LeakyReLU}",
        aliases=("LeakyReLU",),
        numpy=helper("_leaky_relu"),
        helpers={"_leaky_relu": _LEAKY_HELPER},
        native=lambda z, a: sp.Max(z, 0) + a * sp.Min(z, 0),
        rewrite=lambda u, a: sp.Piecewise((u, u > 0), (a * u, True)),
        param_derivatives=(lambda u, f, a: u * (1 - heaviside(u)),),  # min(u, 0)
        kinks=(0.0,),
        kink_note="d/dt leaky_relu(0, a) = a (PyTorch); the slope a defaults to 1/100",
        nargs=(1, 2),
        sample_params=(sp.Rational(1, 5),),
        stable=True,
    ),
    FunctionSpec(
        "normal_cdf",
        normal_cdf,
        lambda u, f: sp.exp(-(u**2) / 2) / sp.sqrt(2 * sp.pi),
        rf"{D}\Phi(u) = \varphi(u)\,{D}u",
        r"\operatorname{ncdf}",
        aliases=("ncdf",),
        numpy=helper("_normal_cdf"),
        helpers={"_normal_cdf": _NORMAL_CDF_HELPER},
        array_api=False,
        native=lambda z: sp.erfc(-z / sp.sqrt(2)) / 2,
        rewrite=lambda u: (1 + sp.erf(u / sp.sqrt(2))) / 2,
        complement=True,
        stable=True,
    ),
    FunctionSpec(
        "gelu",
        gelu,
        lambda u, f: normal_cdf(u) + u * sp.exp(-(u**2) / 2) / sp.sqrt(2 * sp.pi),
        rf"{D}\operatorname{{GELU}}(u) = (\Phi(u) + u\,\varphi(u))\,{D}u",
        r"\operatorname{GELU}",
        aliases=("GELU",),
        numpy=helper("_gelu"),
        helpers={"_gelu": _GELU_HELPER},
        array_api=False,
        native=lambda z: z * sp.erfc(-z / sp.sqrt(2)) / 2,
        rewrite=lambda u: u * (1 + sp.erf(u / sp.sqrt(2))) / 2,
        stable=True,
    ),
]
