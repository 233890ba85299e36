"""SymEngine fast path for compile: derivation, CSE, and the LLVM ("native") backend.

SymEngine (C++) differentiates and finds common subexpressions one to two
orders of magnitude faster than SymPy; its ``Lambdify(..., backend="llvm")``
compiles straight to machine code. This module keeps all of that behind three
functions, importing ``symengine`` only when called (``import symcalc`` stays
fast):

* :func:`derive` -- gradient, then the Hessian's upper triangle *from the
  gradient*, each term differentiated only by the variables it contains;
* :func:`cse_to_sympy` -- SymEngine CSE, handed back as small SymPy pieces for
  the NumPy printer;
* :class:`NativeKernel` -- batched value / gradient through LLVM; the Hessian as a C kernel
  (:mod:`symcalc.codegen.c_kernel`: SIMD across points, the batch loop inside) where a C
  compiler is found and the Hessian is arithmetic, else through LLVM too.

>>> import sympy as sp
>>> x, y = sp.symbols("x y")
>>> grad, upper = derive(sp.sympify(x**2 * y), [x, y])
>>> [str(g) for g in grad], {k: str(v) for k, v in upper.items()}
(['2*x*y', 'x**2'], {(0, 0): '2*y', (0, 1): '2*x'})
"""

from __future__ import annotations

import numpy as np
import sympy as sp

__all__ = [
    "NativeUnsupported",
    "can_take",
    "to_symengine",
    "derive",
    "cse_to_sympy",
    "NativeKernel",
]

# SymPy functions SymEngine knows natively (and its LLVM backend compiles).
_NATIVE_FUNCS = (
    sp.exp,
    sp.log,
    sp.sin,
    sp.cos,
    sp.tan,
    sp.sinh,
    sp.cosh,
    sp.tanh,
    sp.asin,
    sp.acos,
    sp.atan,
    sp.asinh,
    sp.acosh,
    sp.atanh,
    sp.Abs,
    sp.Max,
    sp.Min,
    sp.sign,  # registry hook: the native forms of abs / heaviside / gelu use these
    sp.erf,
    sp.erfc,
)


class NativeUnsupported(Exception):
    """The expression uses a construct SymEngine / its LLVM backend cannot take."""


def _se():
    import symengine

    return symengine


def can_take(expr) -> bool:
    """True when every function in expr is one SymEngine knows natively."""
    if not isinstance(expr, sp.Basic):
        return True
    for fn in expr.atoms(sp.Function):
        if not isinstance(fn, _NATIVE_FUNCS):
            return False
    return not expr.has(sp.Derivative, sp.Integral, sp.Piecewise, sp.MatrixSymbol)


def to_symengine(expr):
    """expr as a SymEngine object (raises NativeUnsupported if it cannot be)."""
    if not can_take(expr):
        names = sorted(
            {type(f).__name__ for f in expr.atoms(sp.Function) if not isinstance(f, _NATIVE_FUNCS)}
        )
        raise NativeUnsupported(f"SymEngine has no {', '.join(names)}")
    return _se().sympify(expr)


def _terms(e):
    se = _se()
    return e.args if isinstance(e, se.Add) else (e,)


def _sum(parts):
    se = _se()
    return se.Add(*parts) if parts else se.Integer(0)


def internal_symbols(wrt, params=()):
    """SymPy -> internal-name map (``_v0``, ``_p0``, ...) that no CSE temporary can clash with."""
    mapping = {s: sp.Symbol(f"_v{k}") for k, s in enumerate(wrt)}
    mapping.update({s: sp.Symbol(f"_p{k}") for k, s in enumerate(params)})
    return mapping


def derive_symengine(f, wrt, params=()):
    """f, the gradient list and the Hessian upper-triangle dict {(i, j): expr} (nonzeros), in SymEngine.

    Symbols are renamed to internal names (:func:`internal_symbols`); the
    returned ``args`` are the SymEngine symbols of wrt then params.
    """
    fe, args = _renamed(f, wrt, params)
    xs = args[: len(wrt)]
    index = {x: k for k, x in enumerate(xs)}
    n = len(xs)
    grad_parts = [[] for _ in range(n)]
    for term in _terms(fe):
        for v in term.free_symbols:
            k = index.get(v)
            if k is not None:
                grad_parts[k].append(term.diff(v))
    grad = [_sum(p) for p in grad_parts]
    upper = {}
    for i, g in enumerate(grad):
        parts: dict[int, list] = {}
        for term in _terms(g):
            for v in term.free_symbols:
                j = index.get(v)
                if j is not None and j >= i:
                    parts.setdefault(j, []).append(term.diff(v))
        for j in sorted(parts):
            h = _sum(parts[j])
            if h != 0:
                upper[(i, j)] = h
    return fe, args, grad, upper


