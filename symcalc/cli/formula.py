"""A formula and options on the command line read into a Problem."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from symcalc.cli.terminal import Terminal

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


def problem_from_arguments(args: argparse.Namespace) -> tuple[dict, dict[str, str]]:
    """The problem the command-line arguments describe, as the loader's dict, and the
    flag each name came from (for error messages).

    The dict goes through the same loader as a file, so a formula typed on the command
    line is read, checked and reported exactly like one in a file (never as TOML text).

    >>> import argparse
    >>> args = argparse.Namespace(expression="a x^2", wrt=["x"], const=["a=2"])
    >>> data, flags = problem_from_arguments(args)
    >>> data["objective"], data["variables"], data["constants"], flags["a"]
    ('a x^2', {'x': {'shape': []}}, {'a': {'shape': [], 'value': 2}}, '--const')
    """
    from symcalc.errors import InputError

    if not args.wrt:
        raise InputError(
            "name the variables to differentiate by: --wrt x y (or give a problem file)"
        )
    field = getattr(args, "field", None)
    data: dict[str, Any] = {"title": f"F = ({field})" if field else f"f = {args.expression}"}
    if getattr(args, "matrix", False):
        data["notation"] = "matrix"
    suffix = "_latex" if getattr(args, "latex", False) else ""
    if field:
        comps = [c.strip() for c in field.split(";") if c.strip()]
        if not comps:
            raise InputError('--field needs components separated by ";", e.g. --field "-y; x"')
        data["field" + suffix] = comps
    elif args.expression:
        data["objective" + suffix] = args.expression
    else:
        raise InputError('give a formula (or --field "F1; F2") and --wrt, or a problem file')
    if getattr(args, "analyses", None):
        data["analyses"] = list(args.analyses)
    flags: dict[str, str] = {}
    data["variables"] = _declared(args.wrt, "--wrt", flags, allow_value=False)
    constants: dict[str, Any] = {}
    for flag in ("--const", "--param"):
        specs = getattr(args, flag[2:], None) or []
        constants.update(_declared(specs, flag, flags, allow_value=True))
    for name in getattr(args, "positive", None) or []:
        if name in constants:
            constants[name].setdefault("structure", []).append("positive")
    if constants:
        data["constants"] = constants
    return data, flags


def _declared(specs, flag: str, flags: dict[str, str], allow_value: bool) -> dict[str, dict]:
    """The tables of the names one flag declares; a name declared twice is an error."""
    from symcalc.errors import InputError

    out: dict[str, dict] = {}
    for spec in specs:
        name, table = parse_variable_spec(spec, allow_value=allow_value)
        if name in flags:
            again = "twice" if flags[name] == flag else f"in {flags[name]} and {flag}"
            raise InputError(f"{flag} {name}: the name {name} is declared {again}")
        flags[name] = flag
        out[name] = table
    return out


def flag_words(flags: dict[str, str]):
    """``where(key)`` for the loader: a key of the problem dict in command-line terms.

    >>> where = flag_words({"x": "--wrt", "a": "--param"})
    >>> [where(k) for k in ("objective", "field[1]", "variables.x.shape", "constants.a", "seed")]
    ['the formula', '--field component 2', '--wrt x', '--param a', '[seed]']
    """

    def where(key: str) -> str:
        head, _, rest = key.partition(".")
        base, bracket, index = head.partition("[")
        if base in ("objective", "objective_latex"):
            return "the formula"
        if base in ("field", "field_latex"):
            return f"--field component {int(index.rstrip(']')) + 1}" if bracket else "--field"
        if base in ("variables", "constants"):
            name = rest.split(".")[0]
            default = "--wrt" if base == "variables" else "--const"
            return f"{flags.get(name, default)} {name}" if name else default
        if base == "analyses":
            return "--analyses"
        return f"[{key}]"

    return where


def is_problem_file(target: str | None) -> bool:
    """A first argument ending in .toml names a problem file; anything else is a formula
    (so a file that happens to be called "x" never shadows the formula x).

    >>> is_problem_file("examples/ridge.toml"), is_problem_file("x^2 + y")
    (True, False)
    """
    return bool(target) and target.strip().lower().endswith(".toml")


def load_target(args: argparse.Namespace):
    """A Problem from a problem file (the first argument ends in .toml) or from
    the formula and options on the command line (a dict for the loader, whose errors
    name the flags: ``--wrt x``, ``--field component 2``, ``the formula``)."""
    from symcalc.study.load import load_problem, problem_from_dict

    target = args.expression
    if is_problem_file(target):
        return load_problem(Path(target))
    data, flags = problem_from_arguments(args)
    return problem_from_dict(data, source="command line", where=flag_words(flags))


def run_problem(problem, term: Terminal, what: str):
    with term.progress(what) as update:
        return problem.run(progress=update)
