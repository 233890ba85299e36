"""``symcalc check``: check a hand derivation line by line, mark the first wrong line.

    symcalc check derivation.tex --wrt X:n×n --const A:n×n B:n×n
    symcalc check problem.toml          # its [[derivation]] tables

Exit status: 0 every line holds, 1 a line is wrong, 2 undecided or bad input.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

__all__ = ["register", "run", "to_declaration"]

EPILOG = """\
examples:
  symcalc check derivation.tex --wrt x:n --const A:n×n
  symcalc check steps.txt --wrt X:n×n
  symcalc check examples/wrong_derivation.toml
declarations: x (scalar), x>0, w:n or w[n] (vector), A:m×n or A[m,n], S:n×n:spd, S[n,n] symmetric
"""


def to_declaration(spec: str) -> str:
    """A ``--wrt`` / ``--const`` item in the verifier's declaration syntax.

    >>> to_declaration("A:n×n"), to_declaration("w:3"), to_declaration("S:n x n:spd")
    ('A[n,n]', 'w[3]', 'S[n,n] spd')
    >>> to_declaration("x>0"), to_declaration("B[m,n]")
    ('x>0', 'B[m,n]')
    """
    parts = spec.replace("×", "x").split(":")
    if len(parts) == 1:
        return spec
    name, dims = parts[0].strip(), re.sub(r"\s+", "", parts[1])
    facts = " ".join(w for p in parts[2:] for w in p.split(",") if w)
    out = f"{name}[{','.join(d for d in dims.split('x') if d)}]"
    return f"{out} {facts.replace('positive_definite', 'spd')}".strip()


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``check`` command to the CLI's subparsers."""
    p = subparsers.add_parser(
        "check",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
        help="check a hand derivation line by line",
        description="Check each line of a hand derivation (LaTeX align block, \\\\-separated "
        "or one line per text line) and mark the first wrong one, with a counterexample "
        "and a diagnosis.",
    )
    p.add_argument(
        "derivation",
        metavar="FILE",
        help="the derivation (.tex, .txt, - for stdin) or a problem file",
    )
    p.add_argument("--wrt", metavar="VAR", help="the variable: x, w:n, X:n×n, S:n×n:spd")
    p.add_argument(
        "--const", nargs="+", metavar="NAME", default=[], help="the other names: a, b:m, A:m×n"
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.add_argument(
        "--budget",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="seconds in all (default 120)",
    )
    p.set_defaults(handler=run)
    return p


def _read(path: str) -> str:
    from symcalc.errors import InputError

    if path == "-":
        return sys.stdin.read(200_000)
    with open(path, encoding="utf-8") as fh:
        text = fh.read(200_001)
    if len(text) > 200_000:
        raise InputError(f"{path} is larger than 200 kB; a derivation is shorter")
    return text


def _json(title: str, check) -> dict:
    return {
        "title": title,
        "holds": check.holds,
        "first_wrong": None if check.first_wrong is None else check.first_wrong + 1,
        "lines": [
            {
                "line": s.index + 1,
                "text": s.line,
                "holds": s.holds,
                "method": s.method,
                "explanation": s.explanation,
                "diagnosis": s.diagnosis,
                "counterexample": {
                    str(getattr(k, "name", k)): str(v) for k, v in (s.counterexample or {}).items()
                },
            }
            for s in check.steps
        ],
    }


def run(args: argparse.Namespace, term) -> int:
    """Check the derivation; print the verdicts; return 0 / 1 / 2."""
    from symcalc.verification.derivation_check import check_derivation

    if args.derivation.endswith(".toml"):
        from symcalc.verification.derivation_problem import check_problem_derivations

        results = check_problem_derivations(_read(args.derivation), budget=args.budget)
        if not results:
            from symcalc.errors import InputError

            raise InputError(f"{args.derivation} has no [[derivation]] tables")
    else:
        wrt = to_declaration(args.wrt) if args.wrt else None
        symbols = [to_declaration(c) for c in args.const]
        with term.progress("checking"):
            check = check_derivation(
                _read(args.derivation), wrt=wrt, symbols=symbols, budget=args.budget
            )
        results = [(args.derivation, check)]
    from symcalc.cli.terminal import printable

    if args.format == "json":
        term.out(json.dumps([_json(t, c) for t, c in results], indent=2, ensure_ascii=False))
    else:
        for title, check in results:
            term.out(printable(f"{title}:"))
            term.out(printable(check.describe()))
    codes = [c.exit_code for _, c in results]
    return 1 if 1 in codes else (2 if 2 in codes else 0)
