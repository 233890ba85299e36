"""The NumPy source of an explicit-symbol kernel, written one function at a time, on first use.

:class:`ExplicitSource` holds the plan (:class:`~symcalc.codegen.plan._Derivatives`) and writes
a function (its own CSE, power ladders, scheduling) only when the kernel first calls it, as a
small standalone module of its own. The whole module (every function, the convenience API),
which ``Kernel.source`` shows and the CLI writes, is assembled only when asked for. A formula
is quoted in a docstring only when it is small (:data:`SHOWN_NODES`).

>>> import sympy as sp
>>> from symcalc.codegen.plan import _Derivatives
>>> x = sp.Symbol("x")
>>> src = ExplicitSource(x**3, _Derivatives(x**3, [x]), [x], [], "demo")
>>> sorted(src.blocks), "def gradient(" in src.function_source("gradient"), sorted(src.blocks)
([], True, ['gradient'])
"""

from __future__ import annotations

from symcalc.codegen.numpy_emitter import _explicit_function, _kernel_printer
from symcalc.codegen.numpy_printer import helper_source
from symcalc.codegen.plan import _larger_than, _shared_temporaries
from symcalc.codegen.source import NUMPY_MODULE, CodeNames, _short, source_docstring

__all__ = ["ExplicitSource", "FUNCTIONS"]

#: the functions of an explicit-symbol kernel module, in the order the module lists them
FUNCTIONS = ("value", "gradient", "hessian", "value_and_gradient", "value_gradient_hessian")
#: the largest formula (in expression-tree nodes) quoted in a module docstring
SHOWN_NODES = 2_000


class ExplicitSource:
    """Writes the functions of one explicit-symbol kernel lazily; see the module docstring."""

    def __init__(self, f, d, wrt, params, title):
        self.f, self.d, self.title = f, d, title
        self.wrt = list(wrt)
        self.n = len(self.wrt)
        self.names = CodeNames(wrt, params)
        self.blocks: dict[str, tuple[list[str], set]] = {}  # name -> (lines, helpers used)
        self._targets = None

    # -- the outputs ----------------------------------------------------------------
    def targets(self):
        """(expr, store target, comment) per value / gradient / Hessian entry (built once)."""
        if self._targets is None:
            d, wrt = self.d, self.wrt
            value_t = [(d.f, "out[...]", "f")]
            grad_t = [(g, f"out[{i}]", f"df/d{wrt[i]}") for i, g in enumerate(d.grad)]
            hess_t = []
            for (i, j), h in d.upper.items():
                target = f"out[{i}, {i}]" if i == j else f"out[{i}, {j}] = out[{j}, {i}]"
                hess_t.append((h, target, f"d2f/d{wrt[i]}d{wrt[j]}"))
            self._targets = {"value": value_t, "gradient": grad_t, "hessian": hess_t}
        return self._targets

    def _spec(self, name):
        """(doc, output groups, output names) of one function."""
        n = self.n
        shape_doc = (
            f"xs: the points, variables first, shape ({n}, ...); outputs are variables-first "
            "too (contiguous stores) and arrive zero-filled"
        )
        specs = {
            "value": (f"f at the points. {shape_doc}; out has shape (...).", ["value"], ("out",)),
            "gradient": (
                f"The gradient, out[i] = df/dx_i. {shape_doc}; out ({n}, ...).",
                ["gradient"],
                ("out",),
            ),
            "hessian": (
                "The Hessian, upper triangle computed once and mirrored. "
                f"{shape_doc}; out ({n}, {n}, ...).",
                ["hessian"],
                ("out",),
            ),
            "value_and_gradient": (
                f"value and gradient from shared temporaries. {shape_doc}.",
                ["value", "gradient"],
                ("out_value", "out_gradient"),
            ),
            "value_gradient_hessian": (
                f"value, gradient and Hessian from shared temporaries. {shape_doc}.",
                ["value", "gradient", "hessian"],
                ("out_value", "out_gradient", "out_hessian"),
            ),
        }
        return specs[name]

    # -- one function -----------------------------------------------------------------
    def block(self, name) -> tuple[list[str], set]:
        """The lines of one function and the helpers they call, written on first request.

        One CSE per function (a joint CSE over value + gradient + Hessian, pruned per
        function, measured 1.6-1.8x slower on LJ-13: its temporaries stay alive longer);
        the fused functions share their temporaries across their outputs.
        """
        if name not in self.blocks:
            doc, groups, outs = self._spec(name)
            targets = self.targets()
            entries = [
                (e, t.replace("out[", f"{o}[") if o != "out" else t, c)
                for o, group in zip(outs, groups)
                for e, t, c in targets[group]
            ]
            repl, final = _shared_temporaries(self.d, [e for e, _, _ in entries], self.names)
            items = [(self.d.show(e), r, t, c) for (e, t, c), r in zip(entries, final)]
            printer = _kernel_printer()
            lines = _explicit_function(name, doc, items, repl, self.names, printer, outs)
            self.blocks[name] = (lines, set(printer.helpers_used))
        return self.blocks[name]

    def function_source(self, name) -> str:
        """A standalone module with one function (what the kernel imports to call it)."""
        lines, helpers = self.block(name)
        return self._header(helpers) + "\n\n" + "\n".join(lines) + "\n"

    def full_source(self) -> str:
        """The whole module: every function and the batch-first convenience API."""
        blocks = [self.block(name) for name in FUNCTIONS]
        helpers = set().union(*(h for _, h in blocks))
        body = "\n\n\n".join("\n".join(lines) for lines, _ in blocks)
        api = _CONVENIENCE_API.format(n=self.n, np=NUMPY_MODULE)
        return self._header(helpers) + "\n\n" + body + "\n\n" + api + "\n"

    def _header(self, helpers) -> str:
        """The module docstring (user text only as escaped literals), the NumPy import, the helpers."""
        helper_code = [helper_source(h, NUMPY_MODULE) for h in sorted(helpers)]
        doc = source_docstring(
            [
                str(self.title),
                "",
                f"Generated by symcalc.compile; standalone (imports numpy only, as {NUMPY_MODULE}).",
                "",
                f"f = {_formula(self.f)}",
                "",
                *self.names.summary(),
                "Each function takes xs, the points with the variables first (shape (n, ...), contiguous),",
                "the parameters (scalars or arrays broadcasting to the batch shape), and",
                "preallocated, zero-filled outputs, which it fills and returns.",
            ]
        )
        parts = [doc, f"import numpy as {NUMPY_MODULE}"] + helper_code
        return "\n\n".join(p.rstrip("\n") for p in parts)


