r"""User text in LaTeX: one escaping function and one validated-maths path.

Everything a user wrote (titles, descriptions, claim text, names, messages,
anything from a problem file) reaches the generated ``.tex`` in one of two ways:

* :func:`escape_text` for text mode: every character TeX could interpret
  (``\ { } $ & # ^ _ % ~ [ ]``), line breaks and control characters are made
  inert, so the text prints as written and never runs;
* :func:`check_math` / :func:`math_problem` for LaTeX *maths* a user may
  write (a variable's ``latex`` key such as ``\Sigma`` or ``\hat{\beta}``):
  an allow-list of commands (:data:`ALLOWED_COMMANDS`), balanced braces, no
  ``^^`` escapes, no ``%``, no ``\\``, no control characters; anything else is
  refused with the reason.

>>> escape_text(r"\input{/etc/passwd} 100%")
'\\textbackslash{}input\\{/etc/passwd\\} 100\\%'
>>> math_problem(r"\hat{\beta}_1") is None
True
>>> math_problem(r"\input{/etc/passwd}")
'\\input is not an allowed command'
"""

from __future__ import annotations

import functools
import re
from typing import Any

from symcalc.errors import InputError

__all__ = [
    "escape_text",
    "math_problem",
    "check_math",
    "is_safe_math",
    "listing_text",
    "ALLOWED_COMMANDS",
    "LINE_BREAKS",
]

# ---------------------------------------------------------------------------
# Text mode
# ---------------------------------------------------------------------------

#: characters Python's str.splitlines() (and so a reader) takes as line breaks
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")

_TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "%": r"\%",
    "[": "{[}",
    "]": "{]}",
}

_GREEK_LETTERS = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
    "varsigma sigma tau upsilon phi chi psi omega"
).split()
_UNICODE_MATH = {
    chr(0x3B1 + i): "\\" + name for i, name in enumerate(_GREEK_LETTERS) if name != "omicron"
}
_UNICODE_MATH.update(
    {
        chr(0x391 + i): "\\" + name.capitalize()
        for i, name in enumerate(_GREEK_LETTERS)
        if name
        in (
            "gamma",
            "delta",
            "theta",
            "lambda",
            "xi",
            "pi",
            "sigma",
            "upsilon",
            "phi",
            "psi",
            "omega",
        )
    }
)
_UNICODE_MATH.update(
    {
        "∇": r"\nabla",
        "∂": r"\partial",
        "≤": r"\le",
        "≥": r"\ge",
        "≠": r"\ne",
        "≈": r"\approx",
        "∈": r"\in",
        "∘": r"\circ",
        "⊙": r"\odot",
        "⊗": r"\otimes",
        "×": r"\times",
        "·": r"\cdot",
        "→": r"\to",
        "⇒": r"\Rightarrow",
        "∞": r"\infty",
        "∑": r"\sum",
        "∏": r"\prod",
        "√": r"\surd",
        "‖": r"\|",
        "±": r"\pm",
        "⊤": r"\top",
        "ℝ": r"\mathbb{R}",
        "²": r"^2",
        "³": r"^3",
        "⁻": r"^-",
        "¹": r"^1",
        "−": "-",
        "∫": r"\int",
        "∀": r"\forall",
        "∃": r"\exists",
        "⊂": r"\subset",
    }
)
_UNICODE_TEXT = {
    "–": "--",
    "—": "---",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
    "…": r"\ldots{}",
    "\u00a0": r"\nobreakspace{}",
    "\u00ad": r"\-",
}


#: Latin Extended-A letters pdflatex's utf8 + T1 set-up does not define (a build error, not a glyph)
_NOT_IN_T1 = frozenset("\u0126\u0127\u0138\u013f\u0140\u0149\u0166\u0167\u017f")


def _escape_char(ch: str) -> str:
    if ch in _TEX_SPECIALS:
        return _TEX_SPECIALS[ch]
    if ch in LINE_BREAKS or ch == "\t":
        return " "
    code = ord(ch)
    if code < 0x20 or 0x7F <= code < 0xA0:  # control characters: TeX would refuse or act on them
        return "?"
    if code < 0x7F:
        return ch
    if ch in _UNICODE_MATH:
        return r"\ensuremath{" + _UNICODE_MATH[ch] + "}"
    if ch in _UNICODE_TEXT:
        return _UNICODE_TEXT[ch]
    if code < 0x180 and ch not in _NOT_IN_T1:  # Latin-1 and Latin Extended-A: T1 fonts have them
        return ch
    return (
        "?"  # pdflatex has no glyph (CJK, emoji, ...): a visible placeholder, never a build error
    )


