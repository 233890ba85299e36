"""What ``verify`` answers: the :class:`Verdict`, and how its values are shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp
from sympy import MatrixBase

from symcalc.inputs import short
from symcalc.printing.display import RichDisplay  # Jupyter display (issue 16)
from symcalc.verification.reading import _label


# ======================================================================================
# The verdict
# ======================================================================================
@dataclass
class Verdict(RichDisplay):
    """What ``verify`` found.

    holds:          True, False, or None (undecided: budget exhausted, no usable points).
    method:         "symbolic" (a canonical form of claim - truth is zero, a proof),
                    "numeric" (a counterexample, or undecided), or "numeric: N probes" when
                    ``holds`` is True only because claim and truth agreed at N probe points
                    (exactly, or to 300 digits; a strong check, not a proof).
    counterexample: {symbol or matrix: exact value, size symbol: int} where they differ, or None.
    claim_value / truth_value: both sides at the counterexample (Floats or Matrices of Floats).
    wrong_entries:  for vector and matrix results, the entries that differ there.
    assumed:        what symcalc assumed of the inputs ("Sigma is symmetric positive
                    definite (a covariance)" for a plain MatrixSymbol passed as a covariance).
    explanation:    one or two sentences a person can act on.
    """

    holds: bool | None
    method: str
    explanation: str
    counterexample: dict | None = None
    claim_value: Any = None
    truth_value: Any = None
    wrong_entries: list[str] = field(default_factory=list)
    claim: Any = None
    truth: Any = None
    points: int = 0
    elapsed: float = 0.0
    assumed: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 holds, 1 fails, 2 undecided (the CLI's exit status)."""
        return {True: 0, False: 1}.get(self.holds, 2)

    def __bool__(self) -> bool:
        return self.holds is True

    @property
    def status(self) -> str:
        return {True: "HOLDS", False: "FAILS"}.get(self.holds, "UNDECIDED")

    def describe(self) -> str:
        """Several lines for a person: the verdict, the counterexample and both values.

        >>> import sympy as sp
        >>> x = sp.Symbol("x")
        >>> from symcalc import verify
        >>> print(verify("-sin(x)", sp.cos(x).diff(x)).describe().splitlines()[0])
        HOLDS (symbolic): claim - truth simplifies to 0 (structural).
        """
        lines = [f"{self.status} ({self.method}): {self.explanation}"]
        if self.claim is not None:
            lines.append(f"  claim: {short(self.claim, 300)}")
        if self.truth is not None:
            lines.append(f"  truth: {short(self.truth, 300)}")
        if self.counterexample:
            lines.append("  counterexample:")
            for k, v in self.counterexample.items():
                lines.append(f"    {_label(k)} = {_show_value(v)}")
        if self.holds is False and self.claim_value is not None:
            lines.append(f"  claim there: {_show_value(self.claim_value)}")
            lines.append(f"  truth there: {_show_value(self.truth_value)}")
        if self.wrong_entries:
            lines.append(f"  wrong entries: {', '.join(self.wrong_entries)}")
        for sentence in self.assumed:
            lines.append(f"  assumed: {sentence}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()


def _show_value(v) -> str:
    if isinstance(v, MatrixBase):
        rows = ["[" + ", ".join(_show_value(e) for e in v.row(i)) + "]" for i in range(v.rows)]
        return "[" + ", ".join(rows) + "]"
    if isinstance(v, sp.Rational) and not v.is_Integer:
        return f"{v} (~{float(v):.6g})"
    if isinstance(v, sp.Float):
        return f"{float(v):.12g}"
    if isinstance(v, sp.Expr) and v.is_number and not v.is_Integer:
        try:
            re_, im_ = (float(t) for t in v.evalf(15).as_real_imag())
            return f"{re_:.12g}" if im_ == 0 else f"{re_:.12g}{im_:+.12g}i"
        except (TypeError, ValueError):
            return str(v)
    return str(v)
