r"""Rich display in Jupyter: ``_repr_html_`` / ``_repr_latex_`` for symcalc's records.

:class:`RichDisplay` is a mixin; a class that inherits it is shown by the
renderer registered under its class name (this module imports none of those
classes, so it can sit under every one of them without an import cycle):

* ``Derivation``: the derivation chain (the rules in the margin);
* ``Verdict``: the verdict, its explanation and the counterexample table;
* ``Kernel``: the signature, the shapes, the backend;
* ``Classification``: the kind of critical point, its eigenvalues and Hessian;
* ``Study``: the summary and the results.

HTML carries MathML (no script, no network); LaTeX is for front ends that
typeset it (``$$...$$``).

>>> import sympy as sp, symcalc as sc
>>> x = sp.Symbol("x")
>>> d = sc.derive(x**3, x)
>>> "<math" in d._repr_html_() and d._repr_latex_().startswith("$$")
True
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from symcalc import records

__all__ = ["RichDisplay", "renderer", "to_html", "to_latex"]

_RENDERERS: dict[str, tuple[Callable[[Any], str], Callable[[Any], str]]] = {}


RichDisplay = records.RichDisplay  # the mixin lives with the records (no import cycle)


def renderer(name: str):
    """Register ``(html, latex)`` renderers for objects whose class is called ``name``."""

    def register(pair):
        _RENDERERS[name] = pair
        return pair

    return register


def _find(obj: Any):
    for cls in type(obj).__mro__:
        if cls.__name__ in _RENDERERS:
            return _RENDERERS[cls.__name__]
    return None


def to_html(obj: Any) -> str:
    """The HTML of a record (its repr, escaped, when no renderer is registered)."""
    found = _find(obj)
    if found is None:
        return "<pre>" + html.escape(repr(obj)) + "</pre>"
    return '<div class="symcalc">' + found[0](obj) + "</div>"


def to_latex(obj: Any) -> str:
    """The LaTeX of a record, as ``$$...$$``."""
    found = _find(obj)
    if found is None:
        from symcalc.printing.texsafe import escape_text

        return "$$\\text{" + escape_text(repr(obj)) + "}$$"
    return found[1](obj)


# --- helpers ------------------------------------------------------------------------------


def _latex(expr: Any) -> str:
    from symcalc.printing.latex import latex

    return latex(expr)


def _math(tex: str, display: str = "block") -> str:
    from symcalc.printing.mathml import mathml

    return mathml(tex, display)


def _aligned(rows: list[tuple[str, str, str]]) -> str:
    r"""``lhs &= rhs && \text{rule}`` rows as one aligned block (what MathJax and KaTeX read)."""
    from symcalc.printing.texsafe import escape_text

    lines = []
    for lhs, rhs, rule in rows:
        note = rf" && \text{{{escape_text(rule)}}}" if rule else ""
        lines.append(f"{lhs} &= {rhs}{note}")
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


# --- Derivation ---------------------------------------------------------------------------


def _derivation_rows(d) -> list[tuple[str, str, str]]:
    from symcalc.reporting.chain import chains

    rows = []
    for c in chains(d, d.results):
        rows += [(str(r["lhs"]), str(r["rhs"]), r["rule"]) for r in c["rows"]]
    if not rows:  # no recorded steps: the results themselves
        names = {"gradient": r"\nabla L", "hessian": r"\nabla^2 L", "jacobian": "J_F"}
        rows = [(names.get(k, k), _latex(v), "") for k, v in d.results.items() if v is not None]
    return rows


def _derivation_html(d) -> str:
    from symcalc.printing.mathml import display_mathml

    rows = _derivation_rows(d)
    tagged = []
    for lhs, rhs, rule in rows:
        tagged.append(f"{lhs} &= {rhs}" + (rf"\tag*{{\small {rule}}}" if rule else ""))
    body = display_mathml("\\begin{align*}\n" + "\\\\\n".join(tagged) + "\n\\end{align*}")
    checks = d.checks
    passed = sum(c.passed for c in checks)
    tail = f"<p>{passed} of {len(checks)} self-checks passed; {len(d.steps)} rule applications.</p>"
    return (
        "<p><strong>Derivation</strong> of "
        + _math(_latex(d.expr), "inline")
        + "</p>"
        + body
        + tail
    )


def _derivation_latex(d) -> str:
    return "$$" + _aligned(_derivation_rows(d)) + "$$"


renderer("Derivation")((_derivation_html, _derivation_latex))


# --- Verdict ------------------------------------------------------------------------------

_VERDICT = {True: ("correct", "#1a7f37"), False: ("wrong", "#b42318"), None: ("undecided", "#555")}


def _counterexample_rows(v) -> list[list[str]]:
    from symcalc.reporting.words import number_tex

    rows = []
    for key, value in (v.counterexample or {}).items():
        rows.append([_math(_latex(key), "inline"), _math(number_tex(value), "inline")])
    return rows


def _verdict_html(v) -> str:
    word, colour = _VERDICT.get(v.holds, _VERDICT[None])
    out = f'<p><strong style="color: {colour}">{word}</strong> ({html.escape(str(v.method))}). '
    out += html.escape(str(v.explanation)) + "</p>"
    if v.counterexample:
        from symcalc.reporting.words import number_tex

        out += "<p>Counterexample:</p>" + _table(["symbol", "value"], _counterexample_rows(v))
        values = [
            ["the claim gives", _math(number_tex(v.claim_value), "inline")],
            ["the true value is", _math(number_tex(v.truth_value), "inline")],
        ]
        out += _table(["", ""], values)
    return out


def _verdict_latex(v) -> str:
    from symcalc.printing.texsafe import escape_text

    word = _VERDICT.get(v.holds, _VERDICT[None])[0]
    return rf"$$\text{{{word}: {escape_text(v.explanation)}}}$$"


renderer("Verdict")((_verdict_html, _verdict_latex))


# --- Kernel -------------------------------------------------------------------------------


def _kernel_signature(k) -> tuple[str, str]:
    wrt = ", ".join(_latex(w) for w in k.wrt)
    params = ", ".join(_latex(p) for p in k.params)
    n = len(k.wrt)
    return wrt, params if params else "", n


def _kernel_html(k) -> str:
    wrt, params, n = _kernel_signature(k)
    args = "x" + (", " + ", ".join(html.escape(str(p)) for p in k.params) if k.params else "")
    rows = [
        [f"<code>value({args})</code>", "(...)"],
        [f"<code>gradient({args})</code>", f"(..., {n})"],
        [f"<code>hessian({args})</code>", f"(..., {n}, {n})"],
    ]
    return (
        "<p><strong>Kernel</strong> for "
        + _math(_latex(k.f), "inline")
        + f"; <code>x</code> has shape (..., {n}): "
        + _math(r"\left(" + wrt + r"\right)", "inline")
        + (f"; parameters {_math(params, 'inline')}" if params else "")
        + f"; backend {html.escape(str(k.backend))}.</p>"
        + _table(["call", "returns shape"], rows)
    )


def _kernel_latex(k) -> str:
    wrt, params, n = _kernel_signature(k)
    extra = rf";\ \text{{parameters }} {params}" if params else ""
    return (
        rf"$$f = {_latex(k.f)},\quad x = \left({wrt}\right) \in \mathbb{{R}}^{{\dots \times {n}}}"
        rf"{extra}$$"
    )


renderer("Kernel")((_kernel_html, _kernel_latex))


# --- MatrixKernel and ArrayKernel -----------------------------------------------------------


def _shape_tex(s) -> str:
    r"""Where a matrix symbol lives: ``\mathbb{R}^{m \times n}``, ``\mathbb{R}^{n}`` for a column,
    ``\mathbb{R}`` for a scalar symbol."""
    shape = getattr(s, "shape", None)
    if not shape or tuple(shape) == (1, 1):
        return r"\mathbb{R}"
    rows, cols = shape
    dims = _latex(rows) if cols == 1 else rf"{_latex(rows)} \times {_latex(cols)}"
    return rf"\mathbb{{R}}^{{{dims}}}"


def _member(s) -> str:
    return rf"{_latex(s)} \in {_shape_tex(s)}"


def _matrix_kernel_rows(k) -> list[list[str]]:
    """(call, returns shape) of a matrix-form kernel; batch axes lead (``...``)."""
    names = ", ".join(html.escape(str(s)) for s in [k.wrt, *k.params])
    rows, cols = k.wrt.shape
    vec = f"{_latex(rows)}" if cols == 1 else f"{_latex(rows)} \\times {_latex(cols)}"
    shape = _math(rf"(\dots, {vec})", "inline")
    hess = _math(rf"(\dots, {_latex(rows)}, {_latex(rows)})", "inline") if cols == 1 else "-"
    return [
        [f"<code>value({names})</code>", _math(r"(\dots)", "inline")],
        [f"<code>gradient({names})</code>", shape],
        [f"<code>hessian({names})</code>", hess],
    ]


def _matrix_kernel_html(k) -> str:
    if getattr(k, "kind", "matrix") != "matrix":  # an ArrayKernel of explicit symbols
        return _kernel_html(k)
    params = ", ".join(_member(p) for p in k.params)
    return (
        f"<p><strong>{type(k).__name__}</strong> for "
        + _math("f = " + _latex(k.f), "inline")
        + "; variable "
        + _math(_member(k.wrt), "inline")
        + (f"; parameters {_math(params, 'inline')}" if params else "")
        + f"; backend {html.escape(str(k.backend))}.</p>"
        + _table(["call", "returns shape"], _matrix_kernel_rows(k))
    )


def _matrix_kernel_latex(k) -> str:
    if getattr(k, "kind", "matrix") != "matrix":
        return _kernel_latex(k)
    params = ", ".join(_member(p) for p in k.params)
    extra = rf";\ \text{{parameters }} {params}" if params else ""
    return rf"$$f = {_latex(k.f)},\quad {_member(k.wrt)}{extra}$$"


renderer("MatrixKernel")((_matrix_kernel_html, _matrix_kernel_latex))
renderer("ArrayKernel")((_matrix_kernel_html, _matrix_kernel_latex))


# --- Classification -----------------------------------------------------------------------


def _classification_parts(c) -> tuple[str, str, str]:
    from symcalc.reporting.words import number_tex, point_tex

    point = point_tex(c.point).strip("$")
    eig = ",\\ ".join(number_tex(e) for e in c.eigenvalues)
    return point, eig, _latex(c.hessian)


def _classification_html(c) -> str:
    point, eig, hess = _classification_parts(c)
    return (
        f"<p><strong>{html.escape(c.kind)}</strong> at {_math(point, 'inline')}; Hessian "
        f"eigenvalues {_math(eig, 'inline')}</p>" + _math(r"\nabla^2 L = " + hess)
    )


def _classification_latex(c) -> str:
    point, eig, hess = _classification_parts(c)
    return rf"$$\text{{{c.kind} at }} {point};\quad \lambda = {eig};\quad \nabla^2 L = {hess}$$"


renderer("Classification")((_classification_html, _classification_latex))


# --- Study --------------------------------------------------------------------------------


def _study_parts(s) -> tuple[list[dict], list[tuple[str, str, str]]]:
    from symcalc.reporting.sections import _summary

    names = {"gradient": r"\nabla L", "hessian": r"\nabla^2 L", "jacobian": "J_F"}
    results = [
        (names[k], _latex(v), "") for k, v in s.results.items() if k in names and v is not None
    ]
    return _summary(s), results


def _study_html(s) -> str:
    from symcalc.printing.mathml import tex_to_html
    from symcalc.reporting.tex import TeX

    summary, results = _study_parts(s)
    items = []
    for line in summary:
        mark = '<span style="color:#1a7f37">✓</span>' if line["ok"] else "<span>×</span>"
        text = line["text"]
        shown = tex_to_html(text) if isinstance(text, TeX) else html.escape(str(text))
        items.append(f"<li>{mark} {shown}</li>")
    body = "<p><strong>" + html.escape(s.problem.title or "Study") + "</strong></p>"
    body += "<ul>" + "".join(items) + "</ul>"
    if results:
        body += _math(_aligned(results))
    return body


def _study_latex(s) -> str:
    summary, results = _study_parts(s)
    return "$$" + _aligned(results) + "$$" if results else "$$\\text{(no results)}$$"


renderer("Study")((_study_html, _study_latex))
