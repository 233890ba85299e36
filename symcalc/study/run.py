"""Running a problem: each analysis reads the engine modules; the result is a Study."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sympy as sp

from symcalc.checks.differences import central_difference
from symcalc.checks.explicit import materialize
from symcalc.errors import SymcalcError
from symcalc.expr.registry import expand_named, needs_rewrite
from symcalc.inputs import safe_lambdify
from symcalc.records import Derivation
from symcalc.study.results import (
    ClaimResult,
    DescentIdentity,
    FieldAnalysis,
    FiniteDifference,
    GaussianIdentity,
    Landscape,
    PointReport,
    Study,
    VectorizationTable,
)

if TYPE_CHECKING:
    from symcalc.study.schema import Claim, Problem, Variable

# ---------------------------------------------------------------------------
# Running: each analysis reads the engine modules (derive, calculus, landscape,
# verify, vectorize, compile); the small adapters below keep their call shapes
# in one place.
# ---------------------------------------------------------------------------


def _run(problem: Problem, progress: Callable[[str], None]) -> Study:
    study = Study(problem=problem)
    wanted = set(problem.analyses)
    if problem.objective is not None:
        _run_objective(problem, study, wanted, progress)
    else:
        _run_field(problem, study, wanted, progress)
    if problem.vectorization is not None:
        progress("vectorizing " + problem.vectorization.name)
        study.vectorization = _vectorization_table(problem.vectorization)
    if problem.report.kernel or "kernel" in wanted:
        progress("generating the NumPy kernel")
        study.kernel_source = _kernel_source(problem, study)
    progress("done")
    return study


def _run_objective(problem: Problem, study: Study, wanted: set, progress) -> None:
    f, wrt = problem.objective, problem.wrt
    order = 2 if wanted & {"hessian", "critical_points", "gaussian"} else 1
    what = "gradient and Hessian" if order == 2 else "gradient"
    progress(f"deriving the {what} of the objective in {_count_unknowns(problem)} unknowns")
    d = _derive(f, wrt, order, problem)
    study.derivations["objective"] = d
    study.results["gradient"] = d.results.get("gradient")
    if order == 2:
        study.results["hessian"] = d.results.get("hessian")
    _check_numbers_and_claims(problem, study, wanted, progress)
    if "critical_points" in wanted or "descent" in wanted:
        study.landscape = Landscape()
    if "critical_points" in wanted:
        progress("solving grad L = 0 for critical points")
        _landscape(problem, study)
    if "descent" in wanted:
        progress("checking the descent identity along gradient flow")
        study.landscape.descent = _descent_identity(problem, study.results["gradient"])
    if "gaussian" in wanted:
        progress("checking the Gaussian identities")
        study.gaussian = _gaussian_identity(problem, study.results)
        study.results["score"] = study.gaussian.score
    if "score_matching" in wanted:
        from symcalc.study.scorematching import run_score_matching

        run_score_matching(problem, study, progress)


def _check_numbers_and_claims(problem: Problem, study: Study, wanted: set, progress) -> None:
    """Finite differences of the derived results (when asked) and every hand derivation."""
    if "finite_differences" in wanted:
        progress("checking against central finite differences")
        study.finite_differences = _finite_differences(problem, study.results)
    for i, claim in enumerate(problem.claims):
        progress(f"verifying hand derivation {i + 1} of {len(problem.claims)} ({claim.of})")
        study.claims.append(_verify_claim(problem, claim, study.results))


def _count_unknowns(problem: Problem) -> int:
    return sum(math.prod(v.shape) if v.shape else 1 for v in problem.variables)


def _run_field(problem: Problem, study: Study, wanted: set, progress) -> None:
    F, wrt = problem.field, problem.wrt
    progress(f"deriving the Jacobian of the {len(F)}-component field")
    d = _derive(sp.Matrix(F), wrt, 1, problem)
    study.derivations["field"] = d
    fa = FieldAnalysis(components=list(F))
    fa.jacobian = d.results.get("jacobian")
    if fa.jacobian is None:
        fa.jacobian = sp.Matrix(F).jacobian(wrt)
    study.results["jacobian"] = fa.jacobian
    if "divergence" in wanted:
        fa.divergence = sp.simplify(sum(fa.jacobian[i, i] for i in range(len(F))))
        study.results["divergence"] = fa.divergence
    if wanted & {"curl", "potential"}:
        progress("computing the curl")
        fa.curl = _curl(F, wrt)
        study.results["curl"] = fa.curl
        fa.conservative = _is_conservative(F, wrt)
    if "potential" in wanted and fa.conservative:
        progress("integrating a potential")
        fa.potential = _potential(F, wrt)
        study.results["potential"] = fa.potential
    if len(F) == 2 and wanted & {"curl", "potential"}:
        progress("integrating the work around a closed loop")
        fa.loop_work = _loop_work(problem)
    study.field = fa
    _check_numbers_and_claims(problem, study, wanted, progress)


def _loop_work(problem: Problem) -> dict:
    """The work of a 2-D field around a circle (numerical quadrature, 30 digits).

    The circle: centred in the figure's slice, radius a third of its smaller side
    (default: the unit circle around the origin).
    """
    import mpmath

    sl = problem.report.slice
    if sl is not None:
        cx, cy = (sl.xlim[0] + sl.xlim[1]) / 2, (sl.ylim[0] + sl.ylim[1]) / 2
        r = min(sl.xlim[1] - sl.xlim[0], sl.ylim[1] - sl.ylim[0]) / 3
    else:
        cx, cy, r = 0.0, 0.0, 1.0
    t = sp.Symbol("t")
    x, y = problem.wrt
    values = problem.constant_values()
    path = {x: cx + r * sp.cos(t), y: cy + r * sp.sin(t)}
    P, Q = (sp.sympify(c, strict=True).subs(values).subs(path) for c in problem.field)
    integrand = safe_lambdify(
        [t], P * sp.diff(path[x], t) + Q * sp.diff(path[y], t), modules="mpmath"
    )
    with mpmath.workdps(30):
        work = mpmath.quad(
            integrand, [0, mpmath.pi / 2, mpmath.pi, 3 * mpmath.pi / 2, 2 * mpmath.pi]
        )
    return {"center": (cx, cy), "radius": r, "work": float(mpmath.re(work))}


def _is_zero(value: Any) -> bool:
    if isinstance(value, sp.MatrixBase):
        return all(sp.simplify(e) == 0 for e in value)
    return sp.simplify(value) == 0


# --- adapters to the engine modules ---------------------------------------

_STAGE_MODULES = {
    "verify": "symcalc.verification.claims",
    "landscape": "symcalc.analysis.landscape",
    "vectorize": "symcalc.expr.vectorize",
}


def _module(name: str):
    """The module symcalc.<name> (not the same-named public function, e.g. verify)."""
    import importlib

    return importlib.import_module(_STAGE_MODULES[name])


def _derive(f: Any, wrt: list, order: int, problem: Problem) -> Derivation:
    """symcalc.derivation.walker.derive with the problem's unknowns."""
    from symcalc.derivation.walker import derive

    target = wrt[0] if problem.notation == "matrix" and len(wrt) == 1 else wrt
    return derive(f, target, order)


