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

import os
import sys
from collections.abc import Sequence

from symcalc.cli.args import build_parser
from symcalc.cli.terminal import EXIT_BAD_INPUT, EXIT_OK, Terminal, printable

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


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