def escape_text(text: Any) -> str:
    r"""User text made safe for LaTeX text mode: it prints as written and never runs.

    The specials ``\ { } $ & # ^ _ % ~`` are escaped (and ``[ ]``, which would
    otherwise be read as an optional argument after ``\item`` or ``\\``);
    line breaks and tabs become spaces (a blank line would end an argument);
    other control characters become '?'. Greek letters and common maths
    symbols become maths (λ -> \lambda); accented Latin letters stay;
    characters pdflatex cannot typeset become '?'.

    >>> escape_text("50% of x_1 & y")
    '50\\% of x\\_1 \\& y'
    >>> escape_text("λ ≥ 0, café")
    '\\ensuremath{\\lambda} \\ensuremath{\\ge} 0, café'
    >>> escape_text("two\nlines\r^^5c")
    'two lines \\textasciicircum{}\\textasciicircum{}5c'
    """
    return "".join(_escape_char(ch) for ch in str(text))


# ---------------------------------------------------------------------------
# Maths: the allow-list
# ---------------------------------------------------------------------------

_GREEK = (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa varkappa lambda mu nu "
    "xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega digamma "
    "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega "
    "varGamma varDelta varTheta varLambda varXi varPi varSigma varUpsilon varPhi varPsi varOmega"
).split()
#: commands that take one argument (an accent or a font): \hat{x}, \mathbf{w}
_ONE_ARGUMENT = frozenset(
    (
        "mathbf mathrm mathit mathcal mathsf mathtt mathfrak mathbb boldsymbol "
        "hat bar tilde vec dot ddot dddot ddddot check breve acute grave mathring "
        "widehat widetilde overline underline operatorname"
    ).split()
)
#: commands that stand alone: letters and symbols
_SYMBOLS = frozenset(
    _GREEK
    + (
        "prime ell hbar imath jmath nabla partial infty star ast dagger ddagger top "
        "bot circ bullet cdot times pm mp aleph emptyset varnothing langle rangle "
        "lvert rvert lVert rVert vert Vert quad"
    ).split()
)
#: the accents (TeX's accent atoms): a group holding only one passes its scripts on, {\hat{x}^2}^3
_ACCENTS = frozenset(
    (
        "hat bar tilde vec dot ddot dddot ddddot check breve acute grave mathring widehat widetilde"
    ).split()
)
_DELIMITER_COMMANDS = frozenset("langle rangle lvert rvert lVert rVert vert Vert | { }".split())
#: every command a ``latex`` key (and a name printed as maths) may use
ALLOWED_COMMANDS = frozenset(_ONE_ARGUMENT | _SYMBOLS | {"left", "right"})
_CONTROL_SYMBOLS = frozenset(",;:!| {}")  # \, \; \: \! \| \  \{ \}
_PLAIN = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '()[],.+-*/|=<>!:;"
)
_DELIMITERS = frozenset("()[]|./")
_MAX_LENGTH = 200

_TOKEN = re.compile(r"\\([A-Za-z]+|.)|(.)", re.S)


class _Refused(Exception):
    """Why a piece of LaTeX is not allowed (internal: math_problem returns the message)."""


def math_problem(tex: str) -> str | None:
    r"""Why ``tex`` is not allowed as user LaTeX maths, or None when it is.

    Allowed: letters, digits, spaces, ``_ ^ { } ' ( ) [ ] , . + - * / | = < > ! : ;``,
    the commands in :data:`ALLOWED_COMMANDS`, ``\left``/``\right`` in pairs and the
    spacing commands ``\, \; \: \!``; braces balanced; at most one sub- and one
    superscript per base, each with something to attach.

    >>> math_problem(r"\mathbf{x}") is None and math_problem(r"\Sigma_{11}^{-1}") is None
    True
    >>> math_problem("x}{")
    'unbalanced braces'
    >>> math_problem("x^^5cinput")
    '^^ (a TeX character escape) is not allowed'
    >>> math_problem("a % comment")
    "the character '%' is not allowed"
    """
    if not isinstance(tex, str):
        return f"expected a string, got {type(tex).__name__}"
    if len(tex) > _MAX_LENGTH:
        return f"longer than {_MAX_LENGTH} characters"
    return _checked(tex)


@functools.lru_cache(
    maxsize=8192
)  # the printer asks for every name it prints, often for the same ones
def _checked(tex: str) -> str | None:
    if "^^" in tex:
        return "^^ (a TeX character escape) is not allowed"
    try:
        _Checker(tex).check()
    except _Refused as why:
        return str(why)
    return None


def is_safe_math(tex: str) -> bool:
    """True when :func:`math_problem` finds nothing wrong with ``tex``."""
    return math_problem(tex) is None


def check_math(tex: str, what: str = "the LaTeX") -> str:
    r"""``tex`` if it is allowed user maths, else an InputError naming ``what`` and the reason.

    >>> check_math(r"\hat{\beta}")
    '\\hat{\\beta}'
    >>> check_math(r"\write18{rm -rf ~}", "variables.x.latex")
    Traceback (most recent call last):
    ...
    symcalc.errors.InputError: variables.x.latex: \write is not an allowed command (allowed: letters, digits, Greek letters, accents and fonts such as \hat, \mathbf)
    """
    why = math_problem(tex)
    if why is not None:
        raise InputError(f"{what}: {why}" + (_ALLOWED_HINT if "command" in why else ""))
    return tex


