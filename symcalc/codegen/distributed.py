"""Run compiled kernels on Dask: a local cluster, a remote one, and row-chunked data.

A kernel from :func:`symcalc.codegen.array_api.compile_array_api` (or ``sc.compile(...,
backend="dask")``) called on Dask arrays returns *lazy* Dask arrays: a sum over
samples such as the logistic-regression gradient ``X.T @ (sigmoid(X @ w) - y)`` is a
graph with one small task per row block and a tree reduction of the partial sums, so
no worker ever holds more than a few blocks of X. Whichever ``dask.distributed``
client is current runs ``.compute()``:

.. code-block:: python

    import symcalc as sc
    from symcalc.codegen.array_api import compile_array_api
    from symcalc.codegen.distributed import local_cluster, row_chunks

    k = compile_array_api(sc.logistic_loss(X, w, y), w, params=[X, y], backend="dask")
    with local_cluster(n_workers=2) as client:          # worker processes on this machine
        Xd, yd = row_chunks(X_np, y_np, rows=100_000)
        g = k.gradient(w0, Xd, yd)                      # lazy
        g.compute()                                     # runs on the cluster

    # a real cluster: start `dask scheduler` and `dask worker tcp://scheduler:8786` on the
    # machines, then
    client = connect("tcp://scheduler:8786")           # distributed.Client + BLAS pinned
    Xd = dask.array.from_zarr("s3://bucket/X.zarr")    # data that lives out of core

>>> import numpy as np
>>> Xd, yd = row_chunks(np.ones((10, 3)), np.ones(10), rows=4)
>>> Xd.chunks, yd.chunks
(((4, 4, 2), (3,)), ((4, 4, 2),))
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from symcalc.errors import InputError, ShapeError

__all__ = [
    "local_cluster",
    "connect",
    "pin_blas_threads",
    "row_chunks",
    "evaluate",
    "blockwise",
    "row_separable",
    "blas_threads",
]


def _limit_blas(n: int) -> int:
    """Run inside a worker: cap the BLAS / OpenMP pools at n threads (kept for the process)."""
    import threadpoolctl

    global _BLAS_LIMIT
    _BLAS_LIMIT = threadpoolctl.threadpool_limits(limits=n)
    return n


_BLAS_LIMIT = None


def blas_threads() -> list[int]:
    """The thread counts of the BLAS / OpenMP pools loaded in this process.

    >>> all(isinstance(n, int) for n in blas_threads())
    True
    """
    import threadpoolctl

    return [info["num_threads"] for info in threadpoolctl.threadpool_info()]


def pin_blas_threads(client, n: int = 1) -> dict:
    """Cap BLAS at n threads in every worker of client (threadpoolctl); {worker: [threads...]}.

    One thread per worker process is what a cluster of many single-threaded workers
    wants (and OpenBLAS on 2 cores is 10x slower on tall-skinny X.T @ Y with 2 threads).
    """
    import importlib.util

    if importlib.util.find_spec("threadpoolctl") is None:
        raise InputError(
            "pinning BLAS threads needs threadpoolctl (pip install threadpoolctl), "
            "or pass blas=None to leave the BLAS thread count alone"
        )
    client.run(_limit_blas, n)
    return client.run(blas_threads)


@contextlib.contextmanager
def local_cluster(
    n_workers: int = 2,
    threads_per_worker: int = 1,
    memory_limit: str | int = "2GiB",
    blas: int | None = 1,
    **kwargs: Any,
) -> Iterator[Any]:
    """A ``dask.distributed`` cluster of worker *processes* on this machine, and its Client.

    The Client is the current one inside the block (``.compute()`` runs there); the
    cluster is closed on exit. The dashboard is off unless ``dashboard_address`` is
    given; BLAS is pinned to ``blas`` threads per worker (None: leave it).

    .. code-block:: python

        with local_cluster(n_workers=2, memory_limit="512MiB") as client:
            k.gradient(w, X_dask, y_dask).compute()      # runs on the 2 worker processes
    """
    from distributed import Client, LocalCluster

    if n_workers < 1 or threads_per_worker < 1:
        raise InputError(
            f"n_workers and threads_per_worker must be >= 1, got {n_workers}, {threads_per_worker}"
        )
    kwargs.setdefault("dashboard_address", None)
    kwargs.setdefault("silence_logs", logging.ERROR)
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        processes=True,
        memory_limit=memory_limit,
        **kwargs,
    )
    try:
        client = Client(cluster)
        try:
            if blas is not None:
                pin_blas_threads(client, blas)
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def connect(address: str = "tcp://scheduler:8786", blas: int | None = 1, **kwargs: Any):
    """A Client of a running cluster (``dask scheduler`` / ``dask worker <address>``), BLAS pinned.

    ``connect("tcp://scheduler:8786")`` is ``distributed.Client("tcp://scheduler:8786")``
    followed by :func:`pin_blas_threads`.
    """
    from distributed import Client

    client = Client(address, **kwargs)
    if blas is not None:
        pin_blas_threads(client, blas)
    return client


def row_chunks(*arrays, rows: int = 100_000):
    """NumPy arrays as Dask arrays in blocks of ``rows`` rows (all columns in one block).

    All arrays must have the same number of rows (samples). Dask arrays pass through,
    rechunked to the same row blocks, so the blocks of X and y line up.
    """
    import dask.array as da
    import numpy as np

    if rows < 1:
        raise InputError(f"rows must be >= 1, got {rows}")
    counts = {int(a.shape[0]) for a in arrays if getattr(a, "ndim", np.ndim(a)) >= 1}
    if len(counts) > 1:
        raise ShapeError(
            f"the arrays have different numbers of rows {sorted(counts)}; row_chunks "
            "splits samples, so each array needs one row per sample"
        )
    out = []
    for a in arrays:
        if not hasattr(a, "chunks"):
            a = np.asarray(a)
        chunks = (rows,) + tuple(a.shape[1:])
        out.append(
            a.rechunk(chunks) if isinstance(a, da.Array) else da.from_array(a, chunks=chunks)
        )
    return out[0] if len(out) == 1 else tuple(out)


def evaluate(kernel, method: str, *args, rows: int = 100_000):
    """kernel.method on args with every sample-sized array split into row blocks: lazy results.

    Arrays whose first axis is a sample dimension (a size that ``wrt`` does not have,
    e.g. m of X (m, n) and y (m,)) are chunked by ``rows``; the others (w) are one block.

    >>> import numpy as np, symcalc as sc
    >>> from symcalc.codegen.array_api import compile_array_api
    >>> X = sc.matrix_symbol("X", "m", "n"); w = sc.vector("w", "n"); y = sc.vector("y", "m")
    >>> k = compile_array_api(sc.squared_error(X, w, y), w, params=[X, y])
    >>> g = evaluate(k, "gradient", np.ones(2), np.ones((6, 2)), np.zeros(6), rows=4)
    >>> type(g).__name__, g.compute().tolist()
    ('Array', [24.0, 24.0])
    """
    import dask.array as da
    import numpy as np
    import sympy as sp

    from symcalc.codegen.array_api import _array_shape

    if method not in kernel.METHODS:
        raise InputError(f"method must be one of {', '.join(kernel.METHODS)}, got {method!r}")
    if kernel.kind != "matrix":
        syms = [None] * len(args)
        sample_dims = set()
    else:
        syms = [kernel.wrt] + list(kernel.params)
        own = {d for d in _array_shape(kernel.wrt) if isinstance(d, sp.Symbol)}
        sample_dims = {
            d
            for s in syms
            for d in _array_shape(s)[:1]
            if isinstance(d, sp.Symbol) and d not in own
        }
    converted = []
    for k, a in enumerate(args):
        sym = syms[k] if k < len(syms) else None
        split = (kernel.kind != "matrix" and k == 0) or (
            sym is not None and _array_shape(sym)[:1] and _array_shape(sym)[0] in sample_dims
        )
        if isinstance(a, da.Array) or np.ndim(a) == 0:
            converted.append(a)
        elif split:
            converted.append(row_chunks(np.asarray(a), rows=rows))
        else:
            arr = np.asarray(a)
            converted.append(da.from_array(arr, chunks=arr.shape))
    return getattr(kernel, method)(*converted)


# ---------------------------------------------------------------------------
# Block by block: one NumPy kernel call per row block, partial results summed
# ---------------------------------------------------------------------------
class BlockFunction:
    """A picklable kernel method: the generated source and the method name.

    A worker loads the source once (written to its own kernel cache and imported,
    like the client does), then calls ``module.<method>(numpy namespace, *args)``.
    Workers need symcalc installed; the kernel module itself travels as text.
    """

    def __init__(self, source: str, method: str):
        self.source, self.method = source, method

    def __call__(self, *args):
        import array_api_compat.numpy as xp

        from symcalc.codegen.array_api import _load_source

        module, _ = _load_source(self.source, "block")
        return getattr(module, self.method)(xp, *args)


def _sample_axes(kernel):
    """For a matrix kernel: per argument, True when its first axis is a sample dimension."""
    import sympy as sp

    from symcalc.codegen.array_api import _array_shape

    syms = [kernel.wrt] + list(kernel.params)
    own = {d for d in _array_shape(kernel.wrt) if isinstance(d, sp.Symbol)}
    sample = {
        d for s in syms for d in _array_shape(s)[:1] if isinstance(d, sp.Symbol) and d not in own
    }
    return [bool(_array_shape(s)) and _array_shape(s)[0] in sample for s in syms], sample


def row_separable(kernel, seed: int = 0) -> bool:
    """True when f is a sum over the rows of its sample-sized arrays (checked numerically).

    f(X, y) = f(X[:3], y[:3]) + f(X[3:], y[3:]) for value, gradient and Hessian at a
    random point: true for the logistic loss and least squares, false when f also
    has a term without the samples (a penalty on w) or couples rows (log-sum-exp over
    samples). The answer is cached on the kernel.
    """
    import numpy as np
    import sympy as sp

    from symcalc.codegen.array_api import _array_shape

    cached = getattr(kernel, "_row_separable", None)
    if cached is not None:
        return cached
    if kernel.kind != "matrix":
        raise InputError("row_separable applies to matrix-form kernels (w, X, y, ...)")
    split, sample = _sample_axes(kernel)
    rng = np.random.default_rng(seed)
    sizes = {d: 7 for d in sample}
    args: list[Any] = []
    for s in [kernel.wrt] + list(kernel.params):
        shape = tuple(
            sizes.get(d, 3) if isinstance(d, sp.Symbol) else int(d) for d in _array_shape(s)
        )
        args.append(rng.uniform(0.2, 1.0, size=shape) if shape else 0.7)
    ok = bool(sample)
    methods = ["value", "gradient"] + (["hessian"] if kernel.hessian_expr is not None else [])
    for method in methods if ok else []:
        whole = np.asarray(getattr(kernel, method)(*args), dtype=np.float64)
        parts = [
            np.asarray(
                getattr(kernel, method)(*[a[sl] if sp_ else a for a, sp_ in zip(args, split)]),
                dtype=np.float64,
            )
            for sl in (slice(0, 3), slice(3, None))
        ]
        ok = ok and bool(np.allclose(parts[0] + parts[1], whole, rtol=1e-9, atol=1e-12))
    kernel._row_separable = ok
    return ok


def blockwise(kernel, method: str, *args, rows: int = 100_000):
    """kernel.method as one NumPy kernel call per row block, the partial results summed: lazy.

    For losses that are a sum over samples (checked by :func:`row_separable`), e.g. the
    logistic loss: block b computes ``X_b.T @ (sigmoid(X_b @ w) - y_b)`` in one task,
    and the partial gradients (Hessians, values) are added in a tree reduction. Fewer,
    larger tasks than the operation-by-operation graph of ``kernel.method`` on Dask
    arrays, and each block stays in cache between its steps. Sample-sized arguments
    may be NumPy (split into ``rows``-row blocks) or Dask arrays (their row blocks are
    used, rechunked to line up); the others (w) are passed whole to every block.

    Returns a Dask array ((), (n,), (n, n)), or a tuple of them for the fused methods.

    >>> import numpy as np, symcalc as sc
    >>> from symcalc.codegen.array_api import compile_array_api
    >>> X = sc.matrix_symbol("X", "m", "n"); w = sc.vector("w", "n"); y = sc.vector("y", "m")
    >>> k = compile_array_api(sc.logistic_loss(X, w, y), w, params=[X, y])
    >>> g = blockwise(k, "gradient", np.zeros(2), np.ones((6, 2)), np.ones(6), rows=4)
    >>> g.compute().tolist()                       # X^T (1/2 - 1) summed over 2 blocks
    [-3.0, -3.0]
    """
    import dask
    import dask.array as da
    import numpy as np

    from symcalc.codegen.array_api import _array_shape, namespace_of

    if kernel.kind != "matrix":
        raise InputError(
            "blockwise works on matrix-form kernels; an explicit-symbol kernel is already "
            "elementwise over its batch: call kernel.method(x_dask) directly"
        )
    if method not in kernel.METHODS:
        raise InputError(f"method must be one of {', '.join(kernel.METHODS)}, got {method!r}")
    if method in ("hessian", "value_gradient_hessian") and kernel.hessian_expr is None:
        raise InputError(f"the Hessian with respect to the matrix {kernel.wrt} is not compiled")
    names = [str(s) for s in [kernel.wrt] + list(kernel.params)]
    if len(args) != len(names):
        raise InputError(f"expected {len(names)} argument(s) ({', '.join(names)}), got {len(args)}")
    namespace_of(*args, backend="dask", names=names)  # refuses JAX / CuPy arrays by name
    if not row_separable(kernel):
        raise InputError(
            f"f = {kernel.f} is not a sum over the rows of its data, so summing per-block "
            "results would be wrong (a penalty on w counts once per block, a log-sum-exp over "
            "samples couples the rows); call kernel.{method}(...) on Dask arrays instead"
        )
    split, _ = _sample_axes(kernel)
    # prepare through the kernel (dtypes, shapes) on the NumPy / Dask arrays as given
    kernel._check_matrix_shapes([a if hasattr(a, "shape") else np.asarray(a) for a in args])
    dtype = np.result_type(*[getattr(a, "dtype", np.float64) for a in args])
    dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
    first = next(k for k, s in enumerate(split) if s)
    lead = args[first]
    if not isinstance(lead, da.Array):
        lead = row_chunks(np.asarray(lead, dtype=dtype), rows=rows)
    row_blocks = lead.chunks[0]
    blocks: list[Any] = []
    for a, s in zip(args, split):
        if not s:
            blocks.append(None)
            continue
        arr = (
            a
            if isinstance(a, da.Array)
            else da.from_array(np.asarray(a, dtype=dtype), chunks=(row_blocks,) + np.shape(a)[1:])
        )
        arr = arr.rechunk((row_blocks,) + tuple((d,) for d in arr.shape[1:]))
        blocks.append(arr.astype(dtype).to_delayed().ravel())
    fixed = [None if s else np.asarray(a, dtype=dtype) for a, s in zip(args, split)]
    fn = BlockFunction(kernel.source, method)
    parts = []
    for b in range(len(row_blocks)):
        call = [blocks[k][b] if split[k] else fixed[k] for k in range(len(args))]
        parts.append(dask.delayed(fn, pure=True)(*call))
    n = int(np.shape(args[0])[0]) if _array_shape(kernel.wrt) else 0
    shapes = {"value": (), "gradient": (n,), "hessian": (n, n)}
    outs = {
        "value": ["value"],
        "gradient": ["gradient"],
        "hessian": ["hessian"],
        "value_and_gradient": ["value", "gradient"],
        "value_gradient_hessian": ["value", "gradient", "hessian"],
    }[method]
    results = []
    for j, out in enumerate(outs):
        pieces = [p if len(outs) == 1 else p[j] for p in parts]
        stacked = da.stack([da.from_delayed(q, shape=shapes[out], dtype=dtype) for q in pieces])
        results.append(stacked.sum(axis=0, split_every=8))
    return results[0] if len(results) == 1 else tuple(results)
