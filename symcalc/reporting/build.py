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

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from symcalc.budget import budgeted
from symcalc.errors import InputError, InputTypeError, LaTeXBuildError, TeXNotFoundError
from symcalc.printing.texsafe import listing_text
from symcalc.records import Derivation
from symcalc.reporting.context import derivation_context, study_context
from symcalc.reporting.sections import _summary, _value_latex  # noqa: F401 - the old names
from symcalc.reporting.tex import (
    TeX,
    code_text,
    display,
    eq,
    inline,
    template_env,
    templates_dir,
)

__all__ = [
    "report",
    "Report",
    "TeX",
    "template_env",
    "INSTALL_HINT",
    "display",
    "eq",
    "inline",
    "code_text",
]

_templates_dir = templates_dir  # the old private name (tests)

INSTALL_HINT = (
    "install TeX Live, e.g. on Debian/Ubuntu: sudo apt-get install --no-install-recommends "
    "texlive-latex-recommended texlive-fonts-recommended latexmk lmodern"
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
    context: dict = field(default_factory=dict, repr=False)  # the records the templates show
    study: Any = field(default=None, repr=False)  # the Study (for the HTML page's SVG figures)

    def to_html(self, path: str | os.PathLike | None = None) -> str:
        """One self-contained HTML page (MathML, inline SVG figures, no network); written to
        ``path`` when given. Returns the page."""
        from symcalc.reporting.html import render_html

        page = render_html(self)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(page, encoding="utf-8")
        return page

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
            ctx, figs, listings = study_context(source, figures, kernel, progress)
        from symcalc.verification.derivation_problem import report_context  # issue 17

        ctx.update(report_context(source.problem, TeX))
    elif isinstance(source, Derivation):
        ctx, figs, listings = derivation_context(source), {}, {}
    else:
        raise InputTypeError(
            "report() takes a problem file path, a Problem, a Study or a Derivation, "
            f"not {type(source).__name__}"
        )
    if title is not None:
        ctx["title"] = title
    progress("rendering LaTeX")
    tex = template_env().get_template("report.tex.j2").render(**ctx)
    study = source if not isinstance(source, Derivation) else None
    return Report(tex=tex, figures=figs, listings=listings, context=ctx, study=study)
