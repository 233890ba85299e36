"""The ``symcalc`` command: derive | verify | compile | report.

Every command reads either a problem file (TOML, see ``docs/problem-files.md``)
or a formula given on the command line, and exits with

    0  ok (everything the command checks holds)
    1  a check failed (a hand derivation is wrong, a self-check disagreed)
    2  bad input, or undecided (an error message says which)

Start-up stays fast: this module imports only the standard library; SymPy,
rich, the engine and the report load inside the command that needs them.

>>> import io, json
>>> out = io.StringIO()
>>> main(["derive", "x^2*y", "--wrt", "x", "y", "--format", "json"], stdout=out)
0
>>> json.loads(out.getvalue())["results"]["gradient"]["text"]
'[2*x*y, x**2]'
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

EXIT_CODES = """\
exit codes:
  0  ok: the command did its work and everything it checks holds
  1  a check failed (a wrong hand derivation, a failed self-check)
  2  bad input (unreadable file, unknown name, malformed formula, a size over a
     limit, a time budget used up: --budget) or undecided; always one error
     message, never a traceback (docs/security.md)"""

FORMULA_HELP = """\
formulas:
  Everyday math syntax ("2x cos(x^2)", "x^T A x", "sigmoid(w*x)") or LaTeX
  ("\\frac{1}{1+e^{-x}}"); nothing you type is ever evaluated as Python.
  A formula that starts with "-" goes after "--":  symcalc derive --wrt x -- "-x^2"
variables (--wrt, --const):
  x        a scalar            w:3       a vector of 3 entries
  A:2x3    a 2 x 3 matrix      S:3x3:symmetric,positive_definite   with structure
  a=2.5    (--const only) a scalar constant with a value"""

MAIN_EPILOG = f"""\
commands:
  derive    gradients, Hessians, Jacobians, curl, critical points, ... as text, LaTeX or JSON
  verify    check a hand derivation: holds, or fails with a counterexample
  compile   write the derivatives as a standalone, batched NumPy module
  report    build the derivation report of a problem file (PDF, or LaTeX with --tex)

examples:
  symcalc derive "x^2*y + sin(y)" --wrt x y
  symcalc derive examples/logistic_regression.toml --format latex
  symcalc verify "sin(x^2)" --wrt x --claim "2x cos(x^2)"
  symcalc compile examples/rosenbrock.toml -o kernels.py
  symcalc report examples/gaussian.toml -o gaussian.pdf

Run "symcalc COMMAND --help" for the options and examples of each command.

{EXIT_CODES}"""

DERIVE_EPILOG = f"""\
examples:
  symcalc derive "x^2*y + sin(y)" --wrt x y
  symcalc derive "(x^2 - 1)^2 + (y - x/2)^2" --wrt x y --analyses gradient hessian critical_points descent
  symcalc derive "a*x^2 + b*x" --wrt x --const a b --format latex
  symcalc derive --field "-y; x" --wrt x y              # Jacobian, curl, conservative?, potential
  symcalc derive "(A*w - b)^T (A*w - b)" --wrt w:3 --const A:4x3 b:4 --matrix --steps
  symcalc derive examples/ridge.toml --format json > ridge.json

analyses (--analyses): gradient hessian critical_points descent gaussian finite_differences
  (objectives); jacobian divergence curl potential finite_differences (fields).

{FORMULA_HELP}

{EXIT_CODES}
  derive exits 1 when one of the engine's own checks (element-wise diff, finite
  differences, the descent identity, ...) disagrees."""

VERIFY_EPILOG = f"""\
examples:
  symcalc verify "sin(x^2)" --wrt x --claim "2x cos(x^2)"               # holds: exit 0
  symcalc verify "sigmoid(x)" --wrt x --claim "sigmoid(x)*(1 + sigmoid(x))" # fails: exit 1
  symcalc verify "x^T A x" --wrt x:3 --const A:3x3 --claim "2 A x"        # fails for non-symmetric A
  symcalc verify "x^T A x" --wrt x:3 --const A:3x3:symmetric --claim "2 A x"
  symcalc verify "sqrt(x^2)" --kind value --wrt x --claim "x" --positive x
  symcalc verify examples/wrong_derivation.toml      # the [[claims]] of a problem file

--kind says what the claim is: gradient (default for an expression), hessian,
jacobian (with --field), or value (the claim equals the expression itself).

