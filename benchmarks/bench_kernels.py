"""symcalc kernels against hand-written NumPy, jax.jit and torch.func, side by side.

    python benchmarks/bench_kernels.py            # prints a markdown table
    python benchmarks/bench_kernels.py --quick    # fewer repeats

Every peer of a row is timed in the same loop, round-robin (peer A, B, C, A, B,
C, ...), so a load spike on this shared machine hits all of them; the table
shows medians and ratios from that one run. BLAS is pinned to one thread with
threadpoolctl (OpenBLAS on 2 cores runs tall-skinny X.T @ Y up to 10x slower on
2 threads), JAX and PyTorch to one thread too. Peers that are missing (jax,
torch not installed) are reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
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
import bench_common as bc  # noqa: E402
import bench_compile  # noqa: E402
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

import symcalc as sc  # noqa: E402


def try_import(name):
    try:
        return __import__(name)
    except Exception:  # pragma: no cover - optional peer
        return None


jax = try_import("jax")
torch = try_import("torch")
if torch is not None:
    torch.set_num_threads(1)


# --------------------------------------------------------------------------- timing
def interleaved(fns: dict, repeat: int) -> dict:
    """Median seconds per callable, timed round-robin (each warmed up first)."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def once(fn, repeat=1):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def block(x):
    """Wait for a JAX result."""
    return x.block_until_ready() if hasattr(x, "block_until_ready") else x


ROWS: list[tuple] = []  # (row, quantity, peer, seconds, ratio text)


def record(row, quantity, results: dict, reference: str):
    ref = results[reference]
    for peer, sec in results.items():
        ROWS.append((row, quantity, peer, sec, sec / ref))


# --------------------------------------------------------------------------- row 1: LJ-13
def row_lj(repeat, count=10_000):
    n_atoms = 13
    f, q = bc.lennard_jones(n_atoms)
    k_np = sc.compile(f, q)
    k_nat = sc.compile(f, q, backend="native")
    X = bc.lj_configurations(n_atoms, count)
    H_out = np.empty((count, 3 * n_atoms, 3 * n_atoms))
    hand = bc.HandLJ(n_atoms)
    # correctness first (a fast wrong kernel is no result)
    assert np.allclose(k_np.hessian(X[:50]), hand.hessian(X[:50]), rtol=1e-9, atol=1e-6)
    assert np.allclose(k_nat.hessian(X[:50]), hand.hessian(X[:50]), rtol=1e-9, atol=1e-6)
    peers = {
        "energy": {
            "hand NumPy": lambda: hand.energy(X),
            "symcalc numpy": lambda: k_np.value(X),
            "symcalc native": lambda: k_nat.value(X),
        },
        "forces": {
            "hand NumPy": lambda: hand.gradient(X),
            "symcalc numpy": lambda: k_np.gradient(X),
            "symcalc native": lambda: k_nat.gradient(X),
        },
        "Hessian": {
            "hand NumPy": lambda: hand.hessian(X),
            "symcalc numpy": lambda: k_np.hessian(X),
            "symcalc native": lambda: k_nat.hessian(X),
            "symcalc native, out= reused": lambda: k_nat.hessian(X, out=H_out),
        },
    }
    slow = {}
    if jax is not None:
        jnp = jax.numpy
        iu, ju = np.triu_indices(n_atoms, 1)

        def energy(qv):
            p = qv.reshape(n_atoms, 3)
            d = p[iu] - p[ju]
            s6 = 1 / jnp.sum(d * d, axis=1) ** 3
            return jnp.sum(4 * (s6 * s6 - s6))

        Xj = jnp.asarray(X)
        je = jax.jit(jax.vmap(energy))
        jg = jax.jit(jax.vmap(jax.grad(energy)))
        jh = jax.jit(jax.vmap(jax.hessian(energy)))
        assert np.allclose(np.asarray(jh(Xj[:50])), hand.hessian(X[:50]), rtol=1e-9, atol=1e-6)
        peers["energy"]["jax.jit(vmap)"] = lambda: block(je(Xj))
        peers["forces"]["jax.jit(vmap(grad))"] = lambda: block(jg(Xj))
        slow["Hessian", "jax.jit(vmap(hessian))"] = lambda: block(jh(Xj))
    if torch is not None:
        iu_t, ju_t = (torch.as_tensor(a) for a in np.triu_indices(n_atoms, 1))

        def tenergy(qv):
            p = qv.reshape(n_atoms, 3)
            d = p[iu_t] - p[ju_t]
            s6 = 1 / (d * d).sum(dim=1) ** 3
            return (4 * (s6 * s6 - s6)).sum()

        Xt = torch.as_tensor(X)
        te = torch.func.vmap(tenergy)
        tg = torch.func.vmap(torch.func.grad(tenergy))
        th = torch.func.vmap(torch.func.hessian(tenergy))
        peers["energy"]["torch.func.vmap"] = lambda: te(Xt)
        peers["forces"]["torch.func vmap(grad)"] = lambda: tg(Xt)
        slow["Hessian", "torch.func vmap(hessian)"] = lambda: th(Xt)
    for quantity, fns in peers.items():
        res = interleaved(fns, repeat)
        for (q_, peer), fn in slow.items():
            if q_ == quantity:
                res[peer] = once(fn, 1)
        record(f"1. LJ-13, {count} configurations", quantity, res, "hand NumPy")