def for_evaluation(derived):
    """derive_symengine's output with each gradient / Hessian sum factored (:func:`factor_by_pairs`).

    The derivation keeps sums of monomials (cheap to differentiate again); the
    factored form is what compiled code evaluates: fewer multiplications, more sharing.
    """
    fe, args, grad, upper = derived
    return (
        fe,
        args,
        [factor_by_pairs(g) for g in grad],
        {k: factor_by_pairs(v) for k, v in upper.items()},
    )


def factor_by_pairs(expr):
    """Group the terms of a sum by the symbols they contain; pull out shared factors greedily.

    ``48*d*r**-14 - 24*d*r**-8`` becomes ``d*(48*r**-14 - 24*r**-8)``: one multiply per
    component instead of two, and the bracket is shared (by CSE) across components and
    across the two atoms of a pair. Exact: no expansion, no division.
    """
    se = _se()
    if not isinstance(expr, se.Add):
        return expr
    groups: dict = {}
    for term in expr.args:
        groups.setdefault(frozenset(term.free_symbols), []).append(term)
    return se.Add(*[_factor_terms([_factors(t) for t in terms]) for terms in groups.values()])


def _factors(term):
    """The factors of a product, small integer powers of a compound base spelled out
    (d**2 -> d, d), so that d is seen as shared by d**2*A and d*B."""
    se = _se()
    out = []
    for f in term.args if isinstance(term, se.Mul) else (term,):
        if isinstance(f, se.Pow) and not isinstance(f.args[0], se.Symbol):
            base, ex = f.args
            if ex.is_Integer and 2 <= int(ex) <= 4:
                out.extend([base] * int(ex))
                continue
        out.append(f)
    return out


def _factor_terms(factor_lists):
    """sum of products (each a list of factors), with the most shared factor pulled out first."""
    se = _se()
    if len(factor_lists) < 2:
        return se.Add(*[se.Mul(*fl) for fl in factor_lists])
    counts: dict = {}
    for fl in factor_lists:
        for f in set(fl):
            if not f.is_Number:
                counts[f] = counts.get(f, 0) + 1
    best = max(counts, key=counts.__getitem__, default=None)  # first of the most shared
    if best is None or counts[best] < 2:
        return se.Add(*[se.Mul(*fl) for fl in factor_lists])
    with_best, without = [], []
    for fl in factor_lists:
        if best in fl:
            rest = list(fl)
            rest.remove(best)
            with_best.append(rest)
        else:
            without.append(fl)
    return best * _factor_terms(with_best) + _factor_terms(without)


def _renamed(expr, wrt, params):
    """expr in SymEngine with wrt / params renamed to their internal names (one C++ pass)."""
    se = _se()
    mapping = internal_symbols(wrt, params)
    # SymEngine stores names as UTF-8: a name it cannot encode (a lone surrogate) never goes in
    names_fit = all(_utf8(s.name) for s in mapping)
    se_map = {se.Symbol(s.name): se.Symbol(v.name) for s, v in mapping.items()} if names_fit else {}
    if len(se_map) != len(mapping):  # two symbols share a name (different assumptions), or a name
        e = to_symengine(expr.xreplace(mapping))  # SymEngine cannot hold: slow, exact path
    else:
        e = to_symengine(expr).xreplace(se_map)
    return e, [se.Symbol(mapping[s].name) for s in list(wrt) + list(params)]


def _utf8(name: str) -> bool:
    r"""True when name is valid UTF-8 text (no lone surrogates).

    >>> _utf8("θ"), _utf8("\ud800")
    (True, False)
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def back_map(wrt, params=()):
    """Internal SymPy names -> the caller's Symbols."""
    return {v: s for s, v in internal_symbols(wrt, params).items()}


def to_sympy(expr, names):
    """A SymEngine expression as SymPy, with the caller's own Symbols (assumptions kept)."""
    return sp.sympify(expr, strict=True).xreplace(names)