{FORMULA_HELP}

{EXIT_CODES}
  verify exits 0 when every claim holds, 1 when one fails (a counterexample is
  shown), 2 when a claim could not be decided in the time budget."""

COMPILE_EPILOG = f"""\
examples:
  symcalc compile examples/rosenbrock.toml -o kernels.py
  symcalc compile "(a - x)^2 + 100*(y - x^2)^2" --wrt x y --param a -o rosen.py
  symcalc compile "log(1 + exp(-y*w*x))" --wrt w --param x y      # source on stdout

The module imports numpy only and defines value, gradient and hessian. Each takes
the points with the variables first (xs of shape (n, ...), batched over the trailing
axes), then the parameters, then a preallocated output (see the module docstring);
symcalc.compile(...) wraps the same code as a Kernel taking points of shape (..., n).
Scalar constants with a value are substituted; in matrix notation, vector and
matrix constants become arguments (the data: gradient(w, X, y)); constants
without a value become parameters.

{FORMULA_HELP}

{EXIT_CODES}"""

REPORT_EPILOG = f"""\
examples:
  symcalc report examples/gaussian.toml                    # writes gaussian.pdf
  symcalc report examples/gaussian.toml -o out/gauss.pdf
  symcalc report examples/gaussian.toml --tex -o gauss.tex # LaTeX only, no TeX needed

PDFs are built with latexmk and pdflatex (Debian: apt-get install --no-install-recommends
texlive-latex-recommended latexmk lmodern). Without TeX the .tex file is written
anyway and the command says how to install it.

