"""The LaTeX lexer: commands become the same tokens as math syntax."""

from __future__ import annotations

import re

from symcalc.expr.registry import REGISTRY
from symcalc.parsing.lexer import (
    _GREEK,
    _SUPERSCRIPT_DIGITS,
    _SUPERSCRIPT_MINUS,
    _UNICODE_GREEK,
    _UNICODE_OPS,
    LIMITS,
    Token,
    _is_digit,
    _number_token,
    _Source,
    _starts_number,
    _superscript_tokens,
)

# --------------------------------------------------------------------------------------
# LaTeX lexer: commands become the same tokens as math syntax
# --------------------------------------------------------------------------------------
#: LaTeX commands read as function names: the registry's (\sin, \arcsin, ...) and the
#: matrix functions'.
_LATEX_FUNCTIONS = {c for spec in REGISTRY for c in spec.latex_commands} | {
    "det",
    "tr",
    "Tr",
    "trace",
    "diag",
}
_LATEX_NAME_WRAPPERS = {
    "mathbf",
    "boldsymbol",
    "bm",
    "mathrm",
    "mathit",
    "operatorname",
    "text",
    "textrm",
    "mathsf",
    "vec",
    "mathbfit",
    "symbf",
    "mathnormal",
}
_LATEX_SKIP = {
    "left",
    "right",
    "big",
    "Big",
    "bigg",
    "Bigg",
    "bigl",
    "bigr",
    "Bigl",
    "Bigr",
    "biggl",
    "biggr",
    "Biggl",
    "Biggr",
    "displaystyle",
    "textstyle",
    "limits",
    "quad",
    "qquad",
    "nonumber",
    "mkern",
}
_LATEX_OPS = {
    "cdot": "*",
    "times": "*",
    "ast": "*",
    "div": "/",
    "circ": "∘",
    "odot": "∘",
    "otimes": "⊗",
}
_LATEX_TOP = {"top", "intercal", "mathsf{T}"}
_LATEX_UNSUPPORTED = {
    "sum": "sums with an index",
    "prod": "products with an index",
    "int": "integrals",
    "lim": "limits",
    "partial": "partial-derivative notation",
    "nabla": "nabla notation",
    "infty": "infinity",
    "max": "max",
    "min": "min",
    "lVert": "norms",
    "|": "norms",
    "Vert": "norms",
    "approx": "approximate equality",
    "leq": "inequalities",
    "geq": "inequalities",
    "neq": "inequalities",
    "hat": "accents",
    "bar": "accents",
    "tilde": "accents",
    "dot": "accents",
    "mathbb": "blackboard letters",
    "ldots": "ellipses",
    "cdots": "ellipses",
    "vdots": "ellipses",
    "ddots": "ellipses",
}
_MATRIX_ENVS = {"pmatrix", "bmatrix", "Bmatrix", "matrix", "smallmatrix", "vmatrix"}


