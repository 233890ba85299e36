r"""Derivation reports: LaTeX from Jinja templates, compiled to PDF with latexmk.

``report(x)`` accepts a problem file path, a :class:`~symcalc.study.schema.Problem`,
a :class:`~symcalc.study.results.Study` or a bare :class:`~symcalc.records.Derivation`
and returns a :class:`Report`: ``.tex`` is the document, ``.write_tex(path)``
writes it (and its figures), ``.to_pdf(path)`` builds the PDF.

Templates hold structure only; every formula arrives as finished LaTeX from
:mod:`symcalc.printing.latex`; user text is escaped by the environment itself (anything
that is not marked :class:`TeX` is escaped on output, with
:func:`symcalc.printing.texsafe.escape_text`). A string is marked :class:`TeX` only when
symcalc built it: formulas from the LaTeX printer (which sets unsafe names as
text), symcalc's own words, and user text that went through ``escape_text``.
The generated kernel is shown from a separate file (``\lstinputlisting``), so
no text in it can end the listing; pdflatex runs without shell escape and may
read and write only files in its build directory (``openin_any=p``,
``openout_any=p``).

>>> import sympy as sp, symcalc as sc
>>> x, y = sp.symbols("x y")
>>> r = sc.report(sc.load_problem('objective = "x^2 - y^2"\nvariables = {x = "scalar", y = "scalar"}'))
>>> r"\begin{document}" in r.tex and "saddle" not in r.tex
True
"""

from __future__ import annotations

import importlib.resources
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sympy as sp

from symcalc.budget import budgeted
from symcalc.errors import InputError, InputTypeError, LaTeXBuildError, TeXNotFoundError
from symcalc.printing.latex import DEFAULT_WIDTH, _Names, _sum_lines, equation, latex, visible_width
from symcalc.printing.texsafe import escape_text, listing_text
from symcalc.records import Derivation

__all__ = ["report", "Report", "TeX", "template_env", "INSTALL_HINT"]

INSTALL_HINT = (
    "install TeX Live, e.g. on Debian/Ubuntu: sudo apt-get install --no-install-recommends "
    "texlive-latex-recommended texlive-fonts-recommended latexmk lmodern"
)


class TeX(str):
    """A string that is already LaTeX: the template environment prints it as is.

    Only symcalc's own LaTeX is marked TeX; user text inside it must have gone
    through :func:`~symcalc.printing.texsafe.escape_text` (or the LaTeX printer).
    """


def _finalize(value: Any) -> Any:
    if isinstance(value, TeX):
        return value
    if isinstance(value, (bool, int, float)) or value is None:
        return escape_text(value)
    if isinstance(value, str):
        return escape_text(value)
    if isinstance(value, sp.Basic):
        return latex(value)
    return escape_text(value)


def _templates_dir():
    """Installed: the package symcalc.templates; source checkout: <repo>/templates."""
    try:
        root = importlib.resources.files("symcalc.templates")
        if root.joinpath("report.tex.j2").is_file():
            return root
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[2] / "templates"


def template_env():
    """The Jinja environment: \\VAR{...}, \\BLOCK{...}, \\#{...}; StrictUndefined."""
    import jinja2

    root = _templates_dir()

    def load(name: str):
        path = root.joinpath(name)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        line_statement_prefix="%%",
        line_comment_prefix="%#",
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
    )


# ---------------------------------------------------------------------------
# The Report
# ---------------------------------------------------------------------------


