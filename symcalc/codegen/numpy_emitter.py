"""The NumPy emitter: a kernel's plan written as a readable, standalone Python module.

Explicit symbols: variables-first functions that fill preallocated outputs, temporaries
deleted after their last use, plus a batch-first convenience API. Matrix form: a few
BLAS calls per function.

>>> print(_kernel_printer().doprint(__import__("sympy").Symbol("v0") ** 2))
(v0*v0)
"""

from __future__ import annotations

import re

import sympy as sp

from symcalc.codegen.arguments import _array_shape
from symcalc.codegen.batch_emitter import Unbatchable, batch_function
from symcalc.codegen.inplace import in_place
from symcalc.codegen.matrix_cse import transpose_cse
from symcalc.codegen.multi_kernel import kernel_printer as matrix_printer
from symcalc.codegen.numpy_printer import (
    StableNumPyPrinter,
    helper_source,
    stabilize,
    stabilize_matrix,
)
from symcalc.codegen.plan import _needed
from symcalc.codegen.row_blocks import row_blocked
from symcalc.codegen.source import (
    NUMPY_MODULE,
    CodeNames,
    _argument_listing,
    _dimension_lines,
    _short,
    kernel_functions,
    source_comment,
    source_docstring,
    source_literal,
)
from symcalc.errors import InputError


class _Emitter:
    """Writes the lines of one generated function with a shared printer."""

    def __init__(self, printer: StableNumPyPrinter):
        self.printer = printer
        self.lines: list[str] = []

    def line(self, text=""):
        self.lines.append(text)

    def code(self, expr) -> str:
        """expr as NumPy code: plain arithmetic directly (:func:`_arithmetic_code`), anything
        else (functions, the stable forms) through the printer."""
        text = _arithmetic_code(expr, CodeNames.PATTERN)
        return text if text is not None else self.printer.doprint(expr)


def _arithmetic_code(expr, names) -> str | None:
    """Code for an expression of symbols, numbers, +, * and small integer powers only, or None.

    The printer's stable forms all involve a function (exp, log, ...), so an expression
    without one prints the same either way; this path skips the printer's dispatch and
    precedence machinery, most of the time of a kernel with tens of thousands of statements.
    Symbols must be generator names (``names``), else None (the printer then refuses them).

    >>> import re
    >>> v0, t1 = sp.symbols("v0 t1")
    >>> _arithmetic_code(-3 * v0 * t1**2 + v0 / 2 - 1, re.compile(r"[vt]\\d+"))
    '(-1 + (1/2)*v0 - 3*v0*(t1*t1))'
    >>> _arithmetic_code(sp.exp(v0), re.compile(r"[vt]\\d+")) is None
    True
    """
    if expr.is_Symbol:
        return expr.name if names.fullmatch(expr.name) else None
    if expr.is_Integer:
        return str(int(expr))
    if expr.is_Rational:
        return f"({expr.p}/{expr.q})"
    if expr.is_Float:
        value = float(expr)
        return repr(value) if value - value == 0 else None  # inf / nan: the printer's spelling
    if isinstance(expr, sp.Add):
        terms = [_signed_term(a, names) for a in expr.args]
        if any(term is None for term in terms):
            return None
        text = terms[0][1] if terms[0][0] == "+" else "-" + terms[0][1]
        return "(" + text + "".join(f" {s} {c}" for s, c in terms[1:]) + ")"
    if isinstance(expr, sp.Mul):
        coeff, factors = expr.as_coeff_mul()
        codes = [_arithmetic_code(f, names) for f in factors]
        if any(c is None for c in codes):
            return None
        body = "*".join(str(c) for c in codes)
        if coeff == 1:
            return body
        if coeff == -1:
            return "-" + body
        number = _arithmetic_code(coeff, names)
        return f"({number})*{body}" if coeff < 0 else f"{number}*{body}"
    if isinstance(expr, sp.Pow):
        base, exp = expr.args
        if not exp.is_Integer or not 1 <= abs(int(exp)) <= 16:
            return None
        b = _arithmetic_code(base, names)
        if b is None:
            return None
        product = "(" + "*".join([b] * abs(int(exp))) + ")" if abs(int(exp)) > 1 else b
        return product if exp > 0 else f"(1/{product})"
    return None


