"""Where output goes (rich on a terminal, plain text otherwise), exit codes, and printable text."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

# ---------------------------------------------------------------------------
# Terminal: rich on a terminal, plain text otherwise
# ---------------------------------------------------------------------------


class Terminal:
    """Where output goes: rich panels and a live status on a terminal, plain
    lines when piped (tests, scripts, CI)."""

    def __init__(self, stdout=None, stderr=None, color: str = "auto"):
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        tty = _isatty(self.stdout)
        self.rich = color == "always" or (
            color == "auto" and tty and not os.environ.get("NO_COLOR")
        )
        self.progress_shown = _isatty(self.stderr) and color != "never"
        self._console = None

    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(
                file=self.stdout, force_terminal=self.rich, highlight=False, soft_wrap=False
            )
        return self._console

    def out(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def err(self, text: str) -> None:
        print(text, file=self.stderr)

    def progress(self, message: str):
        """A context manager yielding ``update(text)``: a spinner on a terminal, silent otherwise."""
        return _Progress(self, message)


class _Progress:
    def __init__(self, term: Terminal, message: str):
        self.term, self.message, self.status = term, message, None

    def __enter__(self) -> Callable[[str], None]:
        if self.term.progress_shown:
            from rich.console import Console

            self.status = Console(file=self.term.stderr).status(self.message)
            self.status.__enter__()
        return self.update

    def update(self, text: str) -> None:
        if self.status is not None and text:
            self.status.update(f"{self.message}: {text}")

    def __exit__(self, *exc) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(message: str) -> str:
    """A message with the control characters of user text shown escaped, not sent to the terminal.

    (A formula or a problem file may hold terminal escape sequences or bidirectional
    overrides; in an error message they are shown, never obeyed.)

    >>> print(printable("unknown name 'a\\x1b[2J'"))
    unknown name 'a\\x1b[2J'
    """
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), message)