@dataclass
class Report:
    """A rendered report: ``tex``, the figure files it includes and the listings it inputs.

    ``listings`` maps a file name to source code the ``.tex`` shows with
    ``\\lstinputlisting`` (written next to it, as printable ASCII).
    """

    tex: str
    figures: dict[str, bytes] = field(default_factory=dict)
    log: str = ""  # the pdflatex log of the last to_pdf
    listings: dict[str, str] = field(default_factory=dict)

    def write_tex(self, path: str | os.PathLike) -> Path:
        """Write the .tex (and its figure PDFs and listings next to it); returns the path."""
        path = Path(path)
        files = {name: data for name, data in self.figures.items()}
        files.update(
            {name: listing_text(text).encode("ascii") for name, text in self.listings.items()}
        )
        for name in files:
            _check_file_name(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.tex, encoding="utf-8")
        for name, data in files.items():
            (path.parent / name).write_bytes(data)
        return path

    def to_pdf(self, path: str | os.PathLike, *, keep_log: bool = True) -> Path:
        """Build the PDF with latexmk + pdflatex in a temporary directory.

        No TeX: TeXNotFoundError (the .tex is written next to ``path``).
        A LaTeX error: LaTeXBuildError with the ``file:line:`` messages.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        latexmk, pdflatex = shutil.which("latexmk"), shutil.which("pdflatex")
        if not latexmk or not pdflatex:
            tex_path = self.write_tex(path.with_suffix(".tex"))
            missing = "latexmk" if not latexmk else "pdflatex"
            raise TeXNotFoundError(
                f"{missing} not found on PATH, so no PDF was built; the LaTeX "
                f"was written to {tex_path}. To build PDFs, {INSTALL_HINT}"
            )
        with tempfile.TemporaryDirectory(prefix="symcalc-report-") as tmp:
            src = self.write_tex(Path(tmp) / "report.tex")
            try:
                proc = subprocess.run(
                    _latexmk_command(latexmk, src.name),
                    cwd=tmp,
                    capture_output=True,
                    text=True,
                    errors="replace",
                    timeout=300,
                    env=_tex_environment(),
                )
            except subprocess.TimeoutExpired:
                raise LaTeXBuildError(
                    f"LaTeX did not finish building {path.name} within 300 s"
                ) from None
            log_path = Path(tmp) / "report.log"
            self.log = (
                log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
            )
            pdf = Path(tmp) / "report.pdf"
            if proc.returncode != 0 or not pdf.exists():
                raise LaTeXBuildError(
                    _build_error_message(self.log, proc.stdout + proc.stderr, path)
                )
            shutil.copyfile(pdf, path)
        if keep_log:
            path.with_suffix(".log").write_text(self.log, encoding="utf-8")
        return path


def _latexmk_command(latexmk: str, name: str) -> list[str]:
    """latexmk with pdflatex, no shell escape, stopping at the first error."""
    return [
        latexmk,
        "-pdf",
        "-interaction=nonstopmode",
        "-halt-on-error",
        "-file-line-error",
        "-pdflatex=pdflatex -no-shell-escape %O %S",
        name,
    ]


def _tex_environment() -> dict[str, str]:
    """The environment of the TeX run: paranoid file access (the build directory only, no dot files).

    >>> env = _tex_environment()
    >>> env["openin_any"], env["openout_any"], env["shell_escape"]
    ('p', 'p', 'f')
    """
    return dict(
        os.environ, max_print_line="10000", openin_any="p", openout_any="p", shell_escape="f"
    )


_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*")


def _check_file_name(name: str) -> None:
    """A file written next to the .tex must be a plain name in that directory (what openin_any=p allows)."""
    if not isinstance(name, str) or not _FILE_NAME.fullmatch(name):
        raise InputError(
            f"a report file must be a plain file name in the report's directory "
            f"(letters, digits, '-', '_', '.'), not {name!r}"
        )


_FILE_LINE = re.compile(r"^(?:\./)?[^\s:]+\.(?:tex|sty|cls):\d+: .*$", re.M)


def _build_error_message(log: str, output: str, path: Path) -> str:
    """The file:line: errors of the log (with the line of context TeX prints after)."""
    lines = log.splitlines()
    found = []
    for i, line in enumerate(lines):
        if _FILE_LINE.match(line):
            context = [l for l in lines[i + 1 : i + 3] if l.strip().startswith("l.")]
            found.append(line + ("\n    " + context[0].strip() if context else ""))
    if not found:
        found = [l for l in (log or output).splitlines() if l.startswith("!")][:5] or [
            "(no file:line: message; see the log)"
        ]
    return f"LaTeX failed building {path.name}:\n" + "\n".join(found[:10])


# ---------------------------------------------------------------------------
# report(...)
# ---------------------------------------------------------------------------


@budgeted("report")
def report(
    source: Any,
    *,
    title: str | None = None,
    figures: bool = True,
    kernel: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """A :class:`Report` of a problem file, Problem, Study or Derivation.

    >>> import sympy as sp, symcalc as sc
    >>> x = sp.Symbol("x")
    >>> d = sc.Derivation(expr=x**3, wrt=(x,), results={"gradient": sp.Matrix([3*x**2])})
    >>> "3 x^{2}" in sc.report(d).tex
    True
    """
    from symcalc.study.load import load_problem
    from symcalc.study.results import Study
    from symcalc.study.schema import Problem

    progress = progress or (lambda msg: None)
    if isinstance(source, (str, os.PathLike)):
        source = load_problem(source)
    if isinstance(source, Problem):
        source = source.run(progress=progress)
    if isinstance(source, Study):
        from symcalc.printing.latex import options

        with options(bold_vectors=source.problem.report.bold_vectors):
            ctx, figs, listings = _study_context(source, figures, kernel, progress)
    elif isinstance(source, Derivation):
        ctx, figs, listings = _derivation_context(source), {}, {}
    else:
        raise InputTypeError(
            "report() takes a problem file path, a Problem, a Study or a Derivation, "
            f"not {type(source).__name__}"
        )
    if title is not None:
        ctx["title"] = title
    progress("rendering LaTeX")
    tex = template_env().get_template("report.tex.j2").render(**ctx)
    return Report(tex=tex, figures=figs, listings=listings)


# ---------------------------------------------------------------------------
# Context: everything the templates show, as finished LaTeX or plain text
# ---------------------------------------------------------------------------

_WIDTH = DEFAULT_WIDTH


def display(body: str, lines_fit: bool | None = None) -> TeX:
    r"""A display of an aligned body: align* when every line fits, else scaled to fit."""
    rows = [r for r in body.split("\\\\\n")]
    fits = all(visible_width(r) <= _WIDTH + 6 for r in rows) if lines_fit is None else lines_fit
    if fits:
        return TeX("\\begin{align*}\n" + body + "\n\\end{align*}")
    return TeX("\\fitmath{\\begin{aligned}\n" + body + "\n\\end{aligned}}")


def eq(lhs: str, expr: Any) -> TeX:
    return display(equation(lhs, expr, width=_WIDTH))


def inline(expr: Any) -> TeX:
    return TeX("$" + latex(expr) + "$")


def code_text(text: str) -> TeX:
    r"""User text in typewriter, escaped, breakable after operators (never overfull).

    >>> code_text("a*b+c_1")
    '{\\ttfamily a*\\allowbreak{}b+\\allowbreak{}c\\_1}'
    """
    out = []
    for ch in str(text):
        out.append(escape_text(ch))
        if ch in "*+-/,)=":
            out.append(r"\allowbreak{}")
    return TeX(r"{\ttfamily " + "".join(out) + "}")


def _empty_context() -> dict:
    return dict(
        title="Derivation report",
        source="",
        description="",
        variables=[],
        constants=[],
        assumptions=[],
        objective=None,
        field=None,
        steps=[],
        steps_total=0,
        rules=[],
        results=[],
        field_analysis=None,
        gaussian=None,
        landscape=None,
        self_checks=[],
        finite_differences=[],
        claims=[],
        figures=[],
        kernel=None,
        vectorization=None,
        notes=[],
        summary=[],
    )


def _derivation_context(d: Derivation) -> dict:
    ctx = _empty_context()
    wrt = list(d.wrt) if isinstance(d.wrt, (list, tuple)) else [d.wrt]
    ctx["variables"] = [dict(name=inline(w), shape=_shape_words(w), description="") for w in wrt]
    ctx["objective"] = dict(words="The expression differentiated.", display=eq("f", d.expr))
    ctx["steps"], ctx["steps_total"] = _steps(d, 40)
    ctx["rules"] = _rules(d)
    ctx["results"] = _results(d.results, wrt)
    ctx["self_checks"] = _self_checks(d.checks)
    return ctx


def _study_context(
    study, want_figures: bool, kernel: bool | None, progress
) -> tuple[dict, dict, dict]:
    p = study.problem
    ctx = _empty_context()
    ctx["title"] = p.report.title or p.title
    ctx["source"] = Path(p.source).name if p.source != "<text>" else ""
    ctx["description"] = p.description
    ctx["variables"] = [
        dict(name=TeX(_var_name(v)), shape=_shape_words(v), description=v.description)
        for v in p.variables
    ]
    ctx["constants"] = [
        dict(
            name=TeX(_var_name(v)),
            shape=_shape_words(v),
            description=v.description,
            value=_value_tex(v),
        )
        for v in p.constants
    ]
    ctx["assumptions"] = [
        TeX(_assumption_tex(v, s)) for v in p.variables + p.constants for s in v.structure
    ]
    if p.objective is not None:
        ctx["objective"] = dict(
            words=_objective_words(p), display=eq(_objective_lhs(p), p.objective)
        )
    else:
        comps = sp.Matrix(p.field)
        ctx["field"] = dict(
            words=TeX(
                rf"A vector field on $\mathbb{{R}}^{{{len(p.wrt)}}}$, with components "
                "written in the file as: " + "; ".join(code_text(t) for t in p.field_text or [])
            ),
            display=display(_vector_field_body(comps, p.wrt)),
        )
    progress("typesetting the derivation steps")
    steps, total = [], 0
    rules = []
    for d in study.derivations.values():
        s, t = _steps(d, p.report.steps, start=len(steps) + 1)
        steps += s
        total += t
        rules += [r for r in _rules(d) if r["name"] not in {x["name"] for x in rules}]
    ctx["steps"], ctx["steps_total"], ctx["rules"] = steps, total, rules
    progress("typesetting the results")
    ctx["results"] = _results(
        {k: v for k, v in study.results.items() if k in ("gradient", "hessian", "jacobian")},
        p.wrt,
        p,
    )
    if study.field is not None:
        ctx["field_analysis"] = _field_context(study.field, p)
    if study.gaussian is not None:
        ctx["gaussian"] = _gaussian_context(study.gaussian, p)
    if study.landscape is not None:
        ctx["landscape"] = _landscape_context(study.landscape, p)
    ctx["self_checks"] = _self_checks(study.checks)
    ctx["finite_differences"] = [
        dict(
            name=fd.name,
            step=TeX(_sci(fd.step)),
            error=TeX(_sci(fd.max_abs_error)),
            scale=TeX(_sci(fd.max_abs_value)),
            passed=fd.passed,
            point=TeX(_point_tex(fd.point)),
        )
        for fd in study.finite_differences
    ]
    ctx["claims"] = [_claim_context(c, p) for c in study.claims]
    if study.vectorization is not None:
        ctx["vectorization"] = _vectorization_context(study.vectorization, p)
    figs: dict[str, bytes] = {}
    figure_notes: list[str] = []
    # file names unique per report: several .tex files may share a directory
    prefix = _slug(Path(p.source).stem) if p.source not in ("<text>", "command line") else "report"
    if want_figures and p.report.figure:
        progress("drawing figures")
        from symcalc.reporting import figures as F

        try:
            drawn = F.figures_for(study)
        except Exception as exc:  # noqa: BLE001 - a figure is optional: say why it is missing
            drawn = []
            figure_notes.append(f"the figure could not be drawn: {type(exc).__name__}: {exc}")
        for name, caption, data in drawn:
            name = f"{prefix}-{name}"
            figs[name] = data
            ctx["figures"].append(dict(file=name, caption=caption))
    listings: dict[str, str] = {}
    show_kernel = p.report.kernel if kernel is None else kernel
    if show_kernel and study.kernel_source:
        # a file of its own: nothing in the source (comments, strings) can end the listing
        listings[f"{prefix}-kernel.py"] = study.kernel_source
        ctx["kernel"] = TeX(f"{prefix}-kernel.py")
    ctx["notes"] = list(study.notes) + figure_notes
    ctx["summary"] = _summary(study)
    return ctx, figs, listings


# --- pieces -------------------------------------------------------------------


def _slug(text: str) -> str:
    """A file-name part safe in \\includegraphics: letters, digits and '-'."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "report"


