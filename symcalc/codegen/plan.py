"""The backend-neutral plan of a kernel: derivatives and common subexpressions.

Explicit symbols: f, its gradient and the Hessian's upper triangle (:class:`_Derivatives`,
SymEngine's fast path or SymPy), one CSE per function with negations inlined and integer
powers lowered to multiplication ladders. Matrix form: the gradient and Hessian from the
matrix calculus, and a CSE that keeps elementwise functions whole (:func:`_matrix_cse`).

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> _power_ladder(x, {4})
([(x_p2, x*x), (x_p4, x_p2*x_p2)], {x**4: x_p4})
"""

from __future__ import annotations

import sympy as sp

from symcalc.codegen.arguments import _array_ndim, _check_free_symbols, _given_entries
from symcalc.codegen.numpy_printer import stabilize
from symcalc.codegen.source import CodeNames
from symcalc.errors import InputError, ShapeError


class _Derivatives:
    """f, its gradient and the Hessian's upper triangle, in SymEngine (fast path) or SymPy.

    ``engine`` is "symengine" when f uses only functions SymEngine knows and no
    precomputed derivatives were given; then nothing is converted to SymPy
    until a printer or the user asks (:meth:`sympy_gradient`).
    """

    def __init__(self, f, wrt, params=(), gradient=None, hessian=None):
        from symcalc.codegen import native

        self.wrt = list(wrt)
        self.names = native.back_map(wrt, params)
        if gradient is None and hessian is None and native.can_take(f):
            self.engine = "symengine"
            self.transcendental = _transcendental(f)
            self.derived = native.for_evaluation(native.derive_symengine(f, wrt, params))
            self.f, _, self.grad, self.upper = self.derived
        else:
            self.engine = "sympy"
            self.f = f
            self.grad, self.upper = _derive_explicit(f, wrt, gradient, hessian)
            _check_free_symbols(
                list(self.grad) + list(self.upper.values()),
                list(wrt) + list(params),
                what="the given gradient / hessian",
            )
            _refuse_unevaluated(list(self.grad) + list(self.upper.values()))

    def sympy_gradient(self):
        if self.engine == "sympy":
            return list(self.grad)
        return [sp.sympify(g, strict=True).xreplace(self.names) for g in self.grad]

    def cse(self, exprs, names: CodeNames):
        """CSE of some of f / gradient / Hessian entries, as stabilized SymPy pieces in the
        code names (``names``), temporaries ``t0, t1, ...``."""
        prefix = names.TEMP_PREFIX
        if self.engine == "symengine":
            from symcalc.codegen import native

            to_code = {internal: names.symbol(user) for internal, user in self.names.items()}
            repl, reduced = native.cse_to_sympy(exprs, to_code, prefix, self.transcendental)
            return [(t, stabilize(e)) for t, e in repl], [stabilize(e) for e in reduced]
        stable = [stabilize(names.rename(e), precise=True) for e in exprs]
        replacements, reduced = sp.cse(stable, symbols=sp.numbered_symbols(prefix), order="none")
        return list(replacements), list(reduced)

    def show(self, e):
        """A short readable form of e for a comment (user names), or None when long."""
        if isinstance(e, sp.Basic) and _larger_than(e, 40):
            return None  # printing a huge SymPy expression just to measure it costs seconds
        if self.engine == "symengine" and _se_larger_than(e, 40):
            return None  # the same for SymEngine (thousands of Hessian entries)
        text = str(e)
        if len(text) > 80:
            return None
        if self.engine == "symengine":
            text = str(sp.sympify(e, strict=True).xreplace(self.names))
        return text

    def sympy_upper(self):
        if self.engine == "sympy":
            return dict(self.upper)
        return {k: sp.sympify(v, strict=True).xreplace(self.names) for k, v in self.upper.items()}


def _transcendental(f) -> bool:
    """False when f is algebraic (symbols, numbers, +, *, powers with numeric exponents): then
    no derivative holds an exp or a log, and no log1p / expm1 form needs protecting in CSE.

    >>> x = sp.Symbol("x")
    >>> _transcendental(1 / (x**2 + 1) ** 6), _transcendental(sp.log(1 + x)), _transcendental(2**x)
    (False, True, True)
    """
    if f.atoms(sp.Function) or f.has(sp.E):
        return True
    return any(not p.exp.is_number for p in f.atoms(sp.Pow))


