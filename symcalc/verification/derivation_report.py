"""Show a checked derivation: text for the terminal, LaTeX for the report.

The student's lines are typeset from what symcalc read (SymPy printed by
:func:`symcalc.printing.latex.latex`), never from the raw text, so nothing in a line
can run as TeX; stated reasons are escaped with :func:`~symcalc.printing.texsafe.escape_text`.

>>> import sympy as sp
>>> from symcalc.verification.derivation_check import check_derivation
>>> x = sp.Symbol("x")
>>> print(describe(check_derivation(["f = x^2", "df/dx = x"], wrt=x)).splitlines()[1])
>> line 2  FAILS     df/dx = x
"""

from __future__ import annotations

from typing import Any

__all__ = ["describe", "latex_context", "render_latex"]

_MARK = {True: "ok", False: "FAILS", None: "undecided"}


def _value(v) -> str:
    from symcalc.verification.verdict import _show_value  # the verifier's own display

    return _show_value(v)


def describe(check) -> str:
    """One line per step, the first wrong one marked ``>>``, then its counterexample."""
    first = check.first_wrong
    out = []
    for s in check.steps:
        mark = ">>" if s.index == first else "  "
        status = "ok" if s.holds else _MARK[s.holds]
        out.append(f"{mark} line {s.index + 1}  {status:<9} {s.line}")
        if s.holds is None:
            out.append(f"     {s.explanation}")
    if first is not None:
        s = check.steps[first]
        out.append(f"first wrong line: {first + 1} ({s.method}): {s.explanation}")
        if s.diagnosis:
            out.append(f"  diagnosis: {s.diagnosis}")
        if s.counterexample:
            out.append("  counterexample:")
            for k, v in s.counterexample.items():
                out.append(f"    {getattr(k, 'name', k)} = {_value(v)}")
            out.append(f"  the line there: {_value(s.claim_value)}")
            out.append(f"  it should be:   {_value(s.truth_value)}")
    holds = check.holds
    summary = {True: "every line holds", False: "a line is wrong", None: "undecided"}[holds]
    out.append(f"{summary} ({len(check.steps)} lines, {check.elapsed:.2f} s)")
    return "\n".join(out)


def _tex(expr: Any) -> str:
    """Finished LaTeX of a SymPy object (never of user text)."""
    from symcalc.printing.latex import latex
    from symcalc.printing.texsafe import escape_text

    try:
        return latex(expr)
    except Exception:  # noqa: BLE001 - a form the printer does not know: show it as text
        return r"\text{" + escape_text(str(expr)) + "}"


def _text(value: Any) -> str:
    from symcalc.printing.texsafe import escape_text

    return escape_text(value)


def _lhs_tex(lhs):
    if lhs is None:
        return ""
    prefix, body = lhs
    body_tex = _tex(body)
    if prefix and len(str(body)) > 1:
        body_tex = r"\left(" + body_tex + r"\right)"
    return prefix + body_tex


def _rounded(v):
    import sympy as sp

    try:
        return sp.N(v, 6)
    except Exception:  # noqa: BLE001 - not a number: shown as it is
        return v


def latex_context(check) -> dict:
    """What ``templates/derivation_check.tex.j2`` needs: rows of finished LaTeX
    (formulas printed from SymPy, text escaped)."""
    rows = []
    for s in check.steps:
        row = {
            "number": s.index + 1,
            "rhs": _tex(s.claim) if s.claim is not None else "",
            "lhs": _lhs_tex(s.lhs),
            "kind": _text(s.kind),
            "holds": s.holds,
            "first": s.index == check.first_wrong,
            "reason": _text(s.reason),
            "diagnosis": _text(s.diagnosis or ""),
            "counterexample": [],
        }
        if row["first"] and s.counterexample:
            row["counterexample"] = [(_tex(k), _tex(v)) for k, v in s.counterexample.items()]
            row["line_value"] = _tex(_rounded(s.claim_value))
            row["truth_value"] = _tex(_rounded(s.truth_value))
        rows.append(row)
    return {"rows": rows, "first_wrong": check.first_wrong, "holds": check.holds}


def render_latex(check, title: str = "Hand derivation") -> str:
    """The derivation as a LaTeX fragment (a section of the report), the wrong line marked."""
    template = _environment().get_template("derivation_check.tex.j2")
    return template.render(title=_text(title), **latex_context(check))


def _environment():
    """The report's template environment (symcalc.reporting.tex); every value arrives finished."""
    from symcalc.reporting.tex import template_env

    return template_env(finished=True)