def _var_name(v) -> str:
    sym = v.symbol
    if isinstance(sym, sp.MatrixBase):
        name = v.name
        return "$" + latex(sp.Symbol(name)) + "$"
    return "$" + latex(sym if not isinstance(sym, sp.MatrixSymbol) else sp.Symbol(v.name)) + "$"


def _shape_words(v) -> TeX:
    shape = getattr(v, "shape", ())
    if isinstance(v, sp.Symbol) or shape == ():
        return TeX(r"scalar, $\in \mathbb{R}$")
    if hasattr(v, "kind") and isinstance(v.kind, str) and len(shape) == 1:
        return TeX(rf"vector, $\in \mathbb{{R}}^{{{shape[0]}}}$")
    if len(shape) == 2 and shape[1] == 1 and not hasattr(v, "structure"):
        return TeX(rf"vector, $\in \mathbb{{R}}^{{{shape[0]}}}$")
    return TeX(rf"matrix, $\in \mathbb{{R}}^{{{shape[0]} \times {shape[1]}}}$")


def _value_tex(v) -> TeX:
    if v.value is None:
        return TeX("symbolic")
    if isinstance(v.value, list):

        def num(x):
            return sp.Integer(int(x)) if float(x).is_integer() else sp.Float(x, 4)

        if not isinstance(v.value[0], list):  # a vector: a transposed row, compact in a table
            row = sp.Matrix([[num(x) for x in v.value]])
            return TeX("$" + latex(row) + r"^\top$")
        M = sp.Matrix([[num(x) for x in r] for r in v.value])
        if visible_width(latex(M)) > 40 or M.rows > 6:
            return TeX(f"given ({M.rows} x {M.cols} numbers)".replace(" x ", r" $\times$ "))
        return TeX("$" + latex(M) + "$")
    return TeX("$" + latex(sp.nsimplify(v.value)) + "$")