def _se_larger_than(expr, limit) -> bool:
    """True when a SymEngine expression has more than `limit` operations (counted in C++).

    >>> import symengine as se
    >>> x = se.Symbol("x")
    >>> _se_larger_than(x + 1, 40), _se_larger_than(se.Add(*se.symbols("y0:60")), 40)
    (False, True)
    """
    import symengine as se

    return bool(getattr(expr, "args", ())) and int(se.count_ops(expr)) > limit


def _larger_than(expr, limit) -> bool:
    """True when expr has more than `limit` nodes (stops counting there)."""
    for k, _ in enumerate(sp.preorder_traversal(expr)):
        if k >= limit:
            return True
    return False


def _refuse_unevaluated(exprs):
    for e in exprs:
        for d in e.atoms(sp.Derivative):
            inner = d.expr
            fn = inner.func.__name__ if isinstance(inner, sp.Function) else str(inner)
            raise InputError(
                f"the derivative of {inner} has no closed form ({fn} is not differentiable "
                "as a smooth function); compile a smooth expression instead"
            )


def _derive_explicit(f, wrt, gradient=None, hessian=None):
    """Gradient list and Hessian (upper triangle dict) as SymPy, Hessian from the gradient."""
    from symcalc.derivation import fastdiff

    names = {sp.Symbol(s.name): s for s in wrt}

    if gradient is None:
        grad = [g.xreplace(names) for g in fastdiff.gradient_entries(f, wrt)]
    else:
        grad = _given_entries(gradient, "gradient")
        if len(grad) != len(wrt):
            raise ShapeError(f"gradient has {len(grad)} entries but there are {len(wrt)} variables")
    if hessian is None:
        H = fastdiff.hessian_from_gradient(grad, wrt).xreplace(names)
    else:
        _given_entries(hessian, "hessian")  # no text: Matrix() would sympify it
        H = sp.Matrix(hessian)
        if H.shape != (len(wrt), len(wrt)):
            raise ShapeError(f"hessian must be {len(wrt)} x {len(wrt)}, got {H.rows} x {H.cols}")
    n = len(wrt)
    upper = {(i, j): H[i, j] for i in range(n) for j in range(i, n) if H[i, j] != 0}
    return grad, upper


def _is_constant(e) -> bool:
    return not e.free_symbols


def _collect_int_powers(exprs):
    """{base: set of integer exponents} over all Pow(base, int) nodes worth lowering."""
    found: dict = {}
    for e in exprs:
        for p in e.atoms(sp.Pow):
            base, ex = p.args
            if ex.is_Integer and abs(int(ex)) <= 64 and (ex < 0 or ex > 2 or not base.is_Symbol):
                found.setdefault(base, set()).add(int(ex))
    return found


def _power_ladder(base, exps):
    """Temporaries computing base**k for every k in exps by multiplication only.

    Negative powers go through one reciprocal r = 1/base, then the same ladder on r.
    Returns (assignments [(Symbol, expr)], substitution {Pow: Symbol}).
    """
    assignments, subs = [], {}
    for sign, ks in (
        (1, sorted(k for k in exps if k > 0)),
        (-1, sorted(-k for k in exps if k < 0)),
    ):
        if not ks:
            continue
        root = base
        if sign < 0:
            root = sp.Symbol(f"{base.name}_inv")
            assignments.append((root, sp.Pow(base, -1, evaluate=False)))
        have = {1: root}

        def need(k, have=have, sign=sign):
            if k in have:
                return have[k]
            half = k // 2
            a, b = need(half), need(k - half)
            sym = sp.Symbol(f"{base.name}_{'p' if sign > 0 else 'm'}{k}")
            assignments.append((sym, sp.Mul(a, b, evaluate=False)))
            have[k] = sym
            return sym

        for k in ks:
            subs[sp.Pow(base, sign * k)] = need(k)
    return assignments, subs


def _substitute(expr, subs: dict, memo: dict):
    """expr with the subexpressions in subs replaced, rebuilt *unevaluated* (xreplace would
    re-run SymPy's flattening on every rebuilt node; replacing a power by its ladder symbol
    or a temporary by its negation keeps the expression canonical, so none is needed).
    memo is shared between the calls of one pass (the keys of subs must not change in it).

    >>> x, y, s = sp.symbols("x y s")
    >>> _substitute(3 * x**2 * y + x**2, {x**2: s}, {})
    3*s*y + s
    """
    if expr in subs:
        return subs[expr]
    if expr.is_Atom or not expr.args:
        return expr
    got = memo.get(expr)
    if got is not None:
        return got
    args = [_substitute(a, subs, memo) if isinstance(a, sp.Basic) else a for a in expr.args]
    if all(a is b for a, b in zip(args, expr.args)):
        out = expr
    elif isinstance(expr, (sp.Add, sp.Mul, sp.Pow)):
        out = expr.func(*args, evaluate=False)
    else:
        out = expr.func(*args)
    memo[expr] = out
    return out


