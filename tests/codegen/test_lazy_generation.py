"""Lazy code generation (symcalc.codegen.explicit_source): each NumPy function is written on its
first use, the native backend writes none unless it falls back, and a large formula is not
printed into the module docstring. Every result is checked against SymPy's own derivatives."""

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.codegen.explicit_source import SHOWN_NODES

RNG = np.random.default_rng(3)


def _rosen():
    x, y, a = sp.symbols("x y a")
    return (a - x) ** 2 + 100 * (y - x**2) ** 2, [x, y], [a]


def _sympy_values(f, wrt, params, point, pvals):
    subs = dict(zip(list(wrt) + list(params), list(point) + list(pvals)))
    grad = [float(sp.diff(f, v).subs(subs)) for v in wrt]
    hess = [[float(sp.diff(f, u, v).subs(subs)) for v in wrt] for u in wrt]
    return float(f.subs(subs)), np.array(grad), np.array(hess)


def test_numpy_functions_are_written_on_first_use_and_agree_with_sympy():
    f, wrt, params = _rosen()
    k = sc.compile(f, wrt, params)
    assert set(k._writer.blocks) == {"value"}  # value: written at compile (errors surface there)
    pts = RNG.normal(size=(5, 2))
    g = k.gradient(pts, 1.5)
    assert set(k._writer.blocks) == {"value", "gradient"}
    h = k.hessian(pts, 1.5)
    v = k.value(pts, 1.5)
    assert set(k._writer.blocks) == {"value", "gradient", "hessian"}
    for p, vi, gi, hi in zip(pts, v, g, h):
        sv, sg, sh = _sympy_values(f, wrt, params, p, [1.5])
        assert np.isclose(vi, sv) and np.allclose(gi, sg) and np.allclose(hi, sh)
    vg = k.value_and_gradient(pts, 1.5)
    assert np.allclose(vg[0], v) and np.allclose(vg[1], g)


def test_the_whole_module_is_assembled_only_when_asked_for():
    f, wrt, params = _rosen()
    k = sc.compile(f, wrt, params)
    assert k._module is None
    source = k.source
    for name in ("value", "gradient", "hessian", "value_and_gradient", "value_gradient_hessian"):
        assert f"def {name}(" in source
    assert "def hess(" in source and k.path.read_text(encoding="utf-8") == source
    x = np.array([[0.3, -0.2]])
    assert np.allclose(k.module.hess(x, 1.5), k.hessian(x, 1.5))


def test_native_writes_no_numpy_source_unless_it_falls_back():
    f, wrt, params = _rosen()
    k = sc.compile(f, wrt, params, backend="native")
    assert k.backend == "native"
    pts = RNG.normal(size=(4, 2))
    g, h = k.gradient(pts, 2.0), k.hessian(pts, 2.0)
    assert k._writer.blocks == {}
    for p, gi, hi in zip(pts, g, h):
        _, sg, sh = _sympy_values(f, wrt, params, p, [2.0])
        assert np.allclose(gi, sg) and np.allclose(hi, sh)


@pytest.mark.parametrize("terms", [3, SHOWN_NODES // 4])
def test_a_large_formula_is_not_printed_into_the_docstring(terms):
    x, y = sp.symbols("x y")
    f = sp.Add(*[(x - k) ** 2 * y ** (k % 3) for k in range(terms)])  # > SHOWN_NODES nodes at 500
    k = sc.compile(f, [x, y])
    doc = k.module.__doc__
    assert ("not shown" in doc) == (terms > 3)
    pt = np.array([0.5, 1.0])
    assert np.isclose(k.value(pt), float(f.subs({x: 0.5, y: 1.0})))
    assert np.allclose(
        k.gradient(pt), [float(sp.diff(f, v).subs({x: 0.5, y: 1.0})) for v in (x, y)]
    )