def _fast_sympy(expr, by_name: dict, memo: dict):
    """A SymEngine expression as SymPy without re-canonicalizing it: SymEngine's Add, Mul and
    Pow are already flat and canonical, so they are rebuilt unevaluated (``sympify`` would
    re-run SymPy's flattening and assumptions on every node: most of the time of a large
    kernel). Symbols are looked up by name in ``by_name``; anything else (functions,
    constants) goes through :func:`to_sympy`.

    >>> se = _se()
    >>> x = se.Symbol("x")
    >>> _fast_sympy(2 * x**3 - 1, {"x": sp.Symbol("y")}, {})
    2*y**3 - 1
    """
    got = memo.get(expr)
    if got is not None:
        return got
    se = _se()
    if isinstance(expr, se.Symbol):
        out = by_name[expr.name] if expr.name in by_name else sp.Symbol(expr.name)
    elif isinstance(expr, se.Integer):
        out = sp.Integer(int(expr))
    elif isinstance(expr, se.Rational):
        out = sp.Rational(int(expr.p), int(expr.q))
    elif isinstance(expr, se.RealDouble):
        out = sp.Float(float(expr))
    elif isinstance(expr, (se.Add, se.Mul)) or (isinstance(expr, se.Pow) and expr.args[0] != se.E):
        args = [_fast_sympy(a, by_name, memo) for a in expr.args]
        kind = (
            sp.Add if isinstance(expr, se.Add) else sp.Mul if isinstance(expr, se.Mul) else sp.Pow
        )
        out = kind(*args, evaluate=False)
    else:
        names = {sp.Symbol(k): v for k, v in by_name.items()}
        out = to_sympy(expr, names)
    memo[expr] = out
    return out


def derive(f, wrt):
    """SymPy gradient list and upper-triangle Hessian dict, derived with SymEngine."""
    _, _, grad, upper = derive_symengine(f, wrt)
    names = back_map(wrt)
    return [to_sympy(g, names) for g in grad], {k: to_sympy(v, names) for k, v in upper.items()}


def _protect_precise_forms(exprs):
    """log(1 + u) -> np_log1p(u), exp(u) - 1 -> np_expm1(u) as opaque functions, so CSE
    cannot pull 1 + u or exp(u) out of them (the printer writes np.log1p / np.expm1)."""
    se = _se()
    one, minus_one = se.Integer(1), se.Integer(-1)
    log_type = type(se.log(se.Symbol("_probe")))

    def is_exp(a):  # SymEngine writes exp(u) as Pow(E, u)
        return isinstance(a, se.Pow) and a.args[0] == se.E

    log1p = {}
    for e in exprs:
        for node in e.atoms(log_type):
            arg = node.args[0]
            if isinstance(arg, se.Add) and one in arg.args:
                log1p[node] = se.Function("np_log1p")(se.Add(*[a for a in arg.args if a != one]))
    if log1p:
        exprs = [e.xreplace(log1p) for e in exprs]
    expm1 = {}
    for e in exprs:
        for node in e.atoms(se.Add):
            if minus_one in node.args:
                exps = [a for a in node.args if is_exp(a)]
                if exps:
                    rest = [a for a in node.args if a != minus_one and a != exps[0]]
                    expm1[node] = se.Add(se.Function("np_expm1")(exps[0].args[1]), *rest)
    return [e.xreplace(expm1) for e in exprs] if expm1 else exprs


def cse_to_sympy(exprs, names, prefix="t", precise=True):
    """CSE of SymEngine expressions; returns ([(temp Symbol, SymPy expr)], [SymPy exprs]).

    Temporaries are renamed ``{prefix}0, {prefix}1, ...``; ``names`` maps the
    internal symbols back to the caller's (see :func:`back_map`). ``precise=False``
    skips protecting log1p / expm1 forms, for expressions that hold no exp or log.
    """
    se = _se()
    exprs = list(exprs)
    repl, reduced = se.cse(_protect_precise_forms(exprs) if precise else exprs)
    by_name = {str(k): v for k, v in names.items()}
    temps = [sp.Symbol(f"{prefix}{k}") for k in range(len(repl))]
    by_name.update((old.name, new) for (old, _), new in zip(repl, temps))
    memo: dict = {}
    out_repl = [(t, _fast_sympy(e, by_name, memo)) for t, (_, e) in zip(temps, repl)]
    out_reduced = [_fast_sympy(e, by_name, memo) for e in reduced]
    return out_repl, out_reduced


