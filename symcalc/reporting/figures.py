"""Figures for reports: loss landscapes with gradient flow, and 2-D vector fields.

matplotlib with the Agg backend, vector PDF output, fonts embedded as Type 42
(TrueType), never Type 3. ``figures_for(study)`` returns ``(file name,
caption, pdf bytes)`` for what the study asks to show:

* an objective with a 2-D slice (two unknowns, or ``[report] slice``): contours
  of the loss, gradient-flow trajectories, the critical points marked by kind
  and the Hessian's eigenvector directions at each;
* a 2-D vector field: its arrows over the curl (or, when conservative, over
  the contours of its potential).

>>> import symcalc as sc
>>> study = sc.load_problem('objective = "x^2 + y^2"\\nvariables = {x="scalar", y="scalar"}').run()
>>> [(name, data[:5]) for name, caption, data in figures_for(study)]
[('figure-landscape.pdf', b'%PDF-')]
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import sympy as sp

from symcalc.inputs import safe_lambdify

__all__ = ["figures_for", "landscape_figure", "field_figure", "gradient_flow", "is_log_density"]

_RC = {
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "font.size": 9,
    "axes.titlesize": 10,
    "figure.dpi": 100,
    "savefig.bbox": "tight",
}
_KIND_STYLE = {
    "minimum": ("o", "#1a7f37"),
    "maximum": ("^", "#b42318"),
    "saddle": ("X", "#7a3fb0"),
    "degenerate": ("s", "#555555"),
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def figures_for(study, fmt: str = "pdf") -> list[tuple[str, str, bytes]]:
    """The figures of a Study, as (file name, LaTeX caption, bytes): PDF, or SVG for the HTML page."""
    from symcalc.printing.latex import latex
    from symcalc.reporting.tex import TeX

    p = study.problem
    out = []
    sl = p.report.slice
    if p.objective is not None and sl is not None:
        data = landscape_figure(study, fmt)
        if data is not None:
            others = ", ".join(f"${latex(k)} = {v:g}$" for k, v in _fixed_values(p).items())
            drawn = ", ".join(f"${latex(k)} = {latex(v)}$" for k, v in constant_subs(p)[1].items())
            cap = (
                rf"Contours of the objective over $({latex(sl.x)}, {latex(sl.y)})$"
                + (f" (other unknowns fixed: {others})" if others else "")
                + (f" (symbolic constants set to {drawn})" if drawn else "")
                + (
                    r"; gradient-ascent trajectories (white) from several starts, following "
                    r"$\dot x = \nabla \log p(x)$, the flow that increases $\log p$ (towards the mode)"
                    if is_log_density(study)
                    else "; gradient-flow trajectories (white) from several starts"
                )
                + (
                    r"; critical points marked by kind (circle minimum, triangle maximum, cross saddle) "
                    r"with the Hessian's eigenvector directions (solid: positive curvature, dashed: "
                    r"negative; long bar: the larger $|\lambda|$)."
                    if study.landscape and study.landscape.points
                    else "."
                )
            )
            out.append((f"figure-landscape.{fmt}", TeX(cap), data))
    if p.field is not None and len(p.wrt) == 2 and p.notation == "components":
        data = field_figure(study, fmt)
        if data is not None:
            fa = study.field
            cap = (
                "The field's arrows (direction; colour: magnitude, log scale) and the loop $C$ of the "
                "work integral (dashed) over "
                + (
                    r"the contours of its potential $\varphi$; the curl is zero."
                    if fa is not None and fa.conservative and fa.potential is not None
                    else r"its curl $\partial_1 F_2 - \partial_2 F_1$ (colour)."
                )
            )
            out.append((f"figure-field.{fmt}", TeX(cap), data))
    return out


# ---------------------------------------------------------------------------
# Numbers from expressions
# ---------------------------------------------------------------------------


def is_log_density(study) -> bool:
    """A log-density (the Gaussian analysis, or a title saying so) is climbed, not descended.

    >>> import symcalc as sc
    >>> is_log_density(sc.load_problem('objective = "x^2"\\nvariables = {x="scalar"}').run())
    False
    """
    p = study.problem
    said = f"{p.title} {getattr(p.report, 'title', '') or ''}".lower()
    return getattr(study, "gaussian", None) is not None or "log-density" in said


def _fixed_values(p) -> dict:
    sl = p.report.slice
    vals = {}
    for w in p.explicit_wrt:
        if w in (sl.x, sl.y):
            continue
        vals[w] = sl.fix.get(w, 0.0)
    return vals


def constant_subs(p) -> tuple[dict, dict]:
    """Numbers for every constant: its value, or a fixed draw for symbolic ones.

    Returns (substitution, the drawn ones) so captions can say what was drawn.
    The draw is seeded by the problem's seed: the same figure on every build.
    """
    import random

    rng = random.Random(p.seed + 11)
    subs = dict(p.constant_values())
    drawn = {}
    for c in (c for c in p.constants if c.value is None):
        if isinstance(c.symbol, sp.MatrixSymbol):  # matrix notation: onto the entry symbols
            entries = _entry_symbols(c)
            values = _draw_matrix(c, entries.shape, rng)
            for e, v in zip(entries, values):
                if isinstance(e, sp.Symbol):
                    subs[e] = v
            drawn[sp.Symbol(c.name)] = values
            continue
        syms = c.symbol.free_symbols if hasattr(c.symbol, "free_symbols") else {c.symbol}
        for sym in sorted(syms, key=str):
            subs[sym] = drawn[sym] = sp.Rational(rng.randint(5, 15), 10)
    return subs, drawn


def _entry_symbols(c) -> sp.Matrix:
    """The entry symbols of a matrix constant, named as the problem names them (w_1, A_12)."""
    shape = tuple(c.shape) if len(c.shape) == 2 else (c.shape[0], 1)
    symmetric = bool({"symmetric", "positive_definite"} & set(c.structure))

    def entry(i, j):
        if "diagonal" in c.structure and i != j:
            return sp.S.Zero
        if symmetric and i > j:
            i, j = j, i
        return sp.Symbol(f"{c.name}_{i + 1}" if shape[1] == 1 else f"{c.name}_{i + 1}{j + 1}")

    return sp.Matrix(*shape, entry)


def _draw_matrix(c, shape, rng) -> sp.Matrix:
    """Small rationals with the constant's structure (positive definite: A Aᵀ + I)."""
    A = sp.Matrix(*shape, lambda i, j: sp.Rational(rng.randint(-9, 9), 10))
    if "positive_definite" in c.structure:
        return A * A.T / 2 + sp.eye(shape[0])
    if "symmetric" in c.structure:
        return (A + A.T) / 2
    return A


