"""Assumptions ("x > 0, Sigma spd", dicts, SymPy predicates) and declarations ("A[m,n]")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sympy as sp
from sympy import MatrixSymbol

from symcalc.errors import InputError
from symcalc.verification.reading import _label

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
