"""Compile a scalar function and its derivatives into fast, batched NumPy kernels.

``compile(f, wrt, params=(), backend="numpy")`` derives the gradient and the
Hessian (SymEngine fast path, Hessian from the gradient, upper triangle only),
shares common subexpressions across value, gradient and Hessian, lowers
overflow-prone patterns to stable forms (:mod:`symcalc.codegen.numpy_printer`), and
writes the kernel as a readable, standalone Python module (it imports numpy
only) into a cache directory, then imports it, so ``inspect.getsource`` and
``pdb`` work on it.

Two kinds of problem:

* **explicit symbols** (``wrt`` a list of Symbols): ``x`` has shape ``(..., n)``,
  batched over the leading axes; parameters are scalars or arrays that broadcast
  to the batch shape. ``value -> (...)``, ``gradient -> (..., n)``,
  ``hessian -> (..., n, n)``.
* **matrix form** (``wrt`` a MatrixSymbol vector, f written with MatrixSymbols):
  arguments are arrays of the declared shapes (``w (n,)``, ``X (m, n)``,
  ``y (m,)``) and the kernel is a few BLAS calls (``X.T @ (d[:, None] * X)``),
  never element formulas. The variable may carry leading batch axes
  (``w (..., n)``: one result per vector); the parameters may not.

>>> import numpy as np, sympy as sp
>>> x, y, a = sp.symbols("x y a")
>>> k = compile((a - x)**2 + 100*(y - x**2)**2, [x, y], params=[a])
>>> k.value(np.array([[1.0, 1.0], [0.0, 0.0]]), 1.0)
array([0., 1.])
>>> k.gradient(np.array([1.0, 2.0]), 1.0)
array([-400.,  200.])
>>> k.hessian(np.zeros((4, 3, 2)), 1.0).shape
(4, 3, 2, 2)
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import importlib.util
import os
import re
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from symcalc.budget import budgeted
from symcalc.codegen.numpy_printer import (
    StableNumPyPrinter,
    helper_source,
    stabilize,
    stabilize_matrix,
)
from symcalc.errors import InputError, InputTypeError, ShapeError, SymcalcError
from symcalc.errors import reject_text as _reject_text
from symcalc.inputs import as_choice, as_title, is_matrix_problem, short

__all__ = ["compile", "Kernel", "MatrixKernel", "kernel_source", "cache_dir"]

BACKENDS = ("numpy", "native")
#: Backends served by the array-API kernels of :mod:`symcalc.codegen.array_api`.
ARRAY_BACKENDS = ("array_api", "dask", "jax", "cupy")
_FORMULA_CHARS = 600  # longest formula quoted in a generated comment


# ---------------------------------------------------------------------------
# Input checking
# ---------------------------------------------------------------------------
def _as_symbol_list(items: Any, what: str, allow_empty: bool) -> list[sp.Symbol]:
    _reject_text(items, what)
    if isinstance(items, sp.Symbol):
        items = [items]
    elif isinstance(items, sp.MatrixBase):
        items = list(items)
    try:
        items = list(items)
    except TypeError:
        raise InputTypeError(
            f"{what} must be a sequence of Symbols, got {type(items).__name__}"
        ) from None
    if not items and not allow_empty:
        raise InputError(f"{what} is empty: name at least one variable")
    for k, s in enumerate(items):
        _reject_text(s, f"{what}[{k}]")
        if not isinstance(s, sp.Symbol):
            raise InputTypeError(
                f"{what}[{k}] = {s!r} is not a Symbol (it is a {type(s).__name__})"
            )
    return items


def _check_distinct(wrt, params):
    seen = set()
    for s in list(wrt) + list(params):
        if s in seen:
            raise InputError(
                f"the symbol {s} appears twice in wrt/params; each name must be given once"
            )
        seen.add(s)


def _scalar_expr(f: Any) -> sp.Expr:
    _reject_text(f, "f")
    if isinstance(f, sp.MatrixBase):
        if f.shape != (1, 1):
            raise ShapeError(f"f must be a scalar, got a {f.rows} x {f.cols} Matrix")
        f = f[0, 0]
    try:
        f = sp.sympify(f, strict=True)
    except (sp.SympifyError, TypeError):
        raise InputTypeError(f"f must be a SymPy expression, got {type(f).__name__}") from None
    if not isinstance(f, sp.Expr):
        raise InputTypeError(f"f must be a scalar expression, got {type(f).__name__}")
    return f


def _check_free_symbols(exprs, known, what="f"):
    free = set()
    for e in exprs:
        free |= e.free_symbols
    unknown = sorted(free - set(known), key=str)
    if unknown:
        names = ", ".join(map(str, unknown))
        raise InputError(
            f"{what} contains {names}, which is neither a variable (wrt) nor a parameter "
            f"(params); add it to params=... to pass its value at call time"
        )


def _given_entries(value: Any, what: str) -> list:
    """A precomputed gradient / Hessian (a Matrix, or a possibly nested list of SymPy objects
    and numbers) as a flat list of SymPy expressions. Text is refused, never sympified.

    >>> _given_entries([sp.Symbol("x"), 2], "gradient")
    [x, 2]
    >>> _given_entries([[1, "x"]], "hessian")
    Traceback (most recent call last):
    ...
    symcalc.errors.InputTypeError: hessian[0][1] is a string ('x'); symcalc never evaluates text. Build it from SymPy objects, or read it with symcalc.parse(text, symbols=...).
    """
    if isinstance(value, sp.MatrixBase):
        return list(value)
    _reject_text(value, what)
    if isinstance(value, (list, tuple)):
        return [e for k, item in enumerate(value) for e in _given_entries(item, f"{what}[{k}]")]
    try:
        return [sp.sympify(value, strict=True)]
    except (sp.SympifyError, TypeError):
        raise InputTypeError(
            f"{what} must hold SymPy expressions or numbers, got {type(value).__name__}"
        ) from None


def _unknown_matrix_symbols(expr, known) -> list:
    """The MatrixSymbols and Symbols in expr that are not in known (names sorted)."""
    if not isinstance(expr, sp.Basic):
        return []
    return sorted((s for s in _matrix_symbols_of(expr) if s not in known), key=str)


def _matrix_given(value, what: str, known):
    """A precomputed matrix-form derivative: a SymPy object whose symbols are all known."""
    _reject_text(value, what)
    if value is None:
        return None
    if not isinstance(value, sp.Basic):
        raise InputTypeError(
            f"{what} must be a SymPy matrix expression, got {type(value).__name__}"
        )
    unknown = _unknown_matrix_symbols(value, known)
    if unknown:
        raise InputError(
            f"the given {what} contains {', '.join(map(str, unknown))}, which is neither wrt "
            "nor in params"
        )
    return value


def _float_array(value: Any, name: str, dtype=None) -> np.ndarray:
    """value as a float32/float64 array; integers become float64; others are refused."""
    try:
        arr = np.asarray(value)
    except Exception:
        raise InputError(f"{name} must be a numeric array, got {type(value).__name__}") from None
    kind = arr.dtype.kind
    if kind in "iub":
        arr = arr.astype(dtype or np.float64)
    elif kind == "f":
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
        if dtype is not None and arr.dtype != dtype:
            arr = arr.astype(dtype)
    else:
        raise InputError(
            f"{name} must be a real floating array (float32 or float64), got dtype {arr.dtype}"
        )
    return arr


# ---------------------------------------------------------------------------
# User text and user names in generated code
# ---------------------------------------------------------------------------
#: The name a generated module imports NumPy as: no user symbol is ever printed as code.
NUMPY_MODULE = "_np"


def source_comment(text: Any) -> str:
    r"""``text`` made safe for a ``#`` comment in generated code: every line break (``\n``,
    ``\r``, ``\v``, ``\f``, ``\x1c``-``\x1e``, ``\x85``, ``\u2028``, ``\u2029``) and every other
    non-printable character becomes a space, so the comment cannot end early.

    >>> source_comment("df/dx\r    import os")
    'df/dx     import os'
    """
    return "".join(ch if ch.isprintable() else " " for ch in str(text))


def source_literal(text: Any) -> str:
    r"""``text`` as a Python string literal (``repr``-escaped): it evaluates back to ``text``.

    >>> print(source_literal("it's \\x and a\rline break"))
    "it's \\x and a\rline break"
    """
    return repr(str(text))


def source_docstring(lines: list[str], indent: str = "") -> str:
    r"""A docstring built of repr-escaped lines, implicitly concatenated in parentheses.

    It is still the docstring (the parser joins adjacent literals into one), and no
    user text in it can end it: triple quotes, backslashes and line breaks are escaped.

    >>> print(source_docstring(["Title \\x", "", "body"]))
    (
        'Title \\x\n'
        '\n'
        'body\n'
    )
    """
    body = "".join(f"{indent}    {source_literal(line + chr(10))}\n" for line in lines)
    return f"{indent}(\n{body}{indent})"


class CodeNames:
    """The one map from the user's symbols to the identifiers generated code uses.

    Variables are ``v0, v1, ...``, parameters ``p0, p1, ...``, symbolic sizes of
    matrix-form arguments ``d0, d1, ...``; common subexpressions are
    ``t0, t1, ...`` (:attr:`TEMP_PREFIX`; power ladders append ``_p3``, ``_m2``,
    ``_inv`` to one of these). The expressions are renamed *before* CSE and
    printing, so a user name (a keyword, a builtin, ``np``, ``t0``, one with
    quotes or line breaks) never reaches the code and no temporary equals a
    user symbol. Assumptions and matrix structure are kept. Readers see the
    user names in :meth:`listing` (for a docstring).

    >>> import sympy as sp
    >>> x, lam = sp.Symbol("x", real=True), sp.Symbol("lambda")
    >>> names = CodeNames([x], [lam])
    >>> names.rename(lam * x**2), names.code(lam)
    (p0*v0**2, 'p0')
    >>> names.listing()
    ['v0 = x', 'p0 = lambda']
    """

    TEMP_PREFIX = "t"
    #: every identifier the generators make for a symbol (the printers refuse any other)
    PATTERN = re.compile(r"(?:[vpdt]|tb)\d+(?:_(?:[pm]\d+|inv))?")

    def __init__(self, wrt, params=(), matrix: bool = False):
        self.pairs: list[tuple[Any, Any]] = []  # (user symbol, code symbol), in order
        self.map: dict = {}
        self.dims = (
            [
                self._add(d, sp.Symbol(f"d{k}", **d.assumptions0))
                for k, d in enumerate(self._dims([wrt] + list(params)))
            ]
            if matrix
            else []
        )
        self.variables = self._add_all([wrt] if matrix else wrt, "v")
        self.parameters = self._add_all(params, "p")

    @staticmethod
    def _dims(syms):
        """The size symbols (m, n) in the shapes of the MatrixSymbols among syms, first seen first."""
        dims: list = []
        for s in syms:
            if not isinstance(s, sp.MatrixSymbol):
                continue
            for d in s.shape:
                dims += [
                    sym
                    for sym in sorted(getattr(d, "free_symbols", ()), key=str)
                    if sym not in dims
                ]
        return dims

    def _add_all(self, syms, prefix):
        """Code symbols prefix0, prefix1, ... for syms (a MatrixSymbol keeps its class and
        gets its sizes in code names); returns them."""
        out = []
        for k, s in enumerate(syms):
            if isinstance(s, sp.MatrixSymbol):
                shape = [d.xreplace(self.map) if isinstance(d, sp.Basic) else d for d in s.shape]
                out.append(self._add(s, type(s)(f"{prefix}{k}", *shape)))
            else:
                out.append(self._add(s, sp.Symbol(f"{prefix}{k}", **s.assumptions0)))
        return out

    def _add(self, user, code):
        self.pairs.append((user, code))
        self.map[user] = code
        return code

    def rename(self, expr):
        """expr with every user symbol replaced by its code symbol."""
        return expr.xreplace(self.map) if isinstance(expr, sp.Basic) else expr

    def symbol(self, user):
        return self.map[user]

    def code(self, user) -> str:
        """The identifier generated code uses for the user's symbol."""
        return self.map[user].name

    def listing(self) -> list[str]:
        """'v0 = x' per symbol: which code name stands for which user name (for a docstring)."""
        return [f"{code.name} = {user}" for user, code in self.pairs]

    def summary(self) -> list[str]:
        """Docstring lines (user text: for a repr-escaped docstring only): the variables and
        the parameters in call order, then the code name of each."""
        users = {code: user for user, code in self.pairs}
        params = ", ".join(str(users[p]) for p in self.parameters)
        return [
            "variables: "
            + ", ".join(str(users[v]) for v in self.variables)
            + " (along the variables axis of xs)",
            "parameters: " + (f"{params} (in call order)" if params else "none"),
            "names in the code: " + ", ".join(self.listing()),
        ]