def _assumption_tex(v, s: str) -> str:
    words = {
        "symmetric": r"is symmetric: $%s = %s^\top$",
        "positive_definite": r"is positive definite: $%s \succ 0$",
        "positive": r"is positive: $%s > 0$",
        "diagonal": r"is diagonal",
    }
    name = latex(sp.Symbol(v.name))
    w = words[s]
    return (
        "$"
        + name
        + "$ "
        + (w % ((name, name) if w.count("%s") == 2 else (name,)) if "%s" in w else w)
    )


def _objective_lhs(p) -> str:
    args = ", ".join(latex(sp.Symbol(v.name)) for v in p.variables)
    return rf"L\left({args}\right)"


def _objective_words(p) -> str:
    names = ", ".join(v.name for v in p.variables)
    if not p.objective_text:
        return f"The objective, a scalar function of {names}."
    return TeX(
        escape_text(f"The objective, a scalar function of {names}, written in the file as: ")
        + code_text(p.objective_text)
    )


def _vector_field_body(F: sp.Matrix, wrt: list) -> str:
    names = _Names()
    lines = []
    for i, comp in enumerate(F):
        lines.append(equation(rf"F_{{{i + 1}}}", comp, width=_WIDTH, names=names, where=False))
    from symcalc.printing.latex import _where_lines

    return "\\\\\n".join(lines + _where_lines(names, _WIDTH))