# --------------------------------------------------------------------------- row 8: LJ-55 Hessian
def row_lj55_hessian(repeat, count=1000, n_atoms=55):
    """Native LJ-55 Hessian (C kernel) against the write floor: np.empty + fill of the result."""
    f, q = bc.lennard_jones(n_atoms)
    k_nat = sc.compile(f, q, backend="native")
    k_llvm = sc.compile(f, q, backend="native", opt_level=0)  # SymEngine's LLVM Lambdify
    X = bc.lj_configurations(n_atoms, count)
    n = 3 * n_atoms
    hand = bc.HandLJ(n_atoms)
    assert np.allclose(k_nat.hessian(X[:20]), hand.hessian(X[:20]), rtol=1e-9, atol=1e-6)
    out = np.empty((count, n, n))

    def floor():
        a = np.empty((count, n, n))
        a.fill(1.0)
        return a

    res = interleaved(
        {
            "write floor (np.empty + fill)": floor,
            "symcalc native": lambda: k_nat.hessian(X),
            "symcalc native, out= reused": lambda: k_nat.hessian(X, out=out),
            "SymEngine LLVM Lambdify (level 0), out= reused": lambda: k_llvm.hessian(X, out=out),
            "fill of a reused array": lambda: out.fill(1.0),
            "hand NumPy": lambda: hand.hessian(X),
        },
        repeat,
    )
    record(f"8. LJ-55, {count} configurations", "Hessian", res, "write floor (np.empty + fill)")


# --------------------------------------------------------------------------- row 2: logistic regression
def row_logistic(repeat, m=20_000, n=200):
    Xs = sc.matrix_symbol("X", "m", "n")
    ws = sc.vector("w", "n")
    ys = sc.vector("y", "m")
    from symcalc.expr.structure import logistic_loss

    k = sc.compile(logistic_loss(Xs, ws, ys), ws, params=[Xs, ys])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(m, n)) / np.sqrt(n)
    w = rng.normal(size=n)
    y = (rng.random(m) < 0.5).astype(float)
    d = rng.random(m)
    Xd = d[:, None] * X
    r = rng.normal(size=m)
    assert np.allclose(k.hessian(w, X, y), bc.hand_logistic_hessian(w, X, y))
    grads = {
        "the two BLAS calls it needs (X @ w, X.T @ r)": lambda: (X @ w, X.T @ r),
        "one BLAS call (X.T @ r)": lambda: X.T @ r,
        "hand NumPy": lambda: bc.hand_logistic_gradient(w, X, y),
        "symcalc (matrix form)": lambda: k.gradient(w, X, y),
    }
    hessians = {
        "one BLAS call (X.T @ DX)": lambda: X.T @ Xd,
        "hand NumPy": lambda: bc.hand_logistic_hessian(w, X, y),
        "symcalc (matrix form)": lambda: k.hessian(w, X, y),
    }
    if jax is not None:
        jnp = jax.numpy
        Xj, yj, wj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(w)

        def loss(wv):
            z = Xj @ wv
            return jnp.sum(jnp.logaddexp(0.0, z)) - yj @ z

        jg, jh = jax.jit(jax.grad(loss)), jax.jit(jax.hessian(loss))
        grads["jax.jit(grad)"] = lambda: block(jg(wj))
        hessians["jax.jit(hessian)"] = lambda: block(jh(wj))
    if torch is not None:
        Xt, yt, wt = torch.as_tensor(X), torch.as_tensor(y), torch.as_tensor(w)

        def tloss(wv):
            z = Xt @ wv
            return torch.nn.functional.softplus(z).sum() - yt @ z

        tg = torch.func.grad(tloss)
        grads["torch.func.grad"] = lambda: tg(wt)
    res_g = interleaved(grads, repeat)
    res_h = interleaved(hessians, repeat)
    if torch is not None:
        res_h["torch.func.hessian"] = once(lambda: torch.func.hessian(tloss)(wt), 1)
    record(
        f"2. Logistic regression m={m}, n={n}",
        "gradient",
        res_g,
        "the two BLAS calls it needs (X @ w, X.T @ r)",
    )
    record(f"2. Logistic regression m={m}, n={n}", "Hessian", res_h, "one BLAS call (X.T @ DX)")


