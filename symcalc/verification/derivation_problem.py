r"""The ``[[derivation]]`` tables of a problem file: hand derivations to check line by line.

A problem file may hold any number of::

    [[derivation]]
    title = "the gradient, by differentials"
    wrt = "x"            # optional when the file has one variable
    lines = '''
    f(x) = x^\top A x \\
    \nabla f = 2 A x
    '''

The names are the file's ``[variables]`` and ``[constants]`` (their shapes and
structures); each table is checked with :func:`check_derivation`.

>>> text = '''
... [variables]
... x = { shape = [2] }
... [constants]
... A = { shape = [2, 2] }
... [[derivation]]
... lines = 'f = x^T A x \\\\ \\nabla f = 2 A x'
... '''
>>> [(t, c.first_wrong) for t, c in check_problem_derivations(text)]
[('derivation 1', 1)]
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from symcalc.errors import ProblemFileError

__all__ = [
    "check_problem_derivations",
    "declarations_of",
    "derivation_sections",
    "MAX_DERIVATIONS",
]

MAX_DERIVATIONS = 20
_KEYS = {"title", "wrt", "lines"}


def _declaration(name: str, spec: Any) -> str:
    if isinstance(spec, str):
        spec = {"shape": []} if spec == "scalar" else {}
    shape = spec.get("shape", []) if isinstance(spec, dict) else []
    structure = spec.get("structure", []) if isinstance(spec, dict) else []
    words = {"positive_definite": "spd"}
    facts = " ".join(
        words.get(w, w)
        for w in structure
        if w != "symmetric" or "positive_definite" not in structure
    )
    dims = "[" + ",".join(str(int(d)) for d in shape) + "]" if shape else ""
    return f"{name}{dims} {facts}".strip()


def declarations_of(data: dict) -> tuple[list[str], list[str]]:
    """(variables, constants) of a problem file as declarations ("x[2]", "S[2,2] spd")."""
    out = []
    for key in ("variables", "constants"):
        table = data.get(key, {})
        if not isinstance(table, dict):
            raise ProblemFileError(f"[{key}] must be a table")
        out.append([_declaration(n, s) for n, s in table.items()])
    return out[0], out[1]


def _read(path_or_text) -> dict:
    if isinstance(path_or_text, Path) or (
        isinstance(path_or_text, str)
        and "\n" not in path_or_text
        and path_or_text.endswith(".toml")
    ):
        path_or_text = Path(path_or_text).read_text(encoding="utf-8")
    try:
        return tomllib.loads(path_or_text)
    except tomllib.TOMLDecodeError as exc:
        raise ProblemFileError(f"the problem file is not valid TOML: {exc}") from None


def check_problem_derivations(path_or_text, budget: float = 120.0) -> list[tuple[str, Any]]:
    """[(title, DerivationCheck)] for the file's ``[[derivation]]`` tables (see above)."""
    from symcalc.verification.derivation_check import check_derivation

    data = _read(path_or_text)
    tables = data.get("derivation", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ProblemFileError("[[derivation]] must be an array of tables")
    if len(tables) > MAX_DERIVATIONS:
        raise ProblemFileError(
            f"{len(tables)} [[derivation]] tables; the limit is {MAX_DERIVATIONS}"
        )
    variables, constants = declarations_of(data)
    results = []
    for i, t in enumerate(tables):
        extra = set(t) - _KEYS
        if extra or not isinstance(t.get("lines"), str):
            raise ProblemFileError(
                f"[[derivation]] {i + 1}: give lines = '...' (and optionally title, wrt); "
                f"unknown keys: {sorted(extra)}"
            )
        wrt = t.get("wrt") or (
            variables[0].split("[")[0].split()[0] if len(variables) == 1 else None
        )
        names = {d.split("[")[0].split()[0]: d for d in variables + constants}
        wrt_decl = names.pop(wrt, wrt) if wrt else None
        check = check_derivation(
            t["lines"], wrt=wrt_decl, symbols=list(names.values()), budget=budget
        )
        results.append((str(t.get("title", f"derivation {i + 1}")), check))
    return results


def derivation_sections(problem) -> list:
    """The ``[[derivation]]`` tables of a problem's file, each rendered (for the report).

    Empty when the problem was not read from a file or the file has none. Each is finished
    LaTeX (formulas printed from SymPy, text escaped): the report wraps it in ``TeX``.
    """
    from pathlib import Path

    from symcalc.verification.derivation_report import render_latex

    source = getattr(problem, "source", None)
    if not source or not str(source).endswith(".toml") or not Path(source).is_file():
        return []
    return [render_latex(c, t) for t, c in check_problem_derivations(Path(source))]


def _html_rows(check) -> list[dict]:
    rows = []
    for s in check.steps:
        prefix, body = s.lhs if s.lhs is not None else ("", None)
        row = {
            "number": s.index + 1,
            "prefix": {"\\mathrm{d}": "d", "\\nabla ": "∇", "\\nabla^2 ": "∇²"}.get(prefix, ""),
            "lhs": body,
            "rhs": s.claim,
            "holds": s.holds,
            "first": s.index == check.first_wrong,
            "reason": s.reason,
            "diagnosis": s.diagnosis or "",
            "counterexample": [],
        }
        if row["first"] and s.counterexample:
            row["counterexample"] = [
                (getattr(k, "name", str(k)), v) for k, v in s.counterexample.items()
            ]
            row["line_value"], row["truth_value"] = s.claim_value, s.truth_value
        rows.append(row)
    return rows


def report_context(problem, tex) -> dict:
    """The report's entries for the problem file's ``[[derivation]]`` tables, checked once:
    ``derivation_checks`` (LaTeX fragments, wrapped by ``tex``, the report's TeX marker)
    and ``derivation_tables`` (rows of SymPy objects and text for the HTML page)."""
    from pathlib import Path

    from symcalc.verification.derivation_report import render_latex

    source = getattr(problem, "source", None)
    if not source or not str(source).endswith(".toml") or not Path(source).is_file():
        return {"derivation_checks": [], "derivation_tables": []}
    checked = check_problem_derivations(Path(source))
    return {
        "derivation_checks": [tex(render_latex(c, t)) for t, c in checked],
        "derivation_tables": [
            {"title": t, "first_wrong": c.first_wrong, "holds": c.holds, "rows": _html_rows(c)}
            for t, c in checked
        ],
    }