def _steps(d: Derivation, limit: int, start: int = 1) -> tuple[list[dict], int]:
    from symcalc.printing.latex import options

    out = []
    wrt = d.wrt if isinstance(d.wrt, (list, tuple)) else [d.wrt]
    differentials = {"d" + getattr(w, "name", str(w)) for w in wrt}
    with options(differentials=differentials, long_columns_as_rows=4, show_scalar_trace=True):
        for k, step in enumerate(d.steps[:limit]):
            rule = step.rule
            short = (
                bool(rule.latex)
                and visible_width(rule.latex) <= 40
                and not re.search(r"\\(frac|sum|prod|begin|int)", rule.latex)
            )
            out.append(
                dict(
                    n=start + k,
                    title=rule.title or rule.name,
                    name=rule.name,
                    ref=rule.ref,
                    note=step.note,
                    inline_statement=TeX("$" + rule.latex + "$") if short else None,
                    statement=_fit_tex(rule.latex) if rule.latex and not short else None,
                    transition=display(_transition_body(step.before, step.after)),
                )
            )
    return out, len(d.steps)


def _fit_tex(tex: str) -> TeX:
    """An opaque LaTeX string (a rule statement): displayed, scaled down only if too wide."""
    if visible_width(tex) <= _WIDTH:
        return TeX("\\[\n" + tex + "\n\\]")
    return TeX("\\fitmath{" + tex + "}")


def _is_math(x: Any) -> bool:
    return isinstance(x, (sp.Basic, sp.MatrixBase))


def _transition_body(before: Any, after: Any) -> str:
    """before ==> after on one line when it fits, else over two (or more) lines."""
    from symcalc.printing.latex import _where_lines

    names = _Names("v")
    b_tex = latex(before) if _is_math(before) else rf"\text{{{escape_text(before)}}}"
    a_tex = latex(after) if _is_math(after) else rf"\text{{{escape_text(after)}}}"
    arrow = r"\;\Longrightarrow\;"
    if visible_width(b_tex) + visible_width(a_tex) + 4 <= _WIDTH:
        return rf"& {b_tex} {arrow} {a_tex}"
    b = _sum_lines(before, _WIDTH - 6, names) if isinstance(before, sp.Basic) else [b_tex]
    a = _sum_lines(after, _WIDTH - 6, names) if isinstance(after, sp.Basic) else [a_tex]
    lines = [rf"& {b[0]}"] + [rf"& \quad {x}" for x in b[1:]]
    lines += [rf"{arrow} & {a[0]}"] + [rf"& \quad {x}" for x in a[1:]]
    return "\\\\\n".join(lines + _where_lines(names, _WIDTH))


