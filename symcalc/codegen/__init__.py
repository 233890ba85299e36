"""Kernels: generated NumPy, array-API and native code, the loader, Dask."""