def _numeric(expr: Any, p, args: list) -> Any:
    """A NumPy function of the slice axes, with constants and fixed unknowns substituted."""
    from symcalc.expr.registry import expand_named

    subs = constant_subs(p)[0]
    if p.report.slice is not None:
        subs.update(_fixed_values(p))
    e = expr.subs(subs) if hasattr(expr, "subs") else expr
    e = expand_named(e)  # registry hook: symcalc's own functions in elementary terms
    return safe_lambdify(args, e, modules="numpy")


def _eval_grid(fn, X, Y) -> np.ndarray:
    with np.errstate(all="ignore"):
        Z = np.asarray(fn(X, Y), dtype=float)
    if Z.shape != X.shape:
        Z = np.broadcast_to(Z, X.shape).astype(float)
    Z = Z.copy()
    Z[~np.isfinite(Z)] = np.nan
    return Z


def gradient_flow(grad_fn, start, t_max: float = 20.0, steps: int = 800, box=None) -> np.ndarray:
    """Integrate x' = -grad L(x) with RK4, each step limited in length (stiff valleys stay stable).

    The step is h = min(t_max / steps, max_len / |grad L(x)|) with max_len a small
    fraction of the picture, halved while the flow direction turns sharply over
    the step, so steep walls and narrow valleys (Rosenbrock) do not make it zigzag.

    >>> g = lambda x, y: (2 * x, 2 * y)
    >>> path = gradient_flow(g, (1.0, 1.0))
    >>> bool(np.linalg.norm(path[-1]) < 1e-3)
    True
    """
    x = np.array(start, dtype=float)
    path = [x.copy()]
    dt = t_max / steps
    span = 1.0 if box is None else max(box[1] - box[0], box[3] - box[2])
    max_len = span / 150

    def f(z):
        with np.errstate(all="ignore"):
            g = np.array(grad_fn(z[0], z[1]), dtype=float).reshape(-1)
        return -g

    t = 0.0
    for _ in range(steps * 3):
        k1 = f(x)
        speed = np.linalg.norm(k1)
        if not np.isfinite(speed) or speed < 1e-9 or t >= t_max:
            break
        h = min(dt, max_len / speed)
        for _ in range(30):  # halve h while the flow turns by more than ~25 degrees over the step
            k4 = f(x + h * k1)
            turn = np.dot(k1, k4) / (speed * np.linalg.norm(k4) + 1e-300)
            if np.isfinite(turn) and turn > 0.9:
                break
            h /= 2
        k2 = f(x + h / 2 * k1)
        k3 = f(x + h / 2 * k2)
        k4 = f(x + h * k3)
        dx = h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        if not np.all(np.isfinite(dx)):
            break
        x = x + dx
        t += h
        path.append(x.copy())
        if box is not None and not (
            box[0] - 1e-9 <= x[0] <= box[1] + 1e-9 and box[2] - 1e-9 <= x[1] <= box[3] + 1e-9
        ):
            break
    return np.array(path)


