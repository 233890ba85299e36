"""Rendering a Study: sections of (label, value) rows, as text, LaTeX or JSON."""

from __future__ import annotations

from typing import Any

from symcalc.cli.terminal import Terminal
from symcalc.printing.titles import title as _title

# ---------------------------------------------------------------------------
# Rendering a Study: sections of (label, value) rows, as text, LaTeX or JSON
# ---------------------------------------------------------------------------


_PRETTY_WIDTH = 60  # wider pretty-printed maths falls back to one-line text


def _math_text(expr: Any, pretty: bool) -> str:
    import sympy as sp

    from symcalc.printing.text import text

    if expr is None:
        return "-"
    if isinstance(expr, sp.Basic) and expr.atoms(sp.MatrixSymbol):
        return text(expr)  # matrix notation: SymPy's pretty form shows its machinery
    if pretty:
        text = sp.pretty(expr, use_unicode=True, wrap_line=False)
        if max(map(len, text.splitlines() or [""])) <= _PRETTY_WIDTH:
            return text
    if isinstance(expr, sp.MatrixBase):
        if expr.cols == 1:
            return "[" + ", ".join(text(e) for e in expr) + "]"
        return "\n".join("[" + ", ".join(text(e) for e in row) + "]" for row in expr.tolist())
    return text(expr)


def _value_text(value: Any) -> str:
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and hasattr(value, "shape"):
        rows = tolist()
        if rows and isinstance(rows[0], list) and len(rows[0]) == 1:
            rows = [r[0] for r in rows]  # a column: one list
        return str(rows).replace("'", "")
    return str(value)


def _point_text(point: Any) -> str:
    if isinstance(point, dict):
        return "(" + ", ".join(f"{k} = {_value_text(v)}" for k, v in point.items()) + ")"
    return str(point)


def _counterexample_text(cx: Any) -> str:
    if not cx:
        return ""
    if isinstance(cx, dict) and "point" in cx:
        parts = [f"at {_point_text(cx['point'])}"]
        if "claimed" in cx:
            parts.append(f"claimed {_value_text(cx['claimed'])}")
        if "derived" in cx:
            parts.append(f"derived {_value_text(cx['derived'])}")
        return ", ".join(parts)
    if isinstance(cx, dict):
        return "at " + _point_text(cx)
    return str(cx)


