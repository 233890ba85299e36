"""Check a whole hand derivation, line by line, and point at the first wrong step.

``check_derivation(lines, wrt=..., symbols=...)`` reads each line ``LHS = RHS`` (the RHS
must equal what the LHS means) or ``= RHS`` (it must equal the previous RHS), decides
each step with :func:`symcalc.verify` (a proof, N numeric probes, or a counterexample at
concrete sizes), and for a failing step looks for the corrected line that holds (a lost
factor 2, a dropped transpose, a sign, ...: :mod:`.derivation_diagnosis`).

Left-hand sides: an expression; a name being defined (``f = x^T A x``, ``L(X) = ...``);
a differential ``d f`` / ``\\mathrm{d}L`` / ``d(\\log\\det X)`` (the directional
derivative with ``dX`` a direction of its own); a gradient ``\\nabla f``, ``\\nabla_x f``,
``\\frac{\\partial f}{\\partial X}``, ``df/dx``; a Hessian ``\\nabla^2 f``; a rate
``\\frac{dL}{dt}`` along the path with velocity ``\\dot{x}`` (defined on an earlier line).
A gradient line right after a differential line of the same function is checked by the
identification theorem: dL = tr(G^T dX) for every dX  =>  ∇L = G.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> r = check_derivation(["f = sin(x^2)", "df/dx = cos(x^2) 2x", "= x cos(x^2)"], wrt=x)
>>> [s.holds for s in r.steps], r.first_wrong
([True, True, False], 2)
>>> r.steps[2].diagnosis
'a factor 2 is lost (the line is half of what it should be).'
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sympy as sp
from sympy import MatrixExpr, MatrixSymbol

from symcalc.errors import InputError, ParseError
from symcalc.parsing.lines import Lhs, Line, read_lhs, split_lines
from symcalc.parsing.parser import ShapeMismatchError
from symcalc.verification.claims import Verdict, declare, verify
from symcalc.verification.derivation_diagnosis import diagnose
from symcalc.verification.derivation_differential import (
    NoDifferentialError,
    differential,
    gradient_of,
    hessian_of,
)
from symcalc.verification.derivation_reading import Reader

__all__ = ["check_derivation", "DerivationCheck", "StepVerdict"]

DEFAULT_BUDGET = 120.0
_STEP_BUDGET = 6.0


@dataclass
class StepVerdict(Verdict):
    """A :class:`~symcalc.Verdict` for one line, with the line, its reading and a diagnosis."""

    index: int = 0
    line: str = ""
    kind: str = "expr"
    reason: str = ""
    diagnosis: str | None = None
    corrected: Any = None
    slip: str | None = None
    lhs: Any = None  # the left-hand side as written (names kept), for showing the line


@dataclass
class DerivationCheck:
    """The verdict of every line; ``first_wrong`` is the 0-based index of the first failure."""

    steps: list[StepVerdict] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def first_wrong(self) -> int | None:
        return next((i for i, s in enumerate(self.steps) if s.holds is False), None)

    @property
    def holds(self) -> bool | None:
        if self.first_wrong is not None:
            return False
        return True if all(s.holds for s in self.steps) else None

    @property
    def exit_code(self) -> int:
        """0 every line holds, 1 a line fails, 2 undecided (the CLI's exit status)."""
        return {True: 0, False: 1}.get(self.holds, 2)

    def describe(self) -> str:
        """One line per step, the first wrong one marked, with its counterexample."""
        from symcalc.verification.derivation_report import describe

        return describe(self)

    def __str__(self) -> str:
        return self.describe()


def _as_lines(lines) -> list[Line]:
    if isinstance(lines, str):
        return split_lines(lines)
    if not isinstance(lines, (list, tuple)):
        raise InputError(f"lines must be text or a list of lines, not {type(lines).__name__}")
    out = []
    for item in lines:
        if isinstance(item, str):
            out.extend(split_lines(item))
        elif isinstance(item, sp.Equality):
            out.append(Line(item.lhs, item.rhs, "", str(item)))
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            out.append(Line(item[0], item[1], "", f"{item[0]} = {item[1]}"))
        else:
            raise InputError(f"a line must be text, (lhs, rhs) or sp.Eq, not {item!r:.60}")
    if not out:
        raise ParseError("the derivation has no lines")
    return out


def _symbol_table(symbols, wrt) -> tuple[dict, Any]:
    table: dict[str, Any] = {}
    if symbols is None:
        items: list = []
    elif isinstance(symbols, Mapping):
        items = list(symbols.items())
    elif isinstance(symbols, (list, tuple)):
        items = [(None, s) for s in symbols]
    else:
        raise InputError(f"symbols must be a dict or a list, not {type(symbols).__name__}")
    for name, s in items:
        if name is not None and not isinstance(name, str):
            raise InputError(f"the names in symbols must be text, not {type(name).__name__}")
        obj = declare(s) if isinstance(s, str) else s
        if not isinstance(obj, (sp.Symbol, MatrixSymbol)):
            raise InputError(f"symbols must be Symbols or MatrixSymbols, not {obj!r:.60}")
        table[name or obj.name] = obj
    if isinstance(wrt, str):
        wrt = table.get(wrt) or declare(wrt)
    if wrt is not None and not isinstance(wrt, (sp.Symbol, MatrixSymbol)):
        raise InputError(f"wrt must be one Symbol or MatrixSymbol, not {wrt!r:.60}")
    if wrt is not None:
        table.setdefault(wrt.name, wrt)
    return table, wrt


def check_derivation(
    lines,
    wrt=None,
    symbols=None,
    budget: float = DEFAULT_BUDGET,
    *,
    assumptions=None,
    diagnose_slips: bool = True,
    syntax: str = "auto",
) -> DerivationCheck:
    """Check every line of a derivation; see the module docstring.

    lines: text (an align block, ``\\\\``-separated or one line per text line), a list of
    text lines, of (lhs, rhs) pairs of SymPy objects (lhs None for ``= rhs``) or of sp.Eq.
    wrt: the variable of differentials and derivatives (a Symbol, MatrixSymbol or a
    declaration such as "X[n,n]"). symbols: the other names (Symbols, MatrixSymbols or
    declarations "A[n,n]", "S[n,n] spd"). budget: seconds for the whole derivation.
    """
    from symcalc.budget import within

    started = time.monotonic()
    if not isinstance(syntax, str) or syntax not in ("auto", "math", "latex"):
        raise InputError(f"syntax must be 'auto', 'math' or 'latex', not {syntax!r:.60}")
    if not isinstance(diagnose_slips, bool):
        raise InputError(f"diagnose_slips must be True or False, not {diagnose_slips!r:.60}")
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0:
        raise InputError(f"budget must be a positive number of seconds, not {budget!r}")
    table, wrt = _symbol_table(symbols, wrt)
    parsed = _as_lines(lines)
    result = DerivationCheck()
    with within(budget + 5.0, "check_derivation"):
        state = _State(Reader(table, wrt, syntax), wrt, assumptions, started + budget)
        for i, line in enumerate(parsed):
            step = _check_line(i, line, state, diagnose_slips)
            result.steps.append(step)
    result.elapsed = time.monotonic() - started
    return result


@dataclass
class _State:
    reader: Reader
    wrt: Any
    assumptions: Any
    deadline: float
    previous: Any = None  # the previous line's right-hand side
    previous_lhs: tuple | None = None  # (kind, formula) of the previous line

    def left(self) -> float:
        return self.deadline - time.monotonic()


def _need_wrt(state: _State, what: str):
    if state.wrt is None:
        raise InputError(f"a {what} line needs wrt= (the variable it is taken with respect to)")
    return state.wrt


def _scalar(e):
    if isinstance(e, MatrixExpr) and e.shape == (1, 1):
        return sp.Trace(e)
    return e


def _inner(G, d):
    """⟨G, dX⟩ = tr(G^T dX) (G dx for a scalar x)."""
    if isinstance(G, MatrixExpr):
        return sp.Trace(G.T * d)
    return G * d


_gradient, _hessian = gradient_of, hessian_of


_LHS_SHOWN = {
    "differential": (r"\mathrm{d}", ""),
    "gradient": (r"\nabla ", ""),
    "deriv": (r"\nabla ", ""),
    "hessian": (r"\nabla^2 ", ""),
}


def _shown_lhs(lhs, line, reader):
    """(prefix, the formula) of the left-hand side, names kept; None for ``= RHS``."""
    if line.lhs is None:
        return None
    if lhs is None:
        return ("", line.lhs)
    try:
        body = reader.expr(lhs.body, expand=False)
    except Exception:  # noqa: BLE001 - shown only; the check itself has read it
        return None
    if lhs.kind == "deriv" and lhs.var == "t":
        return (r"\frac{\mathrm{d}}{\mathrm{d}t}", body)
    return (_LHS_SHOWN.get(lhs.kind, ("", ""))[0], body)


def _definition(i, line, reading, state) -> StepVerdict:
    name, value = reading
    return StepVerdict(
        True,
        "definition",
        f"defines {name}.",
        claim=value,
        index=i,
        line=line.source or f"{line.lhs} = {line.rhs}",
        kind="definition",
        reason=line.reason,
        lhs=("", sp.Symbol(name)),
    )


def _truth(lhs: Lhs, state: _State):
    """(what the line's RHS must equal, the function it is about, the claim transform)."""
    r = state.reader
    if lhs.kind == "expr":
        return r.expr(lhs.body), None, None
    F = r.expr(lhs.body)
    if lhs.kind == "differential":
        W = _need_wrt(state, "differential")
        return differential(F, W, r.direction), F, None
    if lhs.kind == "deriv" and lhs.var and lhs.var != getattr(state.wrt, "name", None):
        if lhs.var == "t":
            return _rate(F, state), F, None
        raise InputError(f"the derivative is with respect to {lhs.var}, but wrt is {state.wrt}")
    W = _need_wrt(state, "derivative")
    if lhs.kind == "hessian":
        return _hessian(F, W), F, None
    prev = state.previous_lhs
    if prev is not None and prev[0] == "differential" and prev[1] == F:
        return state.previous, F, "identification"
    return _gradient(F, W), F, None


def _rate(F, state: _State):
    W = _need_wrt(state, "rate dL/dt")
    velocity = state.reader.velocity()
    if velocity is None:
        raise InputError(
            f"a rate dL/dt needs the path's velocity: define it first, e.g. \\dot{{{W}}} = ..."
        )
    return differential(F, W, velocity)


def _check_line(i: int, line: Line, state: _State, diagnose_slips: bool) -> StepVerdict:
    r = state.reader
    source = line.source or f"{line.lhs} = {line.rhs}"
    lhs = read_lhs(r.prepare(line.lhs)) if isinstance(line.lhs, str) else None
    definition = r.definition(line) if lhs is None or lhs.kind == "expr" else None
    if definition is not None:
        state.previous, state.previous_lhs = definition[1], ("expr", definition[1])
        return _definition(i, line, definition, state)
    try:
        claim = r.expr(line.rhs) if isinstance(line.rhs, str) else r.bind(line.rhs)
    except ShapeMismatchError as exc:  # sizes that do not fit: the line cannot be right
        return StepVerdict(
            False,
            "symbolic",
            f"the line is not well-formed: {exc}",
            index=i,
            line=source,
            kind=lhs.kind if lhs is not None else "continued",
            reason=line.reason,
        )
    F = None
    mode = None
    if line.lhs is None:
        if state.previous is None:
            raise InputError("the first line needs a left-hand side (write LHS = RHS)")
        truth = state.previous
    elif lhs is None:
        truth = r.bind(line.lhs)
    else:
        try:
            truth, F, mode = _truth(lhs, state)
        except NoDifferentialError as exc:
            state.previous = claim
            return _undecided(i, line, source, f"{exc}", lhs.kind)
    step = _decide(i, line, source, claim, truth, mode, state, lhs)
    step.lhs = _shown_lhs(lhs, line, r)
    if step.holds is False and diagnose_slips and state.left() > 1:
        _diagnose(step, claim, truth, F, mode, state)
    state.previous = claim
    if line.lhs is not None:  # a continued line "= RHS" keeps what the chain is about
        state.previous_lhs = (lhs.kind if lhs is not None else "expr", F)
    return step


def _undecided(i, line, source, why, kind) -> StepVerdict:
    return StepVerdict(None, "none", why, index=i, line=source, kind=kind, reason=line.reason)


def _decide(i, line, source, claim, truth, mode, state, lhs) -> StepVerdict:
    shown = claim
    if mode == "identification":
        claim = _inner(claim, state.reader.direction)
    budget = max(0.5, min(_STEP_BUDGET, state.left()))
    v = verify(
        _scalar(claim),
        _scalar(truth),
        state.assumptions,
        budget=budget,
        symbols=state.reader.objects(),
    )
    explanation = v.explanation
    if mode == "identification":
        explanation = (
            "identification: dL = tr(G^T dX) for every dX => ∇L = G; "
            f"tr(G^T dX) against the previous line: {explanation}"
        )
    fields = {k: getattr(v, k) for k in Verdict.__dataclass_fields__}
    fields.update(explanation=explanation, claim=shown, truth=truth)
    kind = lhs.kind if lhs is not None else ("continued" if line.lhs is None else "expr")
    return StepVerdict(**fields, index=i, line=source, kind=kind, reason=line.reason)


def _diagnose(step, claim, truth, F, mode, state) -> None:
    r = state.reader
    if mode == "identification":
        return _diagnose_identification(step, claim, truth, state)
    d = diagnose(
        claim,
        truth,
        r.objects(),
        source=F,
        wrt=state.wrt,
        direction=r.direction if r.direction is not None and claim.has(r.direction) else None,
        budget=min(20.0, max(1.0, state.left() - 1)),
    )
    if d is not None:
        step.diagnosis, step.corrected, step.slip = d.sentence, d.corrected, d.slip


def _diagnose_identification(step, G, previous, state) -> None:
    r = state.reader
    d = diagnose(
        G,
        None,
        r.objects(),
        wrt=state.wrt,
        budget=min(20.0, max(1.0, state.left() - 1)),
        truth_of=lambda c: (_scalar(_inner(c, r.direction)), _scalar(previous)),
    )
    if d is not None:
        step.diagnosis, step.corrected, step.slip = d.sentence, d.corrected, d.slip
