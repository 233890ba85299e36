"""Time to derive the issue-14 constructs in closed form, at symbolic and concrete sizes.

The closed forms do not grow with the sizes, so the time should be flat. Each time is the
derivation alone (check=False, SymPy's cache cleared first). Prints a markdown table:
construct, closed form, time per size.

    python benchmarks/bench_networks.py
"""

from __future__ import annotations

import os
import sys
import time

import sympy as sp
from sympy.core.cache import clear_cache

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import symcalc as sc  # noqa: E402
from symcalc.derivation import matrix as engine  # noqa: E402

SIZES = ["symbolic", 10, 100, 1000]


def _dims(size):
    return ("m", "n", "k") if size == "symbolic" else (size, size, size)


def problems(size):
    m, n, k = _dims(size)
    X, W = sc.matrix_symbol("X", m, n), sc.matrix_symbol("W", n, k)
    A, B = sc.matrix_symbol("A", k, m), sc.matrix_symbol("B", n, k)
    Y, b = sc.matrix_symbol("Y", m, k), sc.vector("b", k)
    S, x, v = sc.matrix_symbol("S", n, n), sc.vector("x", n), sc.vector("v", n)
    Wx, c = sc.matrix_symbol("W", k, n), sc.vector("c", k)
    E = sc.sum_entries(sc.elementwise(sp.tanh, Wx * x + c)) + sc.norm_squared(x) / 2
    return [
        ("jacobian A X B", lambda: sc.derive(A * X * B, X, check=False).results["jacobian"]),
        ("jacobian X^-1", lambda: sc.derive(S.I, S, check=False).results["jacobian"]),
        ("jacobian X^T X", lambda: sc.derive(X.T * X, X, check=False).results["jacobian"]),
        (
            "softmax regression (W, b)",
            lambda: sc.derive(
                sc.softmax_cross_entropy(X * W + sc.ones(m) * b.T, Y), [W, b], check=False
            ).results["gradient"][0],
        ),
        (
            "layer norm",
            lambda: sc.derive(sp.Trace(Y.T * sc.layer_norm(X * W)), W, check=False).results[
                "gradient"
            ],
        ),
        ("laplacian of a tanh energy", lambda: sc.laplacian(E, x)),
        ("hvp of a tanh energy", lambda: sc.hvp(E, x, v)),
    ]


def main():
    print("| construct | closed form (symbolic sizes) | " + " | ".join(map(str, SIZES)) + " |")
    print("|---|---|" + "---|" * len(SIZES))
    names = [name for name, _ in problems("symbolic")]
    for i, name in enumerate(names):
        times, form = [], ""
        for size in SIZES:
            clear_cache()
            engine._CACHE.clear()
            _, fn = problems(size)[i]
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
            if size == "symbolic":
                form = sc.text(out) if not isinstance(out, tuple) else sc.text(out[0])
        cells = " | ".join(f"{t * 1000:.0f} ms" for t in times)
        print(f"| {name} | `{form[:90]}` | {cells} |")


if __name__ == "__main__":
    main()