def study_sections(study, pretty: bool, steps: bool = False) -> list[tuple[str, list]]:
    """The study as [(heading, rows)], rows being (label, text) pairs."""
    problem = study.problem
    sections: list[tuple[str, list]] = []
    head = []
    if problem.objective is not None:
        head.append(("objective", _math_text(problem.objective, pretty)))
    if problem.field is not None:
        import sympy as sp

        head.append(("field", _math_text(sp.Matrix(problem.field), pretty)))
    head.append(("variables", ", ".join(f"{v.name} ({v.shape_text})" for v in problem.variables)))
    if problem.constants:
        head.append(
            (
                "constants",
                ", ".join(
                    f"{c.name}" + (f" = {c.value}" if c.value is not None else f" ({c.shape_text})")
                    for c in problem.constants
                ),
            )
        )
    if problem.assumptions:
        head.append(("assumptions", "; ".join(problem.assumptions)))
    sections.append((problem.title, head))

    results = [
        (_title(k).name, _math_text(v, pretty)) for k, v in study.results.items() if v is not None
    ]
    if study.field is not None and study.field.conservative is not None:
        results.append(
            ("conservative", "yes" if study.field.conservative else "no (the curl is not zero)")
        )
    if results:
        sections.append(("results", results))

    if steps:
        rows = []
        for name, d in study.derivations.items():
            for i, s in enumerate(d.steps, 1):
                rows.append(
                    (
                        f"{name} {i}",
                        f"{s.rule.title}: {_math_text(s.before, False)}  ->  "
                        f"{_math_text(s.after, False)}",
                    )
                )
        sections.append(("steps", rows or [("", "no steps recorded")]))

    land = study.landscape
    if land is not None:
        rows = [
            (
                _point_text(p.point),
                f"{p.kind}, Hessian eigenvalues {_math_text(list(p.eigenvalues), False)}",
            )
            for p in land.points
        ]
        if not land.complete:
            rows.append(("", "(the solver may not have found every critical point)"))
        if land.note:
            rows.append(("note", land.note))
        if land.descent is not None:
            rows.append(("dL/dt along -grad L", _math_text(land.descent.rate, pretty)))
            rows.append(
                (
                    "descent identity",
                    "holds: dL/dt = -||grad L||^2" if land.descent.holds else "FAILS",
                )
            )
        sections.append(("landscape", rows or [("", "no critical points found")]))

    if study.gaussian is not None:
        g = study.gaussian
        sections.append(
            (
                "Gaussian identities",
                [
                    ("score", _math_text(g.score, pretty)),
                    ("Hessian", _math_text(g.hessian, pretty)),
                    ("Hessian = -Sigma^-1", "holds" if g.hessian_holds else "FAILS"),
                    ("score = -Sigma^-1 (x - mu)", "holds" if g.score_holds else "FAILS"),
                ],
            )
        )

    if study.vectorization is not None:
        v = study.vectorization
        rows = [
            ("matrix", _math_text(v.matrix, pretty)),
            ("vec (column-major)", _math_text(list(v.vec), False)),
            ("row-major vec", _math_text(list(v.vec_row), False)),
        ]
        S = getattr(v, "symmetric", None)
        if v.vech is not None:
            name = "vech(A)" if S is None or S == v.matrix else "vech(A A^T)"
            rows.append((name, _math_text(list(v.vech), False)))
        if v.commutation is not None:
            m, n = v.matrix.shape
            rows.append((f"commutation K({m},{n})", _math_text(v.commutation, pretty)))
        rows.append(("K vec(A) = vec(A^T), D vech = vec", "holds" if v.identity_holds else "FAILS"))
        sections.append(("vectorization", rows))

    if study.claims:
        rows = []
        for i, c in enumerate(study.claims, 1):
            verdict = {True: "HOLDS", False: "FAILS", None: "UNDECIDED"}[c.holds]
            shown = c.claim.source or c.claim.text
            lines = [f"{verdict} ({c.method}): {c.claim.of} = {shown}"]
            if c.claim.text and c.claim.source:
                lines.append(f"({c.claim.text})")
            cx = _counterexample_text(c.counterexample)
            if cx:
                lines.append(f"counterexample {cx}")
            if c.explanation and c.holds is not True:
                lines.append(c.explanation)
            rows.append((f"claim {i}", "\n".join(lines)))
        sections.append(("hand derivations", rows))

    checks = [
        (c.name, ("passed" if c.passed else "FAILED") + (f": {c.detail}" if c.detail else ""))
        for c in study.checks
    ]
    checks += [
        (
            f"finite differences: {f.name}",
            f"{'passed' if f.passed else 'FAILED'}: max |error| {f.max_abs_error:.2e} "
            f"(values up to {f.max_abs_value:.2e}, step {f.step:g})",
        )
        for f in study.finite_differences
    ]
    if checks:
        sections.append(("checks", checks))
    if study.notes:
        sections.append(("notes", [("", n) for n in study.notes]))
    return sections


def render_text(term: Terminal, sections: list[tuple[str, list]], summary: str, ok: bool) -> None:
    if term.rich:
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        for i, (heading, rows) in enumerate(sections):
            table = Table.grid(padding=(0, 2))
            table.add_column(style="bold cyan", no_wrap=True)
            table.add_column()
            for label, value in rows:
                style = "red" if ("FAIL" in value or "UNDECIDED" in value) else None
                table.add_row(label, Text(value, style=style))
            term.console.print(
                Panel(
                    table,
                    title=heading,
                    title_align="left",
                    border_style="blue" if i == 0 else "dim",
                )
            )
        term.console.print(Text(summary, style="bold green" if ok else "bold red"))
        return
    for heading, rows in sections:
        term.out(f"== {heading} ==")
        for label, value in rows:
            if "\n" in value:
                term.out(f"{label}:" if label else "")
                for line in value.splitlines():
                    term.out(f"    {line}")
            else:
                term.out(f"{label}: {value}" if label else value)
        term.out()
    term.out(summary)


def _plain(obj: Any) -> Any:
    """JSON-ready form: SymPy objects as {"text", "latex"}."""
    import sympy as sp

    from symcalc.printing.latex import latex
    from symcalc.printing.text import text

    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, sp.Basic) or isinstance(obj, sp.MatrixBase):
        out = {"text": text(obj), "latex": latex(obj)}
        if isinstance(obj, (sp.MatrixBase, sp.MatrixExpr)):
            out["shape"] = [
                int(d) if getattr(d, "is_Integer", isinstance(d, int)) else str(d)
                for d in obj.shape
            ]
        if getattr(obj, "is_number", False) and not isinstance(obj, sp.MatrixBase):
            try:
                out["value"] = float(obj)
            except (TypeError, ValueError):
                pass
        return out
    return str(obj)


