"""Kernel modules load safely from many threads at once (Dask's threaded scheduler does this)."""

from __future__ import annotations

import importlib
from concurrent.futures import ThreadPoolExecutor

compile_module = importlib.import_module("symcalc.codegen.kernels")


def test_concurrent_loads_all_see_a_complete_module(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMCALC_CACHE", str(tmp_path))
    source = "import time\ntime.sleep(0.05)\n\ndef gradient(x):\n    return 2 * x\n"
    stem = f"thread_test_{tmp_path.name}"  # a fresh module name for this run

    def load(_):
        module, _path = compile_module._load_source(source, stem)
        return module.gradient(3)

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(load, range(16))) == [6] * 16


def test_cache_dir_is_found_from_many_threads_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMCALC_CACHE", str(tmp_path))
    with ThreadPoolExecutor(16) as pool:
        found = list(pool.map(lambda _: compile_module.cache_dir(), range(800)))
    assert set(found) == {tmp_path}
