r"""MathML for the HTML page and Jupyter: the report's own LaTeX, converted offline.

The HTML report shows the same records as the PDF, so it converts the same
finished LaTeX (from :mod:`symcalc.printing.latex`) rather than printing the
objects a second way: each cell of an aligned display goes through
``latex2mathml`` (pure Python, no network), and the alignment is rebuilt as a
MathML table (Chromium draws neither ``&`` columns nor line breaks inside one
``<math>``). A SymPy object with no LaTeX yet goes through the LaTeX printer
first.

>>> m = mathml(r"x^{2}")
>>> m.startswith('<math') and "<msup>" in m
True
>>> "<mtable" in display_mathml("\\begin{align*}\na &= b\\\\\n&= c\n\\end{align*}")
True
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = ["mathml", "display_mathml", "tex_to_html", "expr_mathml"]

# symcalc's own macros and spacing, as plain LaTeX latex2mathml understands
_MACROS = [
    (re.compile(r"\\mathit\{([A-Za-z]+)\}"), lambda m: r"\mathit{" + m.group(1) + "}"),
    (re.compile(r"\\(?:left|right)\.\s*"), lambda m: ""),
    (re.compile(r"\\allowbreak(\{\})?"), lambda m: ""),
    (re.compile(r"\\(displaystyle|textstyle|scriptstyle)\b"), lambda m: ""),
    (re.compile(r"\\quad\b"), lambda m: r"\;\;"),
    (re.compile(r"\\qquad\b"), lambda m: r"\;\;\;\;"),
]


def _clean(tex: str) -> str:
    for rx, repl in _MACROS:
        tex = rx.sub(repl, tex)
    return tex.strip()


def _convert(tex: str, display: str) -> str:
    from latex2mathml.converter import convert

    try:
        return convert(_clean(tex), display=display)
    except Exception:  # noqa: BLE001 - a construct the converter lacks: show the LaTeX as text
        return (
            f'<math xmlns="http://www.w3.org/1998/Math/MathML" display="{display}">'
            f"<mtext>{html.escape(tex)}</mtext></math>"
        )


def mathml(tex: str, display: str = "inline") -> str:
    """One formula (LaTeX without ``$``) as a ``<math>`` element."""
    return _convert(tex, display)


def expr_mathml(expr: Any, display: str = "inline") -> str:
    """A SymPy object as MathML, through symcalc's LaTeX printer (the PDF's notation)."""
    from symcalc.printing.latex import latex

    return mathml(latex(expr), display)


def _split_top(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside braces and environments."""
    parts, depth, env, start, i = [], 0, 0, 0, 0
    while i < len(text):
        if text.startswith(r"\begin{", i):
            env += 1
        elif text.startswith(r"\end{", i):
            env -= 1
        ch = text[i]
        if ch == "\\" and text.startswith(sep, i) and sep != "&":
            if depth == 0 and env == 0:
                parts.append(text[start:i])
                i += len(sep)
                start = i
                continue
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == sep and depth == 0 and env == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


_ALIGNED = re.compile(
    r"^\s*(?:\\fitmath\{)?\s*\\begin\{(align\*|aligned)\}(.*)\\end\{\1\}\s*\}?\s*$", re.S
)
_TAG = re.compile(r"\\tag\*\{\\small\s*([^{}]*)\}|\\tag\*\{([^{}]*)\}")
_BRACKET = re.compile(r"^\s*\\\[(.*)\\\]\s*$", re.S)


def display_mathml(tex: str) -> str:
    r"""A display (align*, \fitmath{aligned}, \[...\]) as block MathML; rows become table rows.

    >>> out = display_mathml("\\begin{align*}\nf &= x \\\\\n&= y\n\\end{align*}")
    >>> out.count("<mtr>"), out.count("<mtd")
    (2, 4)
    """
    m = _ALIGNED.match(tex)
    if m is None:
        b = _BRACKET.match(tex)
        return mathml(b.group(1) if b else tex, "block")
    rows = [r for r in _split_top(m.group(2), r"\\") if r.strip()]
    tagged = any(_TAG.search(r) for r in rows)
    body = []
    for row in rows:
        tag = _TAG.search(row)
        row = _TAG.sub("", row).replace(r"\notag", "")
        cells = _split_top(row, "&")
        tds = []
        for k, cell in enumerate(cells):
            align = "right" if k % 2 == 0 and len(cells) > 1 else "left"
            inner = _inner(mathml(cell, "inline")) if cell.strip() else ""
            tds.append(f'<mtd columnalign="{align}" style="text-align: {align}">{inner}</mtd>')
        if tagged:  # the rule in the margin: a last column, as the PDF's \tag*
            note = _plain(tag.group(1) or tag.group(2) or "") if tag else ""
            tds.append(
                '<mtd style="text-align: right; padding-left: 2em; font-size: 80%">'
                f"{_note_mathml(note)}</mtd>"
            )
        body.append("<mtr>" + "".join(tds) + "</mtr>")
    return (
        '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">'
        '<mtable displaystyle="true" columnspacing="0em">' + "".join(body) + "</mtable></math>"
    )


