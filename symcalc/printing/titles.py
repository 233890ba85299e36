"""One table of result titles and symbols, read by the command line and the report.

Each result of a study (``gradient``, ``hessian``, ...) has a name for running text,
a heading, and its symbol in LaTeX and in plain text. The objective is called ``f``
and a vector field ``F`` everywhere (the CLI and the report say the same ∇f).

>>> title("hessian").name, title("hessian").heading, title("hessian").latex
('Hessian', 'Hessian', '\\\\nabla^2 f')
>>> title("gradient").text, title("curl").text
('∇f', '∇×F')
>>> title("colour")   # a result this table does not know: named by its key
Title(name='colour', heading='Colour', latex='\\\\mathrm{colour}', text='colour')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Title", "RESULT_TITLES", "OBJECTIVE", "FIELD", "title"]

OBJECTIVE = "f"  # the objective's symbol
FIELD = "F"  # a vector field's symbol


@dataclass(frozen=True)
class Title:
    """How one result is named: in a sentence, as a heading, and by its symbol."""

    name: str  # in running text and the CLI's rows: "gradient", "Hessian"
    heading: str  # a section or table heading: "Gradient"
    latex: str  # the symbol in LaTeX: \nabla f
    text: str  # the symbol in plain (Unicode) text: ∇f


RESULT_TITLES: dict[str, Title] = {
    "gradient": Title("gradient", "Gradient", rf"\nabla {OBJECTIVE}", f"∇{OBJECTIVE}"),
    "hessian": Title("Hessian", "Hessian", rf"\nabla^2 {OBJECTIVE}", f"∇²{OBJECTIVE}"),
    "jacobian": Title("Jacobian", "Jacobian", rf"J_{FIELD}", f"J_{FIELD}"),
    "divergence": Title("divergence", "Divergence", rf"\nabla\cdot {FIELD}", f"∇·{FIELD}"),
    "curl": Title("curl", "Curl", rf"\nabla\times {FIELD}", f"∇×{FIELD}"),
    "potential": Title("potential", "Potential", r"\phi", "φ"),
    "score": Title("score", "Score", r"\nabla \log p", "∇log p"),
}


def title(key: str) -> Title:
    """The title of the result ``key``; an unknown key is named by itself."""
    found = RESULT_TITLES.get(key)
    if found is not None:
        return found
    return Title(key, key.capitalize(), r"\mathrm{" + key + "}", key)