class _LatexLexer:
    """Turns LaTeX into math-syntax tokens (\\frac{a}{b} -> ( (a) / (b) ), ...)."""

    def __init__(self, src: _Source):
        self.src, self.text, self.i, self.out = src, src.text, src.offset, []
        self.envs: list[tuple[str, int]] = []

    def error(self, message, pos=None):
        return self.src.error(message, self.i if pos is None else pos)

    def emit(self, kind, value, pos, run=False):
        self.out.append(Token(kind, value, pos, run))
        if len(self.out) > LIMITS["max_tokens"]:
            raise self.error(f"more than {LIMITS['max_tokens']} tokens", pos)

    def peek(self, k=0):
        j = self.i + k
        return self.text[j] if j < len(self.text) else ""

    def skip_space(self):
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def read_command(self) -> tuple[str, int]:
        """At a backslash: the command name (letters, or one symbol character)."""
        start = self.i
        self.i += 1
        m = re.compile(r"[A-Za-z]+").match(self.text, self.i)
        if m:
            self.i = m.end()
            return m.group(0), start
        if self.i >= len(self.text):
            raise self.error("a lone backslash at the end", start)
        self.i += 1
        return self.text[self.i - 1], start

    def read_group_text(self) -> tuple[str, int]:
        """The raw text of a {...} group (or one character) after a command."""
        self.skip_space()
        start = self.i
        if self.peek() == "{":
            depth, j = 0, self.i
            while j < len(self.text):
                if self.text[j] == "{":
                    depth += 1
                elif self.text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        self.i = j + 1
                        return self.text[start + 1 : j], start + 1
                j += 1
            raise self.error("this '{' is never closed", start)
        if self.peek() == "\\":
            name, pos = self.read_command()
            return "\\" + name, pos
        if not self.peek():
            raise self.error("an argument is missing here", start)
        self.i += 1
        return self.text[start], start

    def lex_argument(self):
        """Lex one argument ({...} group, a command, or one character) wrapped in ( )."""
        self.skip_space()
        start = self.i
        self.emit("op", "(", start)
        if self.peek() == "{":
            self.i += 1
            self.lex_until("}")
            self.i += 1
        elif self.peek() == "\\":
            self.lex_one()
        elif self.peek():
            c = self.peek()
            if _is_digit(c):
                self.emit("num", c, self.i)
            elif c.isalpha():
                self.emit("name", c, self.i, run=True)
            else:
                raise self.error(f"unexpected {c!r} as an argument")
            self.i += 1
        else:
            raise self.error("an argument is missing here", start)
        self.emit("op", ")", self.i)

    def lex_until(self, closer: str | None):
        start = self.i
        self.depth = getattr(self, "depth", 0) + 1
        if self.depth > LIMITS["max_depth"]:
            raise self.error(f"braces nested more than {LIMITS['max_depth']} levels deep")
        try:
            self._lex_until(closer, start)
        finally:
            self.depth -= 1

    def _lex_until(self, closer, start):
        while self.i < len(self.text):
            if closer and self.peek() == closer:
                return
            if self.peek() == "}":
                raise self.error("this '}' has no matching '{'")
            self.lex_one()
        if closer:
            raise self.error(f"this '{{' is never closed (expected '{closer}')", start - 1)

    def lex_one(self):
        c, i = self.peek(), self.i
        if c.isspace():
            self.i += 1
        elif _starts_number(self.text, i):
            tok, self.i = _number_token(self.text, i, self.src)
            self.out.append(tok)
        elif c in _SUPERSCRIPT_DIGITS or c == _SUPERSCRIPT_MINUS:
            toks, self.i = _superscript_tokens(self.text, i, self.src)
            for tok in toks:
                self.emit(tok.kind, tok.value, tok.pos)
        elif c.isascii() and c.isalpha():
            m = re.compile(r"[A-Za-z]+").match(self.text, i)
            self.emit("name", m.group(0), i, run=True)
            self.i = m.end()
        elif c in _UNICODE_GREEK:
            self.emit("name", _UNICODE_GREEK[c], i)
            self.i += 1
        elif c == "{":
            self.emit("op", "(", i)
            self.i += 1
            self.lex_until("}")
            self.emit("op", ")", self.i)
            self.i += 1
        elif c == "_":
            self.subscript()
        elif c == "^":
            self.i += 1
            self.emit("op", "^", i)
            self.skip_space()
            if self.peek() == "\\":
                self.lex_command_as_argument()
            else:
                self.lex_argument()
        elif c == "\\":
            self.command()
        elif c == "&":
            self.matrix_separator("&", i)
        elif c in "[]":
            self.emit("op", "(" if c == "[" else ")", i)
            self.i += 1
        elif c in "+-*/()|,'!" or c in _UNICODE_OPS or c == "ᵀ":
            value = _UNICODE_OPS.get(c, c)
            if c == "ᵀ":
                value = "'"
            if c == "!":
                raise self.error("factorials are not supported")
            self.emit("op", value, i)
            self.i += 1
        elif c == "=":
            raise self.error("only one '=' is allowed (the claim is what follows it)")
        else:
            raise self.error(f"unexpected character {c!r}")

    def lex_command_as_argument(self):
        """After ^: \\top, \\intercal, \\mathsf{T}, or another command as one argument."""
        save = self.i
        name, pos = self.read_command()
        if name in ("top", "intercal", "T"):
            self.emit("top", "T", pos)
            return
        if name in _LATEX_NAME_WRAPPERS:
            inner, ipos = self.read_group_text()
            if inner.strip() == "T":
                self.emit("top", "T", pos)
                return
        self.i = save
        self.emit("op", "(", save)
        self.lex_one()
        self.emit("op", ")", self.i)

    def subscript(self):
        i = self.i
        self.i += 1
        if not self.out or self.out[-1].kind != "name":
            raise self.error("a subscript must follow a name (x_1, \\mu_0)", i)
        raw, pos = self.read_group_text()
        sub = raw.replace("\\", "").replace(" ", "").replace(",", "")
        if not re.fullmatch(r"[A-Za-z0-9]+", sub):
            raise self.error(f"subscript {raw!r}: only letters and digits are supported", pos)
        prev = self.out[-1]
        if prev.run and len(prev.value) > 1:  # "xy_1": the subscript binds to y
            self.out[-1] = Token("name", prev.value[:-1], prev.pos, True)
            prev = Token("name", prev.value[-1], prev.pos + len(prev.value) - 1, True)
            self.out.append(prev)
        self.out[-1] = Token("name", f"{prev.value}_{sub}", prev.pos)

    def matrix_separator(self, which, pos):
        if not self.envs:
            what = "'&'" if which == "&" else "'\\\\'"
            raise self.error(f"{what} outside a matrix environment (pmatrix, bmatrix)", pos)
        if which == "&":
            self.emit("op", ",", pos)
            self.i += 1
        else:
            self.emit("op", "]", pos)
            self.emit("op", ",", pos)
            self.emit("op", "[", pos)

    def begin(self, pos):
        env, _ = self.read_group_text()
        if env not in _MATRIX_ENVS:
            raise self.error(
                f"environment '{env}' is not supported (matrices: "
                "pmatrix, bmatrix, matrix, vmatrix)",
                pos,
            )
        self.envs.append((env, pos))
        if env == "vmatrix":
            self.emit("name", "det", pos)
            self.emit("op", "(", pos)
        self.emit("op", "[", pos)
        self.emit("op", "[", pos)

    def end(self, pos):
        env, _ = self.read_group_text()
        if not self.envs or self.envs[-1][0] != env:
            raise self.error(f"\\end{{{env}}} without a matching \\begin{{{env}}}", pos)
        self.envs.pop()
        tail = [t.value for t in self.out[-3:]]
        if tail == ["]", ",", "["]:  # a trailing \\ before \end: drop the empty row
            del self.out[-2:]
        else:
            self.emit("op", "]", pos)
        self.emit("op", "]", pos)
        if env == "vmatrix":
            self.emit("op", ")", pos)

    def frac(self, pos):
        self.emit("op", "(", pos)
        self.lex_argument()
        self.emit("op", "/", pos)
        self.lex_argument()
        self.emit("op", ")", self.i)

    def sqrt(self, pos):
        self.skip_space()
        if self.peek() == "[":
            close = self.text.find("]", self.i)
            if close < 0:
                raise self.error("this '[' is never closed", self.i)
            index_pos = self.i + 1
            self.i = close + 1
            self.emit("op", "(", pos)
            self.lex_argument()
            self.emit("op", "^", pos)
            self.emit("op", "(", pos)
            self.emit("num", "1", pos)
            self.emit("op", "/", pos)
            self.emit("op", "(", pos)
            sub = _LatexLexer(_Source(self.src.text, index_pos))
            sub.text = self.src.text[:close]
            sub.lex_until(None)
            self.out.extend(sub.out)
            self.emit("op", ")", pos)
            self.emit("op", ")", pos)
            self.emit("op", ")", pos)
        else:
            self.emit("name", "sqrt", pos)
            self.lex_argument()

    def delimiter_after_left_right(self, which, pos):
        self.skip_space()
        c = self.peek()
        if c == ".":
            self.i += 1
            return
        if c in "([":
            self.emit("op", "(", self.i)
            self.i += 1
        elif c in ")]":
            self.emit("op", ")", self.i)
            self.i += 1
        elif c == "|":
            self.emit("op", "|", self.i)
            self.i += 1
        elif c == "\\":
            name, p = self.read_command()
            if name in ("{", "lbrace", "langle"):
                self.emit("op", "(", p)
            elif name in ("}", "rbrace", "rangle"):
                self.emit("op", ")", p)
            elif name in ("lvert", "rvert", "vert"):
                self.emit("op", "|", p)
            else:
                raise self.error(f"\\{which}\\{name}: this delimiter is not supported", p)
        else:
            raise self.error(f"\\{which} needs a delimiter such as ( ) [ ] |", pos)

    def command(self):
        name, pos = self.read_command()
        if name in (",", ";", ":", "!", " ", "quad", "qquad"):
            return
        if name == "\\":
            self.matrix_separator("\\\\", pos)
        elif name in ("{", "}"):
            self.emit("op", "(" if name == "{" else ")", pos)
        elif name in ("left", "right"):
            self.delimiter_after_left_right(name, pos)
        elif name in _LATEX_SKIP:
            return
        elif name in ("frac", "dfrac", "tfrac", "cfrac"):
            self.frac(pos)
        elif name == "sqrt":
            self.sqrt(pos)
        elif name in _LATEX_OPS:
            if name == "otimes":
                self.emit("name", "kron", pos)  # read by the parser as an infix product
                self.out[-1] = Token("op", "⊗", pos)
            else:
                self.emit("op", _LATEX_OPS[name], pos)
        elif name in ("top", "intercal"):
            self.emit("top", "T", pos)
        elif name in ("lvert", "rvert", "vert"):
            self.emit("op", "|", pos)
        elif name == "begin":
            self.begin(pos)
        elif name == "end":
            self.end(pos)
        elif name in _LATEX_FUNCTIONS or name in _GREEK:
            self.emit("name", name, pos)
        elif name in _LATEX_NAME_WRAPPERS:
            raw, ipos = self.read_group_text()
            inner = raw.strip().lstrip("\\")
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", inner):
                if inner == "1":
                    raise self.error(
                        f"\\{name}{{1}} (the all-ones vector) is not supported: "
                        "write sum(...) for a sum of entries",
                        pos,
                    )
                if re.fullmatch(r"[0-9]+", inner):
                    self.emit("num", inner, ipos)
                    return
                raise self.error(f"\\{name}{{{raw}}}: expected a name inside", ipos)
            self.emit("name", inner, ipos)
        elif name in _LATEX_UNSUPPORTED:
            raise self.error(
                f"\\{name} ({_LATEX_UNSUPPORTED[name]}) is not supported; "
                "write the expression it stands for",
                pos,
            )
        else:
            raise self.error(f"unknown LaTeX command \\{name}", pos)

    def lex(self) -> list[Token]:
        self.lex_until(None)
        if self.envs:
            env, pos = self.envs[-1]
            raise self.error(f"\\begin{{{env}}} is never closed by \\end{{{env}}}", pos)
        self.out.append(Token("end", "", len(self.text)))
        return self.out
