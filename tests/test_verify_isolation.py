"""verify runs its decision in a killable worker: fork when single-threaded, forkserver
once the process has other threads (forking those can deadlock the child)."""

from __future__ import annotations

import subprocess
import sys

CODE = r"""
import threading, time
import sympy as sp
import symcalc as sc
from symcalc import verify as _  # noqa: F401  (the function; the module is below)
import importlib
V = importlib.import_module("symcalc.verify")
x = sp.Symbol("x")
print(V._start_method())
stop = threading.Event()
threading.Thread(target=stop.wait, daemon=True).start()   # now the process has 2 threads
print(V._start_method())
v = sc.verify_gradient(x**3, [x], ["3x^2 + 1"])
print(v.holds, v.counterexample is not None)
v = sc.verify(sp.sqrt(x**2), x)
print(v.holds)
stop.set()
"""


def test_worker_start_method_follows_the_thread_count_and_no_fork_warning():
    out = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", CODE],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["fork", "forkserver", "False", "True", "False"]
