"""No dense diagonals of data (issue 13): the hand-written logistic loss
sum(log(1 + exp(-y .* (A w)))) compiles to a Hessian whose peak memory grows linearly in m
(measured as the peak RSS, VmHWM, of a fresh subprocess), and whose values agree with a
hand-written NumPy Hessian and with central differences of the hand-written gradient."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sympy as sp

import symcalc as sc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _hand_written_loss():
    A = sc.matrix_symbol("A", "m", "n")
    w = sc.vector("w", "n")
    y = sc.vector("y", "m")
    t = sc.hadamard(-y, A * w)
    return sc.sum_entries(sc.elementwise(lambda s: sp.log(1 + sp.exp(s)), t)), w, A, y


def _numpy_loss(w, A, y):
    return np.sum(np.logaddexp(0, -y * (A @ w)))


def _numpy_gradient(w, A, y):
    t = -y * (A @ w)
    return A.T @ (-y / (1 + np.exp(-t)))


def _numpy_hessian(w, A, y):
    t = -y * (A @ w)
    s = 1 / (1 + np.exp(-t))
    return A.T @ ((y * y * s * (1 - s))[:, None] * A)


def test_the_hessian_source_builds_no_diagonal_matrix():
    f, w, A, y = _hand_written_loss()
    k = sc.compile(f, w, params=[A, y])
    code = [line for line in k.source.splitlines() if not line.lstrip().startswith("#")]
    assert not any("diag(" in line for line in code if "'" not in line and '"' not in line)


def test_the_hessian_agrees_with_hand_written_numpy_and_differences():
    f, w, A, y = _hand_written_loss()
    k = sc.compile(f, w, params=[A, y])
    rng = np.random.default_rng(3)
    A_ = rng.normal(size=(40, 5))
    y_ = rng.choice([-1.0, 1.0], size=40)
    w_ = rng.normal(size=5)
    assert np.isclose(k.value(w_, A_, y_), _numpy_loss(w_, A_, y_), rtol=1e-12)
    assert np.allclose(k.gradient(w_, A_, y_), _numpy_gradient(w_, A_, y_), rtol=1e-12)
    H = k.hessian(w_, A_, y_)
    assert np.allclose(H, _numpy_hessian(w_, A_, y_), rtol=1e-10, atol=1e-12)
    h = 1e-6
    fd = np.array(
        [
            (_numpy_gradient(w_ + h * e, A_, y_) - _numpy_gradient(w_ - h * e, A_, y_)) / (2 * h)
            for e in np.eye(5)
        ]
    )
    assert np.allclose(H, fd, rtol=1e-6, atol=1e-8)


_PROBE = textwrap.dedent(
    """
    import sys
    import numpy as np, sympy as sp, symcalc as sc
    m, n = int(sys.argv[1]), 20
    A = sc.matrix_symbol("A", "m", "n"); w = sc.vector("w", "n"); y = sc.vector("y", "m")
    f = sc.sum_entries(sc.elementwise(lambda s: sp.log(1 + sp.exp(s)), sc.hadamard(-y, A * w)))
    k = sc.compile(f, w, params=[A, y])
    rng = np.random.default_rng(0)
    A_ = rng.normal(size=(m, n)); y_ = rng.choice([-1.0, 1.0], size=m); w_ = rng.normal(size=n)
    def peak():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    before = peak()
    H = k.hessian(w_, A_, y_)
    assert H.shape == (n, n) and np.all(np.isfinite(H))
    print(before, peak())
    """
)


def _peak_bytes(m: int) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(m)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    before, after = map(int, out.stdout.split()[-2:])
    return before, after


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc (VmHWM)")
def test_logistic_hessian_memory_is_linear_in_m():
    """At m = 1e5 an m x m float64 array is 80 GB; the Hessian's own peak (beyond the data,
    A is m x 20 = 16 MB) must stay within a few copies of A, and grow ~linearly from 1e4."""
    n = 20
    rows = {m: _peak_bytes(m) for m in (10_000, 100_000)}
    for m, (before, after) in rows.items():
        data = m * n * 8
        assert after - before < 8 * data + 50e6, (m, after - before)
        assert after - before < (m * m * 8) / 100  # far below one m x m array
    growth = rows[100_000][1] - rows[10_000][1]
    assert growth < 10 * 90_000 * n * 8 + 50e6  # linear: ~10x the data added, not 100x
