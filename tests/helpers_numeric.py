"""Independent numeric routes for tests: central differences and the complex step."""

from __future__ import annotations

import numpy as np
import sympy as sp


def numeric_function(f, syms):
    """f as a NumPy function of one vector (complex-safe, for the complex step)."""
    fn = sp.lambdify([list(syms)], f, modules="numpy")
    return lambda x: fn(list(x))


def central_gradient(fn, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (fn(x + e) - fn(x - e)) / (2 * h)
    return g


def complex_step_gradient(fn, x, h=1e-30):
    """Exact to rounding for real-analytic f: Im f(x + i h e_k) / h."""
    x = np.asarray(x, dtype=complex)
    g = np.zeros(len(x))
    for i in range(len(x)):
        e = np.zeros(len(x), dtype=complex)
        e[i] = 1j * h
        g[i] = np.imag(fn(x + e)) / h
    return g


def evaluate(M, syms, x):
    """A SymPy Matrix (or scalar) at the point x, as floats."""
    sub = dict(zip(syms, [sp.Float(v, 30) for v in x]))
    if not isinstance(M, sp.MatrixBase):
        return float(sp.sympify(M).xreplace(sub).evalf(20))
    return np.array(M.xreplace(sub).evalf(20), dtype=float)