# --------------------------------------------------------------------------- row 3: Rosenbrock
def row_rosenbrock(repeat, n=100, count=1000):
    f, x = bc.rosenbrock(n)
    k_np = sc.compile(f, x)
    k_nat = sc.compile(f, x, backend="native")
    hand = bc.HandRosenbrock()
    P = np.random.default_rng(1).normal(size=(count, n))
    assert np.allclose(k_np.hessian(P), hand.hessian(P)) and np.allclose(
        k_np.gradient(P), hand.gradient(P)
    )
    fns = {
        "hand NumPy": lambda: (hand.gradient(P), hand.hessian(P)),
        "symcalc numpy": lambda: (k_np.gradient(P), k_np.hessian(P)),
        "symcalc native": lambda: (k_nat.gradient(P), k_nat.hessian(P)),
    }
    if jax is not None:
        jnp = jax.numpy

        def rosen(v):
            return jnp.sum(100 * (v[1:] - v[:-1] ** 2) ** 2 + (1 - v[:-1]) ** 2)

        Pj = jnp.asarray(P)
        jg, jh = jax.jit(jax.vmap(jax.grad(rosen))), jax.jit(jax.vmap(jax.hessian(rosen)))
        fns["jax.jit(vmap)"] = lambda: (block(jg(Pj)), block(jh(Pj)))
    if torch is not None:

        def trosen(v):
            return (100 * (v[1:] - v[:-1] ** 2) ** 2 + (1 - v[:-1]) ** 2).sum()

        Pt = torch.as_tensor(P)
        tg, th = (
            torch.func.vmap(torch.func.grad(trosen)),
            torch.func.vmap(torch.func.hessian(trosen)),
        )
        fns["torch.func vmap"] = lambda: (tg(Pt), th(Pt))
    record(
        f"3. Rosenbrock n={n}, {count} points",
        "gradient + Hessian",
        interleaved(fns, repeat),
        "hand NumPy",
    )


# --------------------------------------------------------------------------- row 4: derive + compile
DERIVE_SCRIPT = r"""
import json, sys, time
sys.path.insert(0, {here!r}); sys.path.insert(0, {root!r})
import bench_common as bc
from symcalc.codegen import native
import symengine as se
out = {{}}
f, q = bc.lennard_jones(20)
t = time.perf_counter(); derived = native.derive_symengine(f, q); out["LJ-20 derive (gradient + Hessian)"] = time.perf_counter() - t
t = time.perf_counter()
k = native.NativeKernel(f, q, (), native.for_evaluation(derived))
k._get("gradient"); k._get("hessian")
out["LJ-20 compile native (factor + LLVM, gradient + Hessian)"] = time.perf_counter() - t
f, x = bc.rosenbrock(200)
t = time.perf_counter(); native.derive_symengine(f, x); out["Rosenbrock n=200 derive"] = time.perf_counter() - t
# VmHWM belongs to this process image; ru_maxrss would carry the RSS of the parent that forked it
status = open("/proc/self/status").read()
out["peak memory MB"] = next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM:")) / 1024
print(json.dumps(out))
"""


def row_derive():
    code = DERIVE_SCRIPT.format(here=str(HERE), root=str(HERE.parent))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report
TARGETS = {
    ("1", "forces", "symcalc numpy"): ("<= 1.1x hand NumPy", lambda r: r <= 1.1),
    ("1", "Hessian", "symcalc numpy"): ("<= 1.5x hand NumPy", lambda r: r <= 1.5),
    ("1", "energy", "symcalc native"): ("<= 1/2.5 of hand NumPy", lambda r: r <= 0.4),
    ("1", "forces", "symcalc native"): ("<= 1/2.5 of hand NumPy", lambda r: r <= 0.4),
    ("1", "Hessian", "symcalc native"): ("<= 1/2.5 of hand NumPy", lambda r: r <= 0.4),
    ("8", "Hessian", "symcalc native"): ("<= 3x the write floor", lambda r: r <= 3.0),
    ("2", "gradient", "symcalc (matrix form)"): ("<= 1.2x the BLAS calls", lambda r: r <= 1.2),
    ("2", "Hessian", "symcalc (matrix form)"): ("<= 1.2x one BLAS call", lambda r: r <= 1.2),
    ("3", "gradient + Hessian", "symcalc numpy"): ("<= 1.1x hand NumPy", lambda r: r <= 1.1),
    ("5", "value", "symcalc (matrix form, batched)"): ("<= 1.2x hand NumPy", lambda r: r <= 1.2),
    ("5", "score", "symcalc (matrix form, batched)"): ("<= 1.2x hand NumPy", lambda r: r <= 1.2),
    ("5", "Hessian", "symcalc, materialize=True"): ("<= 1.2x hand", lambda r: r <= 1.2),
    ("6", "gradient", "symcalc (matrix form, batched)"): ("<= 1.2x the GEMMs", lambda r: r <= 1.2),
    ("6", "Hessian", "symcalc (matrix form)"): ("<= 1.1x the syrk loop", lambda r: r <= 1.1),
}