# ---------------------------------------------------------------------------
# Derivation (explicit symbols)
# ---------------------------------------------------------------------------
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
            repl, reduced = native.cse_to_sympy(exprs, to_code, prefix)
            return [(t, stabilize(e)) for t, e in repl], [stabilize(e) for e in reduced]
        stable = [stabilize(names.rename(e), precise=True) for e in exprs]
        replacements, reduced = sp.cse(stable, symbols=sp.numbered_symbols(prefix), order="none")
        return list(replacements), list(reduced)

    def show(self, e):
        """A short readable form of e for a comment (user names), or None when long."""
        if isinstance(e, sp.Basic) and _larger_than(e, 40):
            return None  # printing a huge SymPy expression just to measure it costs seconds
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


# ---------------------------------------------------------------------------
# Code generation helpers
# ---------------------------------------------------------------------------
def _short(expr, limit=_FORMULA_CHARS) -> str:
    return short(expr, limit)  # the one short-print (symcalc.inputs)


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


def _inline_negations(assignments, outputs):
    """Put t = -x back where it is used: q0 + t is one subtraction, not a negation and an add."""
    subs = {}
    kept = []
    for sym, e in assignments:
        e = e.xreplace(subs) if subs else e
        coeff, rest = e.as_coeff_Mul() if isinstance(e, sp.Expr) else (1, e)  # a condition
        if coeff == -1 and rest.is_Symbol:
            subs[sym] = e
            continue
        kept.append((sym, e))
    if not subs:
        return assignments, outputs
    return kept, [o.xreplace(subs) for o in outputs]


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
        return [(sym, e.xreplace(subs) if rewrite else e) for sym, e, rewrite in items]

    result = placed(inserts.get(-1, []))
    for k, (sym, e) in enumerate(assignments):
        result.append((sym, e.xreplace(subs)))
        result.extend(placed(inserts.get(k, [])))
    return result, [o.xreplace(subs) for o in outputs]


