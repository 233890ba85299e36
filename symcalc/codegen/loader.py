r"""Writing generated kernel modules to the cache directory and importing them (checked, thread-safe).

>>> module, path = _load_source("def twice(x):\n    return 2 * x\n", "doctest")
>>> module.twice(21), path.parent == cache_dir()
(42, True)
"""

from __future__ import annotations

import builtins
import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path

from symcalc.errors import SymcalcError


def cache_dir() -> Path:
    """Where generated kernels are written: $SYMCALC_CACHE, ~/.cache/symcalc/kernels, or a temp dir."""
    env = os.environ.get("SYMCALC_CACHE")
    candidates = [Path(env)] if env else []
    candidates += [
        Path.home() / ".cache" / "symcalc" / "kernels",
        Path(tempfile.gettempdir()) / "symcalc-kernels",
    ]
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / f".write-test.{os.getpid()}.{threading.get_ident()}"  # one per thread
            probe.write_text("")
            probe.unlink()
            return path
        except OSError:
            continue
    raise OSError("no writable cache directory for compiled kernels; set SYMCALC_CACHE")


_LOAD_LOCK = threading.Lock()


def _check_source(source: str, filename: str = "<symcalc kernel>"):
    """The code object of generated source; refuse source that is not valid Python (a
    generator bug) with a SymcalcError. One compile: the code that runs is the code checked.

    >>> _check_source("x = 1").co_filename
    '<symcalc kernel>'
    >>> _check_source("x = (1")
    Traceback (most recent call last):
    ...
    symcalc.errors.SymcalcError: internal error: the generated kernel source is not valid Python ('(' was never closed, line 1); nothing was written or imported. Please report this.
    """
    try:
        source.encode("utf-8")  # the file is written as UTF-8 (a lone surrogate cannot be)
        return builtins.compile(source, filename, "exec")
    except UnicodeEncodeError as exc:
        raise SymcalcError(
            f"internal error: the generated kernel source is not valid Python "
            f"(character {exc.object[exc.start]!r} cannot be written as UTF-8); "
            "nothing was written or imported. Please report this."
        ) from None
    except (SyntaxError, ValueError) as exc:  # ValueError: a null byte
        lineno = getattr(exc, "lineno", None)
        where = f", line {lineno}" if lineno else ""
        raise SymcalcError(
            f"internal error: the generated kernel source is not valid Python "
            f"({getattr(exc, 'msg', exc)}{where}); nothing was written or imported. "
            "Please report this."
        ) from None


def _load_source(source: str, stem: str):
    """Check ``source`` (:func:`_check_source`), write it to the kernel cache (atomically)
    and import it, once per process. ``stem`` is the generator's own (no user text).

    Thread-safe: Dask's threaded scheduler loads the same block kernel from several
    threads at once, and a module must never be seen before its code has run.
    """
    if not stem.replace("_", "").isalnum() or not stem.isascii():
        raise SymcalcError(f"internal error: kernel module stem {stem!r} is not a plain identifier")
    digest = hashlib.sha1(source.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    modname = f"symcalc_kernel_{stem}_{digest}"
    path = cache_dir() / f"{modname}.py"
    with _LOAD_LOCK:
        if modname in sys.modules:
            return sys.modules[modname], path
        code = _check_source(source, str(path))  # parsed and compiled once, before writing
        if not path.exists() or path.read_text(encoding="utf-8", errors="replace") != source:
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(source, encoding="utf-8")
            os.replace(tmp, path)
        spec = importlib.util.spec_from_file_location(modname, path)
        if spec is None:
            raise SymcalcError(f"internal error: cannot make a module of {path}")
        module = importlib.util.module_from_spec(spec)
        # run the text that was checked (not whatever the shared cache file holds by now)
        exec(code, module.__dict__)
        sys.modules[modname] = module  # only once its code has run
        return module, path


def _stem(wrt) -> str:
    return f"{len(wrt)}vars"
