"""Check a hand derivation: it holds, it fails (with a re-checked counterexample), or undecided.

``verify(claim, truth)`` first tries cheap canonical forms (expand, cancel,
together, named functions rewritten to exp, the matrix expressions' own
expansion), then probes both sides numerically at random points that respect
the domain (positive symbols get positive numbers, declared SPD matrices get SPD
matrices, points where the truth is undefined are skipped), with exact rational
inputs and high-precision (mpmath) evaluation, so cancellation cannot fake a
difference. Scalars are sampled at magnitudes from 1e-3 to 1e3 and just either side
of the breakpoints of sign, Abs, Heaviside, Max, Min and Piecewise; values that agree
to 30 digits are then compared exactly (a non-zero exact difference, or one that is
non-zero at 300 digits, is a counterexample), so a step at x = 50 or a constant
e^-100 cannot hide. A claim that holds only by probing says so: its ``method`` is
"numeric: N probes" (a strong check, not a proof). Matrix claims with symbolic sizes are probed at several concrete
sizes. A counterexample is evaluated again at higher precision before it is
returned. The whole decision runs in a forked worker under a wall-clock budget:
it never hangs, and an exhausted budget answers ``holds=None`` with the reason.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> verify("2x cos(x^2)", sp.diff(sp.sin(x**2), x)).holds
True
>>> v = verify("x cos(x^2)", sp.diff(sp.sin(x**2), x))     # a lost factor 2
>>> v.holds, v.method, v.exit_code
(False, 'numeric', 1)
>>> verify(sp.sqrt(x**2), x).holds, verify(sp.sqrt(x**2), x, {"x": "positive"}).holds
(False, True)
"""

from __future__ import annotations

import math
import multiprocessing
import os
import pickle
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath
import sympy as sp
from sympy import MatrixBase, MatrixExpr, MatrixSymbol
from sympy.core.sympify import _sympify

from symcalc.errors import InputError, InputTypeError, ShapeError
from symcalc.expr.functions import expand_named
from symcalc.expr.registry import REGISTRY
from symcalc.inputs import as_expr, as_matrix, reject_text
from symcalc.parsing.parser import ShapeMismatchError, parse_any

__all__ = [
    "Verdict",
    "verify",
    "verify_gradient",
    "verify_hessian",
    "verify_jacobian",
    "verify_from_text",
    "parse_assumptions",
    "declare",
]

DEFAULT_BUDGET = 3.0
_DPS = 50  # decimal digits of the comparison
_TOL_DIGITS = 30  # values agree when they agree to this many digits
_DEEP_DIGITS = 300  # an exact difference the exact route cannot decide is evaluated this deep
#: magnitudes at which scalars are sampled, in turn (not only |x| <= 2.5: a step at x = 50
#: or a branch for x > 100 is seen at scale 1000, a term like 1e-30 x^-1 near 0 at 1e-3)
_SCALES = (1, 10, 1, 1000, sp.Rational(1, 1000), 1, 10, 1000, 1, sp.Rational(1, 1000), 10, 1)
_MAX_BREAKPOINT_POINTS = 8


# ======================================================================================
# The verdict
# ======================================================================================
@dataclass
class Verdict:
    """What ``verify`` found.

    holds:          True, False, or None (undecided: budget exhausted, no usable points).
    method:         "symbolic" (a canonical form of claim - truth is zero, a proof),
                    "numeric" (a counterexample, or undecided), or "numeric: N probes" when
                    ``holds`` is True only because claim and truth agreed at N probe points
                    (exactly, or to 300 digits; a strong check, not a proof).
    counterexample: {symbol or matrix: exact value, size symbol: int} where they differ, or None.
    claim_value / truth_value: both sides at the counterexample (Floats or Matrices of Floats).
    wrong_entries:  for vector and matrix results, the entries that differ there.
    explanation:    one or two sentences a person can act on.
    """

    holds: bool | None
    method: str
    explanation: str
    counterexample: dict | None = None
    claim_value: Any = None
    truth_value: Any = None
    wrong_entries: list[str] = field(default_factory=list)
    claim: Any = None
    truth: Any = None
    points: int = 0
    elapsed: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 holds, 1 fails, 2 undecided (the CLI's exit status)."""
        return {True: 0, False: 1}.get(self.holds, 2)

    def __bool__(self) -> bool:
        return self.holds is True

    @property
    def status(self) -> str:
        return {True: "HOLDS", False: "FAILS"}.get(self.holds, "UNDECIDED")

    def describe(self) -> str:
        """Several lines for a person: the verdict, the counterexample and both values.

        >>> import sympy as sp
        >>> x = sp.Symbol("x")
        >>> print(verify("-sin(x)", sp.cos(x).diff(x)).describe().splitlines()[0])
        HOLDS (symbolic): claim - truth simplifies to 0 (structural).
        """
        lines = [f"{self.status} ({self.method}): {self.explanation}"]
        if self.claim is not None:
            lines.append(f"  claim: {_short(self.claim)}")
        if self.truth is not None:
            lines.append(f"  truth: {_short(self.truth)}")
        if self.counterexample:
            lines.append("  counterexample:")
            for k, v in self.counterexample.items():
                lines.append(f"    {_label(k)} = {_show_value(v)}")
        if self.holds is False and self.claim_value is not None:
            lines.append(f"  claim there: {_show_value(self.claim_value)}")
            lines.append(f"  truth there: {_show_value(self.truth_value)}")
        if self.wrong_entries:
            lines.append(f"  wrong entries: {', '.join(self.wrong_entries)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()


def _label(k) -> str:
    return getattr(k, "name", str(k))


def _short(obj, limit=300) -> str:
    s = str(obj).replace("\n", " ")
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _show_value(v) -> str:
    if isinstance(v, MatrixBase):
        rows = ["[" + ", ".join(_show_value(e) for e in v.row(i)) + "]" for i in range(v.rows)]
        return "[" + ", ".join(rows) + "]"
    if isinstance(v, sp.Rational) and not v.is_Integer:
        return f"{v} (~{float(v):.6g})"
    if isinstance(v, sp.Float):
        return f"{float(v):.12g}"
    if isinstance(v, sp.Expr) and v.is_number and not v.is_Integer:
        try:
            re_, im_ = (float(t) for t in v.evalf(15).as_real_imag())
            return f"{re_:.12g}" if im_ == 0 else f"{re_:.12g}{im_:+.12g}i"
        except (TypeError, ValueError):
            return str(v)
    return str(v)


# ======================================================================================
# Assumptions and declarations
# ======================================================================================
_SCALAR_FACTS = {
    "positive": {"positive": True},
    "pos": {"positive": True},
    ">0": {"positive": True},
    "nonnegative": {"nonnegative": True},
    ">=0": {"nonnegative": True},
    "negative": {"negative": True},
    "<0": {"negative": True},
    "nonpositive": {"nonpositive": True},
    "<=0": {"nonpositive": True},
    "integer": {"integer": True},
    "int": {"integer": True},
    "real": {"real": True},
    "nonzero": {"nonzero": True},
    "!=0": {"nonzero": True},
}
_MATRIX_FACTS = {
    "symmetric": "symmetric",
    "sym": "symmetric",
    "spd": "positive_definite",
    "pd": "positive_definite",
    "positive_definite": "positive_definite",
    "positive definite": "positive_definite",
    "positivedefinite": "positive_definite",
    "diagonal": "diagonal",
    "diag": "diagonal",
}


def _words(text: str) -> list[tuple[str, str]]:
    """'x>0, A symmetric' -> [('x', 'positive'), ('A', 'symmetric')]."""
    import re

    out = []
    for part in re.split(r"[;,]|\band\b", text):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)\s*(>=|<=|!=|>|<)\s*0", part)
        if m:
            out.append((m.group(1), m.group(2) + "0"))
            continue
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)\s*(?:is\s+)?(?:an?\s+)?([A-Za-z _]+)", part)
        if not m:
            raise InputError(
                f"cannot read the assumption {part!r}: write e.g. 'x > 0', "
                "'x positive', 'n integer', 'A symmetric', 'Sigma spd'"
            )
        for fact in _split_facts(m.group(2)):
            out.append((m.group(1), fact))
    return out


def _split_facts(words: str) -> list[str]:
    w = " ".join(words.lower().replace("-", " ").split())
    if w in _MATRIX_FACTS or w in _SCALAR_FACTS:
        return [w]
    facts = [f for f in w.split() if f not in ("matrix", "a", "an", "number")]
    for f in facts:
        if f not in _MATRIX_FACTS and f not in _SCALAR_FACTS:
            raise InputError(
                f"unknown assumption {f!r}: use positive, nonnegative, negative, "
                "integer, real, nonzero, symmetric, spd (positive definite), diagonal"
            )
    return facts