class _Emitter:
    """Writes the lines of one generated function with a shared printer."""

    def __init__(self, printer: StableNumPyPrinter):
        self.printer = printer
        self.lines: list[str] = []

    def line(self, text=""):
        self.lines.append(text)

    def code(self, expr) -> str:
        return self.printer.doprint(expr)


def _literal(expr) -> str | None:
    """A float literal for a number, None for anything that is not a number."""
    if expr.is_number:
        value = complex(sp.N(expr))
        if value.imag:
            raise InputError(
                f"the derivative has the complex constant {expr}; symcalc compiles real kernels"
            )
        return repr(float(value.real))
    return None


# ---------------------------------------------------------------------------
# Explicit-symbol source
# ---------------------------------------------------------------------------
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


def _explicit_function(name, doc, items, repl, names: CodeNames, printer, outs=("out",)):
    """One generated function: unpack xs, the temporaries its outputs need, the stores.

    items: (shown formula or None, reduced expr, target code, comment) per output; the
    comment and the formula are the user's text, written through :func:`source_comment`.
    doc is the generator's own text.
    """
    repl, used = _needed(repl, [r for _, r, _, _ in items])
    em = _Emitter(printer)
    variables = names.variables
    args = ", ".join(["xs"] + [p.name for p in names.parameters] + list(outs))
    em.line(f"def {name}({args}):")
    em.line(f"    {source_literal(doc)}")
    n = len(variables)
    unpack = [variables[k].name if variables[k] in used else "_" for k in range(n)]
    if any(u != "_" for u in unpack):
        if n == 1:
            em.line(f"    {unpack[0]} = xs[0]")
        else:
            for start in range(0, n, 12):
                chunk = unpack[start : start + 12]
                if all(u == "_" for u in chunk):
                    continue
                em.line(
                    f"    {', '.join(chunk)}{',' if len(chunk) == 1 else ''} = xs[{start}:{start + len(chunk)}]"
                )
    stores = []
    for shown, r, target, comment in items:
        lit = _literal(r) if r.is_number else None
        if lit is not None and float(lit) == 0.0:
            continue  # outputs arrive zero-filled
        rhs = lit if lit is not None else em.code(r)
        note = f"{comment} = {shown}" if shown is not None else comment
        stores.append((r, f"    {target} = {rhs}  # {source_comment(note)}"))
    for text in _schedule(repl, stores, em):
        em.line(text)
    em.line(f"    return {', '.join(outs)}")
    return em.lines


def _schedule(repl, stores, em):
    """Statement lines: each output stored as soon as its temporaries exist, and each
    temporary deleted after its last use (NumPy then reuses the freed, cache-warm
    memory instead of touching fresh pages for every one of thousands of temporaries)."""
    index = {sym: k for k, (sym, _) in enumerate(repl)}
    ready: dict[int, list] = {}
    for r, text in stores:
        deps = [index[s] for s in getattr(r, "free_symbols", ()) if s in index]
        ready.setdefault(max(deps, default=-1), []).append((r, text))
    # statements in order: (defined symbol or None, expr, line)
    statements = [(None, r, text) for r, text in ready.get(-1, [])]
    for k, (sym, e) in enumerate(repl):
        statements.append((sym, e, f"    {sym} = {em.code(e)}"))
        statements.extend((None, r, text) for r, text in ready.get(k, []))
    last_use: dict = {}
    for k, (sym, e, _) in enumerate(statements):
        for s in getattr(e, "free_symbols", ()):
            if s in index:
                last_use[s] = k
        if sym is not None:
            last_use.setdefault(sym, k)
    frees: dict[int, list] = {}
    for s, k in last_use.items():
        frees.setdefault(k, []).append(str(s))
    lines = []
    for k, (_, _, text) in enumerate(statements):
        lines.append(text)
        if k in frees:
            lines.append(f"    del {', '.join(sorted(frees[k]))}")
    return lines


def _kernel_printer() -> StableNumPyPrinter:
    """The printer of generated NumPy kernels (NumPy as :data:`NUMPY_MODULE`)."""
    return StableNumPyPrinter(
        {
            "fully_qualified_modules": True,
            "order": "none",
            "numpy_module": NUMPY_MODULE,
            "symbol_names": CodeNames.PATTERN,
        }
    )


def _explicit_source(f, d, wrt, params, title):
    f_work, grad, upper = d.f, d.grad, d.upper
    names = CodeNames(wrt, params)
    printer = _kernel_printer()
    n = len(wrt)
    value_t = [(f_work, "out[...]", "f")]
    grad_t = [(g, f"out[{i}]", f"df/d{wrt[i]}") for i, g in enumerate(grad)]
    hess_t = []
    for (i, j), h in upper.items():
        target = f"out[{i}, {i}]" if i == j else f"out[{i}, {j}] = out[{j}, {i}]"
        hess_t.append((h, target, f"d2f/d{wrt[i]}d{wrt[j]}"))
    # one CSE per function (a joint CSE over value + gradient + Hessian, pruned per function,
    # measured 1.6-1.8x slower on LJ-13: its temporaries stay alive longer); the fused
    # functions share their temporaries across their outputs
    shown = {id(e): d.show(e) for e, _, _ in value_t + grad_t + hess_t}

    def function(name, doc, groups, outs=("out",)):
        entries = [
            (e, t.replace("out[", f"{o}[") if o != "out" else t, c)
            for o, group in zip(outs, groups)
            for e, t, c in group
        ]
        repl, final = _shared_temporaries(d, [e for e, _, _ in entries], names)
        items = [(shown[id(e)], r, t, c) for (e, t, c), r in zip(entries, final)]
        return _explicit_function(name, doc, items, repl, names, printer, outs)

    shape_doc = (
        f"xs: the points, variables first, shape ({n}, ...); outputs are variables-first "
        "too (contiguous stores) and arrive zero-filled"
    )
    blocks = [
        function("value", f"f at the points. {shape_doc}; out has shape (...).", [value_t]),
        function(
            "gradient", f"The gradient, out[i] = df/dx_i. {shape_doc}; out ({n}, ...).", [grad_t]
        ),
        function(
            "hessian",
            "The Hessian, upper triangle computed once and mirrored. "
            f"{shape_doc}; out ({n}, {n}, ...).",
            [hess_t],
        ),
        function(
            "value_and_gradient",
            f"value and gradient from shared temporaries. {shape_doc}.",
            [value_t, grad_t],
            outs=("out_value", "out_gradient"),
        ),
        function(
            "value_gradient_hessian",
            f"value, gradient and Hessian from shared temporaries. {shape_doc}.",
            [value_t, grad_t, hess_t],
            outs=("out_value", "out_gradient", "out_hessian"),
        ),
    ]
    header = _module_header(title, f, names, printer)
    body = "\n\n\n".join("\n".join(b) for b in blocks)
    return header + "\n\n" + body + "\n\n" + _CONVENIENCE_API.format(n=n, np=NUMPY_MODULE) + "\n"