{EXIT_CODES}
  report exits 0 when the report was written (wrong hand derivations are shown in
  it); with --strict it exits 1 when a check failed or a hand derivation is wrong."""


# ---------------------------------------------------------------------------
# Terminal: rich on a terminal, plain text otherwise
# ---------------------------------------------------------------------------


class Terminal:
    """Where output goes: rich panels and a live status on a terminal, plain
    lines when piped (tests, scripts, CI)."""

    def __init__(self, stdout=None, stderr=None, color: str = "auto"):
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        tty = _isatty(self.stdout)
        self.rich = color == "always" or (
            color == "auto" and tty and not os.environ.get("NO_COLOR")
        )
        self.progress_shown = _isatty(self.stderr) and color != "never"
        self._console = None

    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(
                file=self.stdout, force_terminal=self.rich, highlight=False, soft_wrap=False
            )
        return self._console

    def out(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def err(self, text: str) -> None:
        print(text, file=self.stderr)

    def progress(self, message: str):
        """A context manager yielding ``update(text)``: a spinner on a terminal, silent otherwise."""
        return _Progress(self, message)


class _Progress:
    def __init__(self, term: Terminal, message: str):
        self.term, self.message, self.status = term, message, None

    def __enter__(self) -> Callable[[str], None]:
        if self.term.progress_shown:
            from rich.console import Console

            self.status = Console(file=self.term.stderr).status(self.message)
            self.status.__enter__()
        return self.update

    def update(self, text: str) -> None:
        if self.status is not None and text:
            self.status.update(f"{self.message}: {text}")

    def __exit__(self, *exc) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------------------
# Reading the command line into a problem
# ---------------------------------------------------------------------------

_SPEC = re.compile(
    r"^(?P<name>[A-Za-z][A-Za-z0-9_]*)"
    r"(?::(?P<shape>\d+(?:x\d+)?))?"
    r"(?::(?P<structure>[a-z_,]+))?"
    r"(?:=(?P<value>[-+0-9.eE]+))?$"
)


_BRACKETS = re.compile(
    r"^(?P<name>[A-Za-z][A-Za-z0-9_]*)\s*\[\s*(?P<dims>\d+(?:\s*,\s*\d+)?)\s*\]"
    r"\s*(?P<structure>[a-z_, ]*)$"
)
_STRUCTURE_WORDS = {"spd": "positive_definite", "pd": "positive_definite"}


def _colon_form(spec: str) -> str:
    """ "A[2,3] symmetric" -> "A:2x3:symmetric" (the bracket form the verifier also reads)."""
    spec = spec.strip()
    m = _BRACKETS.match(spec)
    if not m:
        return spec
    out = m["name"] + ":" + "x".join(d.strip() for d in m["dims"].split(","))
    words = [_STRUCTURE_WORDS.get(w, w) for w in re.split(r"[ ,]+", m["structure"]) if w]
    return out + (":" + ",".join(words) if words else "")


def parse_variable_spec(spec: str, allow_value: bool = False) -> tuple[str, dict]:
    """One ``--wrt`` / ``--const`` item as (name, TOML table).

    >>> parse_variable_spec("A:2x3")
    ('A', {'shape': [2, 3]})
    >>> parse_variable_spec("S:3x3:symmetric,positive_definite")
    ('S', {'shape': [3, 3], 'structure': ['symmetric', 'positive_definite']})
    >>> parse_variable_spec("a=2.5", allow_value=True)
    ('a', {'shape': [], 'value': 2.5})
    >>> parse_variable_spec("2x")
    Traceback (most recent call last):
    ...
    symcalc.errors.InputError: "2x" is not a variable: write x, w:3, A:2x3 or S:3x3:symmetric
    """
    from symcalc.errors import InputError

    spec = _colon_form(spec)
    m = _SPEC.match(spec)
    if re.match(r"^\w+\s*\[[^\]]*[A-Za-z]", spec):
        raise InputError(
            f'"{spec}": sizes must be numbers here (w[3], A[2,3]); symbolic sizes '
            "such as x[n] work in symcalc verify"
        )
    if not m or (m["value"] is not None and not allow_value):
        example = "x, w:3, A:2x3 or S:3x3:symmetric" + (", or a=2.5" if allow_value else "")
        raise InputError(f'"{spec}" is not a variable: write {example}')
    table: dict[str, Any] = {"shape": [int(n) for n in m["shape"].split("x")] if m["shape"] else []}
    if m["structure"]:
        table["structure"] = [s for s in m["structure"].split(",") if s]
    if m["value"] is not None:
        if table["shape"]:
            raise InputError(
                f'"{spec}": a value on the command line is for scalars only; '
                "give vector and matrix values in a problem file"
            )
        try:
            table["value"] = (
                float(m["value"]) if re.search(r"[.eE]", m["value"]) else int(m["value"])
            )
        except ValueError:
            raise InputError(f'"{spec}": {m["value"]} is not a number') from None
    return m["name"], table


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string with ASCII escapes is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def problem_text_from_arguments(args: argparse.Namespace) -> str:
    """The problem file that the command-line arguments describe (TOML text).

    The arguments go through the same loader as a file, so a formula typed on
    the command line is read, checked and reported exactly like one in a file.
    """
    from symcalc.errors import InputError

    if not args.wrt:
        raise InputError(
            "name the variables to differentiate by: --wrt x y (or give a problem file)"
        )
    title = f"F = ({args.field})" if getattr(args, "field", None) else f"f = {args.expression}"
    lines = [f"title = {_toml_value(title)}"]
    if getattr(args, "matrix", False):
        lines.append('notation = "matrix"')
    key_suffix = "_latex" if getattr(args, "latex", False) else ""
    if getattr(args, "field", None):
        comps = [c.strip() for c in args.field.split(";") if c.strip()]
        if not comps:
            raise InputError('--field needs components separated by ";", e.g. --field "-y; x"')
        lines.append(f"field{key_suffix} = {_toml_value(comps)}")
    elif args.expression:
        lines.append(f"objective{key_suffix} = {_toml_value(args.expression)}")
    else:
        raise InputError('give a formula (or --field "F1; F2") and --wrt, or a problem file')
    analyses = getattr(args, "analyses", None)
    if analyses:
        lines.append(f"analyses = {_toml_value(analyses)}")
    lines.append("[variables]")
    for spec in args.wrt:
        name, table = parse_variable_spec(spec)
        lines.append(f"{name} = {_toml_value(table)}")
    consts = list(getattr(args, "const", None) or []) + list(getattr(args, "param", None) or [])
    if consts:
        lines.append("[constants]")
        for spec in consts:
            name, table = parse_variable_spec(spec, allow_value=True)
            for pos in getattr(args, "positive", None) or []:
                if pos == name:
                    table.setdefault("structure", []).append("positive")
            lines.append(f"{name} = {_toml_value(table)}")
    return "\n".join(lines) + "\n"


def is_problem_file(target: str | None) -> bool:
    """A first argument ending in .toml names a problem file; anything else is a formula
    (so a file that happens to be called "x" never shadows the formula x).

    >>> is_problem_file("examples/ridge.toml"), is_problem_file("x^2 + y")
    (True, False)
    """
    return bool(target) and target.strip().lower().endswith(".toml")


def load_target(args: argparse.Namespace):
    """A Problem from a problem file (the first argument ends in .toml) or from
    the formula and options on the command line."""
    from symcalc.errors import SymcalcError
    from symcalc.study.problem import load_problem

    target = args.expression
    if is_problem_file(target):
        return load_problem(Path(target))
    text = problem_text_from_arguments(args)
    try:
        problem = load_problem(text)
    except SymcalcError as err:
        raise type(err)(_command_line_words(str(err))) from None
    problem.source = "command line"
    return problem


def _command_line_words(message: str) -> str:
    """Error messages of the loader, said in terms of the command line."""
    message = message.replace("<text>: ", "")
    replacements = {
        "[objective]": "the formula",
        "[objective_latex]": "the formula",
        "[field]": "--field",
        "[field_latex]": "--field",
    }
    for old, new in replacements.items():
        message = message.replace(old, new)
    message = re.sub(
        r"\[field(?:_latex)?\[(\d+)\]\]", lambda m: f"--field component {int(m[1]) + 1}", message
    )
    message = re.sub(r"\[variables\.(\w+)[^\]]*\]", r"--wrt \1", message)
    message = re.sub(r"\[constants\.(\w+)[^\]]*\]", r"--const \1", message)
    return message


def run_problem(problem, term: Terminal, what: str):
    with term.progress(what) as update:
        return problem.run(progress=update)


# ---------------------------------------------------------------------------
# Rendering a Study: sections of (label, value) rows, as text, LaTeX or JSON
# ---------------------------------------------------------------------------

_RESULT_TITLES = {
    "gradient": "gradient",
    "hessian": "Hessian",
    "jacobian": "Jacobian",
    "divergence": "divergence",
    "curl": "curl",
    "potential": "potential",
    "score": "score",
}
_RESULT_LATEX = {
    "gradient": r"\nabla f",
    "hessian": r"\nabla^2 f",
    "jacobian": r"J_F",
    "divergence": r"\nabla\cdot F",
    "curl": r"\nabla\times F",
    "potential": r"\phi",
    "score": r"\nabla \log p",
}


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
        (_RESULT_TITLES.get(k, k), _math_text(v, pretty))
        for k, v in study.results.items()
        if v is not None
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
        lhs = _RESULT_LATEX.get(key, r"\mathrm{" + key + "}")
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


# ---------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------


def cmd_derive(args: argparse.Namespace, term: Terminal) -> int:
    problem = load_target(args)
    study = run_problem(problem, term, "deriving")
    ok = study.all_checks_passed
    if args.format == "json":
        term.out(json.dumps(study_json(study, steps=args.steps), indent=2))
    elif args.format == "latex":
        term.out(study_latex(study, steps=args.steps))
    else:
        failed = [c.name for c in study.checks if not c.passed] + [
            f.name for f in study.finite_differences if not f.passed
        ]
        summary = (
            "all checks passed" if ok else f"CHECK FAILED: {', '.join(failed) or 'an identity'}"
        )
        render_text(term, study_sections(study, pretty=term.rich, steps=args.steps), summary, ok)
    return EXIT_OK if ok else EXIT_FAILED


def cmd_verify(args: argparse.Namespace, term: Terminal) -> int:
    target = args.expression
    if is_problem_file(target):
        if args.claim:
            from symcalc.errors import InputError

            raise InputError(
                "--claim is for a formula on the command line; a problem file lists its "
                "hand derivations under [[claims]]"
            )
        return _verify_problem_file(args, term)
    return _verify_arguments(args, term)


def _verify_problem_file(args, term: Terminal) -> int:
    from symcalc.errors import InputError
    from symcalc.study.problem import load_problem

    problem = load_problem(Path(args.expression))
    if not problem.claims:
        raise InputError(
            f"{problem.source}: no hand derivations to verify; add [[claims]] tables "
            "(see docs/problem-files.md)"
        )
    study = run_problem(problem, term, "verifying")
    states = [c.holds for c in study.claims]
    if args.format == "json":
        data = study_json(study)
        term.out(json.dumps({"source": problem.source, "claims": data["claims"]}, indent=2))
    else:
        rows = next(
            (
                rows
                for head, rows in study_sections(study, pretty=term.rich)
                if head == "hand derivations"
            ),
            [],
        )
        n_ok = sum(s is True for s in states)
        summary = f"{n_ok} of {len(states)} hand derivations hold"
        render_text(
            term,
            [(problem.title, [("source", problem.source)]), ("hand derivations", rows)],
            summary,
            all(s is True for s in states),
        )
    if any(s is False for s in states):
        return EXIT_FAILED
    if any(s is None for s in states):
        return EXIT_BAD_INPUT
    return EXIT_OK


def to_declaration(spec: str) -> str:
    """A ``--wrt`` / ``--const`` item in the verifier's declaration syntax, which
    also allows symbolic sizes ("x[n]", "A[m,n]", "Sigma[n,n] spd").

    >>> to_declaration("A:2x3"), to_declaration("S:3x3:symmetric"), to_declaration("x[n]")
    ('A[2,3]', 'S[3,3] symmetric', 'x[n]')
    >>> to_declaration("Sigma:2x2:positive_definite")
    'Sigma[2,2] spd'
    """
    m = _SPEC.match(spec.strip())
    if not m or (not m["shape"] and not m["structure"]) or m["value"] is not None:
        return spec
    out = m["name"]
    if m["shape"]:
        out += "[" + m["shape"].replace("x", ",") + "]"
    if m["structure"]:
        words = {"positive_definite": "spd"}
        out += " " + " ".join(words.get(w, w) for w in m["structure"].split(",") if w)
    return out


def _verify_arguments(args, term: Terminal) -> int:
    from symcalc.errors import InputError
    from symcalc.verification.claims import verify_from_text

    if not args.claim:
        raise InputError('give the hand derivation to check with --claim "..." (or a problem file)')
    expression = args.field if args.field else args.expression
    if not expression:
        raise InputError('give the formula whose derivative is claimed (or --field "F1; F2")')
    kind = {"value": "equal"}.get(args.kind, args.kind) or (
        "jacobian" if args.field else "gradient"
    )
    if kind != "equal" and not args.wrt:
        raise InputError("name the variables with --wrt x y (vectors and matrices: w[n], A[m,n])")
    if args.field:
        comps = [c.strip() for c in args.field.split(";") if c.strip()]
        expression = "[" + ", ".join(comps) + "]"
    variables = [to_declaration(v) for v in (args.wrt or [])]
    declarations = [to_declaration(c) for c in (args.const or [])]
    assumptions = {name: "positive" for name in (args.positive or [])} or None
    with term.progress("verifying"):
        verdict = verify_from_text(
            expression,
            variables,
            args.claim,
            kind=kind,
            assumptions=assumptions,
            budget=args.time_budget,
            declarations=declarations,
        )
    return _print_verdict(verdict, args, term)


def _print_verdict(verdict, args, term: Terminal) -> int:
    holds = verdict.holds
    code = getattr(verdict, "exit_code", None)
    if code is None:
        code = EXIT_OK if holds is True else EXIT_FAILED if holds is False else EXIT_BAD_INPUT
    claim_value, truth_value = (
        getattr(verdict, "claim_value", None),
        getattr(verdict, "truth_value", None),
    )
    if args.format == "json":
        term.out(
            json.dumps(
                {
                    "holds": holds,
                    "method": getattr(verdict, "method", None),
                    "claim": args.claim,
                    "truth": _plain(getattr(verdict, "truth", None)),
                    "counterexample": _plain(verdict.counterexample),
                    "claim_value": _plain(claim_value),
                    "truth_value": _plain(truth_value),
                    "wrong_entries": list(getattr(verdict, "wrong_entries", []) or []),
                    "explanation": verdict.explanation,
                },
                indent=2,
            )
        )
        return code
    word = {True: "HOLDS", False: "FAILS", None: "UNDECIDED"}[holds]
    what = {"equal": "value"}.get(args.kind, args.kind) or (
        "jacobian" if args.field else "gradient"
    )
    rows = [("formula", args.field or args.expression or ""), ("claimed " + what, args.claim)]
    truth = getattr(verdict, "truth", None)
    if truth is not None:
        rows.append(("derived " + what, _math_text(truth, term.rich)))
    rows.append(("verdict", f"{word} ({getattr(verdict, 'method', '?')})"))
    cx = _counterexample_text(verdict.counterexample)
    if cx:
        rows.append(("counterexample", cx))
    if holds is False and claim_value is not None:
        rows.append(("claim there", _math_text(claim_value, False)))
        rows.append(("truth there", _math_text(truth_value, False)))
    wrong = getattr(verdict, "wrong_entries", None)
    if wrong:
        rows.append(("wrong entries", ", ".join(map(str, wrong))))
    if verdict.explanation:
        rows.append(("explanation", verdict.explanation))
    render_text(term, [("verify", rows)], f"the claim {word.lower()}", holds is True)
    return code


def kernel_target(problem) -> tuple[Any, list]:
    """The objective to compile and its parameters.

    Scalar constants with a value are substituted. In matrix notation, vector
    and matrix constants stay symbols and become parameters (the kernel takes
    the data as arrays, so the problem's sample values are not baked into the
    code); in component notation a matrix constant without a value contributes
    its entries as parameters, in row-major order.
    """
    import sympy as sp

    subs, params = {}, []
    for c in problem.constants:
        whole = problem.notation == "matrix" and len(c.shape) > 0
        if c.value is not None and not whole:
            for sym_, val in _entries_with_values(c):
                subs[sym_] = (
                    sp.nsimplify(val, rational=False) if isinstance(val, float) else sp.Integer(val)
                )
        elif isinstance(c.symbol, sp.MatrixBase):
            params.extend(c.symbol)  # row-major entries A_11, A_12, ...
        else:
            params.append(c.symbol)
    f = problem.objective.xreplace(subs) if subs else problem.objective
    return f, params


def _entries_with_values(c) -> list[tuple[Any, Any]]:
    import sympy as sp

    if isinstance(c.symbol, sp.MatrixBase):
        values = [v for row in c.value for v in row] if len(c.shape) == 2 else list(c.value)
        return list(zip(c.symbol, values))
    return [(c.symbol, c.value)]


def cmd_compile(args: argparse.Namespace, term: Terminal) -> int:
    from symcalc.codegen.kernels import compile as compile_kernel
    from symcalc.errors import InputError

    problem = load_target(args)
    if problem.objective is None:
        raise InputError(
            f"{problem.source}: compile needs an objective (a scalar function); "
            "this problem is a vector field (write its potential as the objective to compile it)"
        )
    f, params = kernel_target(problem)
    wrt = problem.wrt
    if problem.notation == "matrix" and len(wrt) == 1:
        wrt = wrt[0]
    with term.progress("compiling") as update:
        update("deriving and generating the kernel")
        kernel = compile_kernel(f, wrt, params=params, backend=args.backend)
    source = kernel.source
    if args.output in (None, "-"):
        term.out(source)
        return EXIT_OK
    out = Path(args.output)
    if out.suffix != ".py":
        raise InputError(f"{out}: the kernel module must be a .py file")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(source, encoding="utf-8")
    names = ", ".join(str(s) for s in (wrt if isinstance(wrt, (list, tuple)) else [wrt]))
    extra = f"; parameters {', '.join(map(str, params))}" if params else ""
    term.err(f"wrote {out}: value, gradient, hessian of {problem.title} in {names}{extra}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace, term: Terminal) -> int:
    from symcalc.reporting.build import report as build_report
    from symcalc.study.problem import load_problem

    source = Path(args.problem)
    problem = load_problem(source)
    suffix = ".tex" if args.tex else ".pdf"
    out = Path(args.output) if args.output else Path(source.stem + suffix)
    if args.tex and out.suffix == ".pdf":
        out = out.with_suffix(".tex")
    with term.progress("building the report") as update:
        study = problem.run(progress=update)
        update("writing LaTeX")
        rep = build_report(study, progress=update)
        if args.tex:
            rep.write_tex(out)
        elif out.suffix == ".html":  # the HTML page (symcalc.reporting.html)
            rep.to_html(out)
        else:
            update("running pdflatex")
            rep.to_pdf(out)
    term.err(f"wrote {out}")
    if args.strict and not study.ok:
        term.err("a check failed or a hand derivation is wrong (see the report)")
        return EXIT_FAILED
    return EXIT_OK


# ---------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line plus a hint (exit 2)."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"symcalc: error: {message}\n(see {self.prog} --help)\n")


def _budget_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--budget",
        type=float,
        metavar="SECONDS",
        help="stop (exit 2) when the whole command takes longer than this "
        "(default: the per-step budgets of docs/security.md)",
    )


def _formula_options(p: argparse.ArgumentParser, analyses: bool = True) -> None:
    p.add_argument(
        "--wrt",
        nargs="+",
        metavar="VAR",
        help="the variables: x, w:3 (vector), A:2x3 (matrix), S:3x3:symmetric",
    )
    p.add_argument(
        "--const", nargs="+", metavar="NAME", help="constants in the formula: a, a=2.5, b:3, A:4x3"
    )
    p.add_argument(
        "--field",
        metavar='"F1; F2"',
        help="a vector field, components separated by ';' (instead of a formula)",
    )
    p.add_argument("--latex", action="store_true", help="the formula is LaTeX")
    p.add_argument(
        "--matrix",
        action="store_true",
        help="matrix notation: vectors and matrices stay whole (closed-form results)",
    )
    if analyses:
        p.add_argument("--analyses", nargs="+", metavar="NAME", help="what to derive (see below)")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="symcalc",
        formatter_class=fmt,
        description="symcalc: exact gradients, Hessians and Jacobians - derived, "
        "checked, compiled and written up.",
        epilog=MAIN_EPILOG,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="rich colours and progress: auto (on a terminal), always, never",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "derive",
        formatter_class=fmt,
        epilog=DERIVE_EPILOG,
        help="derive gradients, Hessians, Jacobians, ...",
        description="Derive the results a problem file asks for, or the derivatives "
        "of a formula, and print them as text, LaTeX or JSON.",
    )
    p.add_argument(
        "expression",
        nargs="?",
        metavar="PROBLEM.toml | FORMULA",
        help="a problem file, or a formula with --wrt",
    )
    _formula_options(p)
    p.add_argument(
        "--format",
        choices=("text", "latex", "json"),
        default="text",
        help="output format (default: text)",
    )
    p.add_argument(
        "--steps", action="store_true", help="also show the derivation steps, each with its rule"
    )
    _budget_option(p)
    p.set_defaults(handler=cmd_derive)

    p = sub.add_parser(
        "verify",
        formatter_class=fmt,
        epilog=VERIFY_EPILOG,
        help="check a hand derivation",
        description="Check a hand derivation against the engine: it holds, or it fails "
        "and a counterexample is shown.",
    )
    p.add_argument(
        "expression",
        nargs="?",
        metavar="PROBLEM.toml | FORMULA",
        help="a problem file with [[claims]], or the formula that was differentiated",
    )
    p.add_argument("--claim", metavar="FORMULA", help="the hand derivation (math syntax or LaTeX)")
    p.add_argument(
        "--kind",
        choices=("gradient", "hessian", "jacobian", "value"),
        help="what the claim is (default: gradient; jacobian with --field)",
    )
    p.add_argument(
        "--wrt",
        nargs="+",
        metavar="VAR",
        help="the variables: x, w:3 (vector), A:2x3 (matrix), S:3x3:symmetric",
    )
    p.add_argument(
        "--const", nargs="+", metavar="NAME", help="constants: a, a=2.5, b:3, A:3x3:symmetric"
    )
    p.add_argument("--field", metavar='"F1; F2"', help="a vector field (the claim is its Jacobian)")
    p.add_argument("--positive", nargs="+", metavar="NAME", help="names known to be positive")
    p.add_argument(
        "--time-budget",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="give up (exit 2, undecided) after this long (default 5)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.set_defaults(handler=cmd_verify)

    p = sub.add_parser(
        "compile",
        formatter_class=fmt,
        epilog=COMPILE_EPILOG,
        help="write derivatives as a standalone NumPy module",
        description="Compile an objective and its gradient and Hessian into a "
        "standalone, batched NumPy module.",
    )
    p.add_argument(
        "expression",
        nargs="?",
        metavar="PROBLEM.toml | FORMULA",
        help="a problem file, or a formula with --wrt",
    )
    p.add_argument(
        "-o", "--output", metavar="KERNELS.py", help="where to write the module (default: stdout)"
    )
    p.add_argument("--wrt", nargs="+", metavar="VAR", help="the variables: x y, or w:3")
    p.add_argument(
        "--param",
        nargs="+",
        metavar="NAME",
        help="parameters: arguments of every kernel function after the points",
    )
    p.add_argument("--const", nargs="+", metavar="NAME", help="constants with values: a=2.5")
    p.add_argument("--latex", action="store_true", help="the formula is LaTeX")
    p.add_argument("--matrix", action="store_true", help="matrix notation (BLAS kernels)")
    p.add_argument(
        "--backend",
        choices=("numpy", "native"),
        default="numpy",
        help="numpy (default) or native (SymEngine LLVM; the written source is NumPy)",
    )
    _budget_option(p)
    p.set_defaults(handler=cmd_compile, field=None, analyses=None)

    p = sub.add_parser(
        "report",
        formatter_class=fmt,
        epilog=REPORT_EPILOG,
        help="build the derivation report (PDF or LaTeX)",
        description="Run a problem file and write its derivation report: a PDF, "
        "or the LaTeX source with --tex.",
    )
    p.add_argument("problem", metavar="PROBLEM.toml", help="the problem file")
    p.add_argument(
        "-o",
        "--output",
        metavar="REPORT.pdf",
        help="where to write (default: the problem's name with .pdf, or .tex with --tex)",
    )
    p.add_argument("--tex", action="store_true", help="write the LaTeX source only (no TeX needed)")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when a check failed or a hand derivation is wrong",
    )
    _budget_option(p)
    p.set_defaults(handler=cmd_report)
    return parser


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, stdout=None, stderr=None) -> int:
    """Run the command line; return the exit code (0 ok, 1 check failed, 2 bad input)."""
    import contextlib

    parser = build_parser()
    try:
        with (
            contextlib.redirect_stdout(stdout or sys.stdout),
            contextlib.redirect_stderr(stderr or sys.stderr),
        ):
            args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exit_:  # --help (0) or a usage error (2)
        return int(exit_.code or 0)
    term = Terminal(stdout, stderr, color=args.color)
    if args.version:
        from symcalc import __version__

        term.out(f"symcalc {__version__}")
        return EXIT_OK
    if args.command is None:
        parser.print_help(term.stderr)
        return EXIT_BAD_INPUT
    from symcalc.budget import within

    try:
        with within(getattr(args, "budget", None), f"symcalc {args.command}"):
            return args.handler(args, term)
    except KeyboardInterrupt:
        term.err("symcalc: interrupted")
        return 130
    except Exception as err:  # noqa: BLE001 - one clear line for the user's mistakes
        return _report_error(err, args.command, term)


def _report_error(err: Exception, command: str, term: Terminal) -> int:
    """One error message for the user (never a traceback); the exit code.

    SymcalcErrors are the user's mistakes (or a limit / budget); anything else is a
    bug of symcalc, said so in one line (SYMCALC_TRACEBACK=1 shows the traceback).
    """
    from symcalc.errors import BudgetExceededError, SymcalcError

    if isinstance(err, SymcalcError):
        message = str(err)
        if isinstance(err, BudgetExceededError):
            message = message.replace("pass budget=...", "pass --budget SECONDS")
        term.err(f"symcalc: error: {printable(message)}")
        return EXIT_BAD_INPUT
    if isinstance(err, BrokenPipeError):  # e.g. piped into head
        return EXIT_OK
    if isinstance(err, OSError):
        term.err(
            printable(f"symcalc: error: {err.strerror or err}: {err.filename or ''}".rstrip(": "))
        )
        return EXIT_BAD_INPUT
    if os.environ.get("SYMCALC_TRACEBACK"):
        raise err
    what = {
        RecursionError: "the input is nested too deeply",
        MemoryError: "the input needs more memory than there is",
    }.get(type(err))
    if what is None:
        what = (
            f"internal error ({type(err).__name__}) in symcalc {command}; please report it "
            "with the input (SYMCALC_TRACEBACK=1 shows where)"
        )
    term.err(f"symcalc: error: {what}")
    return EXIT_BAD_INPUT


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(message: str) -> str:
    """A message with the control characters of user text shown escaped, not sent to the terminal.

    (A formula or a problem file may hold terminal escape sequences or bidirectional
    overrides; in an error message they are shown, never obeyed.)

    >>> print(printable("unknown name 'a\\x1b[2J'"))
    unknown name 'a\\x1b[2J'
    """
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), message)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