def parse_assumptions(assumptions) -> list[tuple[str, str]]:
    """Normalise assumptions to (name, fact) pairs.

    Accepts a dict {name or symbol: fact or [facts]}, a list of strings, one string
    ("x > 0, A symmetric"), or SymPy predicates (Q.positive(x), Q.symmetric(A), And(...)).

    >>> parse_assumptions("x > 0, Sigma spd")
    [('x', '>0'), ('Sigma', 'spd')]
    """
    if assumptions is None:
        return []
    if isinstance(assumptions, str):
        return _words(assumptions)
    if isinstance(assumptions, Mapping):
        out = []
        for k, facts in assumptions.items():
            name = _label(k)
            facts = [facts] if isinstance(facts, str) else facts
            if not isinstance(facts, (list, tuple, set, frozenset)) or not all(
                isinstance(f, str) for f in facts
            ):
                raise InputError(
                    f"the assumptions on {name} must be a word or a list of words "
                    f"('positive', ['real', 'nonzero'], 'spd'), not {facts!r}"
                )
            for f in facts:
                for fact in _split_facts(f):
                    out.append((name, fact))
        return out
    if isinstance(assumptions, sp.Basic):
        return _from_predicates(assumptions)
    if isinstance(assumptions, Iterable):
        out = []
        for a in assumptions:
            out.extend(parse_assumptions(a))
        return out
    raise InputError(
        f"assumptions must be a dict, a string or a list, not {type(assumptions).__name__}"
    )


def _from_predicates(expr) -> list[tuple[str, str]]:
    from sympy.assumptions.assume import AppliedPredicate

    if isinstance(expr, sp.And):
        out = []
        for a in expr.args:
            out.extend(_from_predicates(a))
        return out
    if isinstance(expr, AppliedPredicate):
        fact = str(expr.function).replace("Q.", "")
        facts = _split_facts(fact.replace("_", " ") if fact != "positive_definite" else fact)
        return [(_label(expr.arguments[0]), f) for f in facts]
    raise InputError(f"cannot use the assumption {expr}: use Q.positive(x), Q.symmetric(A), ...")


def _declared_facts(pairs) -> tuple[dict[str, dict], dict[str, str]]:
    scalars: dict[str, dict] = {}
    matrices: dict[str, str] = {}
    for name, fact in pairs:
        if fact in _MATRIX_FACTS:
            matrices[name] = _MATRIX_FACTS[fact]
        else:
            scalars.setdefault(name, {}).update(_SCALAR_FACTS[fact])
    return scalars, matrices


def _restructured(M: MatrixSymbol, structure: str) -> MatrixSymbol:
    from symcalc.expr import structure as st

    cls = {
        "symmetric": st.SymmetricMatrixSymbol,
        "positive_definite": st.PositiveDefiniteMatrixSymbol,
        "diagonal": st.DiagonalMatrixSymbol,
    }[structure]
    if M.shape[0] != M.shape[1]:
        raise InputError(
            f"{M.name} is {M.shape[0]} x {M.shape[1]}: only a square matrix can be {structure}"
        )
    return cls(M.name, *M.shape)


def _with_facts(s: sp.Symbol, facts: dict) -> sp.Symbol:
    keep = {
        k: v
        for k, v in s.assumptions0.items()
        if k
        in (
            "real",
            "positive",
            "negative",
            "nonnegative",
            "nonpositive",
            "integer",
            "nonzero",
            "commutative",
        )
        and v is not None
    }
    keep.update(facts)
    try:
        return sp.Symbol(s.name, **keep)
    except Exception as exc:  # inconsistent facts
        raise InputError(f"the assumptions on {s.name} contradict each other: {exc}") from None


def _assumption_map(objects: Iterable, assumptions) -> dict:
    """old SymPy object -> the same object carrying the assumptions (by name)."""
    scalars, matrices = _declared_facts(parse_assumptions(assumptions))
    by_name = {}
    for o in objects:
        by_name.setdefault(_label(o), o)
    unknown = (set(scalars) | set(matrices)) - set(by_name)
    if unknown:
        raise InputError(
            f"assumption about unknown name(s) {', '.join(sorted(unknown))} "
            f"(names in the problem: {', '.join(sorted(by_name))})"
        )
    mapping = {}
    for name, facts in scalars.items():
        o = by_name[name]
        if not isinstance(o, sp.Symbol):
            raise InputError(f"{name} is a matrix: use symmetric / spd / diagonal for it")
        mapping[o] = _with_facts(o, facts)
    for name, structure in matrices.items():
        o = by_name[name]
        if not isinstance(o, MatrixSymbol):
            raise InputError(f"{name} is not a matrix, so it cannot be {structure}")
        mapping[o] = _restructured(o, structure)
    return mapping


def declare(spec: str):
    """One declaration as the CLI writes it -> a SymPy object.

    "x" (a real scalar), "x>0" / "x positive", "x[n]" (an n-vector), "A[m,n]",
    "S[n,n] symmetric", "Sigma[n,n] spd", "D[n,n] diagonal", "k integer".

    >>> declare("A[m,n]").shape, declare("x > 0").is_positive, declare("Sigma[n,n] spd").structure
    ((m, n), True, 'positive_definite')
    """
    import re

    from symcalc.expr.structure import matrix_symbol

    if not isinstance(spec, str):
        if isinstance(spec, (sp.Symbol, MatrixSymbol)):
            return spec
        raise InputError(f"a declaration must be text like 'x' or 'A[m,n]', not {spec!r}")
    m = re.fullmatch(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*(?:\[\s*([^\]]*)\])?\s*(.*?)\s*", spec)
    if not m or "__" in m.group(1):
        raise InputError(
            f"cannot read the declaration {spec!r}: write e.g. 'x', 'x>0', "
            "'x[n]', 'A[m,n]', 'Sigma[n,n] spd'"
        )
    name, dims, rest = m.group(1), m.group(2), m.group(3)
    facts = (
        _split_facts(
            rest.replace(">=0", "nonnegative")
            .replace(">0", "positive")
            .replace("> 0", "positive")
            .replace("<0", "negative")
        )
        if rest
        else []
    )
    if dims is None:
        scalar_facts = {"real": True}
        for f in facts:
            if f not in _SCALAR_FACTS:
                raise InputError(
                    f"{name} is a scalar; '{f}' is for matrices (declare {name}[n,n] {f})"
                )
            scalar_facts.update(_SCALAR_FACTS[f])
        return sp.Symbol(name, **scalar_facts)
    parts = [p.strip() for p in dims.split(",") if p.strip()]
    if not 1 <= len(parts) <= 2:
        raise InputError(f"{spec!r}: give one size (a vector, x[n]) or two (a matrix, A[m,n])")
    sizes = [int(p) if p.isdigit() else p for p in parts]
    try:
        M = matrix_symbol(name, sizes[0], sizes[1] if len(sizes) == 2 else 1)
    except InputError as exc:
        raise InputError(f"{spec!r}: {exc}") from None
    for f in facts:
        if f not in _MATRIX_FACTS:
            raise InputError(f"{name} is a matrix; '{f}' is for scalars")
        M = _restructured(M, _MATRIX_FACTS[f])
    return M


# ======================================================================================
# Names: what a claim may refer to
# ======================================================================================
def _names_of(*objs) -> dict[str, Any]:
    """name -> Symbol / MatrixSymbol found in the objects (including matrix sizes)."""
    table: dict[str, Any] = {}
    for o in objs:
        if o is None:
            continue
        if isinstance(o, (list, tuple)):
            table.update({k: v for k, v in _names_of(*o).items() if k not in table})
            continue
        if not isinstance(o, sp.Basic):
            continue
        if isinstance(o, (sp.Symbol, MatrixSymbol)):
            table.setdefault(o.name, o)
        for m in o.atoms(MatrixSymbol):
            table.setdefault(m.name, m)
            for d in m.shape:
                for s in _sympify(d).free_symbols:
                    table.setdefault(s.name, s)
        for s in o.free_symbols:
            if isinstance(s, sp.Symbol) and not isinstance(s, sp.Dummy):
                table.setdefault(s.name, s)
    return table


def _rebind(expr, table: Mapping[str, Any]):
    """Replace symbols of a SymPy claim by the problem's symbols of the same name."""
    if not isinstance(expr, sp.Basic):
        return expr
    mapping = {}
    for m in expr.atoms(MatrixSymbol):
        target = table.get(m.name)
        if target is not None and target != m and isinstance(target, MatrixSymbol):
            mapping[m] = target
    for s in expr.free_symbols:
        target = table.get(getattr(s, "name", None))
        if (
            isinstance(s, sp.Symbol)
            and target is not None
            and target != s
            and isinstance(target, sp.Symbol)
        ):
            mapping[s] = target
    return expr.xreplace(mapping) if mapping else expr


def _as_object(obj, what):
    """A user's SymPy object, number or list of them (a column or rows): never text."""
    reject_text(obj, what)
    try:
        if isinstance(obj, (list, tuple)):
            return as_matrix(obj, what, exact_floats=True)
        return as_expr(obj, what, exact_floats=True)
    except InputTypeError as exc:  # not text: the wrong kind of object
        raise InputError(
            f"{exc} (verify reads SymPy objects, numbers, lists of them, or the claim as text)"
        ) from None