# Appended to every explicit-symbol kernel module so that a person who imports the
# standalone file can call it the usual way (points batch-first, fresh arrays).
_CONVENIENCE_API = '''
# --- Convenience API: points batch-first, x of shape (..., {n}); each call returns new arrays ---

N_VARIABLES = {n}


def _prepare(x, params):
    x = {np}.asarray(x)
    if x.ndim == 0 or x.shape[-1] != N_VARIABLES:
        raise ValueError(f"x must have shape (..., {{N_VARIABLES}}), got {{x.shape}}")
    dtype = {np}.result_type(x.dtype, {np}.float32) if x.dtype.kind == "f" else {np}.float64
    xs = {np}.ascontiguousarray({np}.moveaxis(x.astype(dtype, copy=False), -1, 0))
    batch = {np}.broadcast_shapes(xs.shape[1:], *({np}.shape(p) for p in params))
    return xs, batch, dtype


def f(x, *params):
    """f at points x of shape (..., {n}): an array of shape (...)."""
    xs, batch, dtype = _prepare(x, params)
    return value(xs, *params, {np}.zeros(batch, dtype))


def grad(x, *params):
    """The gradient at points x of shape (..., {n}): shape (..., {n})."""
    xs, batch, dtype = _prepare(x, params)
    return {np}.moveaxis(gradient(xs, *params, {np}.zeros((N_VARIABLES,) + batch, dtype)), 0, -1)


def hess(x, *params):
    """The Hessian at points x of shape (..., {n}): shape (..., {n}, {n})."""
    xs, batch, dtype = _prepare(x, params)
    out = {np}.zeros((N_VARIABLES, N_VARIABLES) + batch, dtype)
    return {np}.moveaxis(hessian(xs, *params, out), (0, 1), (-2, -1))
'''.strip("\n")


def _module_header(title, f, names: CodeNames, printer):
    """The module docstring (user text only as escaped literals), the NumPy import, the helpers."""
    helpers = [helper_source(h, NUMPY_MODULE) for h in sorted(printer.helpers_used)]
    doc = source_docstring(
        [
            str(title),
            "",
            f"Generated by symcalc.compile; standalone (imports numpy only, as {NUMPY_MODULE}).",
            "",
            f"f = {_short(f)}",
            "",
            *names.summary(),
            "Each function takes xs, the points with the variables first (shape (n, ...), contiguous),",
            "the parameters (scalars or arrays broadcasting to the batch shape), and",
            "preallocated, zero-filled outputs, which it fills and returns.",
        ]
    )
    parts = [doc, f"import numpy as {NUMPY_MODULE}"] + helpers
    return "\n\n".join(p.rstrip("\n") for p in parts)


# ---------------------------------------------------------------------------
# Writing and importing generated modules
# ---------------------------------------------------------------------------
def cache_dir() -> Path:
    """Where generated kernels are written: $SYMCALC_CACHE, ~/.cache/symcalc/kernels, or a temp dir."""
    env = os.environ.get("SYMCALC_CACHE")
    candidates = [Path(env)] if env else []
    candidates += [
        Path.home() / ".cache" / "symcalc" / "kernels",
        Path(tempfile.gettempdir()) / "symcalc-kernels",
    ]
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / f".write-test.{os.getpid()}.{threading.get_ident()}"  # one per thread
            probe.write_text("")
            probe.unlink()
            return path
        except OSError:
            continue
    raise OSError("no writable cache directory for compiled kernels; set SYMCALC_CACHE")


_LOAD_LOCK = threading.Lock()


def _check_source(source: str) -> None:
    """Refuse generated source that is not valid Python (a generator bug): a SymcalcError.

    >>> _check_source("x = 1")
    >>> _check_source("x = (1")
    Traceback (most recent call last):
    ...
    symcalc.errors.SymcalcError: internal error: the generated kernel source is not valid Python ('(' was never closed, line 1); nothing was written or imported. Please report this.
    """
    try:
        source.encode("utf-8")  # the file is written as UTF-8 (a lone surrogate cannot be)
        ast.parse(source)
    except UnicodeEncodeError as exc:
        raise SymcalcError(
            f"internal error: the generated kernel source is not valid Python "
            f"(character {exc.object[exc.start]!r} cannot be written as UTF-8); "
            "nothing was written or imported. Please report this."
        ) from None
    except (SyntaxError, ValueError) as exc:  # ValueError: a null byte
        where = f", line {exc.lineno}" if getattr(exc, "lineno", None) else ""
        raise SymcalcError(
            f"internal error: the generated kernel source is not valid Python "
            f"({getattr(exc, 'msg', exc)}{where}); nothing was written or imported. "
            "Please report this."
        ) from None


def _load_source(source: str, stem: str):
    """Check ``source`` (:func:`_check_source`), write it to the kernel cache (atomically)
    and import it, once per process. ``stem`` is the generator's own (no user text).

    Thread-safe: Dask's threaded scheduler loads the same block kernel from several
    threads at once, and a module must never be seen before its code has run.
    """
    if not stem.replace("_", "").isalnum() or not stem.isascii():
        raise SymcalcError(f"internal error: kernel module stem {stem!r} is not a plain identifier")
    _check_source(source)
    digest = hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]
    modname = f"symcalc_kernel_{stem}_{digest}"
    path = cache_dir() / f"{modname}.py"
    with _LOAD_LOCK:
        if modname in sys.modules:
            return sys.modules[modname], path
        if not path.exists() or path.read_text(encoding="utf-8", errors="replace") != source:
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(source, encoding="utf-8")
            os.replace(tmp, path)
        spec = importlib.util.spec_from_file_location(modname, path)
        module = importlib.util.module_from_spec(spec)
        # run the text that was checked (not whatever the shared cache file holds by now)
        exec(builtins.compile(source, str(path), "exec"), module.__dict__)
        sys.modules[modname] = module  # only once its code has run
        return module, path


def _stem(wrt) -> str:
    return f"{len(wrt)}vars"


