"""The errors symcalc raises: each names the user's mistake in the user's terms.

Every error derives from :class:`SymcalcError` and from the built-in class a
Python user would expect (``ValueError`` for bad values and shapes, ``TypeError``
for the wrong kind of object), so ``except ValueError`` keeps working.

>>> from symcalc.errors import ShapeError
>>> issubclass(ShapeError, ValueError)
True
"""

from __future__ import annotations


class SymcalcError(Exception):
    """Base class of every error symcalc raises on purpose."""


class InputError(SymcalcError, ValueError):
    """A value the user gave is not usable (wrong kind of expression, bad option)."""


class InputTypeError(SymcalcError, TypeError):
    """An argument has the wrong type (e.g. a number where a Symbol is needed)."""


class ShapeError(InputError):
    """Sizes that do not match (a Jacobian of a 3-vector by a 2-matrix, ...)."""


class NotConservativeError(InputError):
    """The vector field has a non-zero curl, so it has no potential."""


class NotCriticalError(InputError):
    """The point handed to ``classify`` is not a critical point."""


class NoRuleError(SymcalcError, NotImplementedError):
    """The engine met a construct that no rule in its table covers.

    The engine never returns a zero it did not derive: it raises this instead.
    """


class ParseError(InputError):
    """User text (math syntax or LaTeX) could not be read; says where."""

    def __init__(self, message: str, text: str | None = None, position: int | None = None):
        self.text = text
        self.position = position
        if text is not None and position is not None:
            caret = " " * position + "^"
            message = f"{message}\n  {text}\n  {caret}"
        super().__init__(message)


class SelfCheckError(SymcalcError, ArithmeticError):
    """A derived result disagreed with an independent route (a bug: please report)."""


class TeXNotFoundError(SymcalcError, RuntimeError):
    """No TeX installation (latexmk / pdflatex) was found."""


class LaTeXBuildError(SymcalcError, RuntimeError):
    """pdflatex failed; the message carries the ``file:line:`` errors of the log."""


class ProblemFileError(InputError):
    """A problem file (TOML) is malformed: names the file, the key and what was expected."""


def reject_text(obj: object, what: str) -> None:
    """Refuse a string anywhere in ``obj``: symcalc never evaluates text.

    Lists, tuples, sets, dicts (keys and values) and NumPy arrays are searched
    too, because SymPy's ``Matrix([...])``, ``sympify`` of a tuple and
    ``expr.subs(dict)`` evaluate the strings they find inside them. SymPy objects
    are not searched (they hold no text that is ever evaluated).

    >>> reject_text("x**2", "f")
    Traceback (most recent call last):
    ...
    symcalc.errors.InputTypeError: f is a string ('x**2'); symcalc never evaluates text. Build it from SymPy objects, or read it with symcalc.parse(text, symbols=...).
    >>> reject_text([[1, 2], [3, "y"]], "A")
    Traceback (most recent call last):
    ...
    symcalc.errors.InputTypeError: A[1][1] is a string ('y'); symcalc never evaluates text. Build it from SymPy objects, or read it with symcalc.parse(text, symbols=...).
    >>> reject_text([1, (2, 3)], "v")     # no text: nothing happens
    """
    where = _text_inside(obj, what)
    if where is not None:
        place, text = where
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise InputTypeError(
            f"{place} is a string ({shown!r}); symcalc never evaluates text. "
            "Build it from SymPy objects, or read it with symcalc.parse(text, symbols=...)."
        )


def _text_inside(obj: object, what: str) -> tuple[str, str] | None:
    """(where, the string) for the first string found in ``obj``, or None (iterative: any depth)."""
    stack = [(obj, what)]
    seen: set[int] = set()
    while stack:
        item, place = stack.pop()
        if isinstance(item, (str, bytes)):
            return place, item if isinstance(item, str) else repr(item)
        if id(item) in seen:
            continue
        children = _children(item, place)
        if children:
            seen.add(id(item))
            stack.extend(reversed(children))
    return None


def _children(item: object, place: str) -> list[tuple[object, str]]:
    if isinstance(item, dict):
        out = []
        for k, v in item.items():
            out.append((k, f"a key of {place}"))
            out.append((v, f"{place}[{k!r}]"))
        return out
    if isinstance(item, (list, tuple)):
        return [(v, f"{place}[{i}]") for i, v in enumerate(item)]
    if isinstance(item, (set, frozenset)):
        return [(v, f"an entry of {place}") for v in item]
    kind = getattr(getattr(item, "dtype", None), "kind", None)
    if kind in ("U", "S", "O") and hasattr(item, "tolist"):  # NumPy text or object array
        return [(item.tolist(), place)]
    return []


class BudgetExceededError(SymcalcError, TimeoutError):
    """A call took longer than its time budget (``budget=`` seconds); nothing runs on after it."""