def _signed_term(term, names):
    """('+' or '-', code of |term|) for one term of a sum, or None."""
    coeff, rest = term.as_coeff_Mul()
    if coeff.is_negative:
        positive = rest if coeff == -1 else sp.Mul(-coeff, rest, evaluate=False)
        code = _arithmetic_code(positive, names)
        return None if code is None else ("-", code)
    code = _arithmetic_code(term, names)
    return None if code is None else ("+", code)


def _literal(expr) -> str | None:
    """A float literal for a number, None for anything that is not a number."""
    if expr.is_number:
        value = complex(sp.N(expr))
        if value.imag:
            raise InputError(
                f"the derivative has the complex constant {expr}; symcalc compiles real kernels"
            )
        return repr(float(value.real))
    return None


def _explicit_function(name, doc, items, repl, names: CodeNames, printer, outs=("out",)):
    """One generated function: unpack xs, the temporaries its outputs need, the stores.

    items: (shown formula or None, reduced expr, target code, comment) per output; the
    comment and the formula are the user's text, written through :func:`source_comment`.
    doc is the generator's own text.
    """
    repl, used = _needed(repl, [r for _, r, _, _ in items])
    em = _Emitter(printer)
    variables = names.variables
    args = ", ".join(["xs"] + [p.name for p in names.parameters] + list(outs))
    em.line(f"def {name}({args}):")
    em.line(f"    {source_literal(doc)}")
    n = len(variables)
    unpack = [variables[k].name if variables[k] in used else "_" for k in range(n)]
    if any(u != "_" for u in unpack):
        if n == 1:
            em.line(f"    {unpack[0]} = xs[0]")
        else:
            for start in range(0, n, 12):
                chunk = unpack[start : start + 12]
                if all(u == "_" for u in chunk):
                    continue
                em.line(
                    f"    {', '.join(chunk)}{',' if len(chunk) == 1 else ''} = xs[{start}:{start + len(chunk)}]"
                )
    stores = []
    for shown, r, target, comment in items:
        lit = _literal(r) if r.is_number else None
        if lit is not None and float(lit) == 0.0:
            continue  # outputs arrive zero-filled
        rhs = lit if lit is not None else em.code(r)
        note = f"{comment} = {shown}" if shown is not None else comment
        stores.append((r, f"    {target} = {rhs}  # {source_comment(note)}"))
    for text in _schedule(repl, stores, em):
        em.line(text)
    em.line(f"    return {', '.join(outs)}")
    return em.lines


def _schedule(repl, stores, em):
    """Statement lines: each output stored as soon as its temporaries exist, and each
    temporary deleted after its last use (NumPy then reuses the freed, cache-warm
    memory instead of touching fresh pages for every one of thousands of temporaries)."""
    index = {sym: k for k, (sym, _) in enumerate(repl)}
    ready: dict[int, list] = {}
    for r, text in stores:
        deps = [index[s] for s in getattr(r, "free_symbols", ()) if s in index]
        ready.setdefault(max(deps, default=-1), []).append((r, text))
    # statements in order: (defined symbol or None, expr, line)
    statements = [(None, r, text) for r, text in ready.get(-1, [])]
    for k, (sym, e) in enumerate(repl):
        statements.append((sym, e, f"    {sym.name} = {em.code(e)}"))
        statements.extend((None, r, text) for r, text in ready.get(k, []))
    last_use: dict = {}
    for k, (sym, e, _) in enumerate(statements):
        for s in getattr(e, "free_symbols", ()):
            if s in index:
                last_use[s] = k
        if sym is not None:
            last_use.setdefault(sym, k)
    frees: dict[int, list] = {}
    for s, k in last_use.items():
        frees.setdefault(k, []).append(s.name)
    lines = []
    for k, (_, _, text) in enumerate(statements):
        lines.append(text)
        if k in frees:
            lines.append(f"    del {', '.join(sorted(frees[k]))}")
    return lines


