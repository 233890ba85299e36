"""One corpus of explicit-symbol test functions, shared by many tests."""

from __future__ import annotations

import itertools

import sympy as sp

x, y, z = sp.symbols("x y z", real=True)


def rosenbrock(n):
    xs = sp.symbols(f"x0:{n}", real=True)
    f = sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(n - 1))
    return f, list(xs)


def pair_energy(n_atoms, pair, dim=3):
    xs = sp.symbols(f"q0:{dim * n_atoms}", real=True)
    E = 0
    for a, b in itertools.combinations(range(n_atoms), 2):
        r2 = sum((xs[dim * a + k] - xs[dim * b + k]) ** 2 for k in range(dim))
        E += pair(r2)
    return E, list(xs)


def lennard_jones(r2):
    return 4 * (r2**-6 - r2**-3)


def morse(r2, D=1, a=sp.Rational(3, 2), r0=1):
    return D * (1 - sp.exp(-a * (sp.sqrt(r2) - r0))) ** 2


SCALAR_CASES = {
    "rosenbrock2": rosenbrock(2),
    "rosenbrock5": rosenbrock(5),
    "himmelblau": ((x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2, [x, y]),
    "logsumexp": (sp.log(sp.exp(x) + sp.exp(y) + sp.exp(z)), [x, y, z]),
    "monkey_saddle": (x**3 - 3 * x * y**2, [x, y]),
    "trig_mix": (sp.sin(x * y) + sp.cos(z) * sp.exp(x / 3), [x, y, z]),
    "morse_3atoms": pair_energy(3, morse),
    "lj_3atoms": pair_energy(3, lennard_jones),
}

# Points away from singularities (atoms apart) for the pair energies.
GOOD_POINTS = {
    "morse_3atoms": [0.0, 0.0, 0.0, 1.1, 0.1, -0.2, 0.3, 1.2, 0.4],
    "lj_3atoms": [0.0, 0.0, 0.0, 1.1, 0.1, -0.2, 0.3, 1.2, 0.4],
}
