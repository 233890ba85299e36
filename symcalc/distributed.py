"""Run compiled kernels on Dask: a local cluster, a remote one, and row-chunked data.

A kernel from :func:`symcalc.array_api.compile_array_api` (or ``sc.compile(...,
backend="dask")``) called on Dask arrays returns *lazy* Dask arrays: a sum over
samples such as the logistic-regression gradient ``X.T @ (sigmoid(X @ w) - y)`` is a
graph with one small task per row block and a tree reduction of the partial sums, so
no worker ever holds more than a few blocks of X. Whichever ``dask.distributed``
client is current runs ``.compute()``:

.. code-block:: python

    import symcalc as sc
    from symcalc.array_api import compile_array_api
    from symcalc.distributed import local_cluster, row_chunks

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
from typing import Any, Iterator

from symcalc.errors import InputError, ShapeError

__all__ = ["local_cluster", "connect", "pin_blas_threads", "row_chunks", "evaluate", "blas_threads"]


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
    client.run(_limit_blas, n)
    return client.run(blas_threads)


@contextlib.contextmanager
def local_cluster(n_workers: int = 2, threads_per_worker: int = 1, memory_limit: str | int = "2GiB",
                  blas: int | None = 1, **kwargs: Any) -> Iterator[Any]:
    """A ``dask.distributed`` cluster of worker *processes* on this machine, and its Client.

    The Client is the current one inside the block (``.compute()`` runs there); the
    cluster is closed on exit. The dashboard is off unless ``dashboard_address`` is
    given; BLAS is pinned to ``blas`` threads per worker (None: leave it).

    >>> with local_cluster(n_workers=1, memory_limit="512MiB") as client:   # doctest: +SKIP
    ...     len(client.scheduler_info()["workers"])
    1
    """
    from distributed import Client, LocalCluster

    if n_workers < 1 or threads_per_worker < 1:
        raise InputError(f"n_workers and threads_per_worker must be >= 1, got {n_workers}, {threads_per_worker}")
    kwargs.setdefault("dashboard_address", None)
    kwargs.setdefault("silence_logs", logging.ERROR)
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
                           memory_limit=memory_limit, **kwargs)
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
        raise ShapeError(f"the arrays have different numbers of rows {sorted(counts)}; row_chunks "
                         "splits samples, so each array needs one row per sample")
    out = []
    for a in arrays:
        if not hasattr(a, "chunks"):
            a = np.asarray(a)
        chunks = (rows,) + tuple(a.shape[1:])
        out.append(a.rechunk(chunks) if isinstance(a, da.Array) else da.from_array(a, chunks=chunks))
    return out[0] if len(out) == 1 else tuple(out)


def evaluate(kernel, method: str, *args, rows: int = 100_000):
    """kernel.method on args with every sample-sized array split into row blocks: lazy results.

    Arrays whose first axis is a sample dimension (a size that ``wrt`` does not have,
    e.g. m of X (m, n) and y (m,)) are chunked by ``rows``; the others (w) are one block.

    >>> import numpy as np, symcalc as sc
    >>> from symcalc.array_api import compile_array_api
    >>> X = sc.matrix_symbol("X", "m", "n"); w = sc.vector("w", "n"); y = sc.vector("y", "m")
    >>> k = compile_array_api(sc.squared_error(X, w, y), w, params=[X, y])
    >>> g = evaluate(k, "gradient", np.ones(2), np.ones((6, 2)), np.zeros(6), rows=4)
    >>> type(g).__name__, g.compute().tolist()
    ('Array', [24.0, 24.0])
    """
    import dask.array as da
    import numpy as np
    import sympy as sp

    from symcalc.array_api import _array_shape

    if method not in kernel.METHODS:
        raise InputError(f"method must be one of {', '.join(kernel.METHODS)}, got {method!r}")
    if kernel.kind != "matrix":
        syms = [None] * len(args)
        sample_dims = set()
    else:
        syms = [kernel.wrt] + list(kernel.params)
        own = {d for d in _array_shape(kernel.wrt) if isinstance(d, sp.Symbol)}
        sample_dims = {d for s in syms for d in _array_shape(s)[:1] if isinstance(d, sp.Symbol) and d not in own}
    converted = []
    for k, a in enumerate(args):
        sym = syms[k] if k < len(syms) else None
        split = (kernel.kind != "matrix" and k == 0) or (
            sym is not None and _array_shape(sym)[:1] and _array_shape(sym)[0] in sample_dims)
        if isinstance(a, da.Array) or np.ndim(a) == 0:
            converted.append(a)
        elif split:
            converted.append(row_chunks(np.asarray(a), rows=rows))
        else:
            arr = np.asarray(a)
            converted.append(da.from_array(arr, chunks=arr.shape))
    return getattr(kernel, method)(*converted)