def _curl(F: list, wrt: list) -> Any:
    from symcalc.analysis.fields import curl

    return curl(sp.Matrix(F), wrt)


def _is_conservative(F: list, wrt: list) -> bool:
    from symcalc.analysis.fields import is_conservative

    return bool(is_conservative(sp.Matrix(F), wrt))


def _potential(F: list, wrt: list) -> Any:
    from symcalc.analysis.fields import potential

    return potential(sp.Matrix(F), wrt)


# --- numbers ----------------------------------------------------------------


def _random_assignment(problem: Problem, rng: random.Random) -> dict[Any, Any]:
    """Values for every symbol: constants' values, random draws otherwise."""
    subs: dict[Any, Any] = dict(problem.constant_values())
    for v in problem.variables + problem.constants:
        syms = v.symbol
        if isinstance(syms, sp.MatrixSymbol):
            if syms in subs:
                continue
            rows, cols = syms.shape
            if "positive_definite" in v.structure:
                A = sp.Matrix(rows, cols, lambda i, j: sp.Rational(rng.randint(-5, 5), 10))
                subs[syms] = A * A.T + sp.eye(rows)
            elif "symmetric" in v.structure:
                A = sp.Matrix(rows, cols, lambda i, j: sp.Rational(rng.randint(-9, 9), 10))
                subs[syms] = (A + A.T) / 2
            else:
                subs[syms] = sp.Matrix(rows, cols, lambda i, j: sp.Rational(rng.randint(-9, 9), 10))
            continue
        entries = syms if isinstance(syms, sp.MatrixBase) else sp.Matrix([syms])
        pd = "positive_definite" in v.structure
        for k, s in enumerate(entries):
            if not isinstance(s, sp.Symbol) or s in subs:
                continue
            if pd:
                i, j = divmod(k, entries.shape[1])
                subs[s] = (
                    sp.Rational(rng.randint(20, 30), 10)
                    if i == j
                    else sp.Rational(rng.randint(-3, 3), 10)
                )
            elif "positive" in v.structure:
                subs[s] = sp.Rational(rng.randint(5, 20), 10)
            else:
                subs[s] = sp.Rational(rng.randint(-15, 15), 10)
    return subs


