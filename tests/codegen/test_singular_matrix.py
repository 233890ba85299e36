"""A singular or indefinite "SPD" matrix given to a compiled kernel (issue 13): one
SymcalcError naming the matrix parameter, never a bare numpy.linalg.LinAlgError; a valid
covariance still gives the values of a hand-written NumPy log-density."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symcalc as sc
from symcalc.errors import SymcalcError


def _gaussian():
    x, mu = sc.vector("x", 3), sc.vector("mu", 3)
    lp = sc.gaussian_logpdf(x, mu, sp.MatrixSymbol("Sigma", 3, 3))
    (S,) = [s for s in lp.free_symbols if str(s) == "Sigma"]
    return lp, x, mu, S


def _numpy_logpdf(x, mu, S):
    d = x - mu
    return -0.5 * (np.linalg.slogdet(S)[1] + d @ np.linalg.solve(S, d) + 3 * np.log(2 * np.pi))


SINGULAR = np.diag([1.0, 0.0, 1.0])
INDEFINITE = np.diag([1.0, -2.0, 1.0])


@pytest.fixture(scope="module")
def kernels():
    lp, x, mu, S = _gaussian()
    return {
        "numpy": sc.compile(lp, x, params=[mu, S]),
        "array_api": sc.compile_array_api(lp, x, params=[mu, S], backend="numpy"),
    }


#: every method solves with Sigma (a singular one fails everywhere); the value also factors it
#: (Cholesky of the log-determinant), so an invertible indefinite one fails there
CASES = [(m, SINGULAR, "singular") for m in ("value", "gradient", "hessian")] + [
    ("value", INDEFINITE, "indefinite")
]


@pytest.mark.parametrize("backend", ["numpy", "array_api"])
@pytest.mark.parametrize("method,bad,kind", CASES, ids=[f"{m}-{k}" for m, _, k in CASES])
def test_a_bad_covariance_is_named(kernels, backend, method, bad, kind):
    k = kernels[backend]
    with pytest.raises(SymcalcError, match="'Sigma'") as info:
        getattr(k, method)(np.zeros(3), np.zeros(3), bad)
    assert not isinstance(info.value, np.linalg.LinAlgError)
    assert "positive definite" in str(info.value)


def test_a_batch_with_an_indefinite_covariance_is_named(kernels):
    with pytest.raises(SymcalcError, match="'Sigma'"):
        kernels["numpy"].value(np.zeros((4, 3)), np.zeros(3), INDEFINITE)


@pytest.mark.parametrize("backend", ["numpy", "array_api"])
def test_a_valid_covariance_agrees_with_hand_written_numpy(kernels, backend):
    rng = np.random.default_rng(1)
    B = rng.normal(size=(3, 3))
    S = B @ B.T + 3 * np.eye(3)
    x, mu = rng.normal(size=3), rng.normal(size=3)
    k = kernels[backend]
    assert np.isclose(float(k.value(x, mu, S)), _numpy_logpdf(x, mu, S), rtol=1e-12)
    assert np.allclose(np.asarray(k.gradient(x, mu, S)), -np.linalg.solve(S, x - mu))
    assert np.allclose(np.asarray(k.hessian(x, mu, S)), -np.linalg.inv(S))