# ---------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------
class Kernel:
    """Batched value / gradient / Hessian of one scalar function of n variables.

    Built by :func:`compile`. ``x`` has shape ``(..., n)``; each parameter is a
    scalar or an array broadcasting to ``x.shape[:-1]``. float32 in gives
    float32 out, float64 gives float64 (integers count as float64).

    The NumPy backend computes into variables-first buffers (every store is
    contiguous: writing ``out[..., i, j]`` for a large batch is strided and
    costs more than the arithmetic), and returns them as views of shape
    ``(..., n)`` / ``(..., n, n)``; ``np.ascontiguousarray`` gives C order.

    Attributes: ``f``, ``wrt``, ``params``, ``gradient_exprs`` (list),
    ``hessian_exprs`` (SymPy Matrix), ``backend`` (the one actually used),
    ``source`` (the generated module's text), ``path`` (its file),
    ``module`` (the imported module).
    """

    def __init__(self, f, wrt, params, derivatives, source, module, path, native=None):
        self.f = f
        self.wrt = tuple(wrt)
        self.params = tuple(params)
        self.n = len(wrt)
        self._derivatives = derivatives
        self.source = source
        self.module = module
        self.path = path
        self._native = native
        self.backend = "native" if native is not None else "numpy"

    @property
    def gradient_exprs(self) -> list:
        """The gradient entries (SymPy)."""
        return self._derivatives.sympy_gradient()

    @property
    def hessian_exprs(self) -> sp.Matrix:
        """The Hessian (SymPy Matrix, symmetric)."""
        n = self.n
        H = sp.zeros(n, n)
        for (i, j), h in self._derivatives.sympy_upper().items():
            H[i, j] = H[j, i] = h
        return H

    def __repr__(self):
        names = ", ".join(map(str, self.wrt))
        extra = f"; params {', '.join(map(str, self.params))}" if self.params else ""
        return f"<symcalc Kernel of f({names}){extra}, backend={self.backend}>"

    # -- argument handling ---------------------------------------------------
    def _prepare(self, x, params):
        x = _float_array(x, "x")
        n = self.n
        names = ", ".join(map(str, self.wrt))
        if x.ndim == 0 or x.shape[-1] != n:
            raise ShapeError(
                f"x must have shape (..., {n}) (last axis: the variables {names}); "
                f"got shape {x.shape}"
            )
        if len(params) != len(self.params):
            expected = ", ".join(map(str, self.params)) or "none"
            raise InputError(
                f"expected {len(self.params)} parameter value(s) ({expected}) after x, "
                f"got {len(params)}"
            )
        batch = x.shape[:-1]
        values = []
        for sym, p in zip(self.params, params):
            arr = _float_array(p, f"parameter {sym}", dtype=x.dtype)
            try:
                ok = np.broadcast_shapes(arr.shape, batch) == batch
            except ValueError:
                ok = False
            if not ok:
                raise ShapeError(
                    f"parameter {sym} has shape {arr.shape}, which does not broadcast to "
                    f"the batch shape {batch} of x (expected a scalar or shape {batch})"
                )
            values.append(arr if arr.ndim else arr[()])
        return x, batch, values

    def _variables_first(self, x):
        return np.ascontiguousarray(np.moveaxis(x, -1, 0))

    def _try_native(self, method, x, ps, batch, out=None):
        """The native result, or None after falling back to NumPy (with a warning)."""
        if self._native is None:
            return None
        from symcalc.codegen.native import NativeUnsupported

        try:
            if out is not None:
                return getattr(self._native, method)(x, ps, batch, out=out)
            return getattr(self._native, method)(x, ps, batch)
        except NativeUnsupported as exc:
            warnings.warn(
                f"backend='native': {exc}; using the NumPy backend instead",
                RuntimeWarning,
                stacklevel=3,
            )
            self._native = None
            self.backend = "numpy"
            return None

    @staticmethod
    def _buffer(batch, lead, dtype):
        """A zero-filled variables-first output buffer: shape lead + batch."""
        return np.zeros(tuple(lead) + tuple(batch), dtype=dtype)

    @staticmethod
    def _user_layout(buf, k):
        """The buffer seen as (..., n) or (..., n, n): a view, no copy."""
        if k == 1:
            return np.moveaxis(buf, 0, -1)
        return np.moveaxis(buf, (0, 1), (-2, -1))

    # -- evaluation ----------------------------------------------------------
    def value(self, x, *params):
        """f at x: shape x.shape[:-1]."""
        x, batch, ps = self._prepare(x, params)
        result = self._try_native("value", x, ps, batch)
        if result is not None:
            return result
        out = np.zeros(batch, dtype=x.dtype)
        self.module.value(self._variables_first(x), *ps, out)
        return out if batch else out[()]

    def gradient(self, x, *params, out=None):
        """The gradient at x: shape x.shape (..., n). ``out``: an array to fill instead; it
        must not share memory with x or a parameter (``gradient(Q, out=Q)`` is refused with
        an InputError: the kernel reads its inputs while it writes ``out``)."""
        x, batch, ps = self._prepare(x, params)
        out = self._check_out(out, batch + (self.n,), x.dtype, x, ps)
        result = self._try_native("gradient", x, ps, batch, out)
        if result is not None:
            return result
        buf = self._buffer(batch, (self.n,), x.dtype) if out is None else self._fill_view(out, 1)
        self.module.gradient(self._variables_first(x), *ps, buf)
        return self._user_layout(buf, 1) if out is None else out

    def hessian(self, x, *params, out=None):
        """The Hessian at x: shape (..., n, n), symmetric. ``out``: an array to fill instead
        (saves allocating, and page-faulting, a large result on every call); it must not
        share memory with x or a parameter (refused with an InputError)."""
        x, batch, ps = self._prepare(x, params)
        out = self._check_out(out, batch + (self.n, self.n), x.dtype, x, ps)
        result = self._try_native("hessian", x, ps, batch, out)
        if result is not None:
            return result
        buf = (
            self._buffer(batch, (self.n, self.n), x.dtype)
            if out is None
            else self._fill_view(out, 2)
        )
        self.module.hessian(self._variables_first(x), *ps, buf)
        return self._user_layout(buf, 2) if out is None else out

    def _check_out(self, out, shape, dtype, x, params):
        if out is None:
            return None
        if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != dtype:
            got = f"{getattr(out, 'shape', None)} {getattr(out, 'dtype', type(out).__name__)}"
            raise ShapeError(f"out must be a {dtype} array of shape {shape}; got {got}")
        inputs = [("x", x)] + [(f"parameter {s}", p) for s, p in zip(self.params, params)]
        for name, arr in inputs:
            if _shares_memory(out, arr):
                raise InputError(
                    f"out shares memory with {name}: the kernel would overwrite its "
                    "input while reading it; pass a separate array as out (or omit out=)"
                )
        return out

    @staticmethod
    def _fill_view(out, k):
        """out, zero-filled, seen variables-first (the generated code's layout)."""
        out.fill(0)
        return np.moveaxis(out, -1, 0) if k == 1 else np.moveaxis(out, (-2, -1), (0, 1))

    def value_and_gradient(self, x, *params):
        """(f, gradient) from one pass with shared temporaries."""
        x, batch, ps = self._prepare(x, params)
        result = self._try_native("value_and_gradient", x, ps, batch)
        if result is not None:
            return result
        v = np.zeros(batch, dtype=x.dtype)
        g = self._buffer(batch, (self.n,), x.dtype)
        self.module.value_and_gradient(self._variables_first(x), *ps, v, g)
        return (v if batch else v[()]), self._user_layout(g, 1)

    def value_gradient_hessian(self, x, *params):
        """(f, gradient, Hessian) from one pass with shared temporaries."""
        x, batch, ps = self._prepare(x, params)
        result = self._try_native("value_gradient_hessian", x, ps, batch)
        if result is not None:
            return result
        v = np.zeros(batch, dtype=x.dtype)
        g = self._buffer(batch, (self.n,), x.dtype)
        h = self._buffer(batch, (self.n, self.n), x.dtype)
        self.module.value_gradient_hessian(self._variables_first(x), *ps, v, g, h)
        return (v if batch else v[()]), self._user_layout(g, 1), self._user_layout(h, 2)

    # -- SciPy ------------------------------------------------------------------
    def as_scipy(self, *params):
        """(fun, jac, hess) for ``scipy.optimize.minimize`` at fixed parameter values.

        >>> import sympy as sp
        >>> x, y = sp.symbols("x y")
        >>> fun, jac, hess = compile((x - 1)**2 + (y + 2)**2, [x, y]).as_scipy()
        >>> fun([0.0, 0.0]), jac([0.0, 0.0]).tolist()
        (5.0, [-2.0, 4.0])
        """
        return _scipy_triple(self, params)