def _note_mathml(note: str, width: int = 34) -> str:
    """A margin note as MathML text, wrapped at commas into lines of about ``width`` characters
    (MathML text does not wrap by itself), flush right like the PDF's.

    >>> _note_mathml("a, b")
    '<mtext>a, b</mtext>'
    >>> _note_mathml("constant factors, product for hadamard product, trace is linear; MC (34)").count("<mtr>")
    3
    """
    note = note.replace("\u00a0", " ")  # the PDF's ties: lines here break at commas only
    lines: list[str] = []
    for part in re.split(r"(?<=[,;]) ", note):
        if lines and len(lines[-1]) + 1 + len(part) <= width:
            lines[-1] += " " + part
        else:
            lines.append(part)
    if len(lines) <= 1:
        return f"<mtext>{note}</mtext>"
    rows = "".join(
        f'<mtr><mtd columnalign="right" style="text-align: right"><mtext>{line}</mtext></mtd></mtr>'
        for line in lines
    )
    return f'<mtable rowspacing="0em">{rows}</mtable>'


def _inner(math: str) -> str:
    return re.sub(r"^<math[^>]*>|</math>$", "", math)


# --- text mode: symcalc's own prose markup -------------------------------------------------

_TEXT_COMMANDS = [
    (r"\textbackslash{}", "\\"),
    (r"\textasciitilde{}", "~"),
    (r"\textasciicircum{}", "^"),
    (r"\textless{}", "<"),
    (r"\textgreater{}", ">"),
    (r"\textbar{}", "|"),
    (r"\allowbreak{}", ""),
    (r"\checkmark", "✓"),
    (r"\&", "&"),
    (r"\%", "%"),
    (r"\$", "$"),
    (r"\#", "#"),
    (r"\_", "_"),
    (r"\{", "{"),
    (r"\}", "}"),
    (r"\ ", " "),
    ("~", " "),
    ("--", "–"),
]
_STYLES = {
    "textbf": "strong",
    "emph": "em",
    "textit": "em",
    "texttt": "code",
    "text": "span",
    "small": "small",
}
_DISPLAY = re.compile(
    r"(\\begin\{align\*\}.*?\\end\{align\*\}|\\fitmath\{\\begin\{aligned\}.*?\\end\{aligned\}\}"
    r"|\\fitmath\{.*?\}(?=\s*$)|\\\[.*?\\\])",
    re.S,
)
_INLINE = re.compile(r"(?<!\\)\$(.+?)(?<!\\)\$", re.S)


def tex_to_html(tex: str) -> str:
    r"""symcalc's LaTeX prose (text, $maths$, displays) as HTML with MathML.

    >>> tex_to_html(r"The \textbf{gradient} of $x$, written as: {\ttfamily a\_b}")
    'The <strong>gradient</strong> of <math xmlns="http://www.w3.org/1998/Math/MathML" display="inline"><mrow><mi>x</mi></mrow></math>, written as: <code>a_b</code>'
    """
    out = []
    for k, piece in enumerate(_DISPLAY.split(tex)):
        if k % 2:
            out.append(display_mathml(piece))
            continue
        pos = 0
        for m in _INLINE.finditer(piece):
            out.append(_text_html(piece[pos : m.start()]))
            out.append(mathml(m.group(1), "inline"))
            pos = m.end()
        out.append(_text_html(piece[pos:]))
    return "".join(out)


_GROUP_STYLE = re.compile(r"\{\\(ttfamily|itshape|bfseries|small)\s+([^{}]*)\}")
_COMMAND = re.compile(r"\\(textbf|emph|textit|texttt|text|small)\{([^{}]*)\}")


def _text_html(text: str) -> str:
    """Prose without maths: symcalc's escapes undone, then HTML-escaped, styles as tags."""
    tags = {"ttfamily": "code", "itshape": "em", "bfseries": "strong", "small": "small"}
    marks: list[str] = []

    def mark(tag: str, inner: str) -> str:
        marks.append(f"<{tag}>{_plain(inner)}</{tag}>")
        return f"\0{len(marks) - 1}\0"

    text = _GROUP_STYLE.sub(lambda m: mark(tags[m.group(1)], m.group(2)), text)
    text = _COMMAND.sub(lambda m: mark(_STYLES[m.group(1)], m.group(2)), text)
    shown = _plain(text)
    return re.sub(r"\x00(\d+)\x00", lambda m: marks[int(m.group(1))], shown)


def _plain(text: str) -> str:
    for a, b in _TEXT_COMMANDS:
        text = text.replace(a, b)
    text = re.sub(r"\\(?:par|noindent|medskip|smallskip|newline)\b\s*", " ", text)
    text = re.sub(r"\\[A-Za-z]+\{\}|\\[A-Za-z]+\b\s*", "", text)  # layout commands: dropped
    text = text.replace("{", "").replace("}", "")
    return html.escape(text, quote=False).replace("\x00", "\0")
