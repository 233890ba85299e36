"""Rows of bench_kernels.py for batched matrix-form kernels (issue 15).

* Gaussian log-density, 10^5 points, d = 50: value, score and Hessian, against hand NumPy
  (Cholesky + triangular solve / cho_solve), scipy.stats, jax.jit(vmap) and torch.
* Logistic regression for 64 weight vectors at once (m = 20,000, n = 200): gradient against
  the two GEMMs it needs, hand NumPy, jax.jit(vmap(grad)), torch.func.vmap(grad); Hessian
  against a loop of syrk calls.

Each function takes the round-robin timer and the recorder of bench_kernels.py, so every peer
of a row is timed in the same loop.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sl
import scipy.stats

import symcalc as sc


def _gaussian_data(N, d, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d))
    S = A @ A.T / d + np.eye(d)
    return rng.normal(size=(N, d)), rng.normal(size=d), S


def hand_gaussian_value(X, mu, S):
    """log N(x; mu, S) for each row of X: one Cholesky, one triangular solve for all points."""
    L = np.linalg.cholesky(S)
    Z = sl.solve_triangular(L, (X - mu).T, lower=True)
    d = X.shape[1]
    return (
        -0.5 * np.einsum("ij,ij->j", Z, Z) - np.log(np.diag(L)).sum() - 0.5 * d * np.log(2 * np.pi)
    )


def hand_gaussian_score(X, mu, S):
    """-S^-1 (x - mu) for each row: one cho_solve for all points."""
    return -sl.cho_solve(sl.cho_factor(S, lower=True), (X - mu).T).T


def row_gaussian(repeat, interleaved, once, record, jax=None, torch=None, N=100_000, d=50):
    from symcalc.expr.structure import positive_definite

    x, m, Ss = sc.vector("x", "d"), sc.vector("mu", "d"), positive_definite("S", "d")
    k = sc.compile(sc.gaussian_logpdf(x, m, Ss), x, params=[m, Ss])
    X, mu, S = _gaussian_data(N, d)
    assert np.allclose(k.value(X, mu, S), hand_gaussian_value(X, mu, S))
    assert np.allclose(k.gradient(X, mu, S), hand_gaussian_score(X, mu, S))
    values = {
        "hand NumPy (Cholesky + triangular solve)": lambda: hand_gaussian_value(X, mu, S),
        "scipy.stats.multivariate_normal.logpdf": lambda: scipy.stats.multivariate_normal.logpdf(
            X, mu, S
        ),
        "symcalc (matrix form, batched)": lambda: k.value(X, mu, S),
    }
    scores = {
        "hand NumPy (cho_solve)": lambda: hand_gaussian_score(X, mu, S),
        "symcalc (matrix form, batched)": lambda: k.gradient(X, mu, S),
    }
    hessians = {
        "hand NumPy, broadcast view": lambda: np.broadcast_to(-np.linalg.inv(S), (N, d, d)),
        "hand NumPy, materialized": lambda: np.repeat(-np.linalg.inv(S)[None], N, axis=0),
        "symcalc, broadcast view": lambda: k.hessian(X, mu, S),
        "symcalc, materialize=True": lambda: k.hessian(X, mu, S, materialize=True),
    }
    if jax is not None:
        jnp = jax.numpy
        Xj, mj, Sj = jnp.asarray(X), jnp.asarray(mu), jnp.asarray(S)

        def logpdf(xv):
            return jax.scipy.stats.multivariate_normal.logpdf(xv, mj, Sj)

        jv = jax.jit(jax.vmap(logpdf))
        jg = jax.jit(jax.vmap(jax.grad(logpdf)))
        values["jax.jit(vmap(logpdf))"] = lambda: jv(Xj).block_until_ready()
        scores["jax.jit(vmap(grad))"] = lambda: jg(Xj).block_until_ready()
    if torch is not None:
        Xt, mt, St = torch.as_tensor(X), torch.as_tensor(mu), torch.as_tensor(S)

        def tvalue():
            return torch.distributions.MultivariateNormal(mt, covariance_matrix=St).log_prob(Xt)

        def tscore():
            Xg = Xt.clone().requires_grad_(True)
            dist = torch.distributions.MultivariateNormal(mt, covariance_matrix=St)
            (g,) = torch.autograd.grad(dist.log_prob(Xg).sum(), Xg)
            return g

        values["torch MultivariateNormal.log_prob"] = tvalue
        scores["torch autograd (sum of log_prob)"] = tscore
    row = f"5. Gaussian log-density, {N} points, d={d}"
    record(row, "value", interleaved(values, repeat), "hand NumPy (Cholesky + triangular solve)")
    record(row, "score", interleaved(scores, repeat), "hand NumPy (cho_solve)")
    record(row, "Hessian", interleaved(hessians, max(3, repeat // 3)), "hand NumPy, materialized")


def row_logistic_batch(
    repeat, interleaved, once, record, jax=None, torch=None, m=20_000, n=200, B=64
):
    from symcalc.expr.structure import logistic_loss

    Xs, ws, ys = sc.matrix_symbol("X", "m", "n"), sc.vector("w", "n"), sc.vector("y", "m")
    k = sc.compile(logistic_loss(Xs, ws, ys), ws, params=[Xs, ys])
    rng = np.random.default_rng(1)
    X = rng.normal(size=(m, n)) / np.sqrt(n)
    W = rng.normal(size=(B, n))
    y = (rng.random(m) < 0.5).astype(float)
    R = rng.normal(size=(B, m))

    def hand_gradient():
        Z = W @ X.T
        return (np.exp(-np.logaddexp(0, -Z)) - y) @ X

    def syrk_loop():
        out = np.empty((B, n, n))
        for b in range(B):
            z = X @ W[b]
            s = np.exp(-np.logaddexp(0, -z))
            Zs = np.sqrt(s * (1 - s))[:, None] * X
            out[b] = Zs.T @ Zs
        return out

    assert np.allclose(k.gradient(W, X, y), hand_gradient())
    assert np.allclose(k.hessian(W, X, y), syrk_loop())
    grads = {
        "the two GEMMs (W X^T, R X)": lambda: (W @ X.T, R @ X),
        "hand NumPy": hand_gradient,
        "symcalc (matrix form, batched)": lambda: k.gradient(W, X, y),
    }
    hessians = {
        "syrk loop (hand NumPy)": syrk_loop,
        "symcalc (matrix form)": lambda: k.hessian(W, X, y),
    }
    if jax is not None:
        jnp = jax.numpy
        Xj, yj, Wj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(W)

        def loss(wv):
            z = Xj @ wv
            return jnp.sum(jnp.logaddexp(0.0, z)) - yj @ z

        jg = jax.jit(jax.vmap(jax.grad(loss)))
        grads["jax.jit(vmap(grad))"] = lambda: jg(Wj).block_until_ready()
    if torch is not None:
        Xt, yt, Wt = torch.as_tensor(X), torch.as_tensor(y), torch.as_tensor(W)

        def tloss(wv):
            z = Xt @ wv
            return torch.nn.functional.softplus(z).sum() - yt @ z

        tg = torch.func.vmap(torch.func.grad(tloss))
        grads["torch.func vmap(grad)"] = lambda: tg(Wt)
    row = f"6. Logistic regression, {B} weight vectors, m={m}, n={n}"
    record(row, "gradient", interleaved(grads, repeat), "the two GEMMs (W X^T, R X)")
    record(row, "Hessian", interleaved(hessians, max(3, repeat // 3)), "syrk loop (hand NumPy)")