def _read_claim(claim, table, syntax):
    if isinstance(claim, str):
        return parse_any(claim, table, allow_undeclared=False, syntax=syntax)
    if isinstance(claim, (list, tuple)):
        # entries may be text too: ["2x", "3y^2"] or [["2", "0"], ["0", "6y"]]
        claim = [_read_entries(c, table, syntax) for c in claim]
    return _rebind(_as_object(claim, "the claim"), table)


def _read_entries(entry, table, syntax):
    if isinstance(entry, str):
        return parse_any(entry, table, allow_undeclared=False, syntax=syntax)
    if isinstance(entry, (list, tuple)):
        return [_read_entries(e, table, syntax) for e in entry]
    return entry


# ======================================================================================
# Shapes
# ======================================================================================
def _is_matrix(v) -> bool:
    return isinstance(v, (MatrixExpr, MatrixBase))


def _scalarize(v):
    if isinstance(v, MatrixBase) and v.shape == (1, 1):
        return v[0, 0]
    if isinstance(v, MatrixExpr) and v.shape == (1, 1):
        return sp.Trace(v)
    return v


def _shape_text(v) -> str:
    if not _is_matrix(v):
        return "a scalar"
    return f"a {v.shape[0]} x {v.shape[1]} matrix"


def _align_shapes(claim, truth):
    """(claim, truth, note): equal shapes, a row read as a column, or a ShapeError."""
    claim, truth = _scalarize(claim), _scalarize(truth)
    if _is_matrix(claim) != _is_matrix(truth):
        raise ShapeError(f"the claim is {_shape_text(claim)} but the truth is {_shape_text(truth)}")
    if not _is_matrix(claim):
        return claim, truth, ""
    (r1, c1), (r2, c2) = claim.shape, truth.shape
    if _same(r1, r2) and _same(c1, c2):
        return claim, truth, ""
    if _same(r1, c2) and _same(c1, r2) and (c1 == 1 or r1 == 1):
        return claim.T, truth, "the claim was written as a row and read as a column"
    if _maybe_same(r1, r2) and _maybe_same(c1, c2):
        return claim, truth, ""
    raise ShapeError(f"the claim is {_shape_text(claim)} but the truth is {_shape_text(truth)}")


def _same(a, b) -> bool:
    return sp.simplify(_sympify(a) - _sympify(b)) == 0


def _maybe_same(a, b) -> bool:
    """Sizes that can be equal (n and 3, m and n)."""
    a, b = _sympify(a), _sympify(b)
    return not (a.is_Integer and b.is_Integer and a != b)


# ======================================================================================
# Sampling points that respect the domain
# ======================================================================================
_DENOMS = (7, 11, 13, 17, 19, 23, 29)


def _rational(rng: random.Random, lo: float, hi: float) -> sp.Rational:
    q = rng.choice(_DENOMS)
    p = round(rng.uniform(lo, hi) * q)
    if p == 0:
        p = 1 if hi > 0 else -1
    return sp.Rational(p, q)


def _sample_scalar(s: sp.Symbol, rng: random.Random, scale=1) -> sp.Rational:
    """An exact value in s's domain, of magnitude about ``scale`` (integers: small, always)."""
    if s.is_integer:
        lo, hi = (
            (1, 5)
            if s.is_positive
            else (0, 5)
            if s.is_nonnegative
            else (-5, -1)
            if s.is_negative
            else (-4, 4)
        )
        v = rng.randint(lo, hi)
        if v == 0 and s.is_nonzero:
            v = 1
        return sp.Integer(v)
    if s.is_positive or s.is_nonnegative:
        return abs(_rational(rng, 0.15, 2.5)) * scale
    if s.is_negative or s.is_nonpositive:
        return -abs(_rational(rng, 0.15, 2.5)) * scale
    return _rational(rng, -2.5, 2.5) * scale


def _structure(M) -> str:
    return getattr(M, "structure", "general")


def _sample_matrix(
    M: MatrixSymbol, rows: int, cols: int, rng: random.Random, scale=1
) -> sp.ImmutableMatrix:
    """Exact entries of magnitude about ``scale``, with M's declared structure."""
    entry = lambda: _rational(rng, -2, 2) * scale  # noqa: E731
    B = sp.Matrix(rows, cols, lambda i, j: entry())
    kind = _structure(M)
    if kind == "symmetric":
        B = (B + B.T) / 2
    elif kind == "positive_definite":
        B = B * B.T / rows + sp.eye(rows) * sp.Rational(rng.randint(3, 9), 4) * scale**2
    elif kind == "diagonal":
        B = sp.diag(*[abs(entry()) + sp.Rational(1, 3) * scale for _ in range(rows)])
    return sp.ImmutableMatrix(B)


def _size_symbols(*exprs) -> list[sp.Symbol]:
    dims = set()
    for e in exprs:
        if isinstance(e, sp.Basic):
            for m in e.atoms(MatrixSymbol):
                for d in m.shape:
                    dims |= _sympify(d).free_symbols
            if isinstance(e, MatrixExpr):
                for d in e.shape:
                    dims |= _sympify(d).free_symbols
    return sorted(dims, key=lambda s: s.name)


def _size_configs(dims: list[sp.Symbol]) -> list[dict]:
    if not dims:
        return [{}]
    patterns = [
        lambda j: 2,
        lambda j: 3 if j % 2 == 0 else 2,
        lambda j: 2 if j % 2 == 0 else 4,
        lambda j: 3,
        lambda j: 4 - (j % 3),
    ]
    configs, seen = [], set()
    for p in patterns:
        c = {d: p(j) for j, d in enumerate(dims)}
        key = tuple(c.values())
        if key not in seen:
            seen.add(key)
            configs.append(c)
    return configs


@dataclass
class _Point:
    sizes: dict  # size Symbol -> int
    values: dict  # concrete Symbol / MatrixSymbol -> exact value
    shown: dict  # the user's object -> exact value (for the report)


def _draw_point(objects, sizes: dict, rng: random.Random, scale=1) -> _Point:
    values, shown = {}, {}
    for o in objects:
        if isinstance(o, MatrixSymbol):
            concrete = o.xreplace(sizes) if sizes else o
            r, c = concrete.shape
            if not (_sympify(r).is_Integer and _sympify(c).is_Integer):
                raise InputError(f"cannot give {o.name} a concrete size")
            v = _sample_matrix(o, int(r), int(c), rng, scale)
            values[concrete] = v
            shown[o] = v
        elif isinstance(o, sp.Symbol):
            if o in sizes:
                continue
            v = _sample_scalar(o, rng, scale)
            values[o] = v
            shown[o] = v
    for d, k in sizes.items():
        shown[d] = sp.Integer(k)
    return _Point(sizes, values, shown)


_KINKS = (sp.sign, sp.Abs, sp.Heaviside, sp.Max, sp.Min, sp.Piecewise, sp.floor, sp.ceiling)
_KINKS += REGISTRY.kink_classes()  # registry hook: relu, leaky_relu, abs, sign, heaviside (at 0)


def _kink_arguments(*exprs) -> list[sp.Expr]:
    """The expressions whose sign switches a branch: g of sign(g), |g|, H(g), floor(g),
    a - b of Max(a, b) / Min(a, b), lhs - rhs of a Piecewise condition.

    >>> x = sp.Symbol("x")
    >>> _kink_arguments(sp.sign(x - 3) + sp.Max(x, 2*x + 1))
    [x - 3, -x - 1]
    """
    out: list[sp.Expr] = []
    for e in exprs:
        if not isinstance(e, sp.Basic):
            continue
        for node in sorted(e.atoms(*_KINKS), key=sp.default_sort_key):
            if isinstance(node, (sp.Max, sp.Min)):
                a = node.args
                out.extend(a[i] - a[j] for i in range(len(a)) for j in range(i + 1, len(a)))
            elif isinstance(node, sp.Piecewise):
                for _, cond in node.args:
                    rels = (
                        [cond]
                        if isinstance(cond, sp.core.relational.Relational)
                        else sorted(
                            cond.atoms(sp.core.relational.Relational), key=sp.default_sort_key
                        )
                        if isinstance(cond, sp.Basic)
                        else []
                    )
                    out.extend(r.lhs - r.rhs for r in rels)
            else:
                out.append(node.args[0])
    seen, unique = set(), []
    for g in out:
        if (
            isinstance(g, sp.Expr)
            and not isinstance(g, MatrixExpr)
            and g.free_symbols
            and g not in seen
        ):
            seen.add(g)
            unique.append(g)
    return unique