def _kernel_printer() -> StableNumPyPrinter:
    """The printer of generated NumPy kernels (NumPy as :data:`NUMPY_MODULE`)."""
    return StableNumPyPrinter(
        {
            "fully_qualified_modules": True,
            "order": "none",
            "numpy_module": NUMPY_MODULE,
            "symbol_names": CodeNames.PATTERN,
        }
    )


def _matrix_source(title, f, G, H, wrt, params):
    names = CodeNames(wrt, params, matrix=True)
    printer = matrix_printer()
    from symcalc.codegen.numpy_printer import _nonnegative_vector

    arg_syms = names.variables + names.parameters
    arg_names = [a.name for a in arg_syms]
    dim_lines = _dimension_lines(arg_syms)
    outputs = {"value": names.rename(f), "gradient": names.rename(G), "hessian": names.rename(H)}
    shown = {"value": f, "gradient": G, "hessian": H}
    blocks = []
    for fname, parts in kernel_functions(H is not None):
        exprs = [outputs[p] for p in parts]
        repl, reduced = transpose_cse(
            [stabilize(stabilize_matrix(e)) for e in exprs], names.TEMP_PREFIX
        )
        lines = [
            f"def {fname}({', '.join(arg_names)}):",
            "    "
            + source_literal(
                f"{' and '.join(parts)} (matrix form, BLAS calls; arrays of the declared shapes)."
            ),
        ]
        printer.nonnegative = set()
        for sym, e in repl:  # temporaries known to be >= 0 (for the syrk form of A^T diag(d) A)
            if isinstance(e, sp.MatrixExpr) and _nonnegative_vector(e, printer.nonnegative):
                printer.nonnegative.add(sym.name)
        body = [f"    {sym.name} = {printer.doprint(e)}" for sym, e in repl]
        results = []
        for p, r in zip(parts, reduced):
            body.append(f"    # {source_comment(f'{p} = {_short(shown[p], 200)}')}")
            body.append(f"    {p}_ = {printer.doprint(r)}")
            results.append(f"{p}_")
        text = "\n".join(body)
        lines += [line for d, line in dim_lines if re.search(rf"\b{d}\b", text)]
        lines += body + [f"    return {', '.join(results)}"]
        blocks.append(in_place(lines, printer.helpers_used))
        try:  # the same function for a batch of the variable, where every node has a rule
            batched = batch_function(
                fname, parts, repl, reduced, names.variables[0], printer, arg_syms
            )
            blocks.append(in_place(batched, printer.helpers_used))
            rows = row_blocked(blocks[-1], {a.name: _array_shape(a) for a in names.parameters})
            if fname == "gradient" and rows is not None:  # a sum over data rows: in blocks
                blocks.append(rows)
        except Unbatchable:
            pass  # MatrixKernel loops over the batch for this function
    helpers = [helper_source(h, NUMPY_MODULE) for h in sorted(printer.helpers_used)]
    doc = source_docstring(
        [
            str(title),
            "",
            f"Generated by symcalc.compile (matrix form); standalone (imports numpy only, as {NUMPY_MODULE}).",
            "",
            f"f = {_short(f)}",
            f"gradient = {_short(G)}",
            f"hessian = {_short(H) if H is not None else '(not compiled)'}",
            "",
            "arguments: " + _argument_listing(names) + " (column vectors are 1-D arrays)",
        ]
    )
    header = "\n\n".join(p.rstrip("\n") for p in [doc, f"import numpy as {NUMPY_MODULE}"] + helpers)
    return header + "\n\n\n" + "\n\n\n".join("\n".join(b) for b in blocks) + "\n"
