"""The standalone kernel source: importable on its own, with a batch-first convenience API."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import symcalc as sc


def _import_file(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rosenbrock_module(tmp_path_factory):
    x, y, a = sp.symbols("x y a", real=True)
    f = (a - x) ** 2 + 100 * (y - x**2) ** 2
    path = tmp_path_factory.mktemp("src") / "rosen_kernels.py"
    path.write_text(sc.compile(f, [x, y], params=[a]).source)
    return f, [x, y, a], _import_file(path, "rosen_kernels")


def test_standalone_source_imports_numpy_only(rosenbrock_module, tmp_path):
    *_, module = rosenbrock_module
    code = (
        f"import sys; sys.path.insert(0, {str(module.__file__.rsplit('/', 1)[0])!r});"
        "import rosen_kernels; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sympy', 'symcalc', 'symengine')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_convenience_api_matches_sympy_at_batched_points(rosenbrock_module):
    f, (x, y, a), module = rosenbrock_module
    pts = np.random.default_rng(1).normal(size=(4, 3, 2))
    av = 1.5
    val, g, H = module.f(pts, av), module.grad(pts, av), module.hess(pts, av)
    assert val.shape == (4, 3) and g.shape == (4, 3, 2) and H.shape == (4, 3, 2, 2)
    grad_ref = sp.lambdify([x, y, a], [sp.diff(f, x), sp.diff(f, y)])
    hess_ref = sp.lambdify([x, y, a], sp.hessian(f, [x, y]))
    for idx in np.ndindex(4, 3):
        p = pts[idx]
        assert val[idx] == pytest.approx(float(f.subs({x: p[0], y: p[1], a: av})))
        np.testing.assert_allclose(g[idx], grad_ref(*p, av), rtol=1e-12)
        np.testing.assert_allclose(H[idx], np.array(hess_ref(*p, av), dtype=float), rtol=1e-12)


def test_convenience_api_broadcasts_parameters_and_keeps_float32(rosenbrock_module):
    *_, module = rosenbrock_module
    pts = np.zeros((5, 2), dtype=np.float32)
    a = np.linspace(0, 1, 5)
    out = module.f(pts.astype(np.float64), a)
    np.testing.assert_allclose(out, a**2)  # f(0, 0; a) = a^2
    assert module.grad(pts, 1.0).dtype == np.float32


def test_convenience_api_names_the_expected_shape(rosenbrock_module):
    *_, module = rosenbrock_module
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 2\)"):
        module.f(np.zeros((3, 3)), 1.0)
