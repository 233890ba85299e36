"""Rows per second of the logistic-regression gradient and Hessian: NumPy in memory vs Dask.

One symcalc kernel (symcalc.codegen.array_api.compile_array_api of structure.logistic_loss)
runs on

* NumPy, the whole X (rows x features) in memory, BLAS pinned to 1 thread;
* Dask on a dask.distributed LocalCluster of 1 or 2 worker processes (1 thread each,
  BLAS pinned to 1 thread per worker with threadpoolctl), X generated on the workers
  in row blocks of 25k / 100k / 400k rows and persisted there, so the timing is the
  computation (per-block products plus the tree reduction of the partial sums), not
  the transfer of X from the client. Two Dask paths: the kernel called on the Dask
  arrays (one task per operation and block), and symcalc.codegen.distributed.blockwise (one
  NumPy kernel call per block, then a tree sum of the partial results).

Each figure is the median of --repeat runs; rows per second = total rows / seconds.
A reference row times symcalc's own NumPy backend (sc.compile) on the same data.

    python benchmarks/bench_dask.py                 # 2M rows x 50 features (800 MB)
    python benchmarks/bench_dask.py --quick         # 200k rows, for a smoke test
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout


def _median_time(fn, repeat):
    fn()  # warm-up (imports, first-call costs)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _kernels():
    import symcalc as sc
    from symcalc.codegen.array_api import compile_array_api
    from symcalc.expr.structure import logistic_loss

    X = sc.matrix_symbol("X", "m", "n")
    w = sc.vector("w", "n")
    y = sc.vector("y", "m")
    f = logistic_loss(X, w, y)
    return compile_array_api(f, w, params=[X, y]), sc.compile(f, w, params=[X, y])


def bench_numpy(kernel, ref, rows, features, repeat, seed=0):
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features))
    w = rng.standard_normal(features) / np.sqrt(features)
    y = (rng.random(rows) < 0.5).astype(float)
    out = []
    with threadpool_limits(1):
        for label, k in (
            ("NumPy in memory (array-API kernel)", kernel),
            ("NumPy in memory (sc.compile)", ref),
        ):
            tg = _median_time(lambda k=k: k.gradient(w, X, y), repeat)
            th = _median_time(lambda k=k: k.hessian(w, X, y), repeat)
            out.append((label, "-", "-", tg, th))
    return out


def bench_dask(kernel, rows, features, workers, chunk, repeat, seed=0):
    import dask
    import dask.array as da
    from distributed import wait

    from symcalc.codegen.distributed import blockwise, local_cluster

    w = np.random.default_rng(seed).standard_normal(features) / np.sqrt(features)
    with local_cluster(n_workers=workers, threads_per_worker=1, memory_limit="6GiB"):
        rs = da.random.default_rng(seed)
        X = rs.standard_normal((rows, features), chunks=(chunk, features)).persist()
        y = (rs.random(rows, chunks=chunk) < 0.5).astype(float).persist()
        wait([X, y])
        tg = _median_time(lambda: dask.compute(kernel.gradient(w, X, y)), repeat)
        th = _median_time(lambda: dask.compute(kernel.hessian(w, X, y)), repeat)
        bg = _median_time(lambda: dask.compute(blockwise(kernel, "gradient", w, X, y)), repeat)
        bh = _median_time(lambda: dask.compute(blockwise(kernel, "hessian", w, X, y)), repeat)
        blocks = X.numblocks[0]
    name = f"Dask, {workers} worker{'s' if workers > 1 else ''}"
    return [
        (f"{name}, kernel on Dask arrays", f"{chunk:,}", blocks, tg, th),
        (f"{name}, blockwise", f"{chunk:,}", blocks, bg, bh),
    ]


def machine_line():
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {datetime.date.today().isoformat()}"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument(
        "--chunks", type=int, nargs="+", default=None, help="rows per block (25k 100k 400k)"
    )
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="200k rows, chunks 25k/100k, 1 repeat")
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.repeat = 200_000, 1
        args.chunks = args.chunks or [25_000, 100_000]
    args.chunks = args.chunks or [25_000, 100_000, 400_000]
    import dask
    import distributed

    kernel, ref = _kernels()
    results = bench_numpy(kernel, ref, args.rows, args.features, args.repeat)
    for workers in args.workers:
        for chunk in args.chunks:
            results.extend(
                bench_dask(kernel, args.rows, args.features, workers, chunk, args.repeat)
            )
    mb = args.rows * args.features * 8 / 2**20
    print(
        f"Logistic regression, {args.rows:,} rows x {args.features} features (X = {mb:,.0f} MiB float64, "
        "fits in memory here)"
    )
    print(
        f"Machine: {machine_line()}; dask {dask.__version__}, distributed {distributed.__version__}, "
        f"numpy {np.__version__}"
    )
    print(
        "BLAS pinned to 1 thread (threadpoolctl) in the NumPy runs and in every Dask worker; "
        f"worker processes with 1 thread each; median of {args.repeat} runs.\n"
    )
    base_g, base_h = results[0][3], results[0][4]
    print(
        "| run | chunk rows | blocks | gradient rows/s | Hessian rows/s | gradient vs NumPy | Hessian vs NumPy |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, chunk, blocks, tg, th in results:
        print(
            f"| {label} | {chunk} | {blocks} | {args.rows / tg:,.0f} | {args.rows / th:,.0f} | "
            f"{base_g / tg:.2f}x | {base_h / th:.2f}x |"
        )


if __name__ == "__main__":
    main()
