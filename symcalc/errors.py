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
    """Refuse a string where a SymPy object belongs: symcalc never evaluates text.

    >>> reject_text("x**2", "f")
    Traceback (most recent call last):
    ...
    symcalc.errors.InputTypeError: f is a string ('x**2'); symcalc never evaluates text. Build it from SymPy objects, or read it with symcalc.parse(text, symbols=...).
    """
    if isinstance(obj, str):
        raise InputTypeError(
            f"{what} is a string ({obj!r}); symcalc never evaluates text. "
            "Build it from SymPy objects, or read it with symcalc.parse(text, symbols=...)."
        )


class BudgetExceededError(SymcalcError, TimeoutError):
    """A call took longer than its time budget (``budget=`` seconds); nothing runs on after it."""