def _native_form(expr):
    """Rewrite the registry's functions into the forms their records give for SymEngine's
    LLVM backend (softplus -> max(z, 0) + 2 atanh(e / (2 + e)), e = exp(-|z|); relu ->
    max(z, 0), ...), the compile stage's log-sum-exp nodes with their max shifted out, and
    1 - f(u) as f(-u) where f(-u) = 1 - f(u) (sigmoid: no cancellation)."""
    from symcalc.codegen.stable_forms import complements, logsumexp, softmax_weight
    from symcalc.expr.registry import REGISTRY

    if not isinstance(expr, sp.Basic):
        return expr
    expr = complements(expr)
    if expr.has(softmax_weight):
        expr = expr.replace(lambda n: isinstance(n, softmax_weight), lambda n: n.rewrite(sp.exp))
    if expr.has(logsumexp):
        expr = expr.replace(
            lambda n: isinstance(n, logsumexp), lambda n: _native_logsumexp(*n.args)
        )
    classes = REGISTRY.classes(native=True)
    if not expr.has(*classes):
        return expr
    return expr.replace(lambda n: isinstance(n, classes), lambda n: REGISTRY.of(n).native(*n.args))


def _native_logsumexp(*terms):
    """log(sum(exp(t))) with the max shifted out; two terms as max + softplus(-|a - b|)."""
    from symcalc.expr.families.activations import _softplus_native

    if len(terms) == 2:
        a, b = terms
        return sp.Max(a, b) + _softplus_native(-sp.Abs(a - b))
    m = sp.Max(*terms)
    return m + sp.log(sp.Add(*[sp.exp(t - m) for t in terms]))


def _convert_derivatives(f, wrt, params, grad, upper):
    """SymPy f / gradient / Hessian (named functions allowed) -> SymEngine, in native form."""

    def conv(e):
        return _renamed(_native_form(sp.sympify(e, strict=True)), wrt, params)[0]

    args = _renamed(sp.S.Zero, wrt, params)[1]
    return conv(f), args, [conv(g) for g in grad], {k: conv(v) for k, v in upper.items()}


#: Level 2 up to this many operations (SymEngine's ``count_ops`` of a method's outputs before
#: CSE) in all and per output, else level 0. Measured on Lennard-Jones clusters (2,000
#: configurations): the LJ-20 gradient (35k operations, 60 outputs) runs 10x faster at level 2
#: than at 0 for 0.6 s more compile, the LJ-13 Hessian (73k, 780) compiles in 2-3.5 s at levels
#: 1-2 and meets its speed target there; level 1 gains little over 0. LLVM's compile time at
#: level 2 grows steeply with the size of the function (the LJ-38 gradient, 131k: 2.2 s instead
#: of 0.3 s for 1.7x; the LJ-38 Hessian, 660k: 25-36 s instead of 1.2 s) and with the size of
#: one expression (the LJ-55 energy, 41k operations in one output: 5-10 s instead of 1.5 s),
#: so those stay at level 0 (the compile-time targets of issue 15).
OPT2_OPERATIONS, OPT2_PER_OUTPUT = 100_000, 10_000


def _operations(outputs) -> tuple[int, int]:
    """(SymEngine's operation count, number of entries) of a method's outputs (a Hessian:
    its upper triangle, the entries LLVM computes)."""
    se = _se()
    exprs = []
    for out in outputs:
        if isinstance(out, list):
            exprs += out
        else:
            n = out.rows
            exprs += [out[i, j] for i in range(n) for j in range(i, n)]
    return (int(se.count_ops(*exprs)) if exprs else 0), len(exprs)


def opt_level_for(operations: int, outputs: int = 1) -> int:
    """The LLVM optimisation level for a function of this many operations and outputs.

    >>> opt_level_for(14_469, 39), opt_level_for(73_164, 780), opt_level_for(130_644, 114)
    (2, 2, 0)
    >>> opt_level_for(41_579, 1), opt_level_for(2_183, 1)
    (0, 2)
    """
    if operations <= OPT2_OPERATIONS and operations <= OPT2_PER_OUTPUT * max(outputs, 1):
        return 2
    return 0


