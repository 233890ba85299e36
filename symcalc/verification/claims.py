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
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import sympy as sp
from sympy import MatrixBase, MatrixSymbol

from symcalc.errors import InputError, InputTypeError, ShapeError
from symcalc.inputs import reject_text, short
from symcalc.parsing.parser import ShapeMismatchError, parse_any
from symcalc.verification.assumptions import _assumption_map, declare, parse_assumptions
from symcalc.verification.decision import _Job
from symcalc.verification.entries import _elementwise_explicit, _elementwise_side
from symcalc.verification.reading import (
    _align_shapes,
    _as_object,
    _label,
    _names_of,
    _read_claim,
    _rebind,
    _scalarize,
)
from symcalc.verification.sandbox import _run
from symcalc.verification.verdict import Verdict

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
    assumed = _assumed(claim, truth)
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
        assumed=assumed,
    )


def _assumed(*exprs) -> list[str]:
    """What symcalc assumed of the matrices (a plain covariance is SPD), in sentences."""
    from symcalc.expr.canonical import declared_structure

    said: list[str] = []
    for e in exprs:
        said += [s for s in declared_structure(e) if s not in said]
    return said


def _canonical(f, wrt=()):
    """(f, wrt) in the engine's canonical spelling: the registry's named functions, one
    size symbol per name, scalars of 1 x 1 matrices, a covariance SPD (expr.canonical)."""
    from symcalc.expr.canonical import canonical_problem
    from symcalc.expr.registry import canonical

    return canonical_problem(canonical(f), wrt)


_SYNTAXES = ("auto", "math", "latex")


def _check_options(isolate, syntax) -> None:
    if not isinstance(syntax, str) or syntax not in _SYNTAXES:
        raise InputError(f"syntax must be 'auto', 'math' or 'latex', not {short(syntax, 80)!r}")
    if isolate is not None and not isinstance(isolate, bool):
        raise InputError(f"isolate must be True, False or None (automatic), not {isolate!r}")


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"seed must be an integer, not {seed!r}")
    return seed


def _check_points(points) -> int | None:
    if points is None:
        return None
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise InputError(f"points must be a positive integer (or None), not {points!r}")
    return points


def _point_counts(points: int | None, default: int = 0) -> dict:
    """The job's probe counts: ``points`` random points, all of which must agree."""
    if points is None:
        return dict(max_points=default)
    return dict(max_points=points, min_points=points)


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
    points: int | None = None,
) -> Verdict:
    """Does ``claim`` equal ``truth``? True (proved or probed), False (with a counterexample), None.

    claim: a SymPy object, or text in math syntax ("2x cos(x^2)") or LaTeX
    ("2x\\cos(x^2)"); names bind to the symbols and matrices of ``truth`` (and
    ``symbols``). assumptions: {"x": "positive", "Sigma": "spd"}, "x > 0, A symmetric",
    or SymPy predicates. budget: seconds of wall-clock time (never exceeded by more
    than about a second). points: how many random points to probe (default 10, 12 with
    symbolic sizes; the breakpoint points come on top); given, a numeric "holds" needs
    all of them to agree, so the answer depends on the points, not on the clock.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> f = 1 / (1 + sp.exp(-x))
    >>> verify(r"\\sigma(x)(1-\\sigma(x))", f.diff(x)).holds
    True
    >>> verify(r"\\sigma(x)(1+\\sigma(x))", f.diff(x)).holds
    False
    """
    started = time.monotonic()
    budget, seed, points = _check_budget(budget), _check_seed(seed), _check_points(points)
    _check_options(isolate, syntax)
    truth, _ = _canonical(_read_truth(truth, symbols, syntax))
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
    job = _Job(claim_a, truth_a, objects, seed=seed, **_point_counts(points))
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
    """(truth or None, reason) from symcalc.derivation.api; None when the engine cannot answer."""
    try:
        from symcalc.derivation import api as calculus

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
        return None, f"{type(exc).__name__}: {short(exc, 120)}"


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
    kind: str, f, wrt, claimed, assumptions, budget, symbols, syntax, seed, isolate, points=None
) -> Verdict:
    started = time.monotonic()
    budget, seed, points = _check_budget(budget), _check_seed(seed), _check_points(points)
    _check_options(isolate, syntax)
    if isinstance(f, (list, tuple)):
        f = _as_object(list(f), "F")
    if isinstance(f, str) or any(isinstance(w, str) for w in _wrt_list(wrt)):
        raise InputError("f and wrt must be SymPy objects; to work from text use verify_from_text")
    reject_text(f, "f")
    reject_text(wrt, "wrt")
    f, wrt = _canonical(f, wrt)
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
        **_point_counts(points, default=6 if truth_side is not None else 0),
    )
    return _verdict(
        _run(job, budget, isolate),
        as_read,
        truth if truth is not None else f"{kind} of {short(f, 120)} (entry by entry)",
        started,
        note,
        amap,
    )


def _derivative_verifier(kind: str, doc: str) -> Callable[..., Verdict]:
    """verify_gradient and verify_hessian: one function for both kinds (f is a scalar)."""

    def verifier(
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
        points: int | None = None,
    ) -> Verdict:
        return _verify_derivative(
            kind, f, wrt, claimed, assumptions, budget, symbols, syntax, seed, isolate, points
        )

    verifier.__name__ = verifier.__qualname__ = f"verify_{kind}"
    verifier.__doc__ = doc
    return verifier


verify_gradient = _derivative_verifier(
    "gradient",
    """Is ``claimed`` the gradient of ``f`` with respect to ``wrt``? Says which entries are wrong.

    The arguments after ``claimed`` are those of :func:`verify`.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> v = verify_gradient(x**2 * y, [x, y], "[2xy, x^2 y]")
    >>> v.holds, v.wrong_entries
    (False, ['d f/d y'])
    """,
)

verify_hessian = _derivative_verifier(
    "hessian",
    """Is ``claimed`` the Hessian of ``f`` with respect to ``wrt``?

    The arguments after ``claimed`` are those of :func:`verify`.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> verify_hessian(x**3 + x*y, [x, y], "[[6x, 1], [1, 0]]").holds
    True
    """,
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
    points: int | None = None,
) -> Verdict:
    """Is ``claimed`` the Jacobian dF_i/dx_j of ``F`` with respect to ``wrt``?

    >>> import sympy as sp
    >>> r, t = sp.symbols("r t")
    >>> verify_jacobian([r*sp.cos(t), r*sp.sin(t)], [r, t],
    ...                 "[[cos(t), -r sin(t)], [sin(t), r cos(t)]]").holds
    True
    """
    args = (assumptions, budget, symbols, syntax, seed, isolate, points)
    return _verify_derivative("jacobian", F, wrt, claimed, *args)


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