def _shares_memory(a, b) -> bool:
    """True when arrays a and b may overlap (exactly decided where that is cheap)."""
    if not isinstance(b, np.ndarray) or not np.may_share_memory(a, b):
        return False
    try:
        return bool(np.shares_memory(a, b, max_work=100_000))
    except np.exceptions.TooHardError:
        return True


def _scipy_triple(kernel, params):
    def fun(x):
        return float(kernel.value(np.asarray(x, dtype=float), *params))

    def jac(x):
        return np.asarray(kernel.gradient(np.asarray(x, dtype=float), *params), dtype=float)

    def hess(x):
        return np.asarray(kernel.hessian(np.asarray(x, dtype=float), *params), dtype=float)

    return fun, jac, hess


# ---------------------------------------------------------------------------
# The public entry point
# ---------------------------------------------------------------------------
@budgeted("compile")
def compile(
    f,
    wrt,
    params=(),
    backend: str = "numpy",
    *,
    gradient=None,
    hessian=None,
    name: str | None = None,
    opt_level: int | None = None,
):
    """Compile f and its gradient and Hessian into a batched :class:`Kernel`.

    Parameters
    ----------
    f : SymPy scalar expression (explicit symbols) or matrix-form scalar
        (``Trace(...)`` of a 1 x 1 matrix expression, ``log(det(...))``, ...).
    wrt : the variables: a list of Symbols, or one MatrixSymbol vector (matrix form).
    params : the other symbols f contains (Symbols, or MatrixSymbols in matrix form),
        passed after x at call time.
    backend : "numpy" (generated NumPy source) or "native" (SymEngine's LLVM
        compiler; falls back to NumPy with a warning where it cannot); or
        "array_api", "dask", "jax", "cupy": one array-API kernel source that runs
        on NumPy, Dask, JAX or CuPy arrays (see :mod:`symcalc.codegen.array_api`).
    gradient, hessian : optional precomputed derivatives (skip the derivation).
    name : a title for the generated module.
    opt_level : LLVM optimisation level for backend="native" (default: 1 up to 40
        variables, else 0: higher levels compile much longer for little gain).

    >>> import sympy as sp, numpy as np
    >>> x = sp.Symbol("x")
    >>> compile(sp.log(1 + sp.exp(x)), [x]).value(np.array([[1000.0], [-1000.0]]))
    array([1000.,    0.])
    """
    backend = as_choice(backend, BACKENDS + ARRAY_BACKENDS, "backend")
    name = as_title(name)
    if backend in ARRAY_BACKENDS:
        from symcalc.codegen.array_api import compile_array_api

        return compile_array_api(
            f, wrt, params, backend, gradient=gradient, hessian=hessian, name=name
        )
    if _is_matrix_problem(f, wrt, params):
        return _compile_matrix(f, wrt, params, backend, gradient, hessian, name)
    f = _scalar_expr(f)
    wrt = _as_symbol_list(wrt, "wrt", allow_empty=False)
    params = _as_symbol_list(params, "params", allow_empty=True)
    _check_distinct(wrt, params)
    _check_free_symbols([f], list(wrt) + list(params))
    f_stable = stabilize(f)
    d = _Derivatives(f_stable, wrt, params, gradient, hessian)
    title = name or f"Kernel for f({', '.join(map(str, wrt))})"
    native = None
    if backend == "native":
        from symcalc.codegen import native as native_mod

        try:
            if d.engine == "symengine":
                native = native_mod.NativeKernel(
                    f_stable, wrt, params, d.derived, opt_level=opt_level
                )
            else:
                native = native_mod.NativeKernel(
                    f_stable, wrt, params, opt_level=opt_level, sympy_derivatives=(d.grad, d.upper)
                )
        except native_mod.NativeUnsupported as exc:
            warnings.warn(
                f"backend='native' cannot compile this function ({exc}); "
                "using the NumPy backend instead",
                RuntimeWarning,
                stacklevel=2,
            )
    source = _generate(_explicit_source, f, d, wrt, params, title)
    module, path = _load_source(source, _stem(wrt))
    return Kernel(f, wrt, params, d, source, module, path, native=native)


def _generate(fn, *args, library: str = "NumPy"):
    """Run a source generator; a construct ``library`` cannot print becomes an InputError naming it."""
    from sympy.printing.codeprinter import PrintMethodNotImplementedError

    try:
        return fn(*args)
    except PrintMethodNotImplementedError as exc:
        what = str(exc).splitlines()[0].split(":", 1)[-1].strip()
        raise InputError(f"cannot compile {what}: {library} has no function for it") from None


def kernel_source(f, wrt, params=(), **kwargs) -> str:
    """The generated module's source for f (what ``compile(...).source`` holds)."""
    return compile(f, wrt, params, **kwargs).source


# ---------------------------------------------------------------------------
# Matrix form
# ---------------------------------------------------------------------------
def _is_matrix_problem(f, wrt, params) -> bool:
    return is_matrix_problem(f, wrt)  # the one test (symcalc.inputs)


def _matrix_symbols_of(expr):
    return {a for a in expr.atoms(sp.MatrixSymbol)} | {
        a for a in expr.free_symbols if isinstance(a, sp.Symbol)
    }


def _dims(shape):
    return [d for d in shape if isinstance(d, sp.Symbol)]


def _array_ndim(M) -> int:
    """How many axes the array for M has: 0 scalar, 1 vector (n x 1 or 1 x n), 2 matrix."""
    if not isinstance(M, sp.MatrixSymbol):
        return 0
    r, c = M.shape
    return 1 if (c == 1 or r == 1) else 2


def _array_shape(M):
    if _array_ndim(M) == 0:
        return ()
    r, c = M.shape
    if c == 1:
        return (r,)
    if r == 1:
        return (c,)
    return (r, c)


def _matrix_scalar(f):
    _reject_text(f, "f")
    if isinstance(f, sp.MatrixExpr):
        if f.shape != (1, 1):
            raise ShapeError(f"f must be a scalar (a 1 x 1 matrix expression), got shape {f.shape}")
        return sp.Trace(f)
    if not isinstance(f, sp.Expr):
        raise InputTypeError(
            f"f must be a SymPy scalar or 1 x 1 matrix expression, got {type(f).__name__}"
        )
    return f


def _matrix_derivatives(f, wrt, gradient, hessian):
    from symcalc.derivation import api as calculus

    if gradient is None:
        gradient = calculus.gradient(f, wrt)
    want_hessian = _array_ndim(wrt) <= 1
    if hessian is None and want_hessian:
        hessian = calculus.hessian(f, wrt)
    return gradient, hessian


def kernel_functions(with_hessian: bool) -> list[tuple[str, list[str]]]:
    """The functions a kernel module defines, each with the results it returns."""
    funcs = [("value", ["value"]), ("gradient", ["gradient"])]
    if with_hessian:
        funcs.append(("hessian", ["hessian"]))
    funcs.append(("value_and_gradient", ["value", "gradient"]))
    if with_hessian:
        funcs.append(("value_gradient_hessian", ["value", "gradient", "hessian"]))
    return funcs