def _roots_near(g: sp.Expr, s: sp.Symbol) -> list[sp.Rational]:
    """Real roots of g(s) = 0 when g is a polynomial of degree 1 or 2 in s (exact or
    rounded to 1e-9), else none: solving costs nothing, so it is only done where cheap."""
    try:
        poly = sp.Poly(g, s)
    except sp.PolynomialError:
        return []
    if poly.degree() not in (1, 2) or not all(c.is_Rational for c in poly.all_coeffs()):
        return []
    if poly.degree() == 1:
        a, b = poly.all_coeffs()
        return [-b / a]
    a, b, c = poly.all_coeffs()
    disc = b * b - 4 * a * c
    if disc < 0:
        return []
    roots = [(-b + sgn * sp.sqrt(disc)) / (2 * a) for sgn in (1, -1)]
    return [r if r.is_Rational else sp.Rational(round(float(r) * 10**9), 10**9) for r in roots]


def _breakpoint_points(exprs, objects, sizes: dict, rng: random.Random) -> list[_Point]:
    """Points just either side of the breakpoints of sign, |.|, Heaviside, Max, Min and
    Piecewise: one variable moves to a root of the branch argument (others stay random),
    then a little to each side (1e-3 of its size)."""
    scalars = [
        o for o in objects if isinstance(o, sp.Symbol) and o not in sizes and not o.is_integer
    ]
    points: list[_Point] = []
    for g in _kink_arguments(*exprs):
        for sym in sorted(g.free_symbols & set(scalars), key=lambda t: t.name)[:2]:
            base = _draw_point(objects, sizes, rng)
            others = {k: v for k, v in base.values.items() if k != sym and isinstance(k, sp.Symbol)}
            for r in _roots_near(g.xreplace(others), sym):
                delta = max(abs(r), sp.Integer(1)) / 1000
                for v in (r - delta, r + delta):
                    if (
                        (sym.is_positive and v <= 0)
                        or (sym.is_nonnegative and v < 0)
                        or (sym.is_negative and v >= 0)
                        or (sym.is_nonpositive and v > 0)
                    ):
                        continue
                    values = {**base.values, sym: v}
                    shown = {**base.shown, sym: v}
                    points.append(_Point(sizes, values, shown))
                    if len(points) >= _MAX_BREAKPOINT_POINTS:
                        return points
    return points


# ======================================================================================
# Evaluation at a point, at high precision
# ======================================================================================
class _Singular(Exception):
    """The value is undefined there (division by zero, log of 0, ...)."""


def _concrete(expr, point: _Point):
    """expr with sizes and values substituted and matrix expressions carried out (exact)."""
    if not isinstance(expr, sp.Basic):
        return expr
    e = expr.xreplace({d: sp.Integer(k) for d, k in point.sizes.items()}) if point.sizes else expr
    fast = _explicit(e, point)
    if fast is not None:
        return fast
    specials = e.atoms(sp.OneMatrix, sp.Identity, sp.ZeroMatrix) if isinstance(e, sp.Basic) else ()
    if specials:
        e = e.xreplace({m: sp.ImmutableMatrix(m.as_explicit()) for m in specials})
    e = e.xreplace(point.values)
    for _ in range(3):
        e2 = e.doit()
        if e2 == e:
            break
        e = e2
    if isinstance(e, MatrixExpr) and not isinstance(e, MatrixBase):
        e = e.as_explicit()
    return e


_NEEDS_DOIT = (sp.Derivative, sp.Integral, sp.Sum, sp.Product, sp.Limit)


def _explicit(e, point: _Point):
    """e evaluated bottom-up with explicit matrices (matrix_calculus.to_explicit): much
    faster than SymPy's entry-by-entry ``as_explicit`` of a product of matrix expressions.
    None when e has no matrix variable or holds a construct that route does not know."""
    matrices = {k: v for k, v in point.values.items() if isinstance(k, MatrixSymbol)}
    if not matrices or not e.atoms(MatrixSymbol):
        return None
    from symcalc.derivation.matrix import to_explicit

    scalars = {k: v for k, v in point.values.items() if not isinstance(k, MatrixSymbol)}
    try:
        out = to_explicit(e.xreplace(scalars) if scalars else e, matrices)
    except Exception:  # noqa: BLE001 - an unknown construct: the general route decides
        return None
    if (
        not isinstance(out, sp.Basic)
        or out.atoms(MatrixSymbol)
        or (isinstance(out, MatrixExpr) and not isinstance(out, MatrixBase))
    ):
        return None
    return out.doit() if out.has(*_NEEDS_DOIT) else out


def _number(expr, dps: int):
    """An exact numeric SymPy expression -> an mpmath number with ``dps`` digits."""
    if not isinstance(expr, sp.Basic):
        expr = _sympify(expr)
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise _Singular()
    if expr.free_symbols:
        names = ", ".join(sorted(map(str, expr.free_symbols)))
        raise InputError(f"the value still depends on {names} after substituting numbers")
    prec = int(dps * 3.33) + 10
    try:
        v = expr._to_mpmath(prec)
    except (ZeroDivisionError, ValueError, TypeError, AttributeError):
        raise _Singular() from None
    if isinstance(v, (mpmath.mpf, mpmath.mpc)) and not mpmath.isfinite(v):
        raise _Singular()
    return v


def _values(expr, point: _Point, dps: int):
    """Value(s) of expr at the point: a list of (index, mpmath number) and the shape."""
    return _numbers(_scalarize(_concrete(expr, point)), dps)


def _numbers(e, dps: int):
    """An exact value (scalar or explicit matrix) as ([(index, mpmath number)], shape)."""
    if isinstance(e, MatrixBase):
        with mpmath.workdps(dps):
            return [
                ((i, j), _number(e[i, j], dps)) for i in range(e.rows) for j in range(e.cols)
            ], e.shape
    return [((0, 0), _number(e, dps))], None


def _close(a, b, digits=_TOL_DIGITS) -> bool:
    scale = max(mpmath.mpf(1), abs(a), abs(b))
    return abs(a - b) <= scale * mpmath.mpf(10) ** (-digits)


def _is_real(v, digits=_TOL_DIGITS) -> bool:
    return not isinstance(v, mpmath.mpc) or abs(v.imag) <= max(1, abs(v)) * mpmath.mpf(10) ** (
        -digits
    )


# ======================================================================================
# The two stages
# ======================================================================================
class _Timeout(Exception):
    pass


