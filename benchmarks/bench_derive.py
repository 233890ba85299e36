"""Time to derive gradient + Hessian in closed form, per problem and dimension.

The closed form does not grow with the dimensions, so the time should be flat.
Two numbers per size, each with SymPy's cache cleared first: the derivation
alone (check=False) and with the engine's self-checks (element-wise sympy.diff + central differences, always run
at a small concrete size). Prints a markdown table.

    python benchmarks/bench_derive.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

import sympy as sp
from sympy.core.cache import clear_cache

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from symcalc.derivation.walker import derive  # noqa: E402
from symcalc.expr.densities import gaussian_logpdf  # noqa: E402
from symcalc.expr.structure import (
    elementwise,
    logistic_loss,
    matrix_symbol,
    norm_squared,  # noqa: E402
    positive_definite,
    softmax_cross_entropy,
    squared_error,
    vector,
)

SIZES = ["symbolic", 10, 100, 1000]


def _dim(name, size):
    return name if size == "symbolic" else size


def problems(size):
    n, m = _dim("n", size), _dim("m", size if size == "symbolic" else 2 * size)
    X, w, y = matrix_symbol("X", m, n), vector("w", n), vector("y", m)
    A, b, x = matrix_symbol("A", m, n), vector("b", m), vector("x", n)
    lam = sp.Symbol("lambda", positive=True)
    z, t = vector("z", n), vector("t", n)
    mu, S = vector("mu", n), positive_definite("Sigma", n)
    Xm, Am = matrix_symbol("X", n, _dim("k", size)), matrix_symbol("A", n, n)
    W1, W2 = matrix_symbol("W1", n, _dim("h", size)), matrix_symbol("W2", _dim("h", size), 1)
    Xd = matrix_symbol("X", m, n)
    net = norm_squared(elementwise(sp.tanh, Xd * W1) * W2 - y)
    return [
        ("least squares ||Ax-b||^2 (x)", squared_error(A, x, b), x, 2),
        ("ridge + lambda||x||^2 (x)", squared_error(A, x, b) + lam * norm_squared(x), x, 2),
        ("logistic regression (w)", logistic_loss(X, w, y), w, 2),
        ("softmax cross-entropy (z)", softmax_cross_entropy(z, t), z, 2),
        ("Gaussian log-density (x)", gaussian_logpdf(x, mu, S), x, 2),
        ("Gaussian log-density (Sigma), grad", gaussian_logpdf(x, mu, S), S, 1),
        ("tr(X^T A X) (X), Kronecker Hessian", sp.Trace(Xm.T * Am * Xm), Xm, 2),
        ("tanh network (W1), grad", net, W1, 1),
    ]


def best_time(f, wrt, order, check, repeat, cold=False):
    best = float("inf")
    for _ in range(repeat):
        if cold:
            clear_cache()  # SymPy's global cache: time a first derivation
        t0 = time.perf_counter()
        derive(f, wrt, order=order, check=check)
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    rows = {}
    for size in SIZES:
        for name, f, wrt, order in problems(size):
            rows.setdefault(name, {})[size] = (
                best_time(f, wrt, order, False, args.repeat, cold=True),
                best_time(f, wrt, order, True, 1, cold=True),
            )
    print(
        f"Closed-form gradient + Hessian with symcalc.derive, SymPy cache cleared before "
        f"each run: derive only (best of {args.repeat}) / derive + self-checks (one run); "
        f"seconds. "
        f"{datetime.date.today()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SymPy {sp.__version__}. Dimension n (m = 2n).\n"
    )
    head = " | ".join(f"n={s}" for s in SIZES)
    print(f"| problem | {head} |")
    print("|---|" + "---|" * len(SIZES))
    for name, by_size in rows.items():
        cells = " | ".join(f"{by_size[s][0]:.3f} / {by_size[s][1]:.2f}" for s in SIZES)
        print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