def _explicit(expr: Any, subs: dict) -> Any:
    """Substitute and evaluate to explicit numbers (Matrix or Float)."""
    out = materialize(expr, subs)
    if hasattr(out, "rewrite"):
        out = expand_named(out) if needs_rewrite(out) else out  # registry hook
    return out.evalf(30) if hasattr(out, "evalf") else out


def _as_float_list(value: Any) -> list[float]:
    """The entries as floats, column-major (vec order: the order of the Hessian's rows
    when the value is the gradient with respect to a matrix)."""
    if isinstance(value, (sp.MatrixBase,)):
        return [float(v) for v in value.T]
    return [float(value)]


def _scalar_entries(problem: Problem, subs: dict) -> list[tuple[Any, Any]]:
    """(symbol-or-(MatrixSymbol, i, j), current value) for every unknown scalar."""
    out = []
    for w in problem.wrt:
        if isinstance(w, sp.MatrixSymbol):
            for j in range(w.shape[1]):
                for i in range(w.shape[0]):
                    out.append(((w, i, j), subs[w][i, j]))
        else:
            out.append((w, subs[w]))
    return out


def _entry_name(key: Any) -> Any:
    """A scalar unknown as a Symbol: x, or w_{2} / A_{12} for an entry of a MatrixSymbol."""
    if not isinstance(key, tuple):
        return key
    w, i, j = key
    return sp.Symbol(f"{w.name}_{i + 1}" if w.shape[1] == 1 else f"{w.name}_{i + 1}{j + 1}")


def _perturbed(subs: dict, key: Any, delta: Any) -> dict:
    new = dict(subs)
    if isinstance(key, tuple):
        w, i, j = key
        m = sp.Matrix(new[w])
        m[i, j] += delta
        new[w] = m
    else:
        new[key] = new[key] + delta
    return new


def _finite_differences(problem: Problem, results: dict) -> list[FiniteDifference]:
    """Central differences of the objective (field) against gradient/Hessian (Jacobian)."""
    rng = random.Random(problem.seed)
    subs = _draw_valid_point(problem, rng)
    h = sp.Rational(1, 10**6)
    point = {_entry_name(k): float(v) for k, v in _scalar_entries(problem, subs)}
    checks = []
    pairs = []
    if problem.objective is not None:
        pairs.append(("gradient", problem.objective, results.get("gradient")))
        if results.get("hessian") is not None:
            pairs.append(("hessian", results.get("gradient"), results.get("hessian")))
    else:
        pairs.append(("jacobian", sp.Matrix(problem.field), results.get("jacobian")))
        if results.get("potential") is not None:
            pairs.append(
                ("gradient of the potential", results["potential"], sp.Matrix(problem.field))
            )
    for name, base, derived in pairs:
        if derived is None or base is None:
            continue
        columns = []
        for key, _ in _scalar_entries(problem, subs):
            columns.append(
                central_difference(
                    lambda at, base=base: _as_float_list(_explicit(base, at)),
                    lambda t, key=key: _perturbed(subs, key, t),
                    h,
                    float,
                )
            )
        approx = [c[r] for r in range(len(columns[0])) for c in columns]  # row r = output r
        exact = _flat_derivative(_explicit(derived, subs), len(columns[0]), len(columns))
        err = max(abs(a - b) for a, b in zip(approx, exact))
        scale = max(abs(b) for b in exact) if exact else 0.0
        checks.append(
            FiniteDifference(name, point, float(h), err, scale, err <= 1e-5 * (1 + scale))
        )
    return checks


