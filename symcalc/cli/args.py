"""The command line's grammar: argparse, the help texts and the exit codes they describe."""

from __future__ import annotations

import argparse

from symcalc.cli.commands import cmd_compile, cmd_derive, cmd_report, cmd_verify
from symcalc.cli.terminal import EXIT_BAD_INPUT

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
    from symcalc.cli import check  # symcalc check: a hand derivation line by line (issue 17)

    check.register(sub)
    return parser
