"""The decision: cheap canonical forms, then probing, then heavy forms; a counterexample re-checked."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mpmath
import sympy as sp
from sympy import MatrixBase, MatrixExpr

from symcalc.errors import InputError, ShapeError
from symcalc.expr.functions import expand_named
from symcalc.inputs import short
from symcalc.verification.reading import _scalarize
from symcalc.verification.sampling import (
    _DEEP_DIGITS,
    _DPS,
    _MAX_BREAKPOINT_POINTS,
    _SCALES,
    _TOL_DIGITS,
    _breakpoint_points,
    _close,
    _concrete,
    _draw_point,
    _is_real,
    _numbers,
    _Point,
    _Singular,
    _size_configs,
    _size_symbols,
    _values,
)
from symcalc.verification.verdict import _show_value


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
            errors.append(f"{type(exc).__name__}: {short(exc, 120)}")
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
    min_points: int = 3  # fewer agreeing points than this: undecided


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
            min_points=min(job.min_points, job.max_points or job.min_points),
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
