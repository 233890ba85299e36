"""The commands: derive, verify, compile, report (each reads its arguments, prints, exits)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from symcalc.cli.formula import _SPEC, is_problem_file, load_target, run_problem
from symcalc.cli.output import (
    _counterexample_text,
    _math_text,
    _plain,
    render_text,
    study_json,
    study_latex,
    study_sections,
)
from symcalc.cli.terminal import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, Terminal

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
    from symcalc.study.load import load_problem

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
    from symcalc.study.load import load_problem

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
