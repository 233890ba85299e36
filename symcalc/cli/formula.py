"""A formula and options on the command line read into a Problem."""

from __future__ import annotations

import argparse
import json
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
    from symcalc.study.load import load_problem

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