def study_json(study, steps: bool = False) -> dict:
    problem = study.problem
    data: dict[str, Any] = {
        "title": problem.title,
        "source": problem.source,
        "objective": _plain(problem.objective),
        "field": _plain(problem.field),
        "variables": [
            {"name": v.name, "shape": list(v.shape), "structure": list(v.structure)}
            for v in problem.variables
        ],
        "constants": [
            {"name": c.name, "shape": list(c.shape), "value": c.value} for c in problem.constants
        ],
        "results": {k: _plain(v) for k, v in study.results.items() if v is not None},
    }
    if study.field is not None:
        data["conservative"] = study.field.conservative
    if steps:
        data["steps"] = [
            {
                "derivation": n,
                "rule": s.rule.name,
                "title": s.rule.title,
                "before": _plain(s.before),
                "after": _plain(s.after),
            }
            for n, d in study.derivations.items()
            for s in d.steps
        ]
    if study.landscape is not None:
        land = study.landscape
        data["critical_points"] = [
            {"point": _plain(p.point), "kind": p.kind, "eigenvalues": _plain(list(p.eigenvalues))}
            for p in land.points
        ]
        if land.descent is not None:
            data["descent"] = {"rate": _plain(land.descent.rate), "holds": land.descent.holds}
    if study.gaussian is not None:
        g = study.gaussian
        data["gaussian"] = {
            "score": _plain(g.score),
            "hessian": _plain(g.hessian),
            "hessian_holds": g.hessian_holds,
            "score_holds": g.score_holds,
        }
    if study.vectorization is not None:
        v = study.vectorization
        data["vectorization"] = {
            "matrix": _plain(v.matrix),
            "vec": _plain(v.vec),
            "vec_row": _plain(v.vec_row),
            "vech": _plain(v.vech),
            "vech_of": _plain(getattr(v, "symmetric", None)),
            "commutation": _plain(v.commutation),
            "identity_holds": v.identity_holds,
        }
    data["claims"] = [
        {
            "of": c.claim.of,
            "claim": c.claim.source or c.claim.text,
            "text": c.claim.text,
            "holds": c.holds,
            "method": c.method,
            "explanation": c.explanation,
            "counterexample": _plain(c.counterexample),
        }
        for c in study.claims
    ]
    data["checks"] = [
        {"name": c.name, "passed": c.passed, "detail": c.detail} for c in study.checks
    ]
    data["finite_differences"] = [
        {"name": f.name, "max_abs_error": f.max_abs_error, "passed": f.passed}
        for f in study.finite_differences
    ]
    data["notes"] = list(study.notes)
    data["ok"] = study.all_checks_passed
    return data


def study_latex(study, steps: bool = False) -> str:
    """A LaTeX fragment (amsmath) with the results, ready to paste into a paper;
    with ``steps``, the derivation first: one aligned line per step, its rule named."""
    from symcalc.printing.latex import equation, latex, options

    lines = [f"% symcalc derive: {study.problem.title} ({study.problem.source})"]
    if study.problem.objective is not None:
        lines.append(r"\[ f = " + latex(study.problem.objective) + r" \]")
    if steps:
        for name, d in study.derivations.items():
            lines.append(f"% derivation steps ({name})")
            lines.append(r"\begin{align*}")
            differentials = {"d" + getattr(w, "name", str(w)) for w in d.wrt}
            with options(
                differentials=differentials, long_columns_as_rows=4, show_scalar_trace=True
            ):
                rows = [
                    rf"&{latex(st.before)} \;\Longrightarrow\; {latex(st.after)} "
                    rf"&& \text{{{st.rule.title}}}"
                    for st in d.steps
                ]
            lines.append(" \\\\\n".join(rows))
            lines.append(r"\end{align*}")
    for key, value in study.results.items():
        if value is None:
            continue
        lhs = _title(key).latex
        lines.append(r"\begin{align*}")
        lines.append(equation(lhs, value))
        lines.append(r"\end{align*}")
    land = study.landscape
    if land is not None:
        for p in land.points:
            point = (
                ", ".join(f"{latex(k)} = {latex(v)}" for k, v in p.point.items())
                if isinstance(p.point, dict)
                else latex(p.point)
            )
            eig = ", ".join(latex(e) for e in p.eigenvalues)
            lines.append(rf"% critical point: {p.kind}")
            lines.append(
                rf"\[ ({point}):\ \text{{{p.kind}}},\ \lambda(\nabla^2 f) = \{{{eig}\}} \]"
            )
        if land.descent is not None:
            lines.append(
                r"\[ \frac{\mathrm{d}L}{\mathrm{d}t} = "
                + latex(land.descent.rate)
                + r" = -\lVert\nabla L\rVert^2 \]"
            )
    return "\n".join(lines)
