"""Time to derive the issue-14 constructs in closed form, at symbolic and concrete sizes.

The closed forms do not grow with the sizes, so the time should be flat. Each time is the
derivation alone (check=False, SymPy's and the engine's caches cleared first), the best of
``--repeat`` runs; the Laplacian, hvp and Gauss-Newton rows go through the public functions
(which self-check). Prints a markdown table: construct, closed form (``sc.text`` at symbolic
sizes), time per size.

    python benchmarks/bench_networks.py [--sizes symbolic 10 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import sympy as sp
from sympy.core.cache import clear_cache

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import symcalc as sc  # noqa: E402
from symcalc.derivation import matrix as engine  # noqa: E402

SIZES = ["symbolic", 10, 1000]


def _dims(size):
    return ("m", "n", "k") if size == "symbolic" else (size, size, size)


def _gradient(f, wrt):
    return lambda: sc.derive(f, wrt, check=False).results["gradient"]


def _jacobian(F, X):
    return lambda: sc.derive(F, X, check=False).results["jacobian"]


def _mlp(act, m, n, k):
    """A two-layer MLP with biases over a batch, squared error: (loss, W1, the parameters)."""
    X, Y = sc.matrix_symbol("X", m, n), sc.matrix_symbol("Y", m, k)
    W1, b1 = sc.matrix_symbol("W1", n, k), sc.vector("b1", k)
    W2, b2 = sc.matrix_symbol("W2", k, k), sc.vector("b2", k)
    H = sc.elementwise(act, X * W1 + sc.ones(m) * b1.T)
    loss = sc.norm_squared(H * W2 + sc.ones(m) * b2.T - Y)
    return loss, W1, [W1, b1, W2, b2]


def _score_matching(m, n, k):
    """The notebook's model: E = ½‖X‖² − 1ᵀ softplus(XW + 1bᵀ) 1, loss ‖−∇ₓE + 𝓔/σ‖²."""
    X, W, b = sc.matrix_symbol("X", m, n), sc.matrix_symbol("W", n, k), sc.vector("b", k)
    Eps = sc.matrix_symbol("E", m, n)
    energy = sc.norm_squared(X) / 2 - sc.sum_entries(
        sc.elementwise(sc.softplus, X * W + sc.ones(m) * b.T)
    )
    score = -sc.gradient(energy, X)
    return sc.norm_squared(score + 2 * Eps), W


def problems(size):
    m, n, k = _dims(size)
    X, W = sc.matrix_symbol("X", m, n), sc.matrix_symbol("W", n, k)
    A, B = sc.matrix_symbol("A", k, m), sc.matrix_symbol("B", n, k)
    Y, b = sc.matrix_symbol("Y", m, k), sc.vector("b", k)
    S, x, v = sc.matrix_symbol("S", n, n), sc.vector("x", n), sc.vector("v", n)
    Wx, c = sc.matrix_symbol("W", k, n), sc.vector("c", k)
    E = sc.sum_entries(sc.elementwise(sp.tanh, Wx * x + c)) + sc.norm_squared(x) / 2
    Wq, Wk, Wv = (sc.matrix_symbol(f"W_{s}", n, n) for s in "qkv")
    G = sc.matrix_symbol("G", m, n)
    attention = sc.softmax(X * Wq * (X * Wk).T, axis=1) * X * Wv
    ce = sc.softmax_cross_entropy(X * W + sc.ones(m) * b.T, Y)
    relu_loss, relu_W1, relu_params = _mlp(sc.relu, m, n, k)
    gelu_loss, gelu_W1, _ = _mlp(sc.gelu, m, n, k)
    sm_loss, sm_W = _score_matching(m, n, k)
    return [
        ("Jacobian of A X B (vec layout)", _jacobian(A * X * B, X)),
        ("Jacobian of S⁻¹", _jacobian(S.I, S)),
        ("Jacobian of XᵀX", _jacobian(X.T * X, X)),
        ("Jacobian of tanh.(X)", _jacobian(sc.elementwise(sp.tanh, X), X)),
        (
            "softmax regression, ∇_W",
            lambda: sc.derive(ce, [W, b], check=False).results["gradient"][0],
        ),
        (
            "softmax regression, Hessian in W",
            lambda: sc.derive(sc.softmax_cross_entropy(X * W, Y), W, 2, check=False).results[
                "hessian"
            ],
        ),
        ("layer norm, ∇_W tr(Yᵀ LN(XW))", _gradient(sp.Trace(Y.T * sc.layer_norm(X * W)), W)),
        ("attention, ∇_{W_q} tr(Gᵀ A)", _gradient(sp.Trace(G.T * attention), Wq)),
        ("2-layer ReLU MLP, ∇_{W1}", _gradient(relu_loss, relu_W1)),
        ("2-layer GELU MLP, ∇_{W1}", _gradient(gelu_loss, gelu_W1)),
        (
            "ReLU MLP, all 4 parameters at once (∇_{b1} shown)",
            lambda: sc.derive(relu_loss, relu_params, check=False).results["gradient"][1],
        ),
        ("Laplacian of a tanh energy", lambda: sc.laplacian(E, x)),
        ("Hessian-vector product of a tanh energy", lambda: sc.hvp(E, x, v)),
        (
            "Gauss–Newton of ‖tanh.(Wx + c)‖²/2 in x",
            lambda: sc.gauss_newton(sc.elementwise(sp.tanh, Wx * x + c), x),
        ),
        ("denoising score matching, ∇_W (notebook 05)", _gradient(sm_loss, sm_W)),
    ]


def _time(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        clear_cache()
        engine._CACHE.clear()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=[str(s) for s in SIZES])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    sizes = [s if s == "symbolic" else int(s) for s in args.sizes]
    labels = [f"n = {s}" if s != "symbolic" else "symbolic" for s in sizes]
    print(
        "| construct | symcalc's closed form (symbolic sizes, `sc.text`) | "
        + " | ".join(labels)
        + " |"
    )
    print("|---|---|" + "---:|" * len(sizes))
    names = [name for name, _ in problems("symbolic")]
    for i, name in enumerate(names):
        times, form = [], ""
        for size in sizes:
            t, out = _time(problems(size)[i][1], args.repeat)
            times.append(t)
            if size == "symbolic":
                form = sc.text(out[0] if isinstance(out, tuple) else out)
        cells = " | ".join(f"{t * 1000:.0f} ms" for t in times)
        print(f"| {name} | `{form}` | {cells} |", flush=True)


if __name__ == "__main__":
    main()