class _Deadline:
    """Sub-deadlines inside the worker: SIGALRM interrupts pure-Python SymPy work."""

    def __init__(self, end: float, use_alarm: bool):
        self.end, self.use_alarm = end, use_alarm

    def left(self) -> float:
        return self.end - time.monotonic()

    def run(self, fn, *args, share: float = 1.0):
        """fn(*args) with at most ``share`` of the remaining time (raises _Timeout)."""
        allowed = self.left() * share
        if allowed <= 0.01:
            raise _Timeout()
        if not self.use_alarm:
            return fn(*args)
        old = signal.signal(signal.SIGALRM, _raise_timeout)
        signal.setitimer(signal.ITIMER_REAL, allowed)
        try:
            return fn(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def _raise_timeout(signum, frame):
    raise _Timeout()


def _entries(d):
    if isinstance(d, MatrixBase):
        return list(d)
    return [d]


_CHEAP = (
    ("structural", lambda d: d),
    ("expand", lambda d: sp.expand(d)),
    ("together/cancel", lambda d: sp.cancel(sp.together(sp.expand(d)))),
    ("named functions as exp", lambda d: sp.cancel(sp.together(sp.expand(expand_named(d))))),
)
_HEAVY = (
    (
        "expand_log/powsimp",
        lambda d: sp.cancel(sp.powsimp(sp.expand_log(sp.expand(expand_named(d)), force=False))),
    ),
    ("trigsimp", lambda d: sp.trigsimp(sp.expand(d))),
    ("simplify", lambda d: sp.simplify(expand_named(d))),
)


def _is_zero(e) -> bool:
    if isinstance(e, MatrixBase):
        return all(_is_zero(v) for v in e)
    if isinstance(e, (sp.ZeroMatrix,)):
        return True
    if isinstance(e, MatrixExpr):
        return False
    return e == 0


def _difference(claim, truth):
    if isinstance(claim, MatrixBase) and isinstance(truth, MatrixBase):
        return sp.ImmutableMatrix(
            claim.shape[0], claim.shape[1], [a - b for a, b in zip(claim, truth)]
        )
    return claim - truth


def _matrix_canonical(d):
    e = d.doit()
    if isinstance(e, MatrixExpr) and not isinstance(e, MatrixBase):
        e = sp.expand(e)
    return e


def _symbolic(claim, truth, deadline: _Deadline, steps, share: float) -> str | None:
    """The name of the canonical form that made claim - truth zero, or None."""
    if truth is None:
        return None
    d = _difference(claim, truth)
    if isinstance(d, MatrixExpr) and not isinstance(d, MatrixBase):
        try:
            if _is_zero(deadline.run(_matrix_canonical, d, share=share)):
                return "matrix expansion"
        except Exception:  # noqa: BLE001 - includes _Timeout: go on numerically
            return None
        return None
    entries = _entries(d)
    for name, step in steps:
        try:
            if all(deadline.run(step, e, share=share) == 0 for e in entries):
                return name
        except _Timeout:
            return None  # this form is too costly: leave the time to the next stage
        except Exception:  # noqa: BLE001 - a canonical form SymPy cannot build here
            continue
    return None


def _numeric(
    claim_side: Callable,
    truth_side: Callable,
    objects,
    dims,
    deadline: _Deadline,
    rng: random.Random,
    min_points: int,
    max_points: int,
    progress: Callable,
    exprs=(),
):
    """Probe; return ('fails', details) or ('agrees', n_points) or ('undecided', reason)."""
    try:
        return _probe(
            claim_side,
            truth_side,
            objects,
            dims,
            deadline,
            rng,
            min_points,
            max_points,
            progress,
            exprs,
        )
    except _Timeout:
        if progress.agreed >= min_points:  # a timeout after enough agreeing points
            return "agrees", progress.agreed
        raise


def _points(objects, dims, rng, max_points, exprs, deadline):
    """The probe points, in order: for each size configuration, points at the magnitudes
    of _SCALES in turn; after the first point, points either side of each breakpoint."""
    configs = _size_configs(dims)
    per_config = max(2, -(-max_points // len(configs)))
    drawn = 0
    for c, sizes in enumerate(configs):
        for k in range(per_config):
            yield _draw_point(objects, sizes, rng, _SCALES[drawn % len(_SCALES)])
            drawn += 1
            if c == 0 and k == 0:
                try:
                    extra = deadline.run(_breakpoint_points, exprs, objects, sizes, rng, share=0.2)
                except _Timeout:
                    extra = []
                except Exception:  # noqa: BLE001 - a branch SymPy cannot solve: no extra points
                    extra = []
                yield from extra


def _exact_and_numbers(side, point, dps):
    exact = side.exact(point)
    with mpmath.workdps(dps):
        vals, shape = _numbers(exact, dps)
    return exact, vals, shape


def _probe(
    claim_side, truth_side, objects, dims, deadline, rng, min_points, max_points, progress, exprs=()
):
    agreed, skipped, errors = 0, 0, []
    for point in _points(objects, dims, rng, max_points, exprs, deadline):
        if agreed >= max_points + _MAX_BREAKPOINT_POINTS:
            break
        try:
            truth_exact, truth_vals, tshape = deadline.run(
                _exact_and_numbers, truth_side, point, _DPS, share=0.9
            )
        except _Timeout:
            raise
        except _Singular:
            skipped += 1
            continue
        except (InputError, ShapeError):
            raise
        except Exception as exc:  # noqa: BLE001 - a construct SymPy cannot evaluate
            errors.append(f"{type(exc).__name__}: {_short(exc, 120)}")
            skipped += 1
            continue
        if not all(_is_real(v) for _, v in truth_vals):
            skipped += 1  # outside the truth's real domain
            continue
        try:
            claim_exact, claim_vals, cshape = deadline.run(
                _exact_and_numbers, claim_side, point, _DPS, share=0.9
            )
        except _Timeout:
            raise
        except _Singular:
            return "fails", (
                point,
                None,
                truth_vals,
                "the claim is undefined here but the truth is not",
                tshape,
            )
        if cshape != tshape:
            return "fails", (
                point,
                None,
                truth_vals,
                f"the claim is {cshape} and the truth {tshape} at this size",
                tshape,
            )
        bad = [k for (k, a), (_, b) in zip(claim_vals, truth_vals) if not _close(a, b)]
        if bad:
            return "fails", (point, claim_vals, truth_vals, bad, tshape)
        deep = _exactly_different(claim_exact, truth_exact, claim_vals, deadline)
        if deep:
            return "fails", (point, claim_vals, truth_vals, deep, tshape)
        agreed += 1
        progress.agreed = agreed
        progress.sizes.add(_sizes_text(point.sizes))
        progress(agreed)
    if agreed >= min_points:
        return "agrees", agreed
    reason = f"only {agreed} usable random points ({skipped} were outside the domain)"
    if errors:
        reason += f"; evaluation failed with {errors[0]}"
    return "undecided", reason


class _Deep(list):
    """Entries whose difference is non-zero by exact (or 300-digit) evaluation, with the
    difference found: a counterexample that needs no re-check at higher precision."""

    differences: list


def _exactly_different(claim_exact, truth_exact, claim_vals, deadline) -> _Deep:
    """The entries where values that agree to 30 digits still differ: the exact difference
    of the two sides at the (rational) point is a non-zero rational, or evaluates to a
    non-zero number to full accuracy with up to 300 digits (SymPy's adaptive evalf).
    What cannot be decided (time, constructs evalf does not know) counts as agreeing."""
    found = _Deep()
    found.differences = []
    cs = list(claim_exact) if isinstance(claim_exact, MatrixBase) else [claim_exact]
    ts = list(truth_exact) if isinstance(truth_exact, MatrixBase) else [truth_exact]
    for (k, _), a, b in zip(claim_vals, cs, ts):
        try:
            d = deadline.run(_nonzero_difference, a, b, share=0.3)
        except _Timeout:
            return found if found else _Deep()
        except Exception:  # noqa: BLE001 - SymPy cannot evaluate this difference: agree
            d = None
        if d is not None:
            found.append(k)
            found.differences.append(d)
    return found


def _nonzero_difference(a, b):
    """a - b as a non-zero number (exact or a Float of 15 correct digits), or None."""
    if not (isinstance(a, sp.Basic) and isinstance(b, sp.Basic)):
        return None
    d = a - b
    if d == 0 or d.free_symbols:
        return None
    if d.is_Rational:
        return d
    try:
        v = d.evalf(15, strict=True, maxn=_DEEP_DIGITS)
    except sp.core.evalf.PrecisionExhausted:
        return None  # zero to 300 digits: agreeing
    return v if v.is_number and v != 0 and not v.has(sp.nan, sp.zoo) else None


@dataclass(frozen=True)
class _ExprSide:
    """One side of the comparison, from a SymPy object (a class, not a closure: a job pickles)."""

    expr: Any

    def exact(self, point: _Point):
        return _scalarize(_concrete(self.expr, point))

    def __call__(self, point: _Point, dps: int):
        return _values(self.expr, point, dps)


def _expr_side(expr) -> Callable:
    return _ExprSide(expr)


# ======================================================================================
# A job: what the worker decides
# ======================================================================================
@dataclass
class _Job:
    claim: Any
    truth: Any  # a SymPy object, or None when truth_side is given
    objects: list  # the symbols and matrices to sample
    truth_side: Callable | None = None
    entry_label: Callable | None = None
    seed: int = 20261128
    max_points: int = 0


def _decide(job: _Job, budget: float, send: Callable, use_alarm: bool):
    start = time.monotonic()
    deadline = _Deadline(start + budget, use_alarm)
    rng = random.Random(job.seed)
    dims = _size_symbols(job.claim, job.truth, *job.objects)
    stage = "symbolic"
    try:
        how = _symbolic(job.claim, job.truth, deadline, _CHEAP, share=0.3)
        if how:
            send(
                dict(
                    final=True,
                    holds=True,
                    method="symbolic",
                    explanation=f"claim - truth simplifies to 0 ({how}).",
                )
            )
            return
        stage = "numeric"
        truth_side = job.truth_side or _expr_side(job.truth)
        progress = _Progress(send)
        probing = _Deadline(start + 0.85 * budget, use_alarm)  # keep time to re-check
        outcome, info = _numeric(
            _expr_side(job.claim),
            truth_side,
            job.objects,
            dims,
            probing,
            rng,
            min_points=3,
            max_points=job.max_points or (10 if not dims else 12),
            progress=progress,
            exprs=_scalar_parts(job.claim, job.truth),
        )
        if outcome == "fails":
            send(
                _failure(
                    job,
                    info,
                    claim_side=_expr_side(job.claim),
                    truth_side=truth_side,
                    deadline=deadline,
                )
            )
            return
        if outcome == "undecided":
            send(dict(final=True, holds=None, method="numeric", explanation=info))
            return
        sized = f" at sizes {', '.join(sorted(progress.sizes))}" if dims else ""
        numeric = dict(
            final=False,
            holds=True,
            method=f"numeric: {info} probes",
            explanation=f"claim and truth agree at {info} probe points{sized} "
            f"(exactly or to {_DEEP_DIGITS} digits; random points at "
            "magnitudes 1e-3 to 1e3 and either side of breakpoints): "
            "a strong check, not a proof.",
            points=info,
        )
        send(numeric)
        stage = "symbolic (heavy)"
        if job.truth is not None and not isinstance(_difference(job.claim, job.truth), MatrixExpr):
            how = _symbolic(job.claim, job.truth, deadline, _HEAVY, share=1.0)
            if how:
                send(
                    dict(
                        final=True,
                        holds=True,
                        method="symbolic",
                        points=info,
                        explanation=f"claim - truth simplifies to 0 ({how}); it also agrees "
                        f"at {info} random points.",
                    )
                )
                return
        send(dict(numeric, final=True))
    except _Timeout:
        send(
            dict(
                final=True,
                holds=None,
                method=stage.split()[0],
                timeout=True,
                explanation=f"the time budget ({budget:g} s) ran out during the {stage} stage",
            )
        )


def _scalar_parts(*exprs) -> list:
    """The scalar expressions inside claim and truth (entries of explicit matrices)."""
    out = []
    for e in exprs:
        if isinstance(e, MatrixBase):
            out.extend(e)
        elif isinstance(e, sp.Basic):
            out.append(e)
    return out


class _Progress:
    """Counts agreeing points (and tells the parent, so a timeout keeps them)."""

    def __init__(self, send):
        self.send, self.agreed, self.sizes = send, 0, set()

    def __call__(self, n):
        self.send(dict(final=False, progress=n))


def _sizes_text(config: dict) -> str:
    return "/".join(f"{d}={k}" for d, k in config.items())


def _failure(job: _Job, info, claim_side, truth_side, deadline: _Deadline) -> dict:
    point, claim_vals, truth_vals, bad, shape = info
    recheck = f"re-checked at {2 * _DPS} digits"
    if isinstance(bad, _Deep):
        shown = ", ".join(_show_value(d) for d in bad.differences[:3])
        recheck = (
            f"they agree to {_TOL_DIGITS} digits but the exact difference there is {shown}, not 0"
        )
    elif claim_vals is not None:
        try:  # evaluate again, at twice the precision, before reporting
            c2, _ = deadline.run(claim_side, point, 2 * _DPS, share=1.0)
            t2, _ = deadline.run(truth_side, point, 2 * _DPS, share=1.0)
            bad = [k for (k, a), (_, b) in zip(c2, t2) if not _close(a, b)]
            claim_vals, truth_vals = c2, t2
            if not bad:
                return dict(
                    final=True,
                    holds=None,
                    method="numeric",
                    explanation="a difference at 50 digits vanished at 100 digits: "
                    "undecided (numerically delicate)",
                )
        except _Timeout:
            return dict(
                final=True,
                holds=None,
                method="numeric",
                timeout=True,
                explanation="a difference was found but the budget ran out before it "
                "could be re-checked; give a larger budget",
            )
        except _Singular:
            recheck = "re-checked: the higher-precision evaluation is undefined there"
    explanation = "the claim differs from the truth at a random point"
    if isinstance(bad, str):
        explanation = bad
        bad = []
    labels = (
        [job.entry_label(k, shape) if job.entry_label else _entry_text(k, shape) for k in bad]
        if shape is not None
        else []
    )
    return dict(
        final=True,
        holds=False,
        method="numeric",
        explanation=f"{explanation} ({recheck}).",
        counterexample=dict(point.shown),
        claim_value=_to_sympy(claim_vals, shape),
        truth_value=_to_sympy(truth_vals, shape),
        wrong_entries=labels,
    )


def _entry_text(k, shape) -> str:
    i, j = k
    if shape and shape[1] == 1:
        return f"entry {i + 1}"
    return f"entry ({i + 1}, {j + 1})"


def _mp_to_sympy(v):
    if isinstance(v, mpmath.mpc):
        return sp.Float(mpmath.nstr(v.real, 20)) + sp.I * sp.Float(mpmath.nstr(v.imag, 20))
    return sp.Float(mpmath.nstr(v, 20), 20)


def _to_sympy(vals, shape):
    if vals is None:
        return None
    if shape is None:
        return _mp_to_sympy(vals[0][1])
    M = sp.zeros(*shape)
    for (i, j), v in vals:
        M[i, j] = _mp_to_sympy(v)
    return sp.ImmutableMatrix(M)


# ======================================================================================
# Running a job under the budget: a forked worker (killed at the deadline)
# ======================================================================================
def _can_fork() -> bool:
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    if multiprocessing.current_process().daemon:
        return False
    return True


_FORKSERVER_OWNER: list[int] = []  # the pid that started our fork server, once it has


def _start_method() -> str:
    """ "fork" while this process has one thread; "forkserver" once it has more (a worker
    thread, or a library with native thread pools such as JAX or PyTorch), because
    forking a multi-threaded process can deadlock the child.

    A process forked from the one that started the fork server inherits a server it
    cannot talk to (CPython keeps the parent's server state): it forks instead.
    """
    native_pools = any(name in sys.modules for name in ("jax", "torch", "tensorflow"))
    if threading.active_count() == 1 and not native_pools:
        return "fork"
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return "fork"
    if _FORKSERVER_OWNER and _FORKSERVER_OWNER[0] != os.getpid():
        return "fork"
    return "forkserver"


def _context(job):
    method = _start_method()
    if method == "forkserver":
        try:
            pickle.dumps(job)
        except Exception:  # noqa: BLE001 - an unpicklable claim: fork is the only way left
            method = "fork"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(
            ["symcalc.verification.claims"]
        )  # workers start with SymPy loaded
        _FORKSERVER_OWNER[:] = [os.getpid()]
    return ctx


def _worker(conn, job, budget):
    def send(msg):
        conn.send(msg)

    try:
        _decide(job, budget, send, use_alarm=True)
    except BaseException as exc:  # noqa: BLE001 - report every failure to the parent
        try:
            conn.send(
                dict(
                    final=True,
                    holds=None,
                    method="numeric",
                    explanation=f"the check itself failed: {type(exc).__name__}: "
                    f"{_short(exc, 200)}",
                )
            )
        except Exception:
            pass
    finally:
        conn.close()


def _run(job: _Job, budget: float, isolate: bool | None) -> dict:
    if isolate is None:
        isolate = _can_fork()
    if not isolate:
        return _run_inline(job, budget)
    ctx = _context(job)
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(sender, job, budget), daemon=True)
    try:
        proc.start()
    except OSError:  # the fork server could not be reached: fork directly
        receiver.close()
        sender.close()
        ctx = multiprocessing.get_context("fork")
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker, args=(sender, job, budget), daemon=True)
        proc.start()
    sender.close()
    best, final = None, None
    hard_end = time.monotonic() + budget + 1.0  # the worker's own deadline is ``budget``
    try:
        while final is None:
            left = hard_end - time.monotonic()
            if left <= 0:
                break
            if not receiver.poll(min(left, 0.1)):  # in slices: an enclosing budget can interrupt
                continue
            try:
                msg = receiver.recv()
            except (EOFError, OSError):
                break
            if "holds" in msg:
                best = msg
            if msg.get("final"):
                final = msg
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(1.0)
        receiver.close()
    if final is not None and not (
        final.get("timeout")
        and best is not None
        and best is not final
        and best.get("holds") is not None
    ):
        return final
    if best is not None and best.get("holds") is not None:
        return dict(best, final=True)
    if final is not None:
        return final
    return dict(
        final=True,
        holds=None,
        method="numeric",
        timeout=True,
        explanation=f"the time budget ({budget:g} s) ran out",
    )


def _run_inline(job: _Job, budget: float) -> dict:
    """No fork (another OS, or inside a daemon process): run here, alarms only in the main thread."""
    messages = []
    use_alarm = threading.current_thread() is threading.main_thread() and hasattr(
        signal, "setitimer"
    )
    _decide(job, budget, messages.append, use_alarm=use_alarm)
    best = [m for m in messages if "holds" in m]
    final = best[-1] if best else dict(holds=None, method="numeric", explanation="no result")
    if final.get("timeout"):
        earlier = [m for m in best if m.get("holds") is not None]
        if earlier:
            return earlier[-1]
    return final


def _verdict(
    result: dict, claim, truth, started: float, note: str = "", amap: Mapping | None = None
) -> Verdict:
    explanation = result.get("explanation", "")
    cex = result.get("counterexample")
    if cex and amap:  # report the user's own symbols, not their assumption-laden twins
        back = {new: old for old, new in amap.items()}
        cex = {back.get(k, k): v for k, v in cex.items()}
        result = dict(result, counterexample=cex)
    if note:
        explanation = f"{explanation} Note: {note}."
    return Verdict(
        holds=result.get("holds"),
        method=result.get("method", "numeric"),
        explanation=explanation,
        counterexample=result.get("counterexample"),
        claim_value=result.get("claim_value"),
        truth_value=result.get("truth_value"),
        wrong_entries=list(result.get("wrong_entries") or []),
        claim=claim,
        truth=truth,
        points=int(result.get("points") or 0),
        elapsed=time.monotonic() - started,
    )


_SYNTAXES = ("auto", "math", "latex")


def _check_options(isolate, syntax) -> None:
    if not isinstance(syntax, str) or syntax not in _SYNTAXES:
        raise InputError(f"syntax must be 'auto', 'math' or 'latex', not {_short(syntax, 80)!r}")
    if isolate is not None and not isinstance(isolate, bool):
        raise InputError(f"isolate must be True, False or None (automatic), not {isolate!r}")


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"seed must be an integer, not {seed!r}")
    return seed