def _rules(d: Derivation) -> list[dict]:
    return [
        dict(
            name=r.name,
            title=r.title or r.name,
            ref=r.ref,
            kind=r.kind,
            statement=_fit_tex(r.latex) if r.latex else None,
        )
        for r in d.rules_used()
    ]


_RESULT_TITLES = {
    "gradient": ("Gradient", r"\nabla L"),
    "hessian": ("Hessian", r"\nabla^2 L"),
    "jacobian": ("Jacobian", r"J_F"),
    "divergence": ("Divergence", r"\nabla\cdot F"),
}


def _results(results: dict, wrt: list, problem=None) -> list[dict]:
    out = []
    for key, value in results.items():
        if value is None:
            continue
        title, lhs = _RESULT_TITLES.get(key, (key.capitalize(), key))
        words = _result_words(key, wrt, problem)
        out.append(dict(title=title, words=words, display=eq(lhs, value)))
    return out


def _result_words(key: str, wrt: list, problem) -> TeX:
    if problem is not None and problem.notation == "matrix":
        names = ", ".join("$" + latex(w) + "$" for w in wrt)
        matrices = [w for w in wrt if getattr(w, "shape", (1, 1))[1] != 1]
        hessian = (
            "The Hessian, in closed form, with respect to vec of the matrix variable "
            r"(its columns stacked): $\mathrm{d}\operatorname{vec}\nabla L = \nabla^2 L\,"
            r"\mathrm{d}\operatorname{vec} " + latex(matrices[0]) + "$, in Kronecker form."
            if matrices
            else "The Hessian, in closed form: a square matrix with the size of the variable."
        )
        return TeX(
            {
                "gradient": f"The gradient has the shape of {names}, in closed form.",
                "hessian": hessian,
            }.get(key, "")
        )
    unknowns = ", ".join(latex(w) for w in wrt)
    where = (
        f"${unknowns}$"
        if len(wrt) <= 8
        else f"the {len(wrt)} unknowns (in the order of the first column)"
    )
    return TeX(
        {
            "gradient": f"Partial derivatives with respect to {where}, as a column.",
            "hessian": r"Second partial derivatives: entry $(i, j)$ is $\partial^2 L / \partial x_i \partial x_j$.",
            "jacobian": r"Entry $(i, j)$ is $\partial F_i / \partial x_j$.",
            "divergence": "The trace of the Jacobian.",
        }.get(key, "")
    )


def _field_context(fa, p) -> dict:
    curl = fa.curl
    curl_display = None
    if curl is not None:
        C = sp.Matrix(curl)
        if C.shape == (2, 2):
            curl_display = eq(r"\partial_1 F_2 - \partial_2 F_1", sp.simplify(C[0, 1]))
        else:
            curl_display = eq(r"\nabla \times F", C.applyfunc(sp.simplify))
    pot = None
    if fa.potential is not None:
        pot = dict(
            display=eq(r"\varphi", fa.potential),
            energy=eq(r"V = -\varphi", sp.simplify(-fa.potential)),
        )
    loop = None
    if fa.loop_work is not None:
        lw = fa.loop_work
        cx, cy = lw["center"]
        loop = dict(
            text=TeX(
                rf"$\oint_C F\cdot\mathrm{{d}}r = {_num_tex(lw['work'])}$ around the circle $C$ "
                rf"of radius ${lw['radius']:.3g}$ centred at $({cx:.3g}, {cy:.3g})$"
            ),
            zero=abs(lw["work"]) < 1e-9,
        )
    return dict(
        curl=curl_display,
        conservative=fa.conservative,
        potential=pot,
        loop=loop,
        divergence=eq(r"\nabla\cdot F", fa.divergence) if fa.divergence is not None else None,
    )


def _gaussian_context(g, p) -> dict:
    return dict(
        score=eq(r"\nabla_x \log p(x)", g.score),
        hessian=eq(r"-\Sigma^{-1}", g.minus_inverse_covariance),
        hessian_holds=g.hessian_holds,
        score_holds=g.score_holds,
    )


