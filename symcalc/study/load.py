"""Problem files: a TOML description of what to derive, check and report.

``load_problem`` reads a file (or TOML text) into a :class:`Problem`;
``Problem.run()`` does the work and returns a :class:`Study`, the record the
report, the CLI and the notebooks read. The format is documented in
``docs/problem-files.md``.

>>> p = load_problem('''
... title = "A bowl"
... objective = "x^2 + 3*y^2"
... analyses = ["gradient", "hessian", "critical_points"]
... [variables]
... x = "scalar"
... y = "scalar"
... ''')
>>> p.title, [v.name for v in p.variables]
('A bowl', ['x', 'y'])
>>> study = p.run()
>>> study.results["gradient"].T
Matrix([[2*x, 6*y]])
>>> [c.kind for c in study.landscape.points]
['minimum']
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from symcalc.budget import budgeted
from symcalc.errors import ProblemFileError
from symcalc.study.schema import LIMITS, Problem
from symcalc.study.tables import _build_problem, _Ctx

__all__ = ["load_problem", "problem_from_dict"]


def _nesting_error(text: str, source: str) -> ProblemFileError | None:
    """The first place where arrays / inline tables nest deeper than LIMITS['max_nesting'].

    One linear pass that skips comments and all four kinds of TOML strings (tomllib
    recurses once per level and would hit Python's recursion limit first).

    >>> _nesting_error("x = " + "[" * 40 + "]" * 40, "<text>")
    ProblemFileError("<text>: line 1: arrays or inline tables nested more than 32 deep (symcalc.study.schema.LIMITS['max_nesting'])")
    >>> _nesting_error('x = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["', "<text>") is None
    True
    """
    limit, depth, i, n = LIMITS["max_nesting"], 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c in "\"'":
            i = _end_of_string(text, i)
        elif c in "[{":
            depth += 1
            if depth > limit:
                line = text.count("\n", 0, i) + 1
                return ProblemFileError(
                    f"{source}: line {line}: arrays or inline tables nested "
                    f"more than {limit} deep (symcalc.study.schema.LIMITS['max_nesting'])"
                )
            i += 1
        elif c in "]}":
            depth = max(depth - 1, 0)
            i += 1
        else:
            i += 1
    return None


def _end_of_string(text: str, i: int) -> int:
    """Index after the TOML string starting at ``i`` (basic, literal, or multi-line)."""
    q = text[i]
    if text.startswith(q * 3, i):
        j = i + 3
        while True:
            k = text.find(q * 3, j)
            if k < 0:
                return len(text)
            if q == "'" or not _escaped(text, k):
                end = k + 3
                while end < len(text) and text[end] == q and end - k < 5:  # """a"""" ends a"
                    end += 1
                return end
            j = k + 1
    j = i + 1
    while j < len(text) and text[j] != "\n":
        if text[j] == "\\" and q == '"':
            j += 2
            continue
        if text[j] == q:
            return j + 1
        j += 1
    return j


def _escaped(text: str, k: int) -> bool:
    """Whether the character at ``k`` follows an odd number of backslashes."""
    count = 0
    while k - count - 1 >= 0 and text[k - count - 1] == "\\":
        count += 1
    return count % 2 == 1


_PLAIN = (str, int, float, bool)


def _data_nesting_error(data: Any, source: str, plain: bool = False) -> ProblemFileError | None:
    """Tables nested deeper than LIMITS['max_nesting'] through dotted keys (a.b.c... = 1);
    with ``plain``, also anything but dicts with string keys, lists and the TOML leaves.

    Walked with an explicit stack: no recursion, whatever the depth (a dict that holds
    itself is nested too deeply).
    """
    limit = LIMITS["max_nesting"]
    stack: list[tuple[Any, list[str]]] = [(data, [])]
    while stack:
        value, path = stack.pop()
        if len(path) > limit:
            where = ".".join(path[:3]) + "..."
            return ProblemFileError(
                f"{source}: [{where}]: tables nested more than {limit} deep "
                "(symcalc.study.schema.LIMITS['max_nesting'])"
            )
        if isinstance(value, Mapping):
            bad = [k for k in value if not isinstance(k, str)] if plain else []
            if bad:
                return ProblemFileError(
                    f"{source}: [{_dotted(path) or '(top)'}]: keys must be strings, "
                    f"got {type(bad[0]).__name__}"
                )
            stack.extend((v, path + [str(k)[:40]]) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, path + ["[]"]) for v in value)
        elif plain and not isinstance(value, _PLAIN):
            return ProblemFileError(
                f"{source}: [{_dotted(path)}]: expected plain data (a string, number, "
                f"boolean, list or dict), got a {type(value).__name__}"
            )
    return None


def _dotted(path: list[str]) -> str:
    """['variables', 'x', '[]'] -> 'variables.x[]'."""
    return ".".join(path).replace(".[]", "[]")


@budgeted("load_problem")
def load_problem(source: str | Path | Mapping) -> Problem:
    """Read a problem into a :class:`Problem`: a file (a path), TOML text, or a dict.

    A dict holds what the TOML file would (``tomllib.loads`` of it gives the same
    Problem): tables are dicts, arrays lists, and the leaves strings, numbers and
    booleans. ``budget=`` seconds (default ``DEFAULT_BUDGETS["load_problem"]``; None: no
    limit). Sizes are checked against :data:`LIMITS` before the work they would cause;
    every error is one :class:`~symcalc.errors.ProblemFileError` naming the file and the
    key (and the line, where TOML gives one).

    >>> load_problem('objective = "x"\\nvariables = {x = "scalar"}\\ncolour = 1')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symcalc.errors.ProblemFileError: <text>: [colour]: expected one of the keys analyses, ...
    >>> load_problem({"objective": "x^2 y", "variables": {"x": "scalar", "y": "scalar"}}).wrt
    [x, y]
    """
    if isinstance(source, Mapping):
        return problem_from_dict(source)
    text, name = _read_source(source)
    return problem_from_dict(_toml_data(text, name), name)


@budgeted("load_problem")
def problem_from_dict(
    data: Mapping, source: str = "<dict>", where: Callable[[str], str] | None = None
) -> Problem:
    """The Problem a dict describes (the tables of a problem file, as plain data).

    ``where(key)`` names a key in error messages (default ``"<source>: [key]"``): the
    command line passes one that names its flags, so a message says ``--wrt x``, not
    ``[variables.x]``. ``budget=`` as for :func:`load_problem`. The dict is checked (plain data only, nesting within
    ``LIMITS['max_nesting']``) before it is read.

    >>> problem_from_dict({"objective": "x", "variables": {"x": 1}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symcalc.errors.ProblemFileError: <dict>: [variables.x]: expected ...
    >>> problem_from_dict({"objective": "x", "variables": {"x": ("scalar",)}})
    Traceback (most recent call last):
    ...
    symcalc.errors.ProblemFileError: <dict>: [variables.x]: expected plain data (a string, number, boolean, list or dict), got a tuple
    """
    if not isinstance(data, Mapping):
        raise ProblemFileError(
            f"{source}: a problem is a dict of its tables, got {type(data).__name__}"
        )
    error = _data_nesting_error(data, source, plain=True)
    if error is not None:
        raise error
    return _build_problem(dict(data), _Ctx(source, where))


def _toml_data(text: str, source: str) -> dict:
    """TOML text -> its tables, with the size and nesting limits checked first."""
    if len(text) > LIMITS["max_chars"]:
        raise ProblemFileError(
            f"{source}: the file has more than {LIMITS['max_chars']} characters "
            "(symcalc.study.schema.LIMITS['max_chars'])"
        )
    error = _nesting_error(text, source)
    if error is not None:
        raise error
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProblemFileError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:  # not reached after _nesting_error; never a traceback
        raise ProblemFileError(f"{source}: not valid TOML: nested too deeply") from None


def _read_source(path_or_text: str | Path) -> tuple[str, str]:
    if isinstance(path_or_text, Path) or (
        isinstance(path_or_text, str) and "\n" not in path_or_text and "=" not in path_or_text
    ):
        path = Path(path_or_text)
        try:
            if path.exists() and not path.is_file():  # a FIFO or a device would block or never end
                raise ProblemFileError(f"{path}: not a regular file")
            with path.open(encoding="utf-8") as fh:  # at most one character over the limit
                return fh.read(LIMITS["max_chars"] + 1), str(path)
        except FileNotFoundError:
            raise ProblemFileError(f"{path}: no such problem file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ProblemFileError(f"{path}: cannot read the problem file: {exc}") from None
    if not isinstance(path_or_text, str):
        raise ProblemFileError(
            f"load_problem expects a path or TOML text, got {type(path_or_text).__name__}"
        )
    return path_or_text, "<text>"
