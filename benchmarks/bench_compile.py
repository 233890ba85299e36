"""Compile + first call (value, gradient, Hessian) of Lennard-Jones clusters, cold cache.

Each measurement runs in a fresh ``python -c`` process with an empty kernel cache, and reports
that process's wall time per stage and its peak resident memory (``VmHWM`` of
``/proc/self/status``, which belongs to the new process image; ``ru_maxrss`` would carry the
RSS of the parent that forked it). The energy is built with ``sp.Add(*terms)``.

    python benchmarks/bench_compile.py --atoms 38 55 --backends native numpy
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

SCRIPT = r"""
import json, os, sys, time
sys.path[:0] = [{root!r}, {here!r}]
t0 = time.perf_counter()
import numpy as np, sympy as sp, symcalc as sc
import bench_common as bc
from threadpoolctl import threadpool_limits
threadpool_limits(1)
f, q = bc.lennard_jones({atoms})
t1 = time.perf_counter()
x = bc.lj_configurations({atoms}, 8)
k = sc.compile(f, q, backend={backend!r})
t2 = time.perf_counter()
k.value(x); t3 = time.perf_counter()
k.gradient(x); t4 = time.perf_counter()
k.hessian(x); t5 = time.perf_counter()
status = open("/proc/self/status").read()
hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
print(json.dumps({{"build": t1 - t0, "compile": t2 - t1, "value": t3 - t2, "gradient": t4 - t3,
                  "hessian": t5 - t4, "total": t5 - t1, "peak_MB": hwm / 1024,
                  "backend": k.backend}}))
"""


def measure(atoms: int, backend: str, root: Path = HERE.parent) -> dict:
    """One cold compile + first calls in a fresh process (empty SYMCALC_CACHE)."""
    code = SCRIPT.format(root=str(root), here=str(HERE), atoms=atoms, backend=backend)
    with tempfile.TemporaryDirectory() as cache:
        env = {**__import__("os").environ, "SYMCALC_CACHE": cache, "PYTHONWARNINGS": "ignore"}
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
    return {"requested": backend, **json.loads(res.stdout.strip().splitlines()[-1])}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--atoms", type=int, nargs="+", default=[38, 55])
    ap.add_argument("--backends", nargs="+", default=["native", "numpy"])
    ap.add_argument("--root", default=str(HERE.parent), help="the symcalc checkout to measure")
    args = ap.parse_args(argv)
    for atoms in args.atoms:
        for backend in args.backends:
            r = measure(atoms, backend, Path(args.root))
            print(json.dumps({"atoms": atoms, **r}), flush=True)


if __name__ == "__main__":
    main()