def _check_budget(budget) -> float:
    try:
        budget = float(budget)
    except (TypeError, ValueError):
        raise InputError(f"budget must be a number of seconds, not {budget!r}") from None
    if not (budget > 0 and math.isfinite(budget)):
        raise InputError(f"budget must be a positive number of seconds, not {budget!r}")
    return budget


# ======================================================================================
# Public API
# ======================================================================================
def _check_symbols(symbols) -> None:
    """``symbols`` binds names to SymPy objects: {name: Symbol or MatrixSymbol} or a list."""
    if symbols is None:
        return
    if not isinstance(symbols, (Mapping, list, tuple, set, frozenset)):
        raise InputTypeError(
            "symbols must be a list of SymPy Symbols / MatrixSymbols or a dict "
            f"from names to them, not {type(symbols).__name__}"
            + ("; declare(text) reads a declaration" if isinstance(symbols, str) else "")
        )
    values = list(symbols.values()) if isinstance(symbols, Mapping) else list(symbols)
    for k, v in enumerate(values):
        where = (
            f"symbols[{k}]"
            if not isinstance(symbols, Mapping)
            else f"symbols[{list(symbols)[k]!r}]"
        )
        reject_text(v, where)
        if not isinstance(v, sp.Basic):
            raise InputTypeError(
                f"{where} must be a SymPy Symbol or MatrixSymbol, not {type(v).__name__}"
            )