#: issue 15: compile + first call (value, gradient, Hessian), cold cache, seconds
COMPILE_TARGETS = {(38, "native"): 8, (38, "numpy"): 15, (55, "native"): 15, (55, "numpy"): 30}


def compile_table(rows):
    """Compile + first call per cluster and backend, each in a fresh process (bench_compile)."""
    lines = [
        "| 7. compile + first call, cold cache | derive + compile (s) | value (s) | gradient (s) "
        "| Hessian (s) | total (s) | peak memory (MB) | target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        limit = COMPILE_TARGETS[(r["atoms"], r["requested"])]
        ok = r["total"] <= limit and r["peak_MB"] <= 1024
        lines.append(
            f"| LJ-{r['atoms']} {r['requested']} | {r['compile']:.2f} | {r['value']:.2f} | "
            f"{r['gradient']:.2f} | {r['hessian']:.2f} | {r['total']:.2f} | {r['peak_MB']:.0f} | "
            f"<= {limit} s, <= 1 GB: {'met' if ok else 'NOT met'} |"
        )
    return "\n".join(lines)


def table(derive):
    lines = [
        "| row | quantity | implementation | median | vs reference | target |",
        "|---|---|---|---:|---:|---|",
    ]
    for row, quantity, peer, sec, ratio in ROWS:
        target = TARGETS.get((row[0], quantity, peer))
        verdict = ""
        if target and target[1] is not None:
            verdict = f"{target[0]}: {'met' if target[1](ratio) else 'NOT met'}"
        lines.append(
            f"| {row} | {quantity} | {peer} | {sec * 1e3:.1f} ms | {ratio:.2f}x | {verdict} |"
        )
    lines.append("")
    lines.append("| 4. derivation and compile | seconds / MB | target |")
    lines.append("|---|---:|---|")
    limits = {
        "LJ-20 derive (gradient + Hessian)": 0.3,
        "LJ-20 compile native (factor + LLVM, gradient + Hessian)": 3.0,
        "Rosenbrock n=200 derive": 0.1,
        "peak memory MB": 500,
    }
    for key, value in derive.items():
        lim = limits[key]
        lines.append(f"| {key} | {value:.3f} | < {lim}: {'met' if value < lim else 'NOT met'} |")
    return "\n".join(lines)


def machine():
    blas = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
        f"{i.get('num_threads')} threads by default)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    env = {k: os.environ.get(k, "unset") for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    return (
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, NumPy {np.__version__}\n"
        f"- BLAS: {'; '.join(blas)}; pinned to 1 thread with threadpoolctl for every row\n"
        f"- OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}, OPENBLAS_L2_SIZE={env['OPENBLAS_L2_SIZE']}\n"
        f"- jax {getattr(jax, '__version__', 'not installed')} (x64, 1 thread), "
        f"torch {getattr(torch, '__version__', 'not installed')} (1 thread)\n"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rows", default="12345678")
    args = ap.parse_args(argv)
    repeat = 3 if args.quick else 9
    load_before = Path("/proc/loadavg").read_text().strip()
    derive = (
        row_derive() if "4" in args.rows else {}
    )  # first: a fresh process, before the heavy peers
    with threadpool_limits(1):
        if "1" in args.rows:
            row_lj(repeat)
        if "2" in args.rows:
            row_logistic(repeat)
        if "3" in args.rows:
            row_rosenbrock(repeat)
        if "5" in args.rows:
            bench_batch.row_gaussian(repeat, interleaved, once, record, jax, torch)
        if "6" in args.rows:
            bench_batch.row_logistic_batch(repeat, interleaved, once, record, jax, torch)
        if "8" in args.rows:
            row_lj55_hessian(repeat)
    compile_rows = []
    if "7" in args.rows:
        for atoms in (38, 55):
            for backend in ("native", "numpy"):
                compile_rows.append({"atoms": atoms, **bench_compile.measure(atoms, backend)})
    load_after = Path("/proc/loadavg").read_text().strip()
    print(machine())
    print(f"- load average (/proc/loadavg) before: {load_before}; after: {load_after}\n")
    print(table(derive))
    if compile_rows:
        print()
        print(compile_table(compile_rows))


if __name__ == "__main__":
    main()