def _landscape_context(L, p) -> dict:
    points = []
    for k, pt in enumerate(L.points):
        ev = [sp.nsimplify(e) if getattr(e, "is_Float", False) else e for e in pt.eigenvalues]
        points.append(
            dict(
                n=k + 1,
                point=TeX(_point_tex(pt.point)),
                kind=pt.kind,
                eigenvalues=TeX("$" + ",\\ ".join(_short_number(e) for e in ev) + "$"),
                hessian=eq(rf"\nabla^2 L(p_{{{k + 1}}})", sp.Matrix(pt.hessian))
                if pt.hessian is not None
                else None,
            )
        )
    descent = None
    if L.descent is not None:
        proof = []
        for k, step in enumerate(L.descent.steps):
            rule = step.rule
            proof.append(
                dict(
                    n=k + 1,
                    title=rule.title or rule.name,
                    note=step.note,
                    statement=_fit_tex(rule.latex) if rule.latex else None,
                )
            )
        descent = dict(
            holds=L.descent.holds,
            proof=proof,
            display=eq(r"\frac{\mathrm{d}L}{\mathrm{d}t}", L.descent.rate),
        )
    return dict(points=points, complete=L.complete, note=L.note, descent=descent)


def _short_number(e: Any) -> str:
    """Rationals exactly; other numbers to 4 significant digits (\approx)."""
    e = sp.sympify(e, strict=True)  # numbers from the engine; never text
    if e.is_number and not e.is_Rational:
        value = complex(sp.N(e))
        if abs(value.imag) < 1e-12:
            return rf"\approx {value.real:.4g}"
    return latex(e)


def _point_tex(point: dict) -> str:
    items = []
    for k, v in point.items():
        key = latex(
            k if isinstance(k, sp.Basic) else sp.Symbol(str(k))
        )  # the printer escapes unsafe names
        val = v if isinstance(v, sp.Basic) else sp.sympify(v, strict=True)
        if isinstance(v, float):
            val_tex = f"{v:.3g}"
        else:
            val_tex = _short_number(val) if not isinstance(val, sp.MatrixBase) else latex(val)
        items.append(f"{key} = {val_tex}")
    return "$" + r",\ ".join(items) + "$"


def _num_tex(x: float) -> str:
    """A float for prose: 4 significant digits, 0 for |x| < 1e-12."""
    return "0" if abs(x) < 1e-12 else f"{x:.4g}"


def _sci(x: float) -> str:
    if x == 0:
        return "$0$"
    mant, exp = f"{x:.2e}".split("e")
    return rf"${mant} \times 10^{{{int(exp)}}}$"


def _self_checks(checks) -> list[dict]:
    out = []
    for c in checks:
        numbers = ", ".join(f"{k} = {_fmt_number(v)}" for k, v in c.numbers.items())
        out.append(dict(name=c.name, passed=c.passed, detail=c.detail, numbers=numbers))
    return out


