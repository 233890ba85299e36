"""The loss landscape: critical points, their kind, and the descent identity.

>>> import sympy as sp
>>> x, y = sp.symbols("x y", real=True)
>>> f = x**2 - y**2
>>> critical_points(f, [x, y])
[{x: 0, y: 0}]
>>> classify(f, [x, y], {x: 0, y: 0}).kind
'saddle'
>>> descent_rate(f, [x, y]).rate
-4*x**2 - 4*y**2
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from symcalc.budget import DEFAULT_BUDGETS, budgeted, within
from symcalc.checks.zero import is_zero
from symcalc.derivation.api import _scalar, _wrt_symbols, gradient, hessian
from symcalc.errors import BudgetExceededError, InputError, NotCriticalError
from symcalc.inputs import as_expr
from symcalc.printing.display import RichDisplay  # Jupyter display (issue 16)
from symcalc.records import Step
from symcalc.rules.landscape import LANDSCAPE_RULES

#: Seconds that critical_points may spend in sp.solve before giving up (budget.DEFAULT_BUDGETS).
SOLVE_BUDGET = DEFAULT_BUDGETS["critical_points"]
#: Seconds that classify may spend on exact eigenvalues before it takes numeric ones.
EIGENVALUE_BUDGET = DEFAULT_BUDGETS["classify"]


def _run_with_budget(fn, seconds: float | None, what: str):
    """``fn()`` in this thread within ``seconds``: (True, value), or (False, None) at the budget.

    The work is interrupted where it is (budget.within): nothing runs on after this
    returns, no thread is left behind. An enclosing budget that ends first is not
    caught here: it ends the enclosing call.

    >>> _run_with_budget(lambda: 6 * 7, 1.0, "a sum")
    (True, 42)
    >>> def spin():
    ...     while True:
    ...         pass
    >>> _run_with_budget(spin, 0.1, "a busy loop")
    (False, None)
    """
    block = within(seconds, what)
    try:
        with block:
            return True, fn()
    except BudgetExceededError:
        if block.deadline is None or not block.deadline.fired:
            raise  # an inner budget of fn's own, or one around us: not ours to absorb
        return False, None


class CriticalPoints(list):
    """A list of points (dicts Symbol -> value) with ``.complete`` and ``.reason``.

    ``complete`` is False when SymPy could not solve grad f = 0 within the
    budget or returned only part of the solution set (``reason`` says why).
    """

    def __init__(self, points=(), complete: bool = True, reason: str = ""):
        super().__init__(points)
        self.complete = complete
        self.reason = reason


def _is_real_point(point: Mapping[sp.Symbol, sp.Expr]) -> bool:
    return all(sp.sympify(v, strict=True).is_real is not False for v in point.values())


def critical_points(f: Any, wrt: Any, budget: float = SOLVE_BUDGET) -> CriticalPoints:
    """The real points where grad f = 0, as far as SymPy can solve the system.

    Raises InputError when SymPy cannot solve it at all; returns a result with
    ``complete = False`` when it found only some of them or ran out of time.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> sorted(p[x] for p in critical_points(x**3 - 3*x + y**2, [x, y]))
    [-1, 1]
    """
    f, syms = _scalar(f), _wrt_symbols(wrt)
    grad = list(gradient(f, syms))
    try:
        done, sols = _run_with_budget(
            lambda: sp.solve(grad, syms, dict=True), budget, "critical_points (sp.solve)"
        )
    except NotImplementedError as exc:
        raise InputError(f"SymPy cannot solve grad f = 0 for this f: {exc}") from None
    if not done:
        return CriticalPoints(
            [], complete=False, reason=f"sp.solve did not finish within {budget} s"
        )
    points, partial = [], False
    for sol in sols:
        if any(s not in sol for s in syms):
            # a family of critical points: keep the free variables symbolic
            sol = {s: sol.get(s, s) for s in syms}
            partial = True
        if _is_real_point(sol):
            points.append({s: sp.simplify(sol[s]) for s in syms})
    if partial:
        return CriticalPoints(
            points,
            complete=False,
            reason="a family of critical points: free variables stay symbolic",
        )
    doubt = _completeness_doubt(grad, syms)
    return CriticalPoints(points, complete=doubt is None, reason=doubt or "")


_PERIODIC = (sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc)


def _completeness_doubt(grad: list, syms: list) -> str | None:
    """Why sp.solve's list may miss critical points, or None when it is provably all of them.

    sp.solve finds every solution of a polynomial (or rational) system; for anything else
    it returns the solutions it can find, and periodic functions have infinitely many.

    >>> import sympy as sp
    >>> a, b = sp.symbols("a b", real=True)
    >>> _completeness_doubt([2*a, 2*b], [a, b]) is None
    True
    >>> _completeness_doubt([sp.cos(a), 2*b], [a, b])
    'the gradient involves cos, which is periodic: there are infinitely many critical points or none, and sp.solve lists only some'
    """
    periodic = sorted(
        {
            type(node).__name__
            for g in grad
            for node in sp.preorder_traversal(g)
            if isinstance(node, _PERIODIC)
        }
    )
    if periodic:
        return (
            f"the gradient involves {', '.join(periodic)}, which is periodic: there are "
            "infinitely many critical points or none, and sp.solve lists only some"
        )
    if all(sp.sympify(g, strict=True).is_rational_function(*syms) for g in grad):
        return None
    return (
        "the gradient is not a polynomial or rational function of the variables: "
        "sp.solve lists the critical points it finds, which may not be all"
    )


@dataclass
class Classification(RichDisplay):
    """What kind of critical point: ``kind``, ``eigenvalues`` (exact where SymPy
    can, floats otherwise, ascending), the ``hessian`` there, and ``exact``."""

    kind: str
    eigenvalues: list
    hessian: sp.Matrix
    point: dict
    exact: bool = True
    steps: list[Step] = field(default_factory=list)


def _eigenvalues(H: sp.Matrix) -> tuple[list, bool]:
    """Eigenvalues with multiplicity: exact (and real) when SymPy finds them quickly, else numeric."""
    if not H.free_symbols and H.shape[0] <= 4:
        try:
            done, ev = _run_with_budget(H.eigenvals, EIGENVALUE_BUDGET, "exact eigenvalues")
        except (NotImplementedError, sp.MatrixError):
            done, ev = False, None
        if done and ev and all(sp.sympify(v, strict=True).is_real for v in ev):
            values = [sp.nsimplify(v) if v.is_Float else v for v, k in ev.items() for _ in range(k)]
            if sum(ev.values()) == H.shape[0]:
                return sorted(values, key=lambda v: float(v)), True
    numeric = np.linalg.eigvalsh(np.array(H.evalf(30), dtype=float))
    return sorted(float(v) for v in numeric), False


def _kind_of(eigenvalues: list, tol: float = 1e-12) -> str:
    signs = []
    for v in eigenvalues:
        value = float(v)
        scale = max(1.0, max(abs(float(w)) for w in eigenvalues))
        signs.append(0 if abs(value) <= tol * scale else (1 if value > 0 else -1))
    if any(s > 0 for s in signs) and any(s < 0 for s in signs):
        return "saddle"
    if all(s > 0 for s in signs):
        return "minimum"
    if all(s < 0 for s in signs):
        return "maximum"
    return "degenerate"


def classify(f: Any, wrt: Any, point: Mapping) -> Classification:
    """Classify a critical point by the eigenvalues of the Hessian there.

    "minimum" (all positive), "maximum" (all negative), "saddle" (both signs),
    "degenerate" (a zero eigenvalue and no sign change: the test is silent).
    Raises NotCriticalError (a ValueError) when grad f is not zero at ``point``.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> c = classify(x**3 - 3*x*y**2, [x, y], {x: 0, y: 0})   # the monkey saddle
    >>> c.kind, c.eigenvalues
    ('degenerate', [0, 0])
    """
    f, syms = _scalar(f), _wrt_symbols(wrt)
    point = _checked_point(point, syms)
    grad_at = gradient(f, syms).xreplace(point)
    nonzero = [(s, g) for s, g in zip(syms, grad_at) if not is_zero(g)]
    if nonzero:
        s, g = nonzero[0]
        raise NotCriticalError(
            f"the point {point} is not critical: d f/d {s} = {sp.simplify(g)} there, not 0"
        )
    H = hessian(f, syms).xreplace(point)
    H = H.applyfunc(sp.simplify)
    eigenvalues, exact = _eigenvalues(H)
    kind = _kind_of(eigenvalues)
    steps = [
        Step(LANDSCAPE_RULES["stationarity"], gradient(f, syms), grad_at),
        Step(LANDSCAPE_RULES["second_derivative_test"], H, sp.Matrix(eigenvalues), note=kind),
    ]
    return Classification(kind, eigenvalues, H, point, exact, steps)


def _checked_point(point: Mapping, syms: list[sp.Symbol]) -> dict:
    if not isinstance(point, Mapping):
        raise InputError(f"point must be a dict Symbol -> value, got {type(point).__name__}")
    by_name = {s.name: s for s in syms}
    out = {}
    for key, value in point.items():
        sym = by_name.get(key) if isinstance(key, str) else key
        if sym not in syms:
            raise InputError(f"point names {key}, which is not one of the variables {syms}")
        out[sym] = as_expr(value, f"point[{sym}]", exact_floats=False)
    missing = [s for s in syms if s not in out]
    if missing:
        raise InputError(f"point gives no value for {missing}")
    return out


@dataclass
class DescentRate:
    """dL/dt along gradient flow, with the engine's proof that it equals -||grad L||^2.

    ``rate`` is dL/dt computed by the chain rule along x(t) with dx/dt = -grad L;
    ``norm_squared`` is ||grad L||^2; ``holds`` is True when rate + ||grad L||^2
    simplified to 0; ``steps`` are the proof, each naming its rule.
    """

    rate: sp.Expr
    gradient: sp.Matrix
    norm_squared: sp.Expr
    holds: bool
    steps: list[Step]


@budgeted("descent_rate")
def descent_rate(f: Any, wrt: Any) -> DescentRate:
    """The rate of change of f along gradient flow dx/dt = -grad f.

    The engine does not assume the identity: it differentiates L(x(t)) by t
    with SymPy (x_i as functions of t), substitutes the flow, and proves that
    the result plus ||grad L||^2 is zero.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> d = descent_rate((1 - x)**2 + 100*(y - x**2)**2, [x, y])
    >>> d.holds
    True
    """
    if isinstance(wrt, sp.MatrixSymbol):
        return _matrix_descent_rate(f, wrt)
    f, syms = _scalar(f), _wrt_symbols(wrt)
    t = sp.Dummy("t", real=True)
    paths = [sp.Function(f"{s.name}_path")(t) for s in syms]
    on_path = f.xreplace(dict(zip(syms, paths)))
    dL_dt = sp.diff(on_path, t)
    grad = gradient(f, syms)
    flow = {sp.Derivative(p, t): -g.xreplace(dict(zip(syms, paths))) for p, g in zip(paths, grad)}
    rate_on_path = dL_dt.subs(flow)
    rate = sp.expand(rate_on_path.xreplace(dict(zip(paths, syms))))
    norm_squared = sp.expand(sum(g**2 for g in grad))
    holds = is_zero(rate + norm_squared)
    xdot = sp.Matrix([sp.Symbol(rf"\dot{{{s.name}}}") for s in syms])
    steps = [
        Step(LANDSCAPE_RULES["chain_rule_along_path"], f, (grad.T * xdot)[0, 0]),
        Step(LANDSCAPE_RULES["gradient_flow"], xdot, -grad),
        Step(
            LANDSCAPE_RULES["descent_identity"],
            (grad.T * -grad)[0, 0],
            -(sp.Symbol(r"\lVert\nabla L\rVert") ** 2),
            note="proved: the rate plus the squared norm of the gradient simplifies to 0"
            if holds
            else "NOT proved",
        ),
    ]
    return DescentRate(rate, grad, norm_squared, holds, steps)


#: Concrete sizes at which the matrix descent identity is proved entry by entry.
_DESCENT_CHECK_SIZES = (2, 3)


def _matrix_descent_rate(f: Any, X: sp.MatrixSymbol) -> DescentRate:
    """dL/dt = tr(Gᵀ Ẋ) = -‖G‖_F² for a matrix variable X along dX/dt = -G, G = ∇_X L.

    The closed form comes from the identification theorem (dL = tr(Gᵀ dX)); it is proved
    independently at each size in ``_DESCENT_CHECK_SIZES``: X's entries become scalar
    variables, the scalar descent identity (chain rule along x(t), by SymPy) gives the
    rate, and it must equal the closed form's -‖G‖² evaluated at that size.

    >>> from symcalc.expr.structure import vector, matrix_symbol
    >>> w, A = vector("w", "n"), matrix_symbol("A", "n", "n")
    >>> d = _matrix_descent_rate(sp.Trace(w.T * A * w), w)
    >>> d.holds, d.rate
    (True, -Trace(w.T*(A + A.T)**2*w))
    """
    from symcalc.derivation.api import gradient as _gradient

    f = as_expr(f, "f")
    G = _gradient(f, X)
    norm_squared = sp.Trace(G.T * G)
    rate = -norm_squared
    holds = all(_matrix_identity_at_size(f, X, rate, k) for k in _DESCENT_CHECK_SIZES)
    Xdot = sp.MatrixSymbol(rf"\dot{{{X.name}}}", *X.shape)
    steps = [
        Step(LANDSCAPE_RULES["chain_rule_along_path"], f, sp.Trace(G.T * Xdot)),
        Step(LANDSCAPE_RULES["gradient_flow"], Xdot, -G),
        Step(
            LANDSCAPE_RULES["descent_identity"],
            sp.Trace(G.T * -G),
            -(sp.Symbol(r"\lVert\nabla L\rVert_F") ** 2),
            note="proved entry by entry at sizes " + ", ".join(map(str, _DESCENT_CHECK_SIZES))
            if holds
            else "NOT proved",
        ),
    ]
    return DescentRate(rate, G, norm_squared, holds, steps)


def _matrix_identity_at_size(f: Any, X: sp.MatrixSymbol, rate: Any, k: int) -> bool:
    """Whether the scalar descent identity of f at size k (every size k) equals ``rate``."""
    sizes = {d: k for d in (*X.shape, *_sizes_in(f)) if isinstance(d, sp.Symbol)}
    Xk = sp.MatrixSymbol(X.name, *(sp.sympify(d, strict=True).subs(sizes) for d in X.shape))
    entries = sp.Matrix(*Xk.shape, lambda i, j: sp.Symbol(f"e_{i}_{j}", real=True))

    def at_size(e: Any) -> sp.Expr:
        e = sp.sympify(e, strict=True).subs(sizes)
        others = {M: M.as_explicit() for M in e.atoms(sp.MatrixSymbol) if M != Xk}
        return sp.expand(e.xreplace({Xk: entries, **others}).doit())

    scalar = descent_rate(at_size(f), list(entries))
    return bool(scalar.holds) and is_zero(scalar.rate - at_size(rate))


def _sizes_in(e: Any) -> set:
    return {
        s
        for node in sp.preorder_traversal(e)
        if isinstance(node, sp.MatrixExpr)
        for d in node.shape
        for s in getattr(d, "free_symbols", ())
    }
