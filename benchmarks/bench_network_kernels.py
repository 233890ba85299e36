"""Matrix-form network kernels (issues 14 and 15): one kernel for all the weights, side by side.

    python benchmarks/bench_network_kernels.py            # prints a markdown table
    python benchmarks/bench_network_kernels.py --quick    # fewer repeats

Rows:

* two-layer tanh network with biases, squared error over a batch (m = 4,096, d = 100,
  h = 256, k = 10): the gradient in all four parameters: ``sc.compile(L, [W1, b1, W2, b2])``
  against hand NumPy backpropagation, ``jax.jit(grad)`` and torch autograd;
* logistic regression for 64 weight vectors at once (m = 20,000, n = 200): the batched
  gradient against the two GEMMs it needs (and hand NumPy, ``jax.jit(vmap(grad))``).

BLAS, JAX and PyTorch run on one thread each; every peer of a row is timed in the same
round-robin loop (bench_kernels.interleaved), medians.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_ENABLE_X64", "1")

import bench_batch  # noqa: E402
import bench_kernels as bk  # noqa: E402
import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

import symcalc as sc  # noqa: E402


def mlp_loss():
    """½‖tanh(X W1 + 1 b1ᵀ) W2 + 1 b2ᵀ − Y‖²_F and its parameters, data."""
    X, Y = sc.matrix_symbol("X", "m", "d"), sc.matrix_symbol("Y", "m", "k")
    W1, b1 = sc.matrix_symbol("W1", "d", "h"), sc.vector("b1", "h")
    W2, b2 = sc.matrix_symbol("W2", "h", "k"), sc.vector("b2", "k")
    ones = sc.ones(X.shape[0])
    H = sc.elementwise(sp.tanh, X * W1 + ones * b1.T)
    return sc.norm_squared(H * W2 + ones * b2.T - Y) / 2, [W1, b1, W2, b2], [X, Y]


def hand_backprop(W1, b1, W2, b2, X, Y):
    """The textbook backward pass: 5 GEMMs, one tanh."""
    H = np.tanh(X @ W1 + b1)
    R = H @ W2 + b2 - Y
    G = (R @ W2.T) * (1 - H * H)
    return X.T @ G, G.sum(axis=0), H.T @ R, R.sum(axis=0)


def row_network(repeat, jax=None, torch=None, m=4096, d=100, h=256, k=10):
    L, wrt, params = mlp_loss()
    kernel = sc.compile(L, wrt, params=params)
    rng = np.random.default_rng(0)
    arrays = [
        rng.normal(size=(d, h)) / np.sqrt(d),
        rng.normal(size=h),
        rng.normal(size=(h, k)) / np.sqrt(h),
        rng.normal(size=k),
        rng.normal(size=(m, d)),
        rng.normal(size=(m, k)),
    ]
    for a, b in zip(kernel.gradient(*arrays), hand_backprop(*arrays)):
        assert np.allclose(a, b)
    peers = {
        "hand NumPy backprop": lambda: hand_backprop(*arrays),
        "symcalc (one kernel, all weights)": lambda: kernel.gradient(*arrays),
    }
    if jax is not None:
        jnp = jax.numpy
        Xj, Yj = jnp.asarray(arrays[4]), jnp.asarray(arrays[5])
        wj = tuple(jnp.asarray(a) for a in arrays[:4])

        def loss(ws):
            W1, b1, W2, b2 = ws
            return 0.5 * jnp.sum((jnp.tanh(Xj @ W1 + b1) @ W2 + b2 - Yj) ** 2)

        jg = jax.jit(jax.grad(loss))
        for a, b in zip(jg(wj), hand_backprop(*arrays)):
            assert np.allclose(np.asarray(a), b)
        peers["jax.jit(grad)"] = lambda: jax.block_until_ready(jg(wj))
    if torch is not None:
        Xt, Yt = torch.as_tensor(arrays[4]), torch.as_tensor(arrays[5])
        wt = [torch.as_tensor(a).clone().requires_grad_(True) for a in arrays[:4]]

        def tgrad():
            W1, b1, W2, b2 = wt
            out = 0.5 * torch.sum((torch.tanh(Xt @ W1 + b1) @ W2 + b2 - Yt) ** 2)
            return torch.autograd.grad(out, wt)

        peers["torch autograd"] = tgrad
    row = f"8. two-layer tanh network, batch {m}, d={d}, h={h}, k={k}"
    reference = "jax.jit(grad)" if jax is not None else "hand NumPy backprop"
    bk.record(row, "gradient (W1, b1, W2, b2)", bk.interleaved(peers, repeat), reference)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-logistic", action="store_true")
    args = parser.parse_args(argv)
    repeat = 5 if args.quick else 15
    load_before = Path("/proc/loadavg").read_text().strip()
    with threadpool_limits(1):
        row_network(repeat, bk.jax, bk.torch)
        if not args.skip_logistic:
            bench_batch.row_logistic_batch(
                repeat, bk.interleaved, bk.once, bk.record, bk.jax, bk.torch
            )
    load_after = Path("/proc/loadavg").read_text().strip()
    blas = sorted({f"{i['internal_api']} {i['version']}" for i in threadpool_info()})
    print(
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, NumPy {np.__version__}"
    )
    print(f"- BLAS: {'; '.join(blas)}, pinned to 1 thread")
    print(
        f"- jax {getattr(bk.jax, '__version__', 'not installed')} (x64, 1 thread), "
        f"torch {getattr(bk.torch, '__version__', 'not installed')} (1 thread)"
    )
    print(f"- load average before: {load_before}; after: {load_after}")
    print()
    print("| row | quantity | implementation | median | vs reference |")
    print("|---|---|---|---:|---:|")
    for row, quantity, peer, sec, ratio in bk.ROWS:
        print(f"| {row} | {quantity} | {peer} | {sec * 1e3:.1f} ms | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