def _matrix_source(title, f, G, H, wrt, params):
    names = CodeNames(wrt, params, matrix=True)
    printer = _kernel_printer()
    from symcalc.codegen.numpy_printer import _nonnegative_vector

    arg_syms = names.variables + names.parameters
    arg_names = [a.name for a in arg_syms]
    dim_lines = _dimension_lines(arg_syms)
    outputs = {"value": names.rename(f), "gradient": names.rename(G), "hessian": names.rename(H)}
    shown = {"value": f, "gradient": G, "hessian": H}
    blocks = []
    for fname, parts in kernel_functions(H is not None):
        exprs = [outputs[p] for p in parts]
        repl, reduced = _matrix_cse(
            [stabilize(stabilize_matrix(e)) for e in exprs], names.TEMP_PREFIX
        )
        lines = [
            f"def {fname}({', '.join(arg_names)}):",
            "    "
            + source_literal(
                f"{' and '.join(parts)} (matrix form, BLAS calls; arrays of the declared shapes)."
            ),
        ]
        printer.nonnegative = set()
        for sym, e in repl:  # temporaries known to be >= 0 (for the syrk form of A^T diag(d) A)
            if isinstance(e, sp.MatrixExpr) and _nonnegative_vector(e, printer.nonnegative):
                printer.nonnegative.add(sym.name)
        body = [f"    {sym.name} = {printer.doprint(e)}" for sym, e in repl]
        results = []
        for p, r in zip(parts, reduced):
            body.append(f"    # {source_comment(f'{p} = {_short(shown[p], 200)}')}")
            body.append(f"    {p}_ = {printer.doprint(r)}")
            results.append(f"{p}_")
        text = "\n".join(body)
        lines += [line for d, line in dim_lines if re.search(rf"\b{d}\b", text)]
        lines += body + [f"    return {', '.join(results)}"]
        blocks.append(lines)
    helpers = [helper_source(h, NUMPY_MODULE) for h in sorted(printer.helpers_used)]
    doc = source_docstring(
        [
            str(title),
            "",
            f"Generated by symcalc.compile (matrix form); standalone (imports numpy only, as {NUMPY_MODULE}).",
            "",
            f"f = {_short(f)}",
            f"gradient = {_short(G)}",
            f"hessian = {_short(H) if H is not None else '(not compiled)'}",
            "",
            "arguments: " + _argument_listing(names) + " (column vectors are 1-D arrays)",
        ]
    )
    header = "\n\n".join(p.rstrip("\n") for p in [doc, f"import numpy as {NUMPY_MODULE}"] + helpers)
    return header + "\n\n\n" + "\n\n\n".join("\n".join(b) for b in blocks) + "\n"


def _dimension_lines(arg_syms):
    """[(size name, '    d0 = v0.shape[0]')]: each symbolic size read off the first array that has it."""
    lines, seen = [], set()
    for a in arg_syms:
        for axis, d in enumerate(_array_shape(a)):
            if isinstance(d, sp.Symbol) and d not in seen:
                seen.add(d)
                lines.append((d.name, f"    {d.name} = {a.name}.shape[{axis}]"))
    return lines


def _argument_listing(names: CodeNames) -> str:
    """'v0 = w (n,), p0 = X (m, n)' (user names and sizes: for a docstring)."""
    users = [u for u, c in names.pairs if c in names.variables or c in names.parameters]
    codes = names.variables + names.parameters
    return ", ".join(f"{c.name} = {u} {_array_shape(u) or '()'}" for u, c in zip(users, codes))


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
    trivial = isinstance(expr, sp.Transpose) and isinstance(expr.args[0], sp.MatrixSymbol)
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


class MatrixKernel:
    """value / gradient / Hessian of a matrix-form scalar f(w; X, y, ...): a few BLAS calls.

    Parameters are arrays of their declared shapes (column vectors as 1-D arrays);
    symbolic sizes (m, n) are read off the arrays and must agree. The variable may
    carry leading batch axes: ``w`` of shape ``(..., n)`` (a matrix variable
    ``(..., m, n)``) gives ``value (...)``, ``gradient (..., n)``,
    ``hessian (..., n, n)``; one ``w`` of shape ``(n,)`` runs the generated code
    as is. Attributes: ``f``, ``gradient_expr``, ``hessian_expr``, ``source``,
    ``path``, ``module``.

    >>> import numpy as np
    >>> from symcalc.expr.structure import matrix_symbol, squared_error, vector
    >>> A, x, b = matrix_symbol("A", "m", "n"), vector("x", "n"), vector("b", "m")
    >>> k = compile(squared_error(A, x, b), x, params=[A, b])
    >>> A_, b_ = np.eye(3, 2), np.ones(3)
    >>> float(k.value(np.zeros(2), A_, b_))
    3.0
    >>> k.value(np.zeros((4, 2)), A_, b_)
    array([3., 3., 3., 3.])
    >>> k.hessian(np.zeros((2, 5, 2)), A_, b_).shape
    (2, 5, 2, 2)
    """

    backend = "numpy"

    def __init__(self, f, wrt, params, G, H, source, module, path):
        self.f, self.wrt, self.params = f, wrt, tuple(params)
        self.gradient_expr, self.hessian_expr = G, H
        self.source, self.module, self.path = source, module, path
        # names and declared shapes, read once: printing a SymPy name costs microseconds per call
        syms = [wrt] + list(self.params)
        self._names = [str(s) for s in syms]
        self._shapes = [_array_shape(s) for s in syms]
        vector_shape = self._shapes[0]
        self._out_shapes = {
            "value": (),
            "gradient": vector_shape,
            "hessian": (vector_shape[0], vector_shape[0]) if len(vector_shape) == 1 else None,
        }

    def __repr__(self):
        ps = ", ".join(map(str, self.params))
        return f"<symcalc MatrixKernel of f({self.wrt}{'; ' + ps if ps else ''}), backend=numpy>"

    # -- argument handling ------------------------------------------------------
    def _prepare(self, args):
        """(arrays, dtype, bound sizes, batch shape): the parameters first fix the sizes,
        then the variable's axes before its declared shape are the batch."""
        names, shapes = self._names, self._shapes
        if len(args) != len(names):
            raise InputError(f"expected {len(names)} arrays ({', '.join(names)}), got {len(args)}")
        arrays, dtype = [], None
        for name, value in zip(names, args):
            arr = _float_array(value, name, dtype)
            dtype = dtype or arr.dtype
            arrays.append(arr)
        bound: dict = {}
        for k in range(1, len(names)):
            arrays[k] = _check_parameter(names[k], shapes[k], arrays[k], bound)
        arrays[0], batch = _split_batch(names[0], shapes[0], arrays[0], bound)
        return arrays, dtype, bound, batch

    def _finish(self, value, shape_expr, bound, dtype):
        shape = tuple(int(bound[d][0]) if isinstance(d, sp.Symbol) else int(d) for d in shape_expr)
        arr = np.asarray(value, dtype=dtype)
        if arr.shape != shape:
            arr = (
                np.broadcast_to(arr, shape).copy()
                if arr.size in (1, int(np.prod(shape))) and arr.size == 1
                else arr.reshape(shape)
            )
        return arr

    def _run(self, method, parts, args):
        """The outputs `parts` of the generated function `method`, one variable or a batch."""
        a, dtype, bound, batch = self._prepare(args)
        fn = getattr(self.module, method)
        shapes = [self._out_shapes[p] for p in parts]
        if not batch:  # one variable: the generated BLAS code, unchanged
            res = fn(*a)
            res = res if len(parts) > 1 else (res,)
            outs = [self._finish(r, s, bound, dtype) for r, s in zip(res, shapes)]
            return [o[()] if p == "value" else o for o, p in zip(outs, parts)]
        return self._run_batch(fn, a, batch, shapes, bound, dtype, len(parts) > 1)

    def _run_batch(self, fn, arrays, batch, shapes, bound, dtype, several):
        """Call the one-variable function on each variable of the batch, into preallocated outputs."""
        w, params = arrays[0], arrays[1:]
        sizes = [
            tuple(int(bound[d][0]) if isinstance(d, sp.Symbol) else int(d) for d in s)
            for s in shapes
        ]
        outs = [np.empty(batch + size, dtype=dtype) for size in sizes]
        for idx in np.ndindex(*batch):
            res = fn(w[idx], *params)
            for out, r, size, shape in zip(outs, res if several else (res,), sizes, shapes):
                out[idx] = r if np.shape(r) == size else self._finish(r, shape, bound, dtype)
        return outs

    # -- evaluation ---------------------------------------------------------------
    def value(self, *args):
        """f: a scalar for one variable, shape (...) for a batch."""
        return self._run("value", ["value"], args)[0]

    def gradient(self, *args):
        """The gradient: the variable's shape, (..., n) for a batch."""
        return self._run("gradient", ["gradient"], args)[0]

    def hessian(self, *args):
        """The Hessian: (n, n), (..., n, n) for a batch (vector variables only)."""
        if self.hessian_expr is None:
            raise InputError(
                f"the Hessian with respect to the matrix {self.wrt} is not compiled "
                "(only vector variables get a Hessian kernel)"
            )
        return self._run("hessian", ["hessian"], args)[0]

    def value_and_gradient(self, *args):
        """(f, gradient) from shared temporaries."""
        return tuple(self._run("value_and_gradient", ["value", "gradient"], args))

    def value_gradient_hessian(self, *args):
        """(f, gradient, Hessian) from shared temporaries."""
        if self.hessian_expr is None:
            return self.hessian(*args)
        return tuple(self._run("value_gradient_hessian", ["value", "gradient", "hessian"], args))

    def as_scipy(self, *params):
        """(fun, jac, hess) for scipy.optimize.minimize, the other arrays fixed."""
        return _scipy_triple(self, params)