def _flat_derivative(value: Any, rows: int, cols: int) -> list[float]:
    """A derived result as rows x cols, row-major (outputs by unknowns).

    A gradient of a scalar (rows == 1) is flattened column-major, the order
    the unknowns of a matrix variable are perturbed in.
    """
    if not isinstance(value, sp.MatrixBase):
        return [float(value)]
    if rows == 1:
        return [float(v) for v in value.T]  # column-major
    if value.shape == (rows, cols):
        return [float(value[i, j]) for i in range(rows) for j in range(cols)]
    return [float(v) for v in value]


def _draw_valid_point(problem: Problem, rng: random.Random) -> dict:
    """A random point where the objective/field is finite and real."""
    for _ in range(20):
        subs = _random_assignment(problem, rng)
        try:
            base = problem.objective if problem.objective is not None else sp.Matrix(problem.field)
            vals = _as_float_list(_explicit(base, subs))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if all(math.isfinite(v) for v in vals):
            return subs
    raise SymcalcError(f"{problem.source}: no random point found where the expression is finite")


# --- hand derivations -------------------------------------------------------


def _verify_claim(problem: Problem, claim: Claim, results: dict) -> ClaimResult:
    V = _module("verify")
    f = problem.objective if problem.objective is not None else sp.Matrix(problem.field)
    wrt = problem.wrt
    target = wrt[0] if problem.notation == "matrix" and len(wrt) == 1 else wrt
    claimed = claim.expr
    # constants with a value are that value in the claim and the truth, not free symbols
    fixed = {k: v for k, v in problem.constant_values().items() if isinstance(k, sp.Symbol)}
    if fixed:
        f, claimed = f.subs(fixed), claimed.subs(fixed)
    if (
        claim.of in ("gradient", "jacobian")
        and isinstance(claimed, sp.MatrixBase)
        and claimed.shape[1] != 1
        and claim.of == "gradient"
    ):
        claimed = claimed.T
    if claim.of == "potential":
        # a potential phi is right when grad phi equals the field
        verdict = V.verify_gradient(claimed, target, sp.Matrix(problem.field))
    else:
        fn = {
            "gradient": V.verify_gradient,
            "hessian": V.verify_hessian,
            "jacobian": V.verify_jacobian,
        }[claim.of]
        verdict = fn(f, target, claimed)
    ce = getattr(verdict, "counterexample", None)
    if ce is not None and "point" not in ce:
        ce = {
            "point": ce,
            "claimed": getattr(verdict, "claim_value", None),
            "derived": getattr(verdict, "truth_value", None),
            "wrong entries": list(getattr(verdict, "wrong_entries", []) or []),
        }
        ce = {k: v for k, v in ce.items() if v is not None and v != []}
    return ClaimResult(
        claim,
        verdict.holds,
        str(getattr(verdict, "method", "")),
        str(getattr(verdict, "explanation", "")),
        ce,
    )


# --- the landscape ----------------------------------------------------------


def _landscape(problem: Problem, study: Study) -> None:
    L = _module("landscape")
    values = problem.constant_values()
    f, wrt = problem.explicit()
    f = f.subs(values)
    try:
        points = L.critical_points(f, wrt)
    except SymcalcError as exc:
        study.landscape.complete = False
        study.landscape.note = str(exc)
        return
    complete = getattr(points, "complete", True)
    study.landscape.complete = bool(complete)
    study.landscape.note = str(getattr(points, "reason", "") or "")
    for pt in points:
        point = dict(pt) if isinstance(pt, dict) else dict(zip(wrt, pt))
        c = L.classify(f, wrt, point)
        vecs = list(getattr(c, "eigenvectors", []) or [])
        study.landscape.points.append(
            PointReport(point, c.hessian, list(c.eigenvalues), vecs, c.kind)
        )


