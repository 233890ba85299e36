"""Operations with the matrix conventions (1 x 1 matrices act as scalars)."""

from __future__ import annotations

import math

import sympy as sp
from sympy import MatrixBase

from symcalc.parsing.lexer import LIMITS, Token, _Source
from symcalc.parsing.names import _inverse, _kron
from symcalc.parsing.shapes import (
    _as_scalar,
    _check_symbolic_square,
    _dims,
    _has_symbols,
    _is_matrix,
    _Refused,
    _ShapeMismatch,
    _TooLarge,
)


# --------------------------------------------------------------------------------------
# Operations with the matrix conventions (1 x 1 matrices act as scalars)
# --------------------------------------------------------------------------------------
def _shape(v):
    return v.shape if _is_matrix(v) else None


def _broadcast(c, like):
    """A scalar added to a matrix is added to every entry: c -> c * (all-ones matrix)."""
    if isinstance(like, MatrixBase):
        return c * sp.ones(*like.shape)
    return c * sp.OneMatrix(*like.shape)


def _add(a, b, op="+"):
    if _is_matrix(a) != _is_matrix(b):
        a, b = _as_scalar(a), _as_scalar(b)
        if _is_matrix(a) != _is_matrix(b):  # 1 - sigmoid(X*w): the scalar goes to every entry
            a, b = (_broadcast(a, b), b) if _is_matrix(b) else (a, _broadcast(b, a))
    if _is_matrix(a) and a.shape != b.shape and _definitely_different(a.shape, b.shape):
        raise _ShapeMismatch(f"cannot add a {_dims(a)} and a {_dims(b)} matrix")
    return a + b if op == "+" else a - b


def _definitely_different(s1, s2) -> bool:
    return any(sp.simplify(p - q) != 0 for p, q in zip(s1, s2))


def _mul(a, b):
    if _is_matrix(a) and _is_matrix(b):
        if _definitely_different((a.shape[1],), (b.shape[0],)):
            if a.shape == (1, 1):
                a = _as_scalar(a)
            elif b.shape == (1, 1):
                b = _as_scalar(b)
            else:
                raise _ShapeMismatch(
                    f"cannot multiply a {_dims(a)} by a {_dims(b)} matrix (inner sizes differ)"
                )
    return a * b


def _div(a, b):
    b = _as_scalar(b)
    if _is_matrix(b):
        raise _Refused("division by a matrix: write the inverse, A^{-1}")
    if _is_matrix(a) and a.shape == (1, 1):
        a = _as_scalar(a)
    return a / b


def _hadamard_op(a, b):
    if _is_matrix(a) and _is_matrix(b):
        return sp.hadamard_product(a, b)
    return _mul(a, b)


def _kron_op(a, b):
    if _is_matrix(a) and _is_matrix(b):
        return _kron([a, b])
    return _mul(a, b)


_BINARY = {"*": _mul, "/": _div, "∘": _hadamard_op, "⊗": _kron_op}


def _power(base, exponent, src: _Source, op: Token):
    exponent = _as_scalar(exponent)
    if _is_matrix(exponent):
        raise _Refused("an exponent must be a scalar")
    if exponent.is_Number:
        if abs(exponent) > LIMITS["max_exponent"]:
            raise src.error(
                f"exponent {_short_number(exponent)} is too large (limit {LIMITS['max_exponent']})",
                op.pos,
            )
        if isinstance(base, sp.Basic) and base.is_Rational and base != 0:
            size = max(abs(base.p), abs(base.q))
            if float(abs(exponent)) * math.log10(size) > LIMITS["max_result_digits"]:
                raise src.error(
                    f"{_short_number(base)}^{_short_number(exponent)} would have more "
                    f"than {LIMITS['max_result_digits']} digits "
                    "(parse.LIMITS['max_result_digits'])",
                    op.pos,
                )
    if _is_matrix(base):
        if base.shape == (1, 1):
            base = _as_scalar(base)
        elif exponent == -1:
            return _inverse([base])
        elif exponent.is_Integer:
            if base.shape[0] != base.shape[1]:
                raise _ShapeMismatch(f"only a square matrix has powers; this one is {_dims(base)}")
            _check_matrix_power(base, exponent)
            if isinstance(base, MatrixBase) and _has_symbols(base):
                if exponent < 0:
                    base, exponent = _inverse([base]), -exponent
                # plain repeated squaring: SymPy's default simplifies every product
                # (3 s for [[x,1],[1,y]]^32; this takes 0.02 s and gives the same matrix)
                return base.pow(exponent, method="multiply")
            return base**exponent
        else:
            raise _Refused(
                "a matrix power must be an integer (use .^ or hadamard for elementwise powers)"
            )
    if exponent.is_Number:
        _check_power_growth(base, exponent)
    result = base**exponent
    if (
        isinstance(result, sp.Pow)
        and result.exp.is_Number
        and abs(result.exp) > LIMITS["max_exponent"]
    ):
        raise src.error(
            f"the exponent {_short_number(result.exp)} is too large (limit "
            f"{LIMITS['max_exponent']})",
            op.pos,
        )
    return result