def _shape_text(shape, bound=None):
    bound = bound or {}
    parts = [f"{d}={bound[d][0]}" if d in bound else str(d) for d in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _check_parameter(sym, want, arr, bound):
    """A parameter array of its declared shape `want` (column vectors as 1-D); binds the sizes it fixes."""
    if len(want) == 1 and arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != len(want):
        raise ShapeError(
            f"{sym} must be a {len(want)}-D array of shape {_shape_text(want)}, "
            f"got shape {arr.shape}"
        )
    for axis, d in enumerate(want):
        size = arr.shape[axis]
        if isinstance(d, sp.Symbol):
            if d in bound and bound[d][0] != size:
                raise ShapeError(
                    f"{sym} has {size} along axis {axis}, but {d} = {bound[d][0]} "
                    f"from {bound[d][1]}; expected shape {_shape_text(want, bound)}"
                )
            bound.setdefault(d, (size, sym))
        elif int(d) != size:
            raise ShapeError(f"{sym} must have shape {_shape_text(want)}, got {arr.shape}")
    return arr


def _split_batch(wrt, want, arr, bound):
    """(array, batch shape): the variable's trailing axes are its declared shape `want`, the rest
    the batch. A 2-D column vector ``(n, 1)`` is still one vector when the parameters fix n != 1.
    """
    if (
        len(want) == 1
        and arr.ndim == 2
        and arr.shape[1] == 1
        and _fixed_size(want[0], bound) == arr.shape[0] != 1
    ):
        arr = arr.reshape(-1)
    lead = arr.ndim - len(want)
    if lead < 0:
        raise ShapeError(f"{wrt} must have shape {_batch_shape_text(want, bound)}, got {arr.shape}")
    for d, size in zip(want, arr.shape[lead:]):
        expected = _fixed_size(d, bound)
        if expected is not None and expected != size:
            origin = f" ({d} = {expected} from {bound[d][1]})" if isinstance(d, sp.Symbol) else ""
            raise ShapeError(
                f"{wrt} must have shape {_batch_shape_text(want, bound)}, got {arr.shape}{origin}"
            )
        if isinstance(d, sp.Symbol):
            bound.setdefault(d, (size, wrt))
    return arr, arr.shape[:lead]


def _fixed_size(d, bound):
    if isinstance(d, sp.Symbol):
        return bound[d][0] if d in bound else None
    return int(d)


def _batch_shape_text(shape, bound):
    """'(..., 3)' with the known sizes filled in, '(..., n)' where none is known yet."""
    parts = [str(bound[d][0]) if d in bound else str(d) for d in shape]
    return "(" + ", ".join(["..."] + parts) + ")"


def _compile_matrix(f, wrt, params, backend, gradient, hessian, name):
    if not isinstance(wrt, sp.MatrixSymbol):
        raise InputTypeError(
            "in matrix form, wrt must be one MatrixSymbol (e.g. symcalc.vector('w', 'n'))"
        )
    _reject_text(params, "params")
    params = list(params) if not isinstance(params, (sp.MatrixSymbol, sp.Symbol)) else [params]
    for k, p in enumerate(params):
        if not isinstance(p, (sp.MatrixSymbol, sp.Symbol)):
            raise InputTypeError(f"params[{k}] = {p!r} must be a MatrixSymbol or a Symbol")
    f = _matrix_scalar(f)
    dims = {d for M in [wrt] + params if isinstance(M, sp.MatrixSymbol) for d in _dims(M.shape)}
    known = {wrt} | set(params) | dims
    unknown = _unknown_matrix_symbols(f, known)
    if unknown:
        raise InputError(
            f"f contains {', '.join(map(str, unknown))}, which is neither wrt nor in params"
        )
    gradient = _matrix_given(gradient, "gradient", known)
    hessian = _matrix_given(hessian, "hessian", known)
    if backend == "native":
        warnings.warn(
            "backend='native' (SymEngine LLVM) compiles element formulas only; matrix-form "
            "kernels use the NumPy backend (BLAS calls)",
            RuntimeWarning,
            stacklevel=3,
        )
    G, H = _matrix_derivatives(f, wrt, gradient, hessian)
    title = name or f"Matrix-form kernel for f({wrt}; {', '.join(map(str, params))})"
    source = _generate(_matrix_source, title, f, G, H, wrt, params)
    module, path = _load_source(source, "matrix")
    return MatrixKernel(f, wrt, params, G, H, source, module, path)