def _prepare(claim, truth, assumptions, symbols, syntax, extra_objects=()):
    """Bind names, apply assumptions, read the claim; returns (claim, truth, objects, note, amap)."""
    table = _names_of(truth, *extra_objects)
    _check_symbols(symbols)
    if symbols:
        table.update(
            {
                _label(k) if not isinstance(k, str) else k: v
                for k, v in (
                    symbols.items()
                    if isinstance(symbols, Mapping)
                    else ((_label(s), s) for s in symbols)
                )
            }
        )
    claim = _read_claim(claim, table, syntax)
    as_read = claim
    objects = dict(table)
    for name, o in _names_of(claim).items():
        objects.setdefault(name, o)
    amap = _assumption_map(list(objects.values()), assumptions)
    if amap:
        claim = claim.xreplace(amap)
        truth = truth.xreplace(amap) if isinstance(truth, sp.Basic) else truth
    sampled = sorted(
        (amap.get(o, o) for o in objects.values()),  # a stable order: same
        key=lambda o: (isinstance(o, MatrixSymbol), _label(o)),
    )  # seed, same point
    return claim, truth, sampled, amap, as_read


def verify(
    claim,
    truth,
    assumptions=None,
    budget: float = DEFAULT_BUDGET,
    *,
    symbols=None,
    syntax: str = "auto",
    seed: int = 20261128,
    isolate: bool | None = None,
) -> Verdict:
    """Does ``claim`` equal ``truth``? True (proved or probed), False (with a counterexample), None.

    claim: a SymPy object, or text in math syntax ("2x cos(x^2)") or LaTeX
    ("2x\\cos(x^2)"); names bind to the symbols and matrices of ``truth`` (and
    ``symbols``). assumptions: {"x": "positive", "Sigma": "spd"}, "x > 0, A symmetric",
    or SymPy predicates. budget: seconds of wall-clock time (never exceeded by more
    than about a second).

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> f = 1 / (1 + sp.exp(-x))
    >>> verify(r"\\sigma(x)(1-\\sigma(x))", f.diff(x)).holds
    True
    >>> verify(r"\\sigma(x)(1+\\sigma(x))", f.diff(x)).holds
    False
    """
    started = time.monotonic()
    budget, seed = _check_budget(budget), _check_seed(seed)
    _check_options(isolate, syntax)
    truth = _read_truth(truth, symbols, syntax)
    truth_shown = truth
    try:
        claim, truth, objects, amap, as_read = _prepare(claim, truth, assumptions, symbols, syntax)
    except ShapeMismatchError as exc:
        return _ill_formed(exc, claim, truth, started)
    try:
        claim_a, truth_a, note = _align_shapes(claim, truth)
    except ShapeError as exc:
        return Verdict(
            False,
            "symbolic",
            f"the shapes differ: {exc}.",
            claim=as_read,
            truth=truth_shown,
            elapsed=time.monotonic() - started,
        )
    job = _Job(claim_a, truth_a, objects, seed=seed)
    return _verdict(_run(job, budget, isolate), as_read, truth_shown, started, note, amap)


def _ill_formed(exc, claim, truth, started) -> Verdict:
    """A claim whose matrix sizes do not fit cannot be the answer: it fails, and says where."""
    return Verdict(
        False,
        "symbolic",
        f"the claim is not well-formed: {exc}",
        claim=claim,
        truth=truth,
        elapsed=time.monotonic() - started,
    )


def _read_truth(truth, symbols, syntax):
    _check_symbols(symbols)
    if isinstance(truth, str):  # read by symcalc's parser (never evaluated)
        return parse_any(truth, symbols, allow_undeclared=symbols is None, syntax=syntax)
    return _as_object(truth, "the truth")


# --------------------------------------------------------------------------------------
# Gradients, Hessians, Jacobians: the engine's answer is the truth
# --------------------------------------------------------------------------------------
def _wrt_list(wrt):
    if isinstance(wrt, (sp.Symbol, MatrixSymbol)):
        return [wrt]
    if isinstance(wrt, MatrixBase):
        return list(wrt)
    if isinstance(wrt, str):
        raise InputError("wrt must be SymPy symbols; to work from text use verify_from_text")
    return list(wrt)


def _engine(kind: str, f, wrt):
    """(truth or None, reason) from symcalc.derivation.calculus; None when the engine cannot answer."""
    try:
        from symcalc.derivation import calculus

        fn = getattr(calculus, kind)
        if isinstance(f, MatrixBase) and not isinstance(wrt, MatrixSymbol):
            f = list(f)  # explicit components, not a matrix expression
        result = fn(f, wrt)
        if isinstance(result, MatrixBase):
            result = sp.ImmutableMatrix(result)
        # the engine may hand back symbols without their assumptions: bind them by name
        return _rebind(result, _names_of(f, _wrt_list(wrt))), ""
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any engine failure: use the independent route
        return None, f"{type(exc).__name__}: {_short(exc, 120)}"


def _labels_for(kind: str, f, wrt):
    syms = _wrt_list(wrt)
    if isinstance(wrt, MatrixSymbol) or not all(isinstance(s, sp.Symbol) for s in syms):
        return None
    return _EntryLabel(kind, tuple(s.name for s in syms))


@dataclass(frozen=True)
class _EntryLabel:
    """Names a wrong entry ("d f/d x"); a class, not a closure, so a job pickles."""

    kind: str
    names: tuple

    def __call__(self, k, shape) -> str:
        if self.kind == "gradient":
            return f"d f/d {self.names[k[0] if shape[1] == 1 else k[1]]}"
        if self.kind == "hessian":
            return f"d2 f/(d {self.names[k[0]]} d {self.names[k[1]]})"
        return f"d F{k[0] + 1}/d {self.names[k[1]]}"


def _verify_derivative(
    kind: str, f, wrt, claimed, assumptions, budget, symbols, syntax, seed, isolate
) -> Verdict:
    started = time.monotonic()
    budget, seed = _check_budget(budget), _check_seed(seed)
    _check_options(isolate, syntax)
    if isinstance(f, (list, tuple)):
        f = _as_object(list(f), "F")
    if isinstance(f, str) or any(isinstance(w, str) for w in _wrt_list(wrt)):
        raise InputError("f and wrt must be SymPy objects; to work from text use verify_from_text")
    reject_text(f, "f")
    reject_text(wrt, "wrt")
    if isinstance(wrt, (list, tuple)) and len(wrt) == 1 and isinstance(wrt[0], MatrixSymbol):
        wrt = wrt[0]
    truth, why = _engine(kind, f, wrt)
    note = ""
    truth_side = None
    if truth is None:
        if not isinstance(wrt, MatrixSymbol):
            truth = _elementwise_explicit(kind, f, _wrt_list(wrt))
        else:
            truth_side = _elementwise_side(kind, f, wrt)
            note = (
                "the truth was computed entry by entry at concrete sizes "
                f"(the matrix engine did not answer: {why})"
            )
    extra = [f] + _wrt_list(wrt) + ([truth] if truth is not None else [])
    try:
        claim, truth_b, objects, amap, as_read = _prepare(
            claimed,
            truth if truth is not None else sp.S.Zero,
            assumptions,
            symbols,
            syntax,
            extra_objects=extra,
        )
    except ShapeMismatchError as exc:
        return _ill_formed(exc, claimed, truth, started)
    if truth is None:
        truth_b = None
        f_b, wrt_b = (f.xreplace(amap), wrt.xreplace(amap)) if amap else (f, wrt)
        truth_side = _elementwise_side(kind, f_b, wrt_b)
    labels = _labels_for(kind, f, wrt)
    if truth_b is not None:
        try:
            claim_a, truth_a, note2 = _align_shapes(claim, truth_b)
        except ShapeError as exc:
            return Verdict(
                False,
                "symbolic",
                f"the shapes differ: {exc}.",
                claim=as_read,
                truth=truth,
                elapsed=time.monotonic() - started,
            )
        note = "; ".join(n for n in (note, note2) if n)
    else:
        claim_a = _scalarize(claim)
        truth_a = None
    job = _Job(
        claim_a,
        truth_a,
        objects,
        truth_side=truth_side,
        entry_label=labels,
        seed=seed,
        max_points=6 if truth_side is not None else 0,
    )
    return _verdict(
        _run(job, budget, isolate),
        as_read,
        truth if truth is not None else f"{kind} of {_short(f, 120)} (entry by entry)",
        started,
        note,
        amap,
    )


