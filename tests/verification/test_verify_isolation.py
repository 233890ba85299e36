"""verify runs its decision in a killable worker: fork when single-threaded, forkserver
once the process has other threads (forking those can deadlock the child)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CODE = r"""
import threading, time
import sympy as sp
import symcalc as sc
from symcalc import verify as _  # noqa: F401  (the function; the module is below)
import importlib
V = importlib.import_module("symcalc.verification.sandbox")
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
    out = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", CODE],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["fork", "forkserver", "False", "True", "False"]


CODE_CHILD = r"""
import threading, multiprocessing
from concurrent.futures import ProcessPoolExecutor
import sympy as sp
import symcalc as sc

def check(_):
    x = sp.Symbol("x")
    return sc.verify_gradient(x**3, [x], ["3x^2"]).holds

if __name__ == "__main__":
    import sys, types
    # stands for JAX / PyTorch (native thread pools that survive in forked children's view)
    sys.modules.setdefault("tensorflow", types.ModuleType("tensorflow"))
    stop = threading.Event()
    threading.Thread(target=stop.wait, daemon=True).start()
    print(check(0))                                   # starts a fork server in this process
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        print(list(pool.map(check, range(2))))        # forked children cannot use that server
    stop.set()
"""


def test_forked_children_of_a_fork_server_owner_still_verify(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CODE_CHILD)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "[True,", "True]"]