def _inline_negations(assignments, outputs):
    """Put t = -x back where it is used: q0 + t is one subtraction, not a negation and an add."""
    subs: dict = {}
    memo: dict = {}
    kept = []
    for sym, e in assignments:
        e = _substitute(e, subs, memo) if subs else e
        coeff, rest = e.as_coeff_Mul() if isinstance(e, sp.Expr) else (1, e)  # a condition
        if coeff == -1 and rest.is_Symbol:
            subs[sym] = e
            continue
        kept.append((sym, e))
    if not subs:
        return assignments, outputs
    return kept, [_substitute(o, subs, memo) for o in outputs]


def _tree_size(expr) -> int:
    return sum(1 for _ in sp.preorder_traversal(expr))


def _lower_powers(assignments, outputs, prefix="t"):
    """Integer powers as multiplication ladders, placed right after their base is known.

    A compound base (``(a - b)**2``) is first named as a temporary of its own, so
    it is computed once. NumPy's ``x**k`` costs ~10 multiplications.
    """
    all_exprs = [e for _, e in assignments] + list(outputs)
    powers = _collect_int_powers(all_exprs)
    if not powers:
        return assignments, outputs
    memo: dict = {}
    position = {sym: k for k, (sym, _) in enumerate(assignments)}
    inserts: dict[int, list] = {}
    subs = {}
    # smaller bases first: a compound base can contain another's power
    ordered = sorted(powers.items(), key=lambda kv: (_tree_size(kv[0]), str(kv[0])))
    for n_base, (base, exps) in enumerate(ordered):
        at = max((position.get(s, -1) for s in base.free_symbols), default=-1)
        ladder_base = base
        if not base.is_Symbol:
            ladder_base = sp.Symbol(f"{prefix}b{n_base}")
            inserts.setdefault(at, []).append((ladder_base, base, True))
        ladder, s = _power_ladder(ladder_base, exps)
        subs.update(
            {sp.Pow(base, k): s[sp.Pow(ladder_base, k)] if k != 1 else ladder_base for k in exps}
        )
        inserts.setdefault(at, []).extend((sym, e, False) for sym, e in ladder)

    # a compound base is rewritten with the ladders of its own sub-bases; a ladder step is final
    def placed(items):
        return [(sym, _substitute(e, subs, memo) if rewrite else e) for sym, e, rewrite in items]

    result = placed(inserts.get(-1, []))
    for k, (sym, e) in enumerate(assignments):
        result.append((sym, _substitute(e, subs, memo)))
        result.extend(placed(inserts.get(k, [])))
    return result, [_substitute(o, subs, memo) for o in outputs]


def _shared_temporaries(d, exprs, names: CodeNames):
    """One CSE over every output (value, gradient, Hessian entries), negations inlined,
    integer powers lowered: ([(temp, expr)], [reduced expr per output]), in code names."""
    nonconst = [(k, e) for k, e in enumerate(exprs) if not _is_constant(e)]
    repl, reduced = d.cse([e for _, e in nonconst], names) if nonconst else ([], [])
    repl, reduced = _inline_negations(repl, reduced)
    repl, reduced = _lower_powers(repl, reduced, names.TEMP_PREFIX)
    final = [sp.sympify(e, strict=True) if _is_constant(e) else None for e in exprs]
    for (k, _), r in zip(nonconst, reduced):
        final[k] = r
    return repl, final


def _needed(repl, outputs):
    """The temporaries the outputs depend on, in definition order."""
    need = set()
    for r in outputs:
        need |= getattr(r, "free_symbols", set())
    kept = []
    for sym, e in reversed(repl):
        if sym in need:
            kept.append((sym, e))
            need |= e.free_symbols
    return kept[::-1], need


def _matrix_derivatives(f, wrt, gradient, hessian):
    from symcalc.derivation import api as calculus

    if gradient is None:
        gradient = calculus.gradient(f, wrt)
    want_hessian = _array_ndim(wrt) <= 1
    if hessian is None and want_hessian:
        hessian = calculus.hessian(f, wrt)
    return gradient, hessian