def _fmt_number(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _claim_context(c, p) -> dict:
    claim = c.claim
    what = {
        "gradient": r"\nabla L",
        "hessian": r"\nabla^2 L",
        "jacobian": "J_F",
        "potential": r"\varphi",
    }[claim.of]
    expr = claim.expr
    if isinstance(expr, sp.MatrixBase) and expr.shape[0] == 1 and claim.of == "gradient":
        expr = expr.T
    ce = None
    if c.counterexample is not None:
        ce = _counterexample_context(c.counterexample)
    explanation = c.explanation[:1].upper() + c.explanation[1:]
    return dict(
        of=claim.of,
        text=claim.text,
        holds=c.holds,
        undecided=c.holds is None,
        written=code_text(claim.source),
        written_kind="LaTeX" if claim.is_latex else "text",
        method=c.method,
        explanation=explanation,
        claimed=eq(what + r"\overset{?}{=}\ " if False else what, expr),
        counterexample=ce,
        source=claim.source,
    )


def _counterexample_context(ce: dict) -> dict:
    point = ce.get("point", {})
    rows = []
    for key in ("claimed", "derived", "wrong entries"):
        if key in ce:
            val = ce[key]
            if key == "wrong entries":
                rows.append(dict(label=key, value=", ".join(str(v) for v in val)))
            else:
                rows.append(
                    dict(
                        label={"claimed": "the claim gives", "derived": "the true value is"}[key],
                        value=TeX("$" + _value_latex(val) + "$"),
                    )
                )
    pt = (
        TeX(_point_tex(point))
        if isinstance(point, dict) and point
        else TeX("$" + _value_latex(point) + "$")
    )
    return dict(point=pt, rows=rows)


def _value_latex(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        v = sp.Matrix(v)
    if isinstance(v, str):  # text is shown, never evaluated
        return r"\text{" + escape_text(v) + "}"
    try:
        v = sp.sympify(v, strict=True)
    except (sp.SympifyError, TypeError):
        return r"\text{" + escape_text(v) + "}"
    if isinstance(v, sp.MatrixBase):
        return latex(
            v.applyfunc(lambda e: sp.Float(e, 6) if e.is_number and not e.is_Integer else e)
        )
    if v.is_number and not v.is_Integer:
        return latex(sp.Float(v, 6))
    return latex(v)


def _vectorization_context(t, p) -> dict:
    A = t.matrix
    name = latex(sp.Symbol(p.vectorization.name))
    m, n = A.shape
    S = t.symmetric
    s_name = name if S is A or S == A else rf"{name}{name}^\top"
    out = dict(
        matrix=eq(name, A),
        vec=display(rf"\operatorname{{vec}}({name}) &= {latex(sp.Matrix(t.vec).T)}^\top"),
        vec_row=display(
            rf"\operatorname{{vec}}_{{\text{{row}}}}({name}) &= {latex(sp.Matrix(t.vec_row).T)}^\top"
        ),
        commutation=eq(rf"K_{{{m}{n}}}", sp.Matrix(t.commutation)),
        identity=TeX(
            rf"$K_{{{m}{n}}} \operatorname{{vec}}({name}) = \operatorname{{vec}}({name}^\top)$"
        ),
        identity_holds=t.identity_holds,
        vech=None,
        duplication=None,
        symmetric_name=TeX("$" + s_name + "$"),
        dup_identity=TeX(rf"$D_{{{S.rows}}} \operatorname{{vech}}(S) = \operatorname{{vec}}(S)$"),
    )
    if t.vech is not None:
        out["symmetric"] = eq("S = " + s_name if s_name != name else "S", S)
        out["vech"] = eq(r"\operatorname{vech}(S)", sp.Matrix(t.vech))
    if t.duplication is not None:
        out["duplication"] = eq(rf"D_{{{S.rows}}}", sp.Matrix(t.duplication))
    return out


def _summary(study) -> list[dict]:
    """One line per headline finding, for the summary box."""
    out = []
    if study.checks:
        n = sum(c.passed for c in study.checks)
        out.append(
            dict(
                ok=n == len(study.checks),
                text=f"engine self-checks: {n} of {len(study.checks)} passed",
            )
        )
    if study.finite_differences:
        ok = all(f.passed for f in study.finite_differences)
        worst = max(f.max_abs_error for f in study.finite_differences)
        out.append(
            dict(
                ok=ok,
                text=f"finite differences agree (largest error {worst:.1e})"
                if ok
                else f"finite differences DISAGREE (largest error {worst:.1e})",
            )
        )
    for c in study.claims:
        verdict = {True: "correct", False: "WRONG (counterexample below)", None: "undecided"}[
            c.holds
        ]
        out.append(dict(ok=c.holds is True, text=f"hand derivation of the {c.claim.of}: {verdict}"))
    if study.field is not None and study.field.conservative is not None:
        out.append(
            dict(
                ok=True,
                text="the field is conservative"
                if study.field.conservative
                else "the field is NOT conservative (non-zero curl)",
            )
        )
    if study.landscape is not None:
        kinds = [pt.kind for pt in study.landscape.points]
        if "critical_points" in study.problem.analyses:
            out.append(
                dict(
                    ok=True, text=f"{len(kinds)} critical point(s): " + (", ".join(kinds) or "none")
                )
            )
        if study.landscape.descent is not None:
            out.append(
                dict(
                    ok=study.landscape.descent.holds,
                    text=TeX(
                        r"descent identity $\frac{\mathrm{d}L}{\mathrm{d}t} = -\lVert\nabla L\rVert^2$ "
                        + ("holds" if study.landscape.descent.holds else "FAILS")
                    ),
                )
            )
    if study.gaussian is not None:
        ok = study.gaussian.hessian_holds and study.gaussian.score_holds
        out.append(
            dict(
                ok=ok,
                text=TeX(
                    r"Gaussian identities (score, Hessian $= -\Sigma^{-1}$) "
                    + ("hold" if ok else "FAIL")
                ),
            )
        )
    if study.vectorization is not None:
        out.append(
            dict(
                ok=study.vectorization.identity_holds,
                text=TeX(
                    r"$K \operatorname{vec}(A) = \operatorname{vec}(A^\top)$ and $D \operatorname{vech}(S) = \operatorname{vec}(S)$ "
                    + ("hold" if study.vectorization.identity_holds else "FAIL")
                ),
            )
        )
    return out