_ALLOWED_HINT = (
    " (allowed: letters, digits, Greek letters, accents and fonts such as \\hat, \\mathbf)"
)


class _Checker:
    """A small recursive reader of the allowed maths: groups, scripts, commands."""

    def __init__(self, tex: str):
        self.tokens = [(m.group(1), m.group(2)) for m in _TOKEN.finditer(tex)]
        self.pos = 0

    def check(self) -> None:
        self.group(closing=False)
        if self.pos < len(self.tokens):
            raise _Refused("unbalanced braces")

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def group(self, closing: bool) -> set[str]:
        """Atoms up to a closing brace (closing=True) or the end; \\left/\\right pair up inside.

        Returns the scripts the group passes on: TeX takes a group holding one
        accent atom as that atom, so {\\hat{x}^2}^3 is a double superscript.
        """
        scripts: set[str] = set()
        open_lefts = 0
        atoms, passes_on = 0, False
        while self.pos < len(self.tokens):
            cmd, ch = self.peek()
            if ch == "}":
                if not closing:
                    raise _Refused("unbalanced braces")
                break
            self.pos += 1
            if ch == " ":
                continue
            if ch in ("_", "^"):
                kind = "sub" if ch == "_" else "sup"
                if kind in scripts:
                    raise _Refused(f"a double {'subscript' if ch == '_' else 'superscript'}")
                scripts.add(kind)
                self.argument(f"{ch} needs something after it")
                continue
            if ch == "'":
                if "sup" in scripts:
                    raise _Refused("a prime after a superscript")
                continue
            scripts, atoms, passes_on = set(), atoms + 1, False
            if ch == "{":
                scripts = self.group(closing=True)
                passes_on = bool(scripts) or self._last_group_was_accent
                self.pos += 1  # the closing brace
            elif ch is not None:
                if ch not in _PLAIN:
                    raise _Refused(f"the character {ch!r} is not allowed")
            elif cmd in ("left", "right"):
                self.delimiter(cmd)
                open_lefts += 1 if cmd == "left" else -1
                if open_lefts < 0:
                    raise _Refused(r"\right without \left")
            else:
                self.command(cmd)
                passes_on = cmd in _ACCENTS
        else:
            if closing:
                raise _Refused("unbalanced braces")
        if open_lefts:
            raise _Refused(r"\left without \right")
        self._last_group_was_accent = atoms == 1 and passes_on
        return scripts if self._last_group_was_accent else set()

    _last_group_was_accent = False

    def command(self, cmd: str) -> None:
        if len(cmd) == 1 and not cmd.isalpha():
            if cmd not in _CONTROL_SYMBOLS:
                raise _Refused(
                    f"\\{cmd} is not allowed"
                    if cmd != "\\"
                    else r"\\ (a line break) is not allowed"
                )
            return
        if cmd not in ALLOWED_COMMANDS:
            raise _Refused(f"\\{cmd} is not an allowed command")
        if cmd in _ONE_ARGUMENT:
            self.argument(f"\\{cmd} needs an argument")

    def argument(self, missing: str) -> None:
        """One argument: a {group}, a letter or digit, or an allowed symbol command."""
        cmd, ch = self.peek()
        while ch == " ":
            self.pos += 1
            cmd, ch = self.peek()
        if cmd is None and ch is None:
            raise _Refused(missing)
        self.pos += 1
        if ch == "{":
            self.group(closing=True)
            self.pos += 1
        elif ch is not None:
            if not ch.isalnum() or ch not in _PLAIN:
                raise _Refused(missing)
        elif cmd in _SYMBOLS:
            pass
        elif cmd in ALLOWED_COMMANDS or len(cmd) == 1:
            raise _Refused(missing)
        else:
            raise _Refused(f"\\{cmd} is not an allowed command")

    def delimiter(self, which: str) -> None:
        cmd, ch = self.peek()
        self.pos += 1
        if ch is not None and ch in _DELIMITERS:
            return
        if cmd is not None and cmd in _DELIMITER_COMMANDS:
            return
        raise _Refused(f"\\{which} needs a delimiter such as ( ) [ ] | . \\langle \\rangle")


# ---------------------------------------------------------------------------
# Listings: text shown verbatim from a file symcalc wrote
# ---------------------------------------------------------------------------


def listing_text(source: str) -> str:
    r"""Source code for a ``\lstinputlisting`` file: printable ASCII and newlines only.

    Any other character (a tab, a control character, a line break other than
    ``\n``, non-ASCII) is shown as its Python escape, so the listing shows
    every character of the code and pdflatex never meets one it cannot read.

    >>> listing_text("x = 1\r\n# caf\xe9\x0b\ty")
    'x = 1\n# caf\\xe9\\x0b    y'
    """
    text = source.replace("\r\n", "\n")
    out = []
    for ch in text:
        if ch == "\n" or " " <= ch <= "~":
            out.append(ch)
        elif ch == "\t":
            out.append("    ")
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)
