r"""The HTML report: one self-contained page from the same records and template structure as the PDF.

Maths is MathML (the report's own LaTeX, converted offline by
:mod:`symcalc.printing.mathml`), figures are inline SVG, styles are inline:
nothing is fetched when the page is viewed. User text is escaped by Jinja's
autoescape; a value marked :class:`~symcalc.reporting.tex.TeX` (symcalc's own
LaTeX, with user text already escaped for TeX) is converted to HTML.

>>> import symcalc as sc
>>> page = sc.report(sc.load_problem('objective = "x^2 - y^2"\nvariables = {x = "scalar", y = "scalar"}')).to_html()
>>> page.startswith("<!DOCTYPE html>") and "<math" in page and "http" not in page.split("<body", 1)[1].replace("http://www.w3.org", "")
True
"""

from __future__ import annotations

import re
from typing import Any

import sympy as sp

from symcalc.printing.mathml import expr_mathml, tex_to_html
from symcalc.reporting.tex import TeX, templates_dir

__all__ = ["render_html", "html_env"]


def _finalize(value: Any) -> Any:
    from markupsafe import Markup

    if isinstance(value, TeX):
        return Markup(tex_to_html(value))
    if isinstance(value, (sp.Basic, sp.MatrixBase)):
        return Markup(expr_mathml(value))
    return "" if value is None else value


def html_env():
    """Jinja with HTML autoescape; TeX values become HTML + MathML."""
    import jinja2

    root = templates_dir()

    def load(name: str):
        try:
            return root.joinpath(name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
    )


def _svg(data: bytes) -> str:
    """An SVG figure for inlining: no XML prolog or DOCTYPE, ids kept unique per figure."""
    text = data.decode("utf-8")
    text = re.sub(r"^.*?(<svg\b)", r"\1", text, flags=re.S)
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)  # RDF: links, never fetched


def _figures(report) -> list[dict]:
    study = report.study
    if study is None or not report.context.get("figures"):
        return []
    from symcalc.reporting.figures import figures_for

    out = []
    for k, (_name, caption, data) in enumerate(figures_for(study, fmt="svg")):
        svg = _svg(data).replace('id="', f'id="f{k}-').replace("url(#", f"url(#f{k}-")
        svg = svg.replace('href="#', f'href="#f{k}-')  # also xlink:href
        out.append(dict(svg=svg, caption=caption))
    return out


def render_html(report) -> str:
    """The page of a :class:`~symcalc.reporting.build.Report`."""
    from markupsafe import Markup

    ctx = dict(report.context)
    ctx["svg_figures"] = [
        dict(svg=Markup(f["svg"]), caption=f["caption"]) for f in _figures(report)
    ]
    ctx["listing_texts"] = list(report.listings.values())
    return html_env().get_template("report.html.j2").render(**ctx)