def verify_gradient(
    f,
    wrt,
    claimed,
    assumptions=None,
    budget: float = DEFAULT_BUDGET,
    *,
    symbols=None,
    syntax: str = "auto",
    seed: int = 20261128,
    isolate: bool | None = None,
) -> Verdict:
    """Is ``claimed`` the gradient of ``f`` with respect to ``wrt``? Says which entries are wrong.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> v = verify_gradient(x**2 * y, [x, y], "[2xy, x^2 y]")
    >>> v.holds, v.wrong_entries
    (False, ['d f/d y'])
    """
    return _verify_derivative(
        "gradient", f, wrt, claimed, assumptions, budget, symbols, syntax, seed, isolate
    )


def verify_hessian(
    f,
    wrt,
    claimed,
    assumptions=None,
    budget: float = DEFAULT_BUDGET,
    *,
    symbols=None,
    syntax: str = "auto",
    seed: int = 20261128,
    isolate: bool | None = None,
) -> Verdict:
    """Is ``claimed`` the Hessian of ``f`` with respect to ``wrt``?

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> verify_hessian(x**3 + x*y, [x, y], "[[6x, 1], [1, 0]]").holds
    True
    """
    return _verify_derivative(
        "hessian", f, wrt, claimed, assumptions, budget, symbols, syntax, seed, isolate
    )


def verify_jacobian(
    F,
    wrt,
    claimed,
    assumptions=None,
    budget: float = DEFAULT_BUDGET,
    *,
    symbols=None,
    syntax: str = "auto",
    seed: int = 20261128,
    isolate: bool | None = None,
) -> Verdict:
    """Is ``claimed`` the Jacobian dF_i/dx_j of ``F`` with respect to ``wrt``?

    >>> import sympy as sp
    >>> r, t = sp.symbols("r t")
    >>> verify_jacobian([r*sp.cos(t), r*sp.sin(t)], [r, t],
    ...                 "[[cos(t), -r sin(t)], [sin(t), r cos(t)]]").holds
    True
    """
    return _verify_derivative(
        "jacobian", F, wrt, claimed, assumptions, budget, symbols, syntax, seed, isolate
    )


# --------------------------------------------------------------------------------------
# The independent route: explicit entries at a concrete size
# --------------------------------------------------------------------------------------
def _elementwise_explicit(kind, f, syms):
    if kind == "gradient":
        return sp.ImmutableMatrix([sp.diff(_scalarize(f), s) for s in syms])
    if kind == "hessian":
        g = [sp.diff(_scalarize(f), s) for s in syms]
        return sp.ImmutableMatrix([[sp.diff(gi, s) for s in syms] for gi in g])
    F = list(f) if isinstance(f, MatrixBase) else [f]
    return sp.ImmutableMatrix([[sp.diff(Fi, s) for s in syms] for Fi in F])


def _elementwise_side(kind: str, f, X: MatrixSymbol) -> Callable:
    """The derivative at a point, from SymPy's diff of the explicit-entry expression."""
    return _ElementwiseSide(kind, f, X)


@dataclass(frozen=True)
class _ElementwiseSide:
    """A picklable truth side (the job may run in a forkserver worker)."""

    kind: str
    f: Any
    X: Any

    def __call__(self, point: _Point, dps: int):
        return _values(self.exact(point), _Point({}, {}, {}), dps)

    def exact(self, point: _Point):
        kind, f, X = self.kind, self.f, self.X
        Xc = X.xreplace({d: sp.Integer(k) for d, k in point.sizes.items()})
        r, c = int(Xc.shape[0]), int(Xc.shape[1])
        entries = sp.Matrix(r, c, lambda i, j: sp.Dummy(f"{X.name}_{i}{j}"))
        others = {k: v for k, v in point.values.items() if k != Xc}
        inner = _Point(point.sizes, {**others, Xc: sp.ImmutableMatrix(entries)}, {})
        fx = _scalarize(_concrete(f, inner)) if kind != "jacobian" else _concrete(f, inner)
        vec = [entries[i, j] for j in range(c) for i in range(r)]  # column-major vec
        at = dict(zip(vec, [point.values[Xc][i, j] for j in range(c) for i in range(r)]))
        if kind == "gradient":
            G = sp.Matrix(r, c, lambda i, j: sp.diff(fx, entries[i, j]))
            kind_ = _structure(X)
            if kind_ in ("symmetric", "positive_definite"):
                G = (G + G.T) / 2
            elif kind_ == "diagonal":
                G = sp.diag(*[G[i, i] for i in range(r)])
            result = G
        elif kind == "hessian":
            g = [sp.diff(fx, v) for v in vec]
            result = sp.Matrix(len(vec), len(vec), lambda p, q: sp.diff(g[p], vec[q]))
        else:
            Fm = fx if isinstance(fx, MatrixBase) else sp.Matrix([[fx]])
            comps = [Fm[i, j] for j in range(Fm.cols) for i in range(Fm.rows)]
            result = sp.Matrix(len(comps), len(vec), lambda p, q: sp.diff(comps[p], vec[q]))
        return _scalarize(_concrete(sp.ImmutableMatrix(result).xreplace(at), _Point({}, {}, {})))


# --------------------------------------------------------------------------------------
# For the CLI: everything from text
# --------------------------------------------------------------------------------------
_KINDS = ("gradient", "hessian", "jacobian", "derivative", "equal")


def verify_from_text(
    expression: str,
    variables: Sequence[str] | str,
    claim: str,
    kind: str = "gradient",
    assumptions=None,
    budget: float = DEFAULT_BUDGET,
    *,
    declarations: Sequence[str] = (),
    syntax: str = "auto",
    seed: int = 20261128,
) -> Verdict:
    """Verify a claim about ``expression`` given entirely as text (what ``symcalc verify`` does).

    variables: the names to differentiate by, each a declaration ("x", "x>0", "x[n]",
    "A[m,n]", "Sigma[n,n] spd"); declarations: more names (constants such as
    "A[n,n]", "b[n]"). Other names in the expression become real scalars.
    kind: "gradient", "hessian", "jacobian", "derivative" (d/dx of a scalar, one
    variable) or "equal" (the claim equals the expression).

    >>> v = verify_from_text("x^2 y", ["x", "y"], "[2xy, x^2]")
    >>> v.holds, v.exit_code
    (True, 0)
    >>> v = verify_from_text("x^T A x", ["x[n]"], "2 A x", declarations=["A[n,n]"])
    >>> v.holds, v.exit_code
    (False, 1)
    """
    if kind not in _KINDS:
        raise InputError(f"kind must be one of {', '.join(_KINDS)}, not {kind!r}")
    if isinstance(variables, str):
        variables = (
            [v for v in variables.replace(";", ",").split(",") if v.strip()]
            if "[" not in variables
            else [variables]
        )
    wrt = [declare(v) for v in variables]
    if not wrt and kind != "equal":
        raise InputError("name at least one variable to differentiate by")
    table = {o.name: o for o in [declare(d) for d in declarations] + wrt}
    f = parse_any(expression, table, allow_undeclared=True, syntax=syntax)
    f = _realize(f, table)
    table.update(_names_of(f))
    kw = dict(assumptions=assumptions, budget=budget, symbols=table, syntax=syntax, seed=seed)
    if kind == "equal":
        return verify(claim, f, **kw)
    target = wrt[0] if len(wrt) == 1 and isinstance(wrt[0], MatrixSymbol) else wrt
    if kind == "derivative":
        if len(wrt) != 1 or isinstance(wrt[0], MatrixSymbol):
            raise InputError(
                "kind='derivative' needs exactly one scalar variable; use 'gradient' for several"
            )
        return verify(claim, sp.diff(_scalarize(f), wrt[0]), **kw)
    fn = {"gradient": verify_gradient, "hessian": verify_hessian, "jacobian": verify_jacobian}[kind]
    if kind == "jacobian" and isinstance(f, MatrixBase) and f.cols != 1:
        raise InputError("the expression of a Jacobian must be a column, e.g. [x y, x + y]")
    return fn(f, target, claim, **kw)


def _realize(expr, table):
    """Names the expression introduced (undeclared) become real scalars."""
    if not isinstance(expr, sp.Basic):
        return expr
    mapping = {
        s: sp.Symbol(s.name, real=True)
        for s in expr.free_symbols
        if isinstance(s, sp.Symbol) and s.name not in table and not s.assumptions0.get("real")
    }
    return expr.xreplace(mapping) if mapping else expr
