"""Why a line is wrong: find the corrected line that holds, among the common slips.

The candidates are edits of the wrong right-hand side (SymPy trees, never text): one sign
flipped (of the whole, of a term, of a term inside a sum), a factor 2 or 1/2, one
transpose added or dropped, a matrix A replaced by its symmetric part (2Ax for x^TAx with
A not symmetric), the factors of a trace permuted (a move that is not cyclic), a missing
chain-rule factor. Each is screened numerically (:mod:`.derivation_probe`) and the first
one that survives is confirmed by :func:`symcalc.verify`; its sentence is the diagnosis.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> diagnose(x * sp.cos(x**2), 2 * x * sp.cos(x**2), {"x": x}).sentence
'a factor 2 is lost (the line is half of what it should be).'
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import sympy as sp
from sympy import MatrixExpr, MatrixSymbol

from symcalc.verification.derivation_probe import agree

__all__ = ["Diagnosis", "diagnose", "candidates"]

MAX_CANDIDATES = 200


@dataclass(frozen=True)
class Diagnosis:
    """The slip found: a sentence, and the corrected right-hand side that holds."""

    sentence: str
    corrected: object
    slip: str


def _paths(e, path=()) -> Iterator[tuple[tuple, sp.Basic]]:
    yield path, e
    if isinstance(e, (MatrixSymbol, sp.Symbol, sp.Number)) or not isinstance(e, sp.Basic):
        return
    if type(e).__name__ in ("Lambda", "OneMatrix", "Identity", "ZeroMatrix"):
        return
    for i, a in enumerate(e.args):
        if isinstance(a, sp.Basic):
            yield from _paths(a, path + (i,))


def _replace(e, path, new):
    if not path:
        return new
    args = list(e.args)
    args[path[0]] = _replace(args[path[0]], path[1:], new)
    return e.func(*args)


def _is_matrix(e) -> bool:
    return isinstance(e, MatrixExpr)


def _neg(e):
    return -e


def _terms(e):
    return list(e.args) if isinstance(e, (sp.Add, sp.MatAdd)) else [e]


def _with_term(e, i, new):
    terms = _terms(e)
    terms[i] = new
    return sp.MatAdd(*terms) if _is_matrix(e) else sp.Add(*terms)


def _mentions(e, name: str) -> bool:
    return any(type(n).__name__ == name for n in sp.preorder_traversal(e))


def _has_sigmoid(e) -> bool:
    return any(
        getattr(getattr(n, "func", None), "__name__", "") == "sigmoid"
        for n in sp.preorder_traversal(e)
    ) or any("sigmoid" in str(getattr(n, "function", "")) for n in sp.preorder_traversal(e))


def _inverse_sign(claim, direction):
    for i, t in enumerate(_terms(claim)):
        if _mentions(t, "Inverse") or any(
            isinstance(n, sp.MatPow) and n.args[1].is_negative for n in sp.preorder_traversal(t)
        ):
            if direction is not None and t.has(direction):
                yield (
                    "the differential of the inverse has lost its minus sign: "
                    "d(X^-1) = -X^-1 dX X^-1.",
                    _with_term(claim, i, _neg(t)),
                    "inverse-sign",
                )


def _inner_signs(claim):
    for path, node in _paths(claim):
        if not path or not isinstance(node, (sp.Add, sp.MatAdd)):
            continue
        for i, t in enumerate(node.args):
            new = _replace(claim, path, _with_term(node, i, _neg(t)))
            if _has_sigmoid(t) and any(_is_one(a) for a in node.args):
                yield (
                    "σ'(u) = σ(u)(1 - σ(u)), not σ(u)(1 + σ(u)): a sign inside is wrong.",
                    new,
                    "sigmoid",
                )
            else:
                yield (f"a sign inside ({_short(node)}) is wrong.", new, "inner-sign")


def _is_one(a) -> bool:
    return a == 1 or type(a).__name__ == "OneMatrix"


def _short(e, limit=60) -> str:
    s = str(e)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _square_symbols(claim, skip):
    from symcalc.expr.structure import structure_of

    out = []
    for M in sorted(claim.atoms(MatrixSymbol), key=str):
        if M in skip or M.shape[0] != M.shape[1] or structure_of(M) != "general":
            continue
        out.append(M)
    return out


def _symmetric_part(claim, skip):
    for A in _square_symbols(claim, skip):
        yield (
            f"the line holds only for a symmetric {A}: it uses 2{A}x for the gradient of "
            f"x^T{A}x, which in general is ({A} + {A}^T)x.",
            claim.xreplace({A: (A + A.T) / 2}),
            "symmetric",
        )


def _transposes(claim, skip):
    for path, node in _paths(claim):
        if isinstance(node, sp.Transpose) and isinstance(node.arg, MatrixSymbol):
            if node.arg not in skip:
                yield (
                    f"a transpose is wrong: {node.arg} where the line has {node.arg}^T.",
                    _replace(claim, path, node.arg),
                    "transpose",
                )
        elif isinstance(node, MatrixSymbol) and node not in skip and path:
            parent = _at(claim, path[:-1])
            if isinstance(parent, sp.Transpose):
                continue
            yield (
                f"a transpose is dropped: {node}^T where the line has {node}.",
                _replace(claim, path, node.T),
                "transpose",
            )


def _at(e, path):
    for i in path:
        e = e.args[i]
    return e


def _traces(claim):
    for path, node in _paths(claim):
        if not isinstance(node, sp.Trace) or not isinstance(node.arg, sp.MatMul):
            continue
        coeff, mats = node.arg.as_coeff_matrices()
        if not 3 <= len(mats) <= 4:
            continue
        cyclic = {tuple(mats[i:] + mats[:i]) for i in range(len(mats))}
        for perm in itertools.permutations(mats):
            if perm in cyclic:
                continue
            try:
                new = sp.Trace(coeff * sp.MatMul(*perm))
            except Exception:  # noqa: BLE001 - the sizes of this order do not fit
                continue
            yield (
                "a trace move that is not cyclic: tr(ABC) = tr(BCA) = tr(CAB), but not tr(BAC).",
                _replace(claim, path, new),
                "trace",
            )


def _chain_factors(claim, source, wrt):
    if source is None or not isinstance(wrt, sp.Symbol):
        return
    for node in sp.preorder_traversal(source):
        if isinstance(node, sp.Function) and len(node.args) == 1:
            inner = node.args[0]
        elif isinstance(node, sp.Pow) and not node.exp.has(wrt):
            inner = node.base
        else:
            continue
        if inner == wrt or not inner.has(wrt):
            continue
        factor = sp.diff(inner, wrt)
        yield (
            f"a chain-rule factor is missing: d({inner})/d{wrt} = {factor}.",
            claim * factor,
            "chain",
        )


def _factors(claim):
    yield "a factor 2 is lost (the line is half of what it should be).", 2 * claim, "factor-2"
    yield (
        "a factor 1/2 is lost (the line is twice what it should be).",
        claim / 2,
        "factor-half",
    )
    terms = _terms(claim)
    if len(terms) > 1:
        for i, t in enumerate(terms):
            yield (
                f"a factor 2 is lost in the term {_short(t)}.",
                _with_term(claim, i, 2 * t),
                "factor-2",
            )
            yield (
                f"a factor 1/2 is lost in the term {_short(t)}.",
                _with_term(claim, i, t / 2),
                "factor-half",
            )


def _signs(claim):
    yield "the sign is wrong (the line is minus what it should be).", -claim, "sign"
    terms = _terms(claim)
    if len(terms) > 1:
        for i, t in enumerate(terms):
            yield f"the sign of the term {_short(t)} is wrong.", _with_term(claim, i, -t), "sign"


def candidates(claim, source=None, wrt=None, direction=None):
    """(sentence, corrected claim, slip) for each edit, the specific slips first."""
    skip = {direction} if direction is not None else set()
    gens = [
        _inverse_sign(claim, direction),
        _symmetric_part(claim, skip),
        _transposes(claim, skip),
        _traces(claim),
        _chain_factors(claim, source, wrt),
        _factors(claim),
        _signs(claim),
        _inner_signs(claim),
    ]
    seen = 0
    for gen in gens:
        while True:
            try:
                item = next(gen)
            except StopIteration:
                break
            except Exception:  # noqa: BLE001 - an edit SymPy will not build: skip it
                break
            seen += 1
            if seen > MAX_CANDIDATES:
                return
            yield item


def diagnose(
    claim, truth, symbols, source=None, wrt=None, direction=None, budget=5.0, truth_of=None
):
    """The first candidate correction that holds, as a :class:`Diagnosis`, or None.

    truth_of: corrected claim -> (side, other side) to compare, when the check is not
    ``corrected == truth`` (a gradient checked by identification compares tr(G^T dX)).
    """
    import time

    from symcalc.verification.claims import verify

    pair = truth_of or (lambda c: (c, truth))
    end = time.monotonic() + budget
    for sentence, corrected, slip in candidates(claim, source, wrt, direction):
        if time.monotonic() > end:
            return None
        a, b = pair(corrected)
        if not agree(a, b):
            continue
        left = max(0.5, min(3.0, end - time.monotonic()))
        v = verify(a, b, symbols=symbols, budget=left)
        if v.holds:
            return Diagnosis(sentence, corrected, slip)
    return None
