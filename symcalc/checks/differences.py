"""The one central difference every self-check uses.

A derivative is checked against (phi(p + h v) - phi(p - h v)) / 2h: the directional
derivative of phi at the point p along v, accurate to O(h^2). The point may be
anything the caller can move (a dict of values, an explicit Matrix, a number):
``along(t)`` returns the point moved by t along the direction.

>>> import math
>>> d = central_difference(lambda x: [math.sin(x)], lambda t: 0.5 + t, 1e-6)
>>> abs(d[0] - math.cos(0.5)) < 1e-9
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["central_difference"]


def _same(v: Any) -> Any:
    return v


def central_difference(
    phi: Callable[[Any], Sequence[Any]],
    along: Callable[[Any], Any],
    h: Any,
    number: Callable[[Any], Any] = _same,
) -> list:
    """[(phi(along(h))_i - phi(along(-h))_i) / 2h for each entry i], each through ``number``.

    ``h`` may be a float or an exact SymPy number (then the quotient is exact until
    ``number``, e.g. ``lambda d: complex(sp.N(d, 30))``, evaluates it).

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> phi = lambda p: [p[x] ** 3]
    >>> central_difference(phi, lambda t: {x: 2 + t}, sp.Rational(1, 10**6))
    [12000000000001/1000000000000]
    """
    plus, minus = phi(along(h)), phi(along(-h))
    return [number((p - q) / (2 * h)) for p, q in zip(plus, minus)]
