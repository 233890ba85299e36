"""The parser: recursive descent with precedence levels, from tokens to SymPy objects."""

from __future__ import annotations

import re

import sympy as sp

from symcalc.errors import ParseError
from symcalc.parsing.lexer import LIMITS, Token
from symcalc.parsing.names import _PYTHON_WORDS, CONSTANTS, FUNCTIONS, _inverse, _transpose_of
from symcalc.parsing.operations import _BINARY, _add, _elementwise_power, _mul, _ones, _power
from symcalc.parsing.shapes import (
    ShapeMismatchError,
    _as_scalar,
    _is_matrix,
    _kinds,
    _operation,
    _Refused,
    _ShapeMismatch,
    _TooLarge,
)


# ======================================================================================
# The parser (recursive descent with precedence levels)
# ======================================================================================
class _Parser:
    """expr := term (('+'|'-') term)*
    term  := unary (('*'|'/'|'∘'|'⊗') unary | <juxtaposition> power)*
    unary := ('-'|'+') unary | power
    power := postfix ('^' exponent)*        exponent := T | \\top | (T) | unary
    postfix := primary ("'")*
    primary := number | name | function args | '(' expr ')' | '[' rows ']' | '|' expr '|'
    """

    def __init__(self, tokens, src, symbols, allow_undeclared, latex):
        self.toks, self.k, self.src = tokens, 0, src
        self.symbols = dict(symbols or {})
        self.allow_undeclared = allow_undeclared
        self.latex = latex
        self.depth = 0
        self.created: dict[str, sp.Symbol] = {}

    # -- token helpers ---------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.toks[self.k]

    def next(self) -> Token:
        t = self.toks[self.k]
        self.k += 1
        return t

    def at(self, *values) -> bool:
        t = self.tok
        return t.kind == "op" and t.value in values

    def expect(self, value, opener: Token | None = None):
        if not self.at(value):
            if opener is not None and self.tok.kind == "end":
                raise self.src.error(
                    f"this '{opener.value}' is never closed (missing '{value}')", opener.pos
                )
            raise self.error(f"expected '{value}' here")
        return self.next()

    def error(self, message, tok: Token | None = None):
        tok = tok or self.tok
        if tok.kind == "end" and "expected" in message:
            message += " (the formula ended too early)"
        return self.src.error(message, tok.pos)

    def enter(self):
        self.depth += 1
        if self.depth > LIMITS["max_depth"]:
            raise self.error(f"nested more than {LIMITS['max_depth']} levels deep")

    def leave(self):
        self.depth -= 1

    def guard(self, fn, tok, *args):
        """Build a SymPy object; turn SymPy's shape/type errors into a positioned ParseError."""
        try:
            return fn(*args)
        except ParseError:
            raise
        except _ShapeMismatch as exc:
            raise ShapeMismatchError(
                f"cannot combine these: {exc}", self.src.text, tok.pos
            ) from None
        except _TooLarge as exc:
            raise self.src.error(str(exc), tok.pos) from None
        except _Refused as exc:
            raise self.src.error(f"cannot combine these: {exc}", tok.pos) from None
        except sp.matrices.exceptions.NonInvertibleMatrixError:
            raise self.src.error(
                "this matrix is not invertible (its determinant is 0)", tok.pos
            ) from None
        except (
            TypeError,
            ValueError,
            AttributeError,
            NotImplementedError,
            IndexError,
            ArithmeticError,
        ) as exc:
            # SymPy's own message (and a Python exception's text) is not shown: it speaks
            # of SymPy's internals. Say what was combined instead.
            message = f"cannot {_operation(tok)} {_kinds(args)}"
            if "shape" in str(exc).lower():
                raise ShapeMismatchError(
                    message + " (their sizes do not fit)", self.src.text, tok.pos
                ) from None
            raise self.src.error(message, tok.pos) from None

    # -- grammar ---------------------------------------------------------------------
    def parse(self):
        if self.tok.kind == "end":
            raise self.error("the formula is empty")
        value = self.expr()
        if self.tok.kind != "end":
            t = self.tok
            if t.kind == "op" and t.value in ")]":
                raise self.error(f"this '{t.value}' has no matching opening bracket")
            raise self.error(f"unexpected {t.value!r}")
        return value

    def expr(self):
        self.enter()
        left = self.unary()
        while self.at("+", "-"):
            op = self.next()
            right = self.term_after_sign()
            left = self.guard(_add, op, left, right, op.value)
        self.leave()
        return left

    def term_after_sign(self):
        return self.term(self.unary_operand())

    def unary(self):
        return self.term(self.unary_operand())

    def unary_operand(self):
        if self.at("-", "+"):
            op = self.next()
            self.enter()
            value = self.unary_operand()
            self.leave()
            if op.value == "-":
                value = self.guard(lambda v: -v, op, value)
            return value
        return self.power()

    def starts_operand(self) -> bool:
        t = self.tok
        if t.kind in ("num", "name"):
            return True
        if t.kind == "op" and t.value in ("(", "["):
            return True
        if t.kind == "op" and t.value == "|":
            return self.abs_opens()
        return False

    def abs_opens(self) -> bool:
        prev = self.toks[self.k - 1] if self.k else None
        return prev is None or (prev.kind == "op" and prev.value not in (")", "]", "'", "|"))

    def term(self, left):
        while True:
            if self.at("*", "/", "∘", "⊗"):
                op = self.next()
                right = self.unary_operand()
                left = self.guard(_BINARY[op.value], op, left, right)
            elif self.starts_operand():
                tok = self.tok
                right = self.power()
                left = self.guard(_mul, tok, left, right)
            else:
                return left

    def power(self):
        base = self.postfix()
        while self.at("^", ".^"):
            op = self.next()
            if op.value == ".^":  # x.^2: every entry to the power (a scalar: the power)
                self.enter()
                exponent = self.unary_operand()
                self.leave()
                base = self.postfix_ops(self.guard(_elementwise_power, op, base, exponent))
                continue
            if self.transpose_follows(base):
                base = _transpose_of(base)
                continue
            if self.inverse_transpose_follows(base):
                base = _transpose_of(_inverse([base]))
                continue
            self.enter()
            exponent = self.unary_operand()
            self.leave()
            base = self.guard(lambda b, e, op=op: _power(b, e, self.src, op), op, base, exponent)
            base = self.postfix_ops(base)
        return base

    def inverse_transpose_follows(self, base) -> bool:
        """After '^': -T, {-T}, -\\top: the inverse of the transpose."""
        if not _is_matrix(base):
            return False
        ks = [self.toks[j] for j in range(self.k, min(self.k + 4, len(self.toks)))]
        vals = [(t.kind, t.value) for t in ks]
        is_t = lambda kv: kv[0] == "top" or kv == ("name", "T")  # noqa: E731
        if len(vals) >= 2 and vals[0] == ("op", "-") and is_t(vals[1]):
            self.k += 2
            return True
        if (
            len(vals) >= 4
            and vals[0] == ("op", "(")
            and vals[1] == ("op", "-")
            and is_t(vals[2])
            and vals[3] == ("op", ")")
        ):
            self.k += 4
            return True
        return False

    def transpose_follows(self, base) -> bool:
        """After '^': T, \\top, (T) or {T} mean transpose (unless T is a declared scalar)."""

        def is_t(t):
            if t.kind == "top":
                return True
            if t.kind == "name" and t.value == "T":
                declared = self.symbols.get("T")
                return declared is None or _is_matrix(base)
            return False

        if is_t(self.tok):
            self.next()
            return True
        if (
            self.at("(")
            and is_t(self.toks[self.k + 1])
            and self.toks[self.k + 2].kind == "op"
            and self.toks[self.k + 2].value == ")"
        ):
            self.k += 3
            return True
        return False

    def postfix(self):
        return self.postfix_ops(self.primary())

    def postfix_ops(self, value):
        while self.at("'"):
            self.next()
            value = _transpose_of(value)
        return value

    def primary(self):
        t = self.tok
        if t.kind == "num":
            self.next()
            return sp.Rational(t.value) if "." in t.value else sp.Integer(t.value)
        if t.kind == "name":
            return self.name()
        if t.kind == "top":
            raise self.error("\\top is a transpose: write it as a superscript, A^\\top")
        if self.at("("):
            self.enter()
            opener = self.next()
            if self.at(")"):
                raise self.error("empty parentheses: nothing to compute here")
            value = self.expr()
            self.expect(")", opener)
            self.leave()
            return value
        if self.at("["):
            return self.matrix_literal()
        if self.at("|"):
            self.enter()
            opener = self.next()
            value = self.expr()
            self.expect("|", opener)
            self.leave()
            return self.guard(FUNCTIONS["abs"][0], opener, [value])
        if t.kind == "end":
            raise self.error("expected a number, a name or '('")
        raise self.error(f"unexpected {t.value!r}")

    # -- names ---------------------------------------------------------------------
    def lookup(self, name):
        """A declared name, also under the spellings x_1 / x1 and \\mu / mu."""
        for candidate in (
            name,
            name.replace("_", ""),
            re.sub(r"^([A-Za-z]+)(\d+)$", r"\1_\2", name),
        ):
            if candidate in self.symbols:
                return self.symbols[candidate]
        return None

    def name(self):
        t = self.next()
        value = self.lookup(t.value)
        if value is not None:
            return value
        if t.value == "ones":
            return self.ones(t)
        if t.value in FUNCTIONS:
            return self.call(t)
        if t.value in CONSTANTS:
            return CONSTANTS[t.value]
        identity = self.identity(t.value)
        if identity is not None:
            return identity
        parts = self.split_run(t)
        if parts is not None:
            value = parts[0]
            for p in parts[1:]:
                value = self.guard(_mul, t, value, p)
            return value
        if self.allow_undeclared:
            if t.run and len(t.value) > 1:  # LaTeX: letters are separate names
                value = self.undeclared(t.value[0])
                for ch in t.value[1:]:
                    value = self.guard(_mul, t, value, self.undeclared(ch))
                return value
            return self.undeclared(t.value)
        if t.run and len(t.value) > 1:
            bad = self.first_unknown_letter(t.value)
            raise self.src.error(self.unknown_name_message(t.value[bad]), t.pos + bad)
        raise self.error(self.unknown_name_message(t.value), t)

    def first_unknown_letter(self, run: str) -> int:
        """Index of the first letter of a LaTeX run that no declared name covers."""
        i = 0
        while i < len(run):
            for n in sorted(self.symbols, key=len, reverse=True) + list(CONSTANTS):
                if "_" not in n and run.startswith(n, i):
                    i += len(n)
                    break
            else:
                return i
        return 0

    def identity(self, name):
        """I_n (or I_3): the identity matrix of a declared size n."""
        m = re.fullmatch(r"I_?([A-Za-z][A-Za-z0-9]*|[0-9]+)", name)
        if not m or (m.group(1).isalpha() and "_" not in name and len(name) > 2):
            return None
        size = m.group(1)
        if size.isdigit():
            return sp.Identity(int(size)) if 0 < int(size) <= 1000 else None
        dim = self.symbols.get(size)
        return sp.Identity(dim) if isinstance(dim, sp.Symbol) else None

    def ones(self, t: Token):
        """ones(n) (a column), ones(m, n): the all-ones matrix. A size is a number, a
        declared symbol, or a size of a declared matrix (``ones(n)`` next to an n x 1 ``x``)."""
        if not self.at("("):
            raise self.error("'ones' needs its size, e.g. ones(n) or ones(m, n)", t)
        self.enter()
        opener = self.next()
        declared = self.symbols
        self.symbols = {**self.size_names(), **declared}
        try:
            sizes = [self.expr()]
            while self.at(","):
                self.next()
                sizes.append(self.expr())
        finally:
            self.symbols = declared
        self.expect(")", opener)
        self.leave()
        if len(sizes) > 2:
            raise self.src.error(f"'ones' takes 1 or 2 sizes, got {len(sizes)}", t.pos)
        return self.guard(_ones, t, sizes)

    def size_names(self) -> dict[str, sp.Symbol]:
        """The size symbols of the declared matrices, by name (n of an n x 1 x)."""
        found: dict[str, sp.Symbol] = {}
        for v in self.symbols.values():
            if _is_matrix(v):
                for d in v.shape:
                    for s in getattr(d, "free_symbols", ()):
                        found.setdefault(s.name, s)
        return found

    def undeclared(self, name):
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name not in self.created:
            self.created[name] = sp.Symbol(name)
        return self.created[name]

    def split_run(self, t: Token):
        """'xy' -> [x, y] when x and y are declared (or constants); else None."""
        known = {k: v for k, v in self.symbols.items() if "_" not in k}
        known.update({k: v for k, v in CONSTANTS.items() if k not in known})
        if not known:
            return None
        names = _split_letters(t.value, sorted(known, key=len, reverse=True))
        parts = None if names is None else [known[n] for n in names]
        return parts if parts and len(parts) > 1 else None

    def unknown_name_message(self, name):
        if name in _PYTHON_WORDS:
            return f"'{name}' is Python, not math: symcalc reads formulas only"
        declared = ", ".join(sorted(self.symbols)) or "none"
        return f"unknown name '{name}' (declared names: {declared})"

    def call(self, t: Token):
        fn, nargs = FUNCTIONS[t.value]
        power = None
        if self.at("^"):  # sin^2(x) = sin(x)^2
            op = self.next()
            self.enter()
            power = (op, self.postfix())
            self.leave()
        if self.at("("):
            self.enter()
            opener = self.next()
            if self.at(")"):
                raise self.error(f"'{t.value}' needs an argument, e.g. {t.value}(x)")
            args = [self.expr()]
            while self.at(","):
                self.next()
                args.append(self.expr())
            self.expect(")", opener)
            self.leave()
        elif self.starts_operand():
            self.enter()
            arg = self.power()
            while self.tok.kind in ("num", "name") and not (
                self.tok.kind == "name"
                and self.tok.value in FUNCTIONS
                and self.lookup(self.tok.value) is None
            ):
                tok = self.tok
                arg = self.guard(_mul, tok, arg, self.power())
            self.leave()
            args = [arg]
        else:
            raise self.error(f"'{t.value}' needs an argument, e.g. {t.value}(x)")
        if len(args) not in nargs:
            raise self.src.error(
                f"'{t.value}' takes {' or '.join(map(str, nargs))} argument(s), got {len(args)}",
                t.pos,
            )
        value = self.guard(fn, t, args)
        if power is not None:
            value = self.guard(
                lambda b, e: _power(b, e, self.src, power[0]), power[0], value, power[1]
            )
        return value

    # -- matrix literals -------------------------------------------------------------
    def matrix_literal(self):
        self.enter()
        opener = self.next()
        rows, nested = [], self.at("[")
        if self.at("]"):
            raise self.error("an empty matrix")
        if nested:
            while True:
                row_open = self.expect("[")
                rows.append(self.row(row_open))
                if not self.at(","):
                    break
                self.next()
        else:
            row = [self.entry()]
            while self.at(",", ";"):
                sep = self.next()
                if sep.value == ";":
                    rows.append(row)
                    row = []
                row.append(self.entry())
            rows.append(row)
            if len(rows) == 1:  # [a, b, c] is a column vector
                rows = [[v] for v in rows[0]]
        self.expect("]", opener)
        self.leave()
        entries = sum(len(r) for r in rows)
        if entries > LIMITS["max_literal_entries"]:
            raise self.src.error(
                f"this matrix has {entries} entries; the limit is "
                f"{LIMITS['max_literal_entries']} "
                "(parse.LIMITS['max_literal_entries'])",
                opener.pos,
            )
        widths = {len(r) for r in rows}
        if len(widths) != 1:
            raise self.src.error(
                "the rows of this matrix have different lengths "
                f"({', '.join(str(len(r)) for r in rows)})",
                opener.pos,
            )
        return sp.ImmutableMatrix(rows)

    def row(self, row_open):
        values = [self.entry()]
        while self.at(","):
            self.next()
            values.append(self.entry())
        self.expect("]", row_open)
        return values

    def entry(self):
        t = self.tok
        v = _as_scalar(self.expr())
        if _is_matrix(v):
            raise self.src.error("a matrix entry must be a scalar", t.pos)
        return v


def _split_letters(run: str, names: list[str]) -> list[str] | None:
    """Split ``run`` into a sequence of ``names`` (None when it cannot be), in linear time.

    The preference is that of a depth-first search trying ``names`` in their order at
    each position (longest first, as the parser passes them), but found without
    backtracking: ``fits[i]`` says whether ``run[i:]`` can be split at all (computed
    from the end), and the walk from the start takes the first name that leaves a
    splittable rest.

    >>> _split_letters("xyx", ["xy", "x", "y"])
    ['xy', 'x']
    >>> _split_letters("aab", ["aa", "a", "b"])
    ['aa', 'b']
    >>> _split_letters("a" * 5000 + "c", ["aa", "a", "b"]) is None
    True
    """
    names = [m for m in names if m]
    n = len(run)
    fits = [False] * n + [True]
    for i in range(n - 1, -1, -1):
        fits[i] = any(run.startswith(name, i) and fits[i + len(name)] for name in names)
    if not fits[0]:
        return None
    out, i = [], 0
    while i < n:
        name = next(m for m in names if run.startswith(m, i) and fits[i + len(m)])
        out.append(name)
        i += len(name)
    return out