def _short_number(v) -> str:
    """A number as written, or 'a number of N digits' when it is long.

    >>> _short_number(sp.Integer(12)), _short_number(sp.Integer(10) ** 40)
    ('12', 'a number of 41 digits')
    """
    text = str(v)
    return text if len(text) <= 24 else f"a number of {len(text)} digits"


def _check_matrix_power(base, exponent) -> None:
    """A^n of a matrix literal: |n| bounded when it has symbols; A^-n needs the inverse."""
    if not isinstance(base, MatrixBase):
        return
    limit = LIMITS["max_matrix_power"]
    if _has_symbols(base) and abs(exponent) > limit:
        raise _TooLarge(
            f"the power {exponent} of a {_dims(base)} matrix with symbols in it is "
            f"too costly to compute (limit {limit}, parse.LIMITS['max_matrix_power'])"
        )
    if exponent < 0:
        _check_symbolic_square(base, "max_symbolic_inverse", "inverse")


def _check_power_growth(base, exponent) -> None:
    """Refuse b^n whose automatic expansion is over the limits, before SymPy computes it.

    SymPy distributes an integer power over a product and multiplies nested exponents:
    ((3x)^1000)^1000 is 3^1000000 x^1000000. Each factor of the base is checked: a
    power x^e becomes x^(e n) (|e n| <= max_exponent) and a rational c becomes c^n
    (at most max_result_digits digits).

    >>> x = sp.Symbol("x")
    >>> _check_power_growth(2 * x ** 1000, sp.Integer(1000))
    Traceback (most recent call last):
    ...
    symcalc.parsing.shapes._TooLarge: this power would raise x to the power 1000000 (limit 1000, parse.LIMITS['max_exponent'])
    """
    n = abs(exponent)
    if not n.is_finite:
        return
    for factor in sp.Mul.make_args(base):
        if factor.is_Rational and factor != 0:
            size = max(abs(factor.p), abs(factor.q))
            if float(n) * math.log10(size) > LIMITS["max_result_digits"]:
                raise _TooLarge(
                    f"this power would give a number of more than "
                    f"{LIMITS['max_result_digits']} digits "
                    "(parse.LIMITS['max_result_digits'])"
                )
        elif isinstance(factor, sp.Pow) and factor.exp.is_Number:
            grown = abs(factor.exp) * n
            if grown > LIMITS["max_exponent"]:
                raise _TooLarge(
                    f"this power would raise {_kind_or_name(factor.base)} to the "
                    f"power {grown} (limit {LIMITS['max_exponent']}, "
                    "parse.LIMITS['max_exponent'])"
                )


def _kind_or_name(v) -> str:
    return v.name if isinstance(v, sp.Symbol) else "an expression"


def _elementwise_power(base, exponent):
    """``x.^p``: every entry of a matrix to the power p; a scalar (or 1 x 1) to the power p.

    >>> import sympy as sp
    >>> x = sp.MatrixSymbol("x", 3, 1)
    >>> _elementwise_power(x, sp.Integer(2))
    HadamardPower(x, 2)
    >>> _elementwise_power(sp.Symbol("t"), sp.Integer(3))
    t**3
    """
    exponent = _as_scalar(exponent)
    if _is_matrix(exponent):
        raise _Refused("the exponent of .^ must be a scalar")
    base = _as_scalar(base)
    if isinstance(base, MatrixBase):
        return base.applyfunc(lambda e: _elementwise_power(e, exponent))
    if _is_matrix(base):
        return sp.HadamardPower(base, exponent)
    if exponent.is_Integer:
        _check_power_growth(base, exponent)
    return base**exponent


def _ones(sizes):
    """``ones(m, n)``: the m x n all-ones matrix (``ones(n)``: a column of n ones).

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> _ones([n]).shape, _ones([sp.Integer(2), n]).shape
    ((n, 1), (2, n))
    """
    sizes = [_as_scalar(s) for s in sizes] + [sp.S.One] * (2 - len(sizes))
    for s in sizes:
        if _is_matrix(s) or s.is_integer is False or s.is_positive is False:
            raise _Refused(
                f"a size of ones(...) must be a positive integer or a size name, not {s}"
            )
        if s.is_Integer and s > LIMITS["max_matrix_entries"]:
            raise _TooLarge(
                f"ones({s}) is over the limit of {LIMITS['max_matrix_entries']} entries"
            )
    return sp.OneMatrix(*sizes)