def _descent_identity(problem: Problem, gradient: Any) -> DescentIdentity:
    """dL/dt along x' = -grad L, proved by the landscape module (``descent_rate``: the
    chain rule along a path x(t), then a zero test), and the derived gradient checked
    against the gradient that proof used (an independent route in matrix notation:
    the closed form against the entries).

    The rate shown is -||grad L||^2 in the problem's notation.
    """
    from symcalc.analysis.landscape import descent_rate
    from symcalc.checks.zero import is_zero

    f, wrt = problem.explicit()
    g = problem.to_explicit(gradient)
    g = list(g.T) if isinstance(g, sp.MatrixBase) else [g]  # column-major, like wrt
    proof = descent_rate(f, wrt)
    same = len(g) == len(proof.gradient) and all(is_zero(a - b) for a, b in zip(g, proof.gradient))
    holds = bool(proof.holds) and same
    if problem.notation == "matrix":
        G = gradient
        shown = -(G.T * G) if G.shape[1] == 1 else -sp.Trace(G.T * G)
        return DescentIdentity(shown, -shown, holds, list(proof.steps))
    norm2 = sum((e**2 for e in g), sp.S.Zero)
    return DescentIdentity(-norm2, norm2, holds, list(proof.steps))


# --- the Gaussian -----------------------------------------------------------


def _gaussian_identity(problem: Problem, results: dict) -> GaussianIdentity:
    g = problem.gaussian
    x, mu, S = g["variable"].symbol, g["mean"].symbol, g["covariance"].symbol
    if problem.notation == "matrix":
        inv = -S.I
        score = -(S.I * (x - mu))
    else:
        inv = -S.inv()
        score = inv * (x - mu)
    H, grad = results.get("hessian"), results.get("gradient")
    hess_ok = _equal(H, inv, problem)
    score_ok = _equal(grad, score, problem)
    return GaussianIdentity(
        score=score,
        hessian=H,
        minus_inverse_covariance=inv,
        hessian_holds=hess_ok,
        score_holds=score_ok,
    )


def _equal(a: Any, b: Any, problem: Problem) -> bool:
    """Symbolic (components) or at random points (matrix notation)."""
    if a is None:
        return False
    if problem.notation == "components":
        return _is_zero(sp.Matrix(a) - sp.Matrix(b))
    rng = random.Random(problem.seed + 1)
    for _ in range(3):
        subs = _random_assignment(problem, rng)
        da = _explicit(a, subs)
        db = _explicit(b, subs)
        if max(abs(float(u) - float(v)) for u, v in zip(sp.Matrix(da), sp.Matrix(db))) > 1e-9:
            return False
    return True


# --- vectorization ----------------------------------------------------------


def _vectorization_table(var: Variable) -> VectorizationTable:
    VZ = _module("vectorize")
    A = var.symbol if isinstance(var.symbol, sp.MatrixBase) else var.symbol.as_explicit()
    m, n = A.shape
    v = VZ.vec(A)
    v_row = VZ.vec(A, order="row")
    K = VZ.commutation_matrix(m, n)
    S = A if m == n and A.is_symmetric() else A * A.T  # vech needs a symmetric matrix
    vech = sp.Matrix(VZ.vech(S))
    D = sp.Matrix(VZ.duplication_matrix(S.rows))
    holds = sp.Matrix(K) * sp.Matrix(v) == sp.Matrix(VZ.vec(A.T)) and (
        D * vech - sp.Matrix(VZ.vec(S))
    ).applyfunc(sp.expand) == sp.zeros(S.rows**2, 1)
    return VectorizationTable(A, v, v_row, K, vech, D, S, bool(holds))


# --- the kernel -------------------------------------------------------------


def _kernel_source(problem: Problem, study: Study) -> str | None:
    """The NumPy source symcalc.compile generates for the objective (constants as params)."""
    if problem.objective is None:
        study.notes.append("kernel source: only objectives are compiled, not vector fields")
        return None
    from symcalc.codegen.kernels import compile as compile_kernel

    wrt = problem.wrt[0] if problem.notation == "matrix" and len(problem.wrt) == 1 else problem.wrt
    params = []
    for c in problem.constants:
        sym = c.symbol
        if isinstance(sym, sp.MatrixBase):
            params += [e for e in sym.free_symbols if e not in params]
        else:
            params.append(sym)
    try:
        kernel = compile_kernel(
            problem.objective,
            wrt,
            params,
            gradient=study.results.get("gradient"),
            hessian=study.results.get("hessian"),
            name=problem.title,
        )
        return kernel.source
    except (NotImplementedError, SymcalcError) as exc:
        study.notes.append(f"kernel source not available: {str(exc) or type(exc).__name__}")
        return None