# ---------------------------------------------------------------------------
# The landscape
# ---------------------------------------------------------------------------


def landscape_figure(study, fmt: str = "pdf") -> bytes | None:
    """Contours, gradient flow, critical points and Hessian eigenvectors (PDF bytes)."""
    p = study.problem
    sl = p.report.slice
    ax_syms = [sl.x, sl.y]
    f, wrt = p.explicit()
    f_fn = _numeric(f, p, ax_syms)
    g_fn = _numeric(sp.Matrix([sp.diff(f, s) for s in ax_syms]), p, ax_syms)
    (x0, x1), (y0, y1) = sl.xlim, sl.ylim
    xs, ys = np.linspace(x0, x1, 240), np.linspace(y0, y1, 240)
    X, Y = np.meshgrid(xs, ys)
    Z = _eval_grid(f_fn, X, Y)
    if not np.isfinite(Z).any():
        return None
    ascent = is_log_density(study)
    plt = _pyplot()
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.0, 4.6))
        levels = _levels(Z)
        cs = ax.contourf(X, Y, Z, levels=levels, cmap="viridis", extend="both")
        ax.contour(X, Y, Z, levels=levels, colors="k", linewidths=0.3, alpha=0.5)
        fig.colorbar(cs, ax=ax, shrink=0.85, label=r"$\log p$" if ascent else "$L$")
        box = (x0, x1, y0, y1)
        for start in _starts(box):
            sign = -1.0 if ascent else 1.0  # ascent: x' = +grad log p, so flow along -(-grad)
            path = gradient_flow(
                lambda a, b, s=sign: s * np.asarray(g_fn(a, b), dtype=float),
                start,
                t_max=_flow_time(Z, box),
                box=box,
            )
            if len(path) > 2:
                ax.plot(path[:, 0], path[:, 1], color="white", lw=0.9, alpha=0.9)
                ax.plot(path[0, 0], path[0, 1], "o", color="white", ms=2.5)
                k = min(len(path) - 1, max(2, len(path) // 3))
                ax.annotate(
                    "",
                    xy=path[k],
                    xytext=path[k - 1],
                    arrowprops=dict(arrowstyle="-|>", color="white", lw=0.9),
                )
        _mark_critical_points(ax, study, ax_syms, box)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_xlabel(axis_label(sl.x))
        ax.set_ylabel(axis_label(sl.y))
        ax.set_aspect("auto")
        ax.set_title(
            "Log-density and gradient ascent (increasing log p)"
            if ascent
            else "Loss landscape and gradient flow"
        )
        return _figure_bytes(fig, plt, fmt)


def axis_label(sym: Any) -> str:
    r"""A symbol as an axis label: maths when its name is safe maths that matplotlib's mathtext
    reads, else the name as plain text (shown as written; drawing never fails on it).

    >>> import sympy as sp
    >>> axis_label(sp.Symbol("alpha_1")), axis_label(sp.Symbol("a$b{")), axis_label(sp.Symbol(r"\input{x}"))
    ('$\\alpha_{1}$', 'a\\$b{', '\\input{x}')
    """
    from symcalc.printing.latex import latex

    tex = latex(sym)
    if (
        r"\text{" in tex
    ):  # the printer set the name as escaped TeX text, which mathtext does not read
        return plain_label(str(sym))
    try:
        from matplotlib.mathtext import MathTextParser

        MathTextParser("path").parse(f"${tex}$")
    except Exception:  # noqa: BLE001 - mathtext raises ValueError and others on what it cannot read
        return plain_label(str(sym))
    return f"${tex}$"


def plain_label(text: str) -> str:
    """Text matplotlib shows as written: line breaks become spaces, ``$`` cannot start maths."""
    from symcalc.printing.texsafe import LINE_BREAKS

    return "".join(" " if ch in LINE_BREAKS else ch for ch in str(text)).replace("$", r"\$")


def _levels(Z: np.ndarray) -> np.ndarray:
    finite = Z[np.isfinite(Z)]
    lo, hi = np.percentile(finite, [1, 97])
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, 22)


def _flow_time(Z: np.ndarray, box) -> float:
    return 20.0


def _starts(box) -> list[tuple[float, float]]:
    x0, x1, y0, y1 = box
    fr = [0.08, 0.35, 0.65, 0.92]
    pts = [
        (x0 + a * (x1 - x0), y0 + b * (y1 - y0))
        for a in fr
        for b in fr
        if a in (0.08, 0.92) or b in (0.08, 0.92)
    ]
    pts += [(x0 + 0.5 * (x1 - x0) + 0.03 * (x1 - x0), y0 + 0.5 * (y1 - y0) + 0.05 * (y1 - y0))]
    return pts


def _mark_critical_points(ax, study, ax_syms, box) -> None:
    L = study.landscape
    if L is None:
        return
    p = study.problem
    x0, x1, y0, y1 = box
    span = min(x1 - x0, y1 - y0)
    seen = set()
    for pt in L.points:
        try:
            cx = float(sp.N(pt.point.get(ax_syms[0], 0)))
            cy = float(sp.N(pt.point.get(ax_syms[1], 0)))
        except (TypeError, ValueError):
            continue
        if not (x0 <= cx <= x1 and y0 <= cy <= y1):
            continue
        marker, colour = _KIND_STYLE.get(pt.kind, ("s", "#555"))
        label = pt.kind if pt.kind not in seen else None
        seen.add(pt.kind)
        ax.plot(cx, cy, marker, color=colour, ms=8, mec="white", mew=1.0, zorder=5, label=label)
        _eigen_bars(ax, pt, p, ax_syms, (cx, cy), span, colour)
    if seen:
        ax.legend(loc="upper right", fontsize=7, framealpha=0.85)


def _eigen_bars(ax, pt, p, ax_syms, centre, span, colour) -> None:
    H = pt.hessian
    if H is None:
        return
    try:
        H = np.array(sp.Matrix(H).evalf(), dtype=float)
    except (TypeError, ValueError):
        return
    idx = [p.explicit_wrt.index(s) for s in ax_syms]
    sub = H[np.ix_(idx, idx)]
    vals, vecs = np.linalg.eigh(sub)
    biggest = max(abs(vals).max(), 1e-12)
    for lam, v in zip(vals, vecs.T):
        length = span * (0.06 + 0.08 * abs(lam) / biggest)
        d = v / np.linalg.norm(v) * length
        style = "-" if lam > 0 else "--"
        ax.plot(
            [centre[0] - d[0], centre[0] + d[0]],
            [centre[1] - d[1], centre[1] + d[1]],
            style,
            color=colour,
            lw=2.0,
            zorder=4,
            solid_capstyle="round",
        )


# ---------------------------------------------------------------------------
# A 2-D field
# ---------------------------------------------------------------------------


def field_figure(study, fmt: str = "pdf") -> bytes | None:
    """Arrows of a 2-D field over its curl (or its potential when conservative)."""
    p = study.problem
    wrt = p.wrt
    F = sp.Matrix(p.field)
    sl = p.report.slice or _default_slice(p)
    (x0, x1), (y0, y1) = sl.xlim, sl.ylim
    fx = _numeric(F[0], p, wrt)
    fy = _numeric(F[1], p, wrt)
    plt = _pyplot()
    fa = study.field
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.0, 4.8))
        X, Y = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
        if fa is not None and fa.conservative and fa.potential is not None:
            Z = _eval_grid(_numeric(fa.potential, p, wrt), X, Y)
            label = r"potential $\varphi$"
        else:
            curl = sp.diff(F[1], wrt[0]) - sp.diff(F[0], wrt[1])
            Z = _eval_grid(_numeric(curl, p, wrt), X, Y)
            label = r"curl $\partial_1 F_2 - \partial_2 F_1$"
        if np.isfinite(Z).any():
            lo, hi = _robust_range(Z[np.isfinite(Z)])
            if hi - lo < 1e-12:
                lo, hi = lo - 1, hi + 1
            cs = ax.contourf(
                X, Y, np.clip(Z, lo, hi), levels=np.linspace(lo, hi, 21), cmap="coolwarm"
            )
            fig.colorbar(cs, ax=ax, shrink=0.85, label=label)
        Xq, Yq = np.meshgrid(np.linspace(x0, x1, 19), np.linspace(y0, y1, 19))
        U, V = _eval_grid(fx, Xq, Yq), _eval_grid(fy, Xq, Yq)
        M = np.hypot(U, V)
        with np.errstate(all="ignore"):
            ax.quiver(
                Xq,
                Yq,
                U / M,
                V / M,
                np.log10(M + 1e-300),
                cmap="viridis",
                pivot="mid",
                scale=24,
                width=0.004,
            )
        if fa is not None and fa.loop_work is not None:  # the loop the report integrates around
            lw = fa.loop_work
            th = np.linspace(0, 2 * np.pi, 200)
            ax.plot(
                lw["center"][0] + lw["radius"] * np.cos(th),
                lw["center"][1] + lw["radius"] * np.sin(th),
                "k--",
                lw=1.0,
                label=f"loop C: work {lw['work']:.3g}",
            )
            ax.legend(loc="upper right", fontsize=7, framealpha=0.85)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal")
        ax.set_xlabel(axis_label(wrt[0]))
        ax.set_ylabel(axis_label(wrt[1]))
        ax.set_title("Vector field")
        return _figure_bytes(fig, plt, fmt)


def _robust_range(values: np.ndarray) -> tuple[float, float]:
    """A colour range that a singularity (r -> 0) cannot take over: median +- 4 IQR, within the data."""
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    spread = max(q3 - q1, 1e-12)
    lo = max(values.min(), med - 4 * spread)
    hi = min(values.max(), med + 4 * spread)
    return float(lo), float(hi)


def _default_slice(p):
    from symcalc.study.schema import SliceSpec

    return SliceSpec(p.wrt[0], p.wrt[1])


def _figure_bytes(fig, plt, fmt: str = "pdf") -> bytes:
    if fmt not in ("pdf", "svg"):
        raise ValueError(f"a figure is a pdf or an svg, not {fmt!r}")
    buf = io.BytesIO()
    with plt.rc_context({"svg.fonttype": "path", "svg.hashsalt": "symcalc"}):
        fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)
    return buf.getvalue()
