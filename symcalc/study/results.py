"""What a study found: the records ``Problem.run()`` fills (a Study and its parts)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field
from typing import TYPE_CHECKING, Any

from symcalc.printing.display import RichDisplay  # Jupyter display (issue 16)
from symcalc.records import Check, Derivation

if TYPE_CHECKING:
    from symcalc.study.schema import Claim, Problem

__all__ = [
    "Study",
    "FieldAnalysis",
    "Landscape",
    "PointReport",
    "DescentIdentity",
    "ClaimResult",
    "FiniteDifference",
    "GaussianIdentity",
    "VectorizationTable",
]


@dataclass
class PointReport:
    """One critical point: where, its Hessian, eigenvalues/vectors and kind."""

    point: dict[Any, Any]
    hessian: Any
    eigenvalues: list[Any]
    eigenvectors: list[Any]
    kind: str  # "minimum" | "maximum" | "saddle" | "degenerate"


@dataclass
class DescentIdentity:
    """Along gradient flow x' = -grad L: dL/dt = grad L . x' = -||grad L||^2.

    ``holds``: the chain rule along a path, with the *derived* gradient as the
    flow, gives minus its squared norm (checks the derivation), and
    symcalc.analysis.landscape.descent_rate proved the identity; ``steps``: that proof.
    """

    rate: Any  # the symbolic dL/dt along the flow
    norm_squared: Any  # ||grad L||^2
    holds: bool
    steps: list = _field(default_factory=list)


@dataclass
class Landscape:
    points: list[PointReport] = _field(default_factory=list)
    complete: bool = True  # False when the solver could not find all of them
    note: str = ""
    descent: DescentIdentity | None = None


@dataclass
class FieldAnalysis:
    """A vector field's calculus. ``loop_work`` (2-D fields): the work of F around a
    circle, {"center": (x, y), "radius": r, "work": float}; zero for a conservative field."""

    components: list[Any]
    jacobian: Any = None
    divergence: Any = None
    curl: Any = None
    conservative: bool | None = None
    potential: Any = None
    loop_work: dict | None = None


@dataclass
class ClaimResult:
    """A hand derivation and its verdict (symcalc.verify).

    holds: True, False, or None (undecided). counterexample, when it fails:
    {"point": {symbol: value}, "claimed": value there, "derived": the true value,
    "wrong entries": [...]} (keys present when known).
    """

    claim: Claim
    holds: bool | None
    method: str
    explanation: str
    counterexample: Any = None


@dataclass
class FiniteDifference:
    """Central differences against the derived result at one random point."""

    name: str
    point: dict[Any, float]
    step: float
    max_abs_error: float
    max_abs_value: float
    passed: bool


@dataclass
class GaussianIdentity:
    score: Any
    hessian: Any
    minus_inverse_covariance: Any
    hessian_holds: bool
    score_holds: bool


@dataclass
class VectorizationTable:
    matrix: Any
    vec: Any
    vec_row: Any
    commutation: Any
    vech: Any = None  # vech of `symmetric` (A itself when square, else A A^T)
    duplication: Any = None  # D with D vech(S) = vec(S)
    symmetric: Any = None
    identity_holds: bool = True  # K vec(A) = vec(A^T) and D vech(S) = vec(S)


@dataclass
class Study(RichDisplay):
    """Everything ``Problem.run`` found, for the report, CLI and notebooks.

    Fields (stable):
      problem         the Problem
      derivations     name -> symcalc.records.Derivation ("objective", "field")
      results         name -> SymPy object: "gradient", "hessian", "jacobian",
                      "divergence", "curl", "potential", "score" (what was run)
      field           FieldAnalysis or None
      landscape       Landscape or None (critical points, descent identity)
      claims          list of ClaimResult (hand derivations and their verdicts)
      finite_differences  list of FiniteDifference
      gaussian        GaussianIdentity or None
      vectorization   VectorizationTable or None
      score_matching  symcalc.study.scorematching.ScoreMatching or None
      kernel_source   generated NumPy source (str) or None
      notes           list of str: what could not be done and why
    """

    problem: Problem
    derivations: dict[str, Derivation] = _field(default_factory=dict)
    results: dict[str, Any] = _field(default_factory=dict)
    field: FieldAnalysis | None = None
    landscape: Landscape | None = None
    claims: list[ClaimResult] = _field(default_factory=list)
    finite_differences: list[FiniteDifference] = _field(default_factory=list)
    gaussian: GaussianIdentity | None = None
    vectorization: VectorizationTable | None = None
    score_matching: Any = None  # symcalc.study.scorematching.ScoreMatching
    kernel_source: str | None = None
    notes: list[str] = _field(default_factory=list)

    @property
    def checks(self) -> list[Check]:
        """The engine's self-checks over all derivations."""
        return [c for d in self.derivations.values() for c in d.checks]

    @property
    def all_checks_passed(self) -> bool:
        """Self-checks, finite differences and identities all passed (claims aside)."""
        ok = all(c.passed for c in self.checks) and all(f.passed for f in self.finite_differences)
        if self.gaussian is not None:
            ok = ok and self.gaussian.hessian_holds and self.gaussian.score_holds
        if self.landscape is not None and self.landscape.descent is not None:
            ok = ok and self.landscape.descent.holds
        if self.score_matching is not None:
            ok = ok and all(c.passed for c in self.score_matching.checks)
        return ok

    @property
    def claims_hold(self) -> bool:
        return all(c.holds is True for c in self.claims)

    @property
    def ok(self) -> bool:
        """True when every check passed and every hand derivation holds (CLI exit 0)."""
        return self.all_checks_passed and self.claims_hold
