"""Native kernels as C: SymEngine's CSE printed as C, the batch loop inside, compiled by ``cc``.

SymEngine's LLVM Lambdify runs its batch loop outside the compiled code and cannot optimise a
function of 100,000 operations in reasonable time (the LJ-38 Hessian: 27 s at LLVM level 1,
and 4.3x the write floor at level 0). This module writes the method as C instead: the points
go in blocks of :data:`LANES` as GCC vector types (one SIMD operation serves four points, no
auto-vectoriser needed), a symmetric Hessian is computed once per upper-triangle entry and
copied to both halves, the statements are cut into small functions compiled side by side.
``cc -O1`` (without the passes that find nothing after SymEngine's CSE) compiles the LJ-55
Hessian in about 4 s on two cores, and it runs at 1.6x the write floor into ``out=``; the
shared library is cached by the hash of its source and loaded with :mod:`ctypes`.

Only arithmetic is taken (symbols, numbers, ``+``, ``*``, integer powers): anything else
raises :class:`CUnsupported`, and the caller uses the LLVM backend.

>>> import symengine as se
>>> x, y = se.symbols("_v0 _v1")
>>> print(c_expression(2 * x**3 / y**2, {x: "v0", y: "v1"}))
2.0*(v0*v0*v0)/(v1*v1)
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import threading

import numpy as np

__all__ = ["CUnsupported", "c_expression", "CFunction", "compiler"]

#: points per SIMD block (4 doubles: one AVX register, two SSE2 registers)
LANES = 4
#: statements per generated C function (see :func:`c_source`)
CHUNK = 50
#: statements from which a function is compiled as several units side by side
PARALLEL_STATEMENTS = 4_000
#: flags for cc (GCC's; a compiler that refuses them leaves the method to LLVM). -O1 optimises
#: a 50,000-statement function in seconds (LLVM's level 1 takes 27 s on the LJ-38 Hessian)
CFLAGS = (
    "-O1",
    # the passes below find nothing on this straight-line code (SymEngine's CSE has already
    # shared every subexpression; nothing branches or aliases) and cost a third of -O1's time:
    # the LJ-55 Hessian (56k statements) 8.7 s -> 6.2 s of cc CPU time; -O0 saves little
    # more and its code is 2-3x slower
    *("-fno-tree-dse", "-fno-dse", "-fno-tree-fre", "-fno-tree-dominator-opts"),
    *("-fno-ipa-modref", "-fno-ipa-pure-const", "-fno-ipa-reference", "-fno-ipa-icf"),
    *("-fno-ipa-profile", "-fno-tree-pta", "-fno-tree-sra", "-fno-tree-copy-prop"),
    *("-fno-tree-ccp", "-fno-tree-bit-ccp", "-fno-tree-ch", "-fno-tree-sink", "-fno-tree-slsr"),
    *("-fno-guess-branch-probability", "-fno-if-conversion", "-fno-ssa-phiopt"),
    *("-fno-tree-coalesce-vars", "-fno-split-wide-types"),
    "-fno-math-errno",
    "-march=native",
    "-fPIC",
    "-shared",
)
#: flags any C compiler takes (tried when one refuses CFLAGS)
PORTABLE_CFLAGS = ("-O1", "-fPIC", "-shared")


class CUnsupported(Exception):
    """The expression holds something the C writer does not print (a function, a root)."""


def _se():
    import symengine

    return symengine


def compiler() -> str | None:
    """The C compiler to use ($SYMCALC_CC, else cc or gcc on PATH), or None."""
    chosen = os.environ.get("SYMCALC_CC")
    if chosen is not None:
        return shutil.which(chosen) if chosen else None
    return shutil.which("cc") or shutil.which("gcc")


def _number(value: float) -> str:
    text = repr(float(value))
    if "inf" in text or "nan" in text:
        raise CUnsupported("a non-finite constant")
    return text if any(c in text for c in ".e") else text + ".0"


def c_expression(expr, names: dict) -> str:
    """expr (SymEngine: symbols in ``names``, numbers, +, *, integer powers) as C code."""
    se = _se()
    if isinstance(expr, se.Symbol):
        try:
            return names[expr]
        except KeyError:
            raise CUnsupported(f"unknown symbol {expr}") from None
    if isinstance(expr, (se.Integer, se.Rational, se.RealDouble)):
        text = _number(float(expr))
        return f"({text})" if text.startswith("-") else text
    if isinstance(expr, se.Add):
        parts = [c_expression(a, names) for a in expr.args]
        return "(" + " + ".join(parts) + ")"
    if isinstance(expr, se.Mul):
        return _product(expr.args, names)
    if isinstance(expr, se.Pow):
        base, ex = expr.args
        if not (isinstance(ex, se.Integer) and 1 <= abs(int(ex)) <= 64):
            raise CUnsupported(f"the power {expr}")
        power = _power(c_expression(base, names), abs(int(ex)))
        return power if int(ex) > 0 else f"1.0/{power}"
    raise CUnsupported(f"{type(expr).__name__} {expr}")


def _product(factors, names) -> str:
    """A product; factors with negative integer exponents become one division."""
    se = _se()
    top, bottom = [], []
    for a in factors:
        if isinstance(a, se.Pow) and isinstance(a.args[1], se.Integer) and int(a.args[1]) < 0:
            bottom.append(_power(c_expression(a.args[0], names), -int(a.args[1])))
        else:
            top.append(c_expression(a, names))
    text = "*".join(top) if top else "1.0"
    if bottom:
        text += "/(" + "*".join(bottom) + ")" if len(bottom) > 1 else "/" + bottom[0]
    return text


def _power(base: str, k: int) -> str:
    """base**k by multiplication (base is a name or a parenthesised expression)."""
    if k == 1:
        return base
    if k <= 4:
        return "(" + "*".join([base] * k) + ")"
    half = _power(base, k // 2)
    return f"({half}*{half}*{base})" if k % 2 else f"({half}*{half})"


_HEADER = """\
typedef double vd __attribute__((vector_size({width})));
"""


def _entries(outputs, symmetric_n):
    """(the nonzero outputs [expr], the output table: for each out entry its slot or -1 for 0)."""
    if symmetric_n is None:
        items = list(enumerate(outputs))
        width = len(outputs)
    else:
        items = list(outputs.items())
        width = symmetric_n * symmetric_n
    exprs, table = [], [-1] * width
    for key, e in items:
        if e == 0:
            continue
        slot = len(exprs)
        exprs.append(e)
        if symmetric_n is None:
            table[key] = slot
        else:
            i, j = key
            table[i * symmetric_n + j] = table[j * symmetric_n + i] = slot
    return exprs, table


def _statements(exprs, chunk):
    """SymEngine's CSE of exprs as [(target, expr)], targets the temporaries then the
    output slots (ints), and the temporaries used outside their own piece {sym: index}."""
    se = _se()
    repl, reduced = se.cse(exprs) if exprs else ([], [])
    statements = list(repl) + list(enumerate(reduced))
    defined = {sym: k for k, (sym, _) in enumerate(repl)}
    shared: dict = {}
    for k, (_, e) in enumerate(statements):
        for s in e.free_symbols:
            d = defined.get(s)
            if d is not None and d // chunk != k // chunk and s not in shared:
                shared[s] = len(shared)
    return statements, len(repl), shared


def c_source(args, outputs, symmetric_n: int | None = None, chunk: int | None = None) -> list:
    """C source of ``kernel(x, out, count, R, T)``: ``outputs`` at ``count`` points, as a list
    of translation units (the first holds ``kernel``; compiled side by side). x is
    (count, len(args)) in C order, out (count, len(outputs)), or (count, n, n) for a
    symmetric matrix given as its upper triangle ``{(i, j): expr}`` (``symmetric_n`` = n).

    Per block of :data:`LANES` points the statements fill the vector slots ``R`` (one per
    nonzero output, a symmetric pair shares one), then one loop copies the slots to the
    points' rows through a table (the mirror and the zeros). The statements are split into
    functions of ``chunk`` statements each (:data:`CHUNK`: the compiler's passes are
    superlinear in the size of one function); a temporary used outside its own piece lives
    in the array ``T``, the others are locals.
    """
    chunk = chunk or CHUNK
    exprs, table = _entries(outputs, symmetric_n)
    statements, n_temps, shared = _statements(exprs, chunk)
    names = {a: f"V[{k}]" for k, a in enumerate(args)}
    for k, (sym, _) in enumerate(statements[:n_temps]):
        names[sym] = f"T[{shared[sym]}]" if sym in shared else f"t{k}"
    pieces: list[list[str]] = [[] for _ in range((len(statements) + chunk - 1) // chunk)]
    for k, (target, e) in enumerate(statements):
        code = c_expression(e, names)
        if k >= n_temps:
            line = f"R[{target}] = {code};"
        elif target in shared:
            line = f"{names[target]} = {code};"
        else:
            line = f"vd t{k} = {code};"
        pieces[k // chunk].append("  " + line)
    header = _HEADER.format(width=8 * LANES)
    signature = "(const vd *restrict V, vd *restrict T, vd *restrict R)"
    units = _units(len(statements))
    per_unit = -(-len(pieces) // units) if pieces else 0
    bodies = []
    for u in range(units):
        text = [header]
        for p in range(u * per_unit, min((u + 1) * per_unit, len(pieces))):
            text += [f"void __attribute__((noinline)) piece{p}{signature} {{", *pieces[p], "}"]
        bodies.append("\n".join(text) + "\n")
    zero = len(exprs)  # the slot that holds 0
    slots = ", ".join(str(zero if t < 0 else t) for t in table)
    nv, width = len(args), len(table)
    main = [header, *[f"void piece{p}{signature};" for p in range(len(pieces))]]
    main += [
        f"static const int slot[{max(width, 1)}] = {{{slots or '0'}}};",
        "void kernel(const double *x, double *out, long count, vd *R, vd *T) {",
        f"  vd V[{max(nv, 1)}];",
        f"  R[{zero}] = (vd){{{', '.join(['0.0'] * LANES)}}};",
        f"  for (long b = 0; b < count; b += {LANES}) {{",
        f"    for (int k = 0; k < {nv}; k++) {{",
        f"      for (int l = 0; l < {LANES}; l++) {{",
        "        long p = b + l < count ? b + l : count - 1;",
        f"        V[k][l] = x[p * {nv} + k];",
        "      }",
        "    }",
        *[f"    piece{p}(V, T, R);" for p in range(len(pieces))],
        f"    for (int l = 0; l < {LANES} && b + l < count; l++) {{",
        f"      double *o = out + (b + l) * {width};",
        "      const double *r = (const double *)R + l;",
        f"      for (int i = 0; i < {width}; i++) o[i] = r[{LANES} * slot[i]];",
        "    }",
        "  }",
        "}",
        f"long n_shared(void) {{ return {max(len(shared), 1)}; }}",
        f"long n_slots(void) {{ return {zero + 1}; }}",
        "",
    ]
    return ["\n".join(main)] + bodies


def _units(statements: int) -> int:
    """Translation units to compile side by side: one per core, for large functions only."""
    if statements < PARALLEL_STATEMENTS:
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


_BUILD_LOCK = threading.Lock()


def build(units: list):
    """Compile the units (:func:`c_source`) to one shared library in the kernel cache (once
    per source; the units side by side) and load it: (library, its ``kernel``)."""

    cc = compiler()
    if cc is None:
        raise CUnsupported("no C compiler (cc) on PATH")
    failures = []
    for flags in (CFLAGS, PORTABLE_CFLAGS):  # a compiler that refuses GCC's flags (clang)
        path = _library_path(units, flags, cc)
        with _BUILD_LOCK:
            try:
                if not path.exists():
                    _compile_units(cc, units, path, flags)
            except CUnsupported as exc:
                failures.append(str(exc))
                continue
            lib = ctypes.CDLL(str(path))
            break
    else:
        raise CUnsupported("; ".join(failures))
    fn = lib.kernel
    fn.restype = None
    fn.argtypes = [
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_long,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    lib.n_shared.restype = lib.n_slots.restype = ctypes.c_long
    return lib, fn


def _library_path(units: list, flags, cc: str):
    """The cache file of the library: keyed by the source, the flags, the compiler and the
    machine (-march=native: a library is only valid on this kind of machine)."""
    from symcalc.codegen.loader import cache_dir

    machine = f"{platform.node()} {platform.machine()} {platform.processor()}"
    key = "\0".join([*units, " ".join(flags), cc, machine])
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return cache_dir() / f"symcalc_ckernel_{digest}.so"


def _compile_units(cc: str, units: list, path, flags=CFLAGS) -> None:
    """cc -c on every unit at once, then one link; the library appears atomically at path."""
    stem = path.with_suffix("")
    tag = f"{os.getpid()}.{threading.get_ident()}"
    sources = [stem.with_name(f"{stem.name}.{k}.{tag}.c") for k in range(len(units))]
    objects = [s.with_suffix(".o") for s in sources]
    tmp = path.with_suffix(f".{tag}.tmp")
    try:
        for src, text in zip(sources, units):
            src.write_text(text)
        jobs = [
            subprocess.Popen(
                [cc, *flags, "-c", "-o", str(o), str(s)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for s, o in zip(sources, objects)
        ]
        messages = [job.communicate()[1] for job in jobs]
        errors = [m for job, m in zip(jobs, messages) if job.returncode != 0]
        if not errors:
            link = subprocess.run(
                [cc, *flags, "-o", str(tmp), *map(str, objects)], capture_output=True, text=True
            )
            if link.returncode != 0:
                errors.append(link.stderr)
        if errors:
            raise CUnsupported(f"cc failed: {' '.join(e.strip() for e in errors)[:300]}")
        os.replace(tmp, path)
    finally:
        for f in [*sources, *objects, tmp]:
            f.unlink(missing_ok=True)


def _aligned(size: int, alignment: int = 64):
    """A float64 buffer of ``size`` entries starting on an ``alignment``-byte boundary."""
    raw = np.empty(size + alignment // 8)
    skip = (-raw.ctypes.data % alignment) // 8
    return raw[skip : skip + size]


class CFunction:
    """One compiled kernel method: ``f(inp)`` or ``f(inp, out=...)`` with inp of shape
    (..., nv) (float64, C order) and out (count, ...) float64 C-contiguous, like SymEngine's
    Lambdify; returns out of shape (count,) + ``shape``."""

    def __init__(self, args, outputs, symmetric_n=None):
        self.nv = len(args)
        self.shape = (len(outputs),) if symmetric_n is None else (symmetric_n, symmetric_n)
        self.width = int(np.prod(self.shape))
        self.units = c_source(args, outputs, symmetric_n)
        self._lib, self._fn = build(self.units)
        self._shared = _aligned(int(self._lib.n_shared()) * LANES)
        self._slots = _aligned(int(self._lib.n_slots()) * LANES)
        self._lock = threading.Lock()  # R and T are this function's own work buffers

    def __call__(self, inp, out=None):
        inp = np.ascontiguousarray(inp, dtype=np.float64).reshape(-1, self.nv)
        count = inp.shape[0]
        if out is None:
            out = np.empty((count,) + self.shape)
        if count:
            with self._lock:
                self._fn(
                    inp.ctypes.data,
                    out.ctypes.data,
                    count,
                    self._slots.ctypes.data,
                    self._shared.ctypes.data,
                )
        return out