def _formula(expr) -> str:
    """A short form of expr for a docstring; a large expression is not printed at all
    (printing a 40,000-node energy just to cut it to 600 characters costs seconds).

    >>> import sympy as sp
    >>> _formula(sp.Symbol("x") ** 2)
    'x**2'
    >>> _formula(sp.Add(*sp.symbols("x0:3000")))
    '(an expression of more than 2000 nodes, not shown)'
    """
    if _larger_than(expr, SHOWN_NODES):
        return f"(an expression of more than {SHOWN_NODES} nodes, not shown)"
    return _short(expr)


# Appended to every explicit-symbol kernel module so that a person who imports the
# standalone file can call it the usual way (points batch-first, fresh arrays).
_CONVENIENCE_API = '''
# --- Convenience API: points batch-first, x of shape (..., {n}); each call returns new arrays ---

N_VARIABLES = {n}


def _prepare(x, params):
    x = {np}.asarray(x)
    if x.ndim == 0 or x.shape[-1] != N_VARIABLES:
        raise ValueError(f"x must have shape (..., {{N_VARIABLES}}), got {{x.shape}}")
    dtype = {np}.result_type(x.dtype, {np}.float32) if x.dtype.kind == "f" else {np}.float64
    xs = {np}.ascontiguousarray({np}.moveaxis(x.astype(dtype, copy=False), -1, 0))
    batch = {np}.broadcast_shapes(xs.shape[1:], *({np}.shape(p) for p in params))
    return xs, batch, dtype


def f(x, *params):
    """f at points x of shape (..., {n}): an array of shape (...)."""
    xs, batch, dtype = _prepare(x, params)
    return value(xs, *params, {np}.zeros(batch, dtype))


def grad(x, *params):
    """The gradient at points x of shape (..., {n}): shape (..., {n})."""
    xs, batch, dtype = _prepare(x, params)
    return {np}.moveaxis(gradient(xs, *params, {np}.zeros((N_VARIABLES,) + batch, dtype)), 0, -1)


def hess(x, *params):
    """The Hessian at points x of shape (..., {n}): shape (..., {n}, {n})."""
    xs, batch, dtype = _prepare(x, params)
    out = {np}.zeros((N_VARIABLES, N_VARIABLES) + batch, dtype)
    return {np}.moveaxis(hessian(xs, *params, out), (0, 1), (-2, -1))
'''.strip("\n")