class NativeKernel:
    """value / gradient / Hessian through SymEngine's LLVM Lambdify (CSE on).

    Input: points x of shape (..., n) and parameter values broadcasting to the
    batch shape; computation in float64, output cast to x's dtype.
    """

    def __init__(self, f, wrt, params, derived=None, opt_level=None, sympy_derivatives=None):
        """derived: the output of :func:`derive_symengine`; or sympy_derivatives =
        (grad list, upper dict) in SymPy (named functions such as sigmoid allowed).

        The code of each method is generated on its first call (a user who asks only
        for gradients never pays for the Hessian's compile). ``opt_level`` given: every
        method through LLVM at that level (no C Hessian).
        """
        se = _se()
        try:
            if derived is None and sympy_derivatives is not None:
                derived = _convert_derivatives(f, wrt, params, *sympy_derivatives)
            elif derived is None:
                derived = for_evaluation(derive_symengine(_native_form(f), wrt, params))
            fe, args, grad, upper = derived
            n = len(wrt)
            H = se.zeros(n, n)
            for (i, j), h in upper.items():
                H[i, j] = h
                H[j, i] = h
            self._upper = dict(upper)
            self._outputs = {
                "value": ([fe],),
                "gradient": (list(grad),),
                "hessian": (H,),
                "value_and_gradient": ([fe], list(grad)),
                "value_gradient_hessian": ([fe], list(grad), H),
            }
            self._args = args
            self.n, self.n_params = n, len(params)
            self.opt_level = opt_level  # None: chosen per function by its size (opt_level_for)
            self._compiled = {}
            self._get("value")  # fail early (unsupported constructs) on the cheapest one
        except NativeUnsupported:
            raise
        except (RuntimeError, NotImplementedError, TypeError, ValueError, AttributeError) as exc:
            raise NativeUnsupported(str(exc) or type(exc).__name__) from exc
        self.n = n
        self.n_params = len(params)

    def _get(self, name):
        fn = self._compiled.get(name)
        if fn is None and name == "hessian" and self.opt_level is None:
            fn = self._c_hessian()
        if fn is None:
            se = _se()
            try:
                fn = se.Lambdify(
                    self._args,
                    *self._outputs[name],
                    backend="llvm",
                    cse=True,
                    real=True,
                    opt_level=self.level(name),
                )
            except (RuntimeError, NotImplementedError, TypeError, ValueError) as exc:
                raise NativeUnsupported(f"LLVM cannot compile the {name}: {exc}") from exc
            self._compiled[name] = fn
        return fn

    def _c_hessian(self):
        """The Hessian as a C kernel (:mod:`symcalc.codegen.c_kernel`: the batch loop inside,
        SIMD across points, the upper triangle mirrored), or None where it cannot be (no C
        compiler, a function C is not given); then LLVM compiles it."""
        from symcalc.codegen import c_kernel

        if c_kernel.compiler() is None:
            return None
        try:
            fn = c_kernel.CFunction(
                self._args, self._upper, symmetric_n=len(self._args) - self.n_params
            )
        except c_kernel.CUnsupported:
            return None
        self._compiled["hessian"] = fn
        return fn

    def level(self, name) -> int:
        """The LLVM optimisation level of one method: the caller's, or :func:`opt_level_for`."""
        if self.opt_level is not None:
            return self.opt_level
        return opt_level_for(*_operations(self._outputs[name]))

    def compile_all(self):
        """Generate the machine code of every method now (instead of on first use)."""
        for name in self._outputs:
            self._get(name)
        return self

    def _stack(self, x, params, batch):
        if not params:
            return np.asarray(x, dtype=np.float64)
        inp = np.empty(batch + (self.n + self.n_params,), dtype=np.float64)
        inp[..., : self.n] = x
        for k, p in enumerate(params):
            inp[..., self.n + k] = p
        return inp

    @staticmethod
    def _cast(arr, shape, dtype):
        arr = np.asarray(arr).reshape(shape)
        return arr if arr.dtype == dtype else arr.astype(dtype)

    def value(self, x, params, batch):
        return self._cast(self._get("value")(self._stack(x, params, batch)), batch, x.dtype)

    def _call(self, name, x, params, batch, shape, out):
        inp = self._stack(x, params, batch)
        fn = self._get(name)
        if out is not None and out.dtype == np.float64 and out.flags.c_contiguous:
            fn(inp, out=out.reshape((-1,) + shape[len(batch) :]) if batch else out)
            return out
        result = self._cast(fn(inp), shape, x.dtype)
        if out is not None:
            out[...] = result
            return out
        return result

    def gradient(self, x, params, batch, out=None):
        return self._call("gradient", x, params, batch, batch + (self.n,), out)

    def hessian(self, x, params, batch, out=None):
        return self._call("hessian", x, params, batch, batch + (self.n, self.n), out)

    def value_and_gradient(self, x, params, batch):
        v, g = self._get("value_and_gradient")(self._stack(x, params, batch))
        return self._cast(v, batch, x.dtype), self._cast(g, batch + (self.n,), x.dtype)

    def value_gradient_hessian(self, x, params, batch):
        v, g, h = self._get("value_gradient_hessian")(self._stack(x, params, batch))
        n = self.n
        return (
            self._cast(v, batch, x.dtype),
            self._cast(g, batch + (n,), x.dtype),
            self._cast(h, batch + (n, n), x.dtype),
        )