def _matrix_subtrees(expr, counts, sizes):
    """Count the compound matrix (and matrix-valued scalar) subtrees; Lambdas are opaque."""
    if expr.is_Atom or isinstance(
        expr, (sp.MatrixSymbol, sp.Lambda, sp.OneMatrix, sp.Identity, sp.ZeroMatrix)
    ):
        return 1
    size = 1 + sum(_matrix_subtrees(a, counts, sizes) for a in expr.args if isinstance(a, sp.Basic))
    is_matrix = isinstance(expr, sp.MatrixExpr)
    if isinstance(expr, sp.MatMul):  # c*A*B*C also counts A*B, B*C, A*B*C (see _replace)
        for inner in _sub_products(expr):
            counts[inner] = counts.get(inner, 0) + 1
            sizes[inner] = 2 * len(inner.args)
    is_matrix_scalar = isinstance(expr, (sp.Trace, sp.Determinant)) or (
        isinstance(expr, sp.Function) and any(isinstance(a, sp.MatrixExpr) for a in expr.args)
    )
    # diag(v) is never named: a temporary would be an m x m array (its vector v is shared)
    trivial = isinstance(expr, sp.DiagMatrix) or (
        isinstance(expr, sp.Transpose) and isinstance(expr.args[0], sp.MatrixSymbol)
    )
    if (is_matrix or is_matrix_scalar) and not trivial:
        counts[expr] = counts.get(expr, 0) + 1
        sizes[expr] = size
    return size


def _matrix_cse(exprs, prefix="t"):
    """Name every matrix subexpression used more than once (smallest first).

    sympy.cse would pull the Lambda out of an elementwise function; this one
    treats ``f.(M)`` as a unit and only shares whole matrix products / sums.
    """
    counts, sizes = {}, {}
    for e in exprs:
        _matrix_subtrees(e, counts, sizes)
    repeated = sorted((s for s, c in counts.items() if c > 1), key=lambda s: (sizes[s], str(s)))
    mapping, repl = {}, []
    for k, sub in enumerate(repeated):
        if isinstance(sub, sp.MatrixExpr):
            temp = sp.MatrixSymbol(f"{prefix}{k}", *sub.shape)
        else:
            temp = sp.Symbol(f"{prefix}{k}")
        repl.append((temp, _replace(sub, mapping, top=True)))
        mapping[sub] = temp
    return repl, [_replace(e, mapping) for e in exprs]


def _sub_products(expr):
    """The proper contiguous sub-products of a MatMul (and its matrix part without the scalar)."""
    coeff, mats = expr.as_coeff_matrices()
    mats = list(mats)
    out = []
    for length in range(2, len(mats) + 1):
        for start in range(0, len(mats) - length + 1):
            if length == len(mats) and coeff == 1:
                continue
            out.append(sp.MatMul(*mats[start : start + length]))
    return out


def _replace(expr, mapping, top=False):
    """xreplace that also finds A*B inside c*A*B (SymPy flattens the scalar into the product)."""
    if not top and expr in mapping:
        return mapping[expr]
    if expr.is_Atom or isinstance(expr, (sp.MatrixSymbol, sp.Lambda)):
        return expr
    if isinstance(expr, sp.MatMul):
        coeff, mats = expr.as_coeff_matrices()
        coeff = _replace(coeff, mapping)  # a shared scalar in the coefficient: lse(z) in -lse(z)*1
        mats = [_replace(m, mapping) for m in mats]
        for length in range(len(mats), 1, -1):  # longest named sub-product first
            for start in range(0, len(mats) - length + 1):
                sub = sp.MatMul(*mats[start : start + length])
                if sub in mapping and not (top and length == len(mats) and coeff == 1):
                    mats = mats[:start] + [mapping[sub]] + mats[start + length :]
                    return sp.MatMul(coeff, *mats) if len(mats) > 1 or coeff != 1 else mats[0]
        return (
            sp.MatMul(coeff, *mats)
            if coeff != 1
            else (sp.MatMul(*mats) if len(mats) > 1 else mats[0])
        )
    args = [_replace(a, mapping) if isinstance(a, sp.Basic) else a for a in expr.args]
    if all(a is b for a, b in zip(args, expr.args)):
        return expr
    return expr.func(*args)
