"""The problem-file schema: its keys, its limits, and the records a loaded problem is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as _field
from typing import TYPE_CHECKING, Any

import sympy as sp

from symcalc.budget import budgeted
from symcalc.checks.explicit import materialize

if TYPE_CHECKING:
    from symcalc.study.results import Study

__all__ = [
    "Problem",
    "Variable",
    "Claim",
    "ReportOptions",
    "SliceSpec",
    "ANALYSES",
    "LIMITS",
]

#: Limits checked when a problem file is loaded, before the work they would cause
#: (docs/security.md). Generous for hand derivations; raise them here for bigger problems.
LIMITS = {
    "max_chars": 1_000_000,  # characters of TOML text
    "max_nesting": 32,  # arrays / inline tables / dotted keys nested in each other
    "max_names": 150,  # variables + constants declared (114 for 38 atoms in 3-D)
    "max_entries": 10_000,  # entries of one variable or constant (a 100 x 100 matrix)
    "max_total_entries": 20_000,  # entries of all variables and constants together
    "max_claims": 100,  # [[claims]] tables
    "max_expressions": 5_000,  # expression strings read (objective, field, claim entries)
}

# ---------------------------------------------------------------------------
# The format, as data
# ---------------------------------------------------------------------------

#: analyses a problem may ask for, and what each one means (docs/problem-files.md)
ANALYSES = {
    "gradient": "the gradient of the objective",
    "hessian": "the Hessian of the objective",
    "jacobian": "the Jacobian of the vector field",
    "divergence": "the divergence of the vector field",
    "curl": "the curl of the vector field and whether it is conservative",
    "potential": "a potential of the (conservative) vector field",
    "critical_points": "critical points of the objective, classified by Hessian eigenvalues",
    "descent": "the descent identity dL/dt = -||grad L||^2 along gradient flow",
    "gaussian": "the Gaussian identities: score and Hessian = -Sigma^-1",
    "score_matching": "the score -grad E of an energy and its denoising loss's parameter gradients",
    "vectorization": "vec, row-major vec, vech and the commutation matrix of a matrix",
    "finite_differences": "central finite differences against the derived results",
    "kernel": "the generated NumPy kernel source (appendix)",
}

TOP_KEYS = {
    "title": "a string",
    "description": "a string",
    "notation": '"components" or "matrix"',
    "variables": "a table of variables",
    "constants": "a table of constants",
    "objective": "an expression (string)",
    "objective_latex": "a LaTeX expression (string)",
    "field": "a list of component expressions",
    "field_latex": "a list of LaTeX components",
    "analyses": "a list of analysis names",
    "claims": "an array of tables [[claims]]",
    "derivation": "an array of tables [[derivation]] (checked by symcalc check)",
    "gaussian": "a table with mean, covariance, variable",
    "vectorization": "a table with matrix = <variable name>",
    "score_matching": "a table with noise, sigma, parameters",
    "report": "a table of report options",
    "seed": "an integer (random probe points)",
}
VARIABLE_KEYS = {
    "shape": "a list of 0, 1 or 2 positive integers",
    "structure": 'a list of "symmetric", "positive_definite", "positive", "diagonal"',
    "description": "a string",
    "latex": "a LaTeX name (string)",
}
CONSTANT_KEYS = dict(VARIABLE_KEYS, value="a number, or a list (vector) / list of lists (matrix)")
CLAIM_KEYS = {
    "of": "gradient, hessian, jacobian or potential",
    "expr": "an expression or a list",
    "latex": "a LaTeX expression or a list",
    "text": "a string",
}
REPORT_KEYS = {
    "title": "a string",
    "slice": "a table (x, y, xlim, ylim, fix)",
    "bold_vectors": "true or false",
    "kernel": "true or false",
    "figure": "true or false",
    "steps": "the maximum number of derivation steps shown (integer)",
}
SLICE_KEYS = {
    "x": "a variable name",
    "y": "a variable name",
    "xlim": "[low, high]",
    "ylim": "[low, high]",
    "fix": "a table name = number for the other variables",
}
GAUSSIAN_KEYS = {
    "variable": "a vector variable",
    "mean": "a vector constant",
    "covariance": "a square matrix constant",
}
VECTORIZATION_KEYS = {"matrix": "the name of a matrix variable or constant"}
STRUCTURES = ("symmetric", "positive_definite", "positive", "diagonal")
CLAIMABLE = ("gradient", "hessian", "jacobian", "potential")

# ---------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------


@dataclass
class Variable:
    """A declared name: shape ``()`` scalar, ``(n,)`` vector, ``(m, n)`` matrix.

    ``symbol`` is the SymPy object expressions see: a Symbol, an explicit
    Matrix of entry symbols (notation "components") or a MatrixSymbol
    (notation "matrix"). ``value`` is set for constants given numbers.
    """

    name: str
    shape: tuple[int, ...] = ()
    structure: tuple[str, ...] = ()
    description: str = ""
    symbol: Any = None
    value: Any = None
    is_constant: bool = False

    @property
    def kind(self) -> str:
        return ("scalar", "vector", "matrix")[len(self.shape)]

    @property
    def shape_text(self) -> str:
        if not self.shape:
            return "scalar"
        if len(self.shape) == 1:
            return f"vector in R^{self.shape[0]}"
        return f"{self.shape[0]} x {self.shape[1]} matrix"

    def entries(self) -> list[sp.Symbol]:
        """The scalar symbols of this variable (components notation), in order."""
        s = self.symbol
        if isinstance(s, sp.MatrixBase):
            seen: list[sp.Symbol] = []
            for e in s.T:  # column-major, like vec
                if e not in seen:
                    seen.append(e)
            return seen
        return [s]


@dataclass
class Claim:
    """A hand derivation to verify: ``of`` is what it claims to be."""

    of: str
    text: str
    source: str
    expr: Any
    is_latex: bool = False


@dataclass
class SliceSpec:
    """The 2-D slice the figure shows: two scalar axes, the others fixed."""

    x: Any
    y: Any
    xlim: tuple[float, float] = (-2.0, 2.0)
    ylim: tuple[float, float] = (-2.0, 2.0)
    fix: dict[Any, float] = _field(default_factory=dict)


@dataclass
class ReportOptions:
    title: str = ""
    slice: SliceSpec | None = None
    kernel: bool = False
    figure: bool = True
    steps: int = 40
    bold_vectors: bool = False


# ---------------------------------------------------------------------------
# The problem and its run
# ---------------------------------------------------------------------------


@dataclass
class Problem:
    """A loaded problem file. ``run()`` returns a :class:`Study`."""

    source: str
    title: str
    description: str = ""
    notation: str = "components"
    variables: list[Variable] = _field(default_factory=list)
    constants: list[Variable] = _field(default_factory=list)
    objective: Any = None
    objective_text: str = ""
    field: list[Any] | None = None
    field_text: list[str] | None = None
    analyses: tuple[str, ...] = ()
    claims: list[Claim] = _field(default_factory=list)
    gaussian: dict | None = None
    score_matching: dict | None = None
    vectorization: Variable | None = None
    report: ReportOptions = _field(default_factory=ReportOptions)
    seed: int = 0
    _explicit_cache: Any = _field(default=None, repr=False, compare=False)

    @property
    def is_field(self) -> bool:
        return self.field is not None

    @property
    def wrt(self) -> list[Any]:
        """The unknowns: scalar symbols (components) or the variables' symbols (matrix)."""
        if self.notation == "matrix":
            return [v.symbol for v in self.variables]
        return [s for v in self.variables for s in v.entries()]

    @property
    def assumptions(self) -> list[str]:
        """The declared structure, in words."""
        words = {
            "symmetric": "is symmetric",
            "positive_definite": "is positive definite",
            "positive": "is positive",
            "diagonal": "is diagonal",
        }
        return [
            f"{v.name} {words[s]}" for v in self.variables + self.constants for s in v.structure
        ]

    @property
    def explicit_wrt(self) -> list[sp.Symbol]:
        """The unknowns as scalar symbols (matrix notation: the entries w_1, A_{11}, ...)."""
        return self.explicit()[1]

    def explicit(self) -> tuple[Any, list[sp.Symbol]]:
        """(objective or field Matrix, scalar unknowns) written entry by entry.

        In matrix notation MatrixSymbols become Matrices of entry symbols and
        constants with values become their numbers; used by the landscape,
        the descent identity and the figures. Components notation: as is.
        """
        if self._explicit_cache is not None:
            return self._explicit_cache
        target = self.objective if self.objective is not None else sp.Matrix(self.field)
        if self.notation == "components":
            self._explicit_cache = (target, self.wrt)
            return self._explicit_cache
        syms = []
        for v in self.variables:
            if isinstance(v.symbol, sp.MatrixSymbol):
                syms += [e for e in _entry_matrix(v, v.name).T if e not in syms]
            else:
                syms.append(v.symbol)
        e = self.to_explicit(target)
        if isinstance(e, sp.MatrixBase) and e.shape == (1, 1) and self.objective is not None:
            e = e[0, 0]
        self._explicit_cache = (e, syms)
        return self._explicit_cache

    def to_explicit(self, expr: Any) -> Any:
        """Any expression of this problem written entry by entry (see ``explicit``)."""
        if self.notation == "components":
            return expr
        subs = {}
        for v in self.variables:
            if isinstance(v.symbol, sp.MatrixSymbol):
                subs[v.symbol] = _entry_matrix(v, v.name)
        for c in self.constants:
            if isinstance(c.symbol, sp.MatrixSymbol):
                subs[c.symbol] = (
                    _value_matrix(c) if c.value is not None else _entry_matrix(c, c.name)
                )
        return materialize(expr, subs)

    def lookup(self, name: Any) -> Variable | None:
        for v in self.variables + self.constants:
            if v.name == name:
                return v
        return None

    def constant_values(self) -> dict[Any, Any]:
        """SymPy substitution for the constants that have values."""
        subs: dict[Any, Any] = {}
        for c in self.constants:
            if c.value is None:
                continue
            if isinstance(c.symbol, sp.MatrixBase):
                val = sp.Matrix(c.value) if len(c.shape) == 2 else sp.Matrix(c.value)
                for s, v in zip(c.symbol, val):
                    if isinstance(s, sp.Symbol):
                        subs[s] = sp.nsimplify(v)
            elif isinstance(c.symbol, sp.MatrixSymbol):
                subs[c.symbol] = sp.Matrix(c.value) if len(c.shape) == 2 else sp.Matrix(c.value)
            else:
                subs[c.symbol] = sp.nsimplify(c.value)
        return subs

    @budgeted("Problem.run")
    def run(self, progress: Callable[[str], None] | None = None) -> Study:
        """Derive, analyse and check everything the file asks for.

        ``budget=`` seconds (default ``DEFAULT_BUDGETS["Problem.run"]``; None: no limit).
        """
        from symcalc.study.run import _run

        return _run(self, progress or (lambda msg: None))


def _value_matrix(var: Variable) -> sp.Matrix:
    rows = var.value if len(var.shape) == 2 else [[v] for v in var.value]
    return sp.Matrix([[sp.nsimplify(v) for v in r] for r in rows])


def _entry_matrix(var: Variable, base: str) -> sp.Matrix:
    """A Matrix of entry Symbols: w_1, ..., w_n or A_{11}, ... (structure respected)."""
    if len(var.shape) == 1:
        return sp.Matrix([sp.Symbol(f"{base}_{i + 1}") for i in range(var.shape[0])])
    m, n = var.shape
    sym = "symmetric" in var.structure or "positive_definite" in var.structure
    diag = "diagonal" in var.structure

    def entry(i, j):
        if diag and i != j:
            return sp.S.Zero
        if sym and i > j:
            i, j = j, i
        return sp.Symbol(f"{base}_{i + 1}{j + 1}")  # prints as A_{11}, Sigma_{12} -> \Sigma_{12}

    return sp.Matrix(m, n, entry)
