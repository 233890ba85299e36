"""Problems shared by the kernel benchmarks: symbolic definitions and tuned hand-written NumPy.

Lennard-Jones clusters, Morse clusters, the Rosenbrock function and logistic
regression, each as a SymPy expression (for symcalc) and as hand-written,
vectorised NumPy (the baseline a careful person would write).
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import sympy as sp


# --------------------------------------------------------------------------- symbolic
def lj_symbols(n_atoms):
    return sp.symbols(f"q0:{3 * n_atoms}", real=True)


def lennard_jones(n_atoms, eps=1.0, sigma=1.0):
    """E = sum_{i<j} 4 eps ((sigma/r)^12 - (sigma/r)^6), coordinates q0..q{3N-1}."""
    q = lj_symbols(n_atoms)
    terms = []
    for i, j in itertools.combinations(range(n_atoms), 2):
        r2 = sp.Add(*[(q[3 * i + a] - q[3 * j + a]) ** 2 for a in range(3)])
        s6 = sigma**6 / r2**3
        terms.append(4 * eps * (s6**2 - s6))
    return sp.Add(*terms), list(q)  # one Add: `energy += term` is quadratic in SymPy


def morse(n_atoms, D=1.0, a=1.5, r0=1.0):
    q = lj_symbols(n_atoms)
    terms = []
    for i, j in itertools.combinations(range(n_atoms), 2):
        r = sp.sqrt(sp.Add(*[(q[3 * i + k] - q[3 * j + k]) ** 2 for k in range(3)]))
        terms.append(D * (1 - sp.exp(-a * (r - r0))) ** 2)
    return sp.Add(*terms), list(q)


def rosenbrock(n):
    x = sp.symbols(f"x0:{n}", real=True)
    f = sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(n - 1))
    return f, list(x)


# --------------------------------------------------------------------------- data
def lj_configurations(n_atoms, count, seed=0):
    """Perturbed cubic-lattice clusters (no two atoms closer than ~0.8), shape (count, 3N)."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(n_atoms ** (1 / 3)))
    grid = np.array(list(itertools.product(range(side), repeat=3))[:n_atoms], dtype=float) * 1.12
    pts = grid[None] + rng.uniform(-0.08, 0.08, size=(count, n_atoms, 3))
    return pts.reshape(count, 3 * n_atoms)


# --------------------------------------------------------------------------- hand NumPy
class HandLJ:
    """Tuned, pair-vectorised NumPy Lennard-Jones: energy, gradient (= -forces), Hessian.

    Batch-last layout (every array op is contiguous), BLAS for the pair -> atom
    sums (incidence matrices), blocks written with fancy indexing on the leading
    atom axes; results returned as (B, ...) views, like symcalc's NumPy backend.
    """

    def __init__(self, n_atoms, eps=1.0, sigma=1.0):
        self.n = n_atoms
        self.i, self.j = np.triu_indices(n_atoms, 1)
        self.eps, self.sigma = eps, sigma
        pairs = np.arange(len(self.i))
        inc = np.zeros((n_atoms, len(self.i)))
        inc[self.i, pairs] = 1
        inc[self.j, pairs] = -1
        self.incidence = inc
        self.abs_incidence = np.abs(inc)

    def _pairs(self, q):
        B = q.shape[0]
        p = np.ascontiguousarray(q.T).reshape(self.n, 3, B)
        d = p[self.i] - p[self.j]  # (P, 3, B)
        r2 = np.einsum("pkb,pkb->pb", d, d)  # (P, B)
        return d, r2

    def energy(self, q):
        _, r2 = self._pairs(q)
        s6 = (self.sigma**2 / r2) ** 3
        return 4 * self.eps * (s6 * s6 - s6).sum(axis=0)

    def gradient(self, q):
        B = q.shape[0]
        d, r2 = self._pairs(q)
        inv = 1 / r2
        s6 = inv * inv * inv * self.sigma**6
        coef = self.eps * (24 * s6 - 48 * s6 * s6) * inv  # dE/dd = coef * d
        fij = (coef[:, None, :] * d).reshape(len(self.i), 3 * B)  # (P, 3B)
        g = (self.incidence @ fij).reshape(3 * self.n, B)  # BLAS: pairs -> atoms
        return g.T

    def hessian(self, q):
        B, n = q.shape[0], self.n
        d, r2 = self._pairs(q)
        inv = 1 / r2
        s6 = inv * inv * inv * self.sigma**6
        a = self.eps * (24 * s6 - 48 * s6 * s6) * inv  # coefficient of I
        b = self.eps * (672 * s6 * s6 - 192 * s6) * inv * inv  # coefficient of d d^T
        blocks = (b[:, None, None, :] * d[:, :, None, :]) * d[:, None, :, :]  # (P, 3, 3, B)
        k = np.arange(3)
        blocks[:, k, k, :] += a[:, None, :]
        H = np.zeros((n, 3, n, 3, B))
        H[self.i, :, self.j] = -blocks
        H[self.j, :, self.i] = -blocks
        diag = (self.abs_incidence @ blocks.reshape(len(self.i), 9 * B)).reshape(n, 3, 3, B)
        H[np.arange(n), :, np.arange(n)] = diag
        return np.moveaxis(H.reshape(3 * n, 3 * n, B), -1, 0)


class HandRosenbrock:
    def value(self, x):
        return (100 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (1 - x[:, :-1]) ** 2).sum(axis=1)

    def gradient(self, x):
        g = np.zeros_like(x)
        t = x[:, 1:] - x[:, :-1] ** 2
        g[:, :-1] = -400 * x[:, :-1] * t - 2 * (1 - x[:, :-1])
        g[:, 1:] += 200 * t
        return g

    def hessian(self, x):
        B, n = x.shape
        H = np.zeros((B, n, n))
        k = np.arange(n)
        diag = np.zeros_like(x)
        diag[:, :-1] = 1200 * x[:, :-1] ** 2 - 400 * x[:, 1:] + 2
        diag[:, 1:] += 200
        H[:, k, k] = diag
        off = -400 * x[:, :-1]
        H[:, k[:-1], k[1:]] = off
        H[:, k[1:], k[:-1]] = off
        return H


def hand_logistic_gradient(w, X, y):
    z = X @ w
    s = np.exp(-np.logaddexp(0, -z))
    return X.T @ (s - y)


def hand_logistic_hessian(w, X, y):
    z = X @ w
    s = np.exp(-np.logaddexp(0, -z))
    d = s * (1 - s)
    return X.T @ (d[:, None] * X)


# --------------------------------------------------------------------------- timing
def median_time(fn, repeat=7, number=1):
    """Median wall time of fn() over `repeat` runs (each `number` calls), in seconds."""
    fn()  # warm up (and compile, for jit peers)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return float(np.median(times))
