"""Problem files: a TOML description of what to derive, check and report.

``load_problem`` reads a file (or TOML text) into a :class:`Problem`;
``Problem.run()`` does the work and returns a :class:`Study`, the record the
report, the CLI and the notebooks read. The format is documented in
``docs/problem-files.md``.

>>> p = load_problem('''
... title = "A bowl"
... objective = "x^2 + 3*y^2"
... analyses = ["gradient", "hessian", "critical_points"]
... [variables]
... x = "scalar"
... y = "scalar"
... ''')
>>> p.title, [v.name for v in p.variables]
('A bowl', ['x', 'y'])
>>> study = p.run()
>>> study.results["gradient"].T
Matrix([[2*x, 6*y]])
>>> [c.kind for c in study.landscape.points]
['minimum']
"""

from __future__ import annotations

import math
import random
import reprlib
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import field as _field
from pathlib import Path
from typing import Any

import sympy as sp

from symcalc.budget import budgeted
from symcalc.errors import ProblemFileError, SymcalcError
from symcalc.inputs import safe_lambdify
from symcalc.records import Check, Derivation

__all__ = [
    "load_problem",
    "Problem",
    "Study",
    "Variable",
    "Claim",
    "ReportOptions",
    "SliceSpec",
    "FieldAnalysis",
    "Landscape",
    "PointReport",
    "DescentIdentity",
    "ClaimResult",
    "FiniteDifference",
    "GaussianIdentity",
    "VectorizationTable",
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
    "gaussian": "a table with mean, covariance, variable",
    "vectorization": "a table with matrix = <variable name>",
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
class Study:
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
        return ok

    @property
    def claims_hold(self) -> bool:
        return all(c.holds is True for c in self.claims)

    @property
    def ok(self) -> bool:
        """True when every check passed and every hand derivation holds (CLI exit 0)."""
        return self.all_checks_passed and self.claims_hold


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


class _Ctx:
    """Where we are in the file, for error messages."""

    def __init__(self, source: str):
        self.source = source
        self.expressions = 0  # expression strings read so far
        self.entries = 0  # entries of the variables and constants declared so far

    def error(self, key: str, expected: str, got: Any = None) -> ProblemFileError:
        msg = f"{self.source}: [{key}]: expected {expected}"
        if got is not None:
            msg += f", got {_shown(got)}"
        return ProblemFileError(msg)

    def over_limit(self, key: str, what: str, limit: str) -> ProblemFileError:
        return ProblemFileError(
            f"{self.source}: [{key}]: {what}; the limit is {LIMITS[limit]} "
            f"(symcalc.study.problem.LIMITS['{limit}'])"
        )


_SHOWN = reprlib.Repr()
_SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxlevel = 80, 80, 6, 6, 3


def _shown(value: Any) -> str:
    """A short one-line repr of a value from the file (bounded in length and depth).

    >>> _shown(list(range(100)))
    '[0, 1, 2, 3, 4, 5, ...]'
    """
    return _SHOWN.repr(value)


def _nesting_error(text: str, source: str) -> ProblemFileError | None:
    """The first place where arrays / inline tables nest deeper than LIMITS['max_nesting'].

    One linear pass that skips comments and all four kinds of TOML strings (tomllib
    recurses once per level and would hit Python's recursion limit first).

    >>> _nesting_error("x = " + "[" * 40 + "]" * 40, "<text>")
    ProblemFileError("<text>: line 1: arrays or inline tables nested more than 32 deep (symcalc.study.problem.LIMITS['max_nesting'])")
    >>> _nesting_error('x = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["', "<text>") is None
    True
    """
    limit, depth, i, n = LIMITS["max_nesting"], 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c in "\"'":
            i = _end_of_string(text, i)
        elif c in "[{":
            depth += 1
            if depth > limit:
                line = text.count("\n", 0, i) + 1
                return ProblemFileError(
                    f"{source}: line {line}: arrays or inline tables nested "
                    f"more than {limit} deep (symcalc.study.problem.LIMITS['max_nesting'])"
                )
            i += 1
        elif c in "]}":
            depth = max(depth - 1, 0)
            i += 1
        else:
            i += 1
    return None


def _end_of_string(text: str, i: int) -> int:
    """Index after the TOML string starting at ``i`` (basic, literal, or multi-line)."""
    q = text[i]
    if text.startswith(q * 3, i):
        j = i + 3
        while True:
            k = text.find(q * 3, j)
            if k < 0:
                return len(text)
            if q == "'" or not _escaped(text, k):
                end = k + 3
                while end < len(text) and text[end] == q and end - k < 5:  # """a"""" ends a"
                    end += 1
                return end
            j = k + 1
    j = i + 1
    while j < len(text) and text[j] != "\n":
        if text[j] == "\\" and q == '"':
            j += 2
            continue
        if text[j] == q:
            return j + 1
        j += 1
    return j


def _escaped(text: str, k: int) -> bool:
    """Whether the character at ``k`` follows an odd number of backslashes."""
    count = 0
    while k - count - 1 >= 0 and text[k - count - 1] == "\\":
        count += 1
    return count % 2 == 1


def _data_nesting_error(data: dict, source: str) -> ProblemFileError | None:
    """Tables nested deeper than LIMITS['max_nesting'] through dotted keys (a.b.c... = 1).

    Walked with an explicit stack: no recursion, whatever the depth.
    """
    limit = LIMITS["max_nesting"]
    stack: list[tuple[Any, list[str]]] = [(data, [])]
    while stack:
        value, path = stack.pop()
        if len(path) > limit:
            where = ".".join(path[:3]) + "..."
            return ProblemFileError(
                f"{source}: [{where}]: tables nested more than {limit} deep "
                "(symcalc.study.problem.LIMITS['max_nesting'])"
            )
        if isinstance(value, dict):
            stack.extend((v, path + [str(k)[:40]]) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, path + ["[]"]) for v in value)
    return None


@budgeted("load_problem")
def load_problem(path_or_text: str | Path) -> Problem:
    """Read a problem file (a path, or TOML text) into a :class:`Problem`.

    ``budget=`` seconds (default ``DEFAULT_BUDGETS["load_problem"]``; None: no limit).
    Sizes are checked against :data:`LIMITS` before the work they would cause; every
    error is one :class:`~symcalc.errors.ProblemFileError` naming the file and the key
    (and the line, where TOML gives one).

    >>> load_problem('objective = "x"\\nvariables = {x = "scalar"}\\ncolour = 1')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symcalc.errors.ProblemFileError: <text>: [colour]: expected one of the keys analyses, ...
    """
    text, source = _read_source(path_or_text)
    if len(text) > LIMITS["max_chars"]:
        raise ProblemFileError(
            f"{source}: the file has more than {LIMITS['max_chars']} characters "
            "(symcalc.study.problem.LIMITS['max_chars'])"
        )
    error = _nesting_error(text, source)
    if error is not None:
        raise error
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProblemFileError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:  # not reached after _nesting_error; never a traceback
        raise ProblemFileError(f"{source}: not valid TOML: nested too deeply") from None
    error = _data_nesting_error(data, source)
    if error is not None:
        raise error
    return _build_problem(data, _Ctx(source))


def _read_source(path_or_text: str | Path) -> tuple[str, str]:
    if isinstance(path_or_text, Path) or (
        isinstance(path_or_text, str) and "\n" not in path_or_text and "=" not in path_or_text
    ):
        path = Path(path_or_text)
        try:
            if path.exists() and not path.is_file():  # a FIFO or a device would block or never end
                raise ProblemFileError(f"{path}: not a regular file")
            with path.open(encoding="utf-8") as fh:  # at most one character over the limit
                return fh.read(LIMITS["max_chars"] + 1), str(path)
        except FileNotFoundError:
            raise ProblemFileError(f"{path}: no such problem file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ProblemFileError(f"{path}: cannot read the problem file: {exc}") from None
    if not isinstance(path_or_text, str):
        raise ProblemFileError(
            f"load_problem expects a path or TOML text, got {type(path_or_text).__name__}"
        )
    return path_or_text, "<text>"


def _check_keys(table: dict, allowed: dict, ctx: _Ctx, where: str) -> None:
    for key in table:
        if key not in allowed:
            full = f"{where}.{key}" if where else key
            raise ctx.error(full, "one of the keys " + ", ".join(sorted(allowed)))


def _expect(value: Any, kind: type | tuple, ctx: _Ctx, key: str, expected: str) -> Any:
    if not isinstance(value, kind) or (
        kind is not bool
        and isinstance(value, bool)
        and bool not in (kind if isinstance(kind, tuple) else (kind,))
    ):
        raise ctx.error(key, expected, value)
    return value


def _build_problem(data: dict, ctx: _Ctx) -> Problem:
    _check_keys(data, TOP_KEYS, ctx, "")
    title = _expect(data.get("title", "Untitled problem"), str, ctx, "title", "a string")
    description = _expect(data.get("description", ""), str, ctx, "description", "a string")
    notation = data.get("notation", "components")
    if notation not in ("components", "matrix"):
        raise ctx.error("notation", '"components" or "matrix"', notation)
    seed = _expect(data.get("seed", 0), int, ctx, "seed", "an integer")

    declared = sum(
        len(data.get(k)) for k in ("variables", "constants") if isinstance(data.get(k), dict)
    )
    if declared > LIMITS["max_names"]:
        raise ctx.over_limit(
            "variables", f"{declared} variables and constants are declared", "max_names"
        )
    variables = [
        _build_variable(n, spec, ctx, "variables", notation, False)
        for n, spec in _expect(data.get("variables", {}), dict, ctx, "variables", "a table").items()
    ]
    constants = [
        _build_variable(n, spec, ctx, "constants", notation, True)
        for n, spec in _expect(data.get("constants", {}), dict, ctx, "constants", "a table").items()
    ]
    if not variables:
        raise ctx.error("variables", 'at least one variable, e.g. [variables] x = "scalar"')
    names = [v.name for v in variables + constants]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ctx.error("constants", "names different from the variables", sorted(dup)[0])

    namespace = _namespace(variables + constants)
    problem = Problem(
        source=ctx.source,
        title=title,
        description=description,
        notation=notation,
        variables=variables,
        constants=constants,
        seed=seed,
    )

    has_obj = "objective" in data or "objective_latex" in data
    has_field = "field" in data or "field_latex" in data
    if has_obj == has_field:
        raise ctx.error(
            "objective", "exactly one of objective / objective_latex / field / field_latex"
        )
    if has_obj:
        key = "objective" if "objective" in data else "objective_latex"
        text = _expect(data[key], str, ctx, key, "an expression in a string")
        problem.objective_text = text
        problem.objective = _to_scalar(
            _parse(text, namespace, ctx, key, latex=key.endswith("latex")), ctx, key
        )
    else:
        key = "field" if "field" in data else "field_latex"
        if notation == "matrix":
            raise ctx.error(
                "notation", '"components" for a vector field (its components are scalars)', notation
            )
        comps = _expect(data[key], list, ctx, key, "a list of component expressions")
        if not comps or not all(isinstance(c, str) for c in comps):
            raise ctx.error(key, "a non-empty list of strings", comps)
        problem.field_text = comps
        problem.field = [
            _to_scalar(
                _parse(c, namespace, ctx, f"{key}[{i}]", latex=key.endswith("latex")),
                ctx,
                f"{key}[{i}]",
            )
            for i, c in enumerate(comps)
        ]
        if len(problem.field) != len(problem.wrt):
            raise ctx.error(
                key,
                f"{len(problem.wrt)} components (one per variable: "
                + ", ".join(map(str, problem.wrt))
                + ")",
                len(problem.field),
            )

    default = (
        ["gradient", "hessian", "finite_differences"]
        if has_obj
        else ["jacobian", "curl", "potential", "finite_differences"]
    )
    analyses = _expect(
        data.get("analyses", default), list, ctx, "analyses", "a list of analysis names"
    )
    for a in analyses:
        if a not in ANALYSES:
            raise ctx.error("analyses", "names from " + ", ".join(ANALYSES), a)
    problem.analyses = tuple(dict.fromkeys(analyses))
    field_only = {"jacobian", "divergence", "curl", "potential"}
    obj_only = {"gradient", "hessian", "critical_points", "descent", "gaussian"}
    wrong = (field_only if has_obj else obj_only) & set(problem.analyses)
    if wrong:
        raise ctx.error(
            "analyses",
            "analyses for " + ("an objective" if has_obj else "a vector field"),
            sorted(wrong)[0],
        )

    claims = _expect(data.get("claims", []), list, ctx, "claims", "an array of tables [[claims]]")
    if len(claims) > LIMITS["max_claims"]:
        raise ctx.over_limit("claims", f"the file has {len(claims)} claims", "max_claims")
    problem.claims = [_build_claim(i, c, namespace, ctx, has_obj) for i, c in enumerate(claims)]
    if "gaussian" in data:
        problem.gaussian = _build_gaussian(data["gaussian"], problem, ctx)
    elif "gaussian" in problem.analyses:
        raise ctx.error(
            "gaussian", "a [gaussian] table (variable, mean, covariance) for the gaussian analysis"
        )
    if "vectorization" in data or "vectorization" in problem.analyses:
        spec = _expect(
            data.get("vectorization"), dict, ctx, "vectorization", "a table with matrix = <name>"
        )
        _check_keys(spec, VECTORIZATION_KEYS, ctx, "vectorization")
        var = problem.lookup(spec.get("matrix"))
        if var is None or len(var.shape) != 2:
            raise ctx.error(
                "vectorization.matrix",
                "the name of a matrix variable or constant",
                spec.get("matrix"),
            )
        problem.vectorization = var
    problem.report = _build_report(data.get("report", {}), problem, ctx)
    if problem.report.title == "":
        problem.report.title = title
    return problem


def _build_variable(
    name: str, spec: Any, ctx: _Ctx, where: str, notation: str, constant: bool
) -> Variable:
    key = f"{where}.{name}"
    if not name.isidentifier() or name.startswith("_"):
        raise ctx.error(key, "a name made of letters, digits and _ (not starting with _)", name)
    if name in _RESERVED:
        raise ctx.error(
            key, f"a name that is not a function or constant of the language ({name} is)"
        )
    if isinstance(spec, str):
        spec = {"shape": []} if spec == "scalar" else {"description": spec}
    elif constant and isinstance(spec, (int, float)) and not isinstance(spec, bool):
        spec = {"value": spec}
    if not isinstance(spec, dict):
        raise ctx.error(key, '"scalar", a description string or a table {shape = [...], ...}', spec)
    _check_keys(spec, CONSTANT_KEYS if constant else VARIABLE_KEYS, ctx, key)
    shape = spec.get("shape")
    value = spec.get("value")
    if shape is None:
        shape = _shape_of_value(value) if value is not None else []
    if (
        not isinstance(shape, list)
        or len(shape) > 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
    ):
        raise ctx.error(
            f"{key}.shape", "a list of 0, 1 or 2 positive integers, e.g. [3] or [2, 3]", shape
        )
    shape = tuple(shape)
    _check_entries(shape, ctx, f"{key}.shape")
    structure = tuple(
        _expect(spec.get("structure", []), list, ctx, f"{key}.structure", "a list of names")
    )
    for s in structure:
        if s not in STRUCTURES:
            raise ctx.error(f"{key}.structure", "names from " + ", ".join(STRUCTURES), s)
        if s in ("symmetric", "positive_definite", "diagonal") and (
            len(shape) != 2 or shape[0] != shape[1]
        ):
            raise ctx.error(f"{key}.structure", f"{s} only for a square matrix", list(shape))
        if s == "positive" and shape:
            raise ctx.error(f"{key}.structure", "positive only for a scalar", list(shape))
    description = _expect(spec.get("description", ""), str, ctx, f"{key}.description", "a string")
    latex_name = _latex_name(spec.get("latex", ""), ctx, f"{key}.latex")
    if value is not None:
        value = _check_value(value, shape, ctx, f"{key}.value")
    var = Variable(name, shape, structure, description, None, value, constant)
    var.symbol = _make_symbol(var, notation, latex_name)
    return var


def _latex_name(value: Any, ctx: _Ctx, key: str) -> str:
    """A variable's ``latex`` key: LaTeX maths from symcalc.printing.texsafe's allow-list, or a ProblemFileError."""
    from symcalc.printing.texsafe import math_problem

    text = _expect(value, str, ctx, key, "a string")
    why = math_problem(text) if text else None
    if why is not None:
        raise ctx.error(
            key,
            "a LaTeX name from letters, digits, Greek letters, accents and fonts "
            rf"(e.g. \Sigma, \hat{{\beta}}, \mathbf{{x}}): {why}",
            text,
        )
    return text


def _check_entries(shape: tuple, ctx: _Ctx, key: str) -> None:
    """A declaration's entries, and all declarations' together, are within LIMITS."""
    entries = math.prod(shape)
    if entries > LIMITS["max_entries"]:
        raise ctx.over_limit(key, f"shape {list(shape)} has {entries} entries", "max_entries")
    ctx.entries += entries
    if ctx.entries > LIMITS["max_total_entries"]:
        raise ctx.over_limit(
            key,
            f"the variables and constants have {ctx.entries} entries together",
            "max_total_entries",
        )


def _shape_of_value(value: Any) -> list[int]:
    if isinstance(value, list):
        if value and isinstance(value[0], list):
            return [len(value), len(value[0])]
        return [len(value)]
    return []


def _check_value(value: Any, shape: tuple, ctx: _Ctx, key: str) -> Any:
    def num(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if not shape:
        if not num(value):
            raise ctx.error(key, "a number", value)
        return value
    if len(shape) == 1:
        if not (isinstance(value, list) and len(value) == shape[0] and all(num(v) for v in value)):
            raise ctx.error(key, f"a list of {shape[0]} numbers", value)
        return value
    if not (
        isinstance(value, list)
        and len(value) == shape[0]
        and all(
            isinstance(r, list) and len(r) == shape[1] and all(num(v) for v in r) for r in value
        )
    ):
        raise ctx.error(key, f"a {shape[0]} x {shape[1]} list of lists of numbers", value)
    return value


def _make_symbol(var: Variable, notation: str, latex_name: str) -> Any:
    """The SymPy object for a declared name.

    Plain Symbols (no assumptions): the engine's SymEngine round trip keeps
    names, not assumptions, so assumption-carrying symbols would not match its
    results; declared structure lives in ``Variable.structure``. In components
    notation a vector/matrix constant with a value *is* its numbers (data).
    """
    if not var.shape:
        return sp.Symbol(var.name)
    if notation == "matrix":
        from symcalc.expr import structure as ST

        rows, cols = (var.shape[0], 1) if len(var.shape) == 1 else var.shape
        if "positive_definite" in var.structure:
            return ST.positive_definite(var.name, rows)
        if "symmetric" in var.structure:
            return ST.symmetric(var.name, rows)
        if "diagonal" in var.structure:
            return ST.diagonal(var.name, rows)
        return sp.MatrixSymbol(var.name, rows, cols)
    if var.is_constant and var.value is not None:
        return _value_matrix(var)
    return _entry_matrix(var, latex_name or var.name)


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


# ---------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------

from symcalc.expr.registry import REGISTRY, expand_named, needs_rewrite  # noqa: E402

# registry hook: every function name the parser reads is reserved, and the grammar's words
_RESERVED = set(REGISTRY.names()) | {"sqrt", "pi", "tr", "det", "inv", "T", "e", "diag", "sum"}


def _namespace(decls: Sequence[Variable]) -> dict[str, Any]:
    ns: dict[str, Any] = {}
    for v in decls:
        ns[v.name] = v.symbol
        if isinstance(v.symbol, sp.MatrixBase):
            for e in v.symbol.free_symbols:
                ns.setdefault(e.name.replace("{", "").replace("}", ""), e)
    return ns


def _parse(text: str, namespace: dict[str, Any], ctx: _Ctx, key: str, latex: bool = False) -> Any:
    """Text -> SymPy with symcalc.parse (never eval); errors name the file and key."""
    import importlib

    parse_mod = importlib.import_module("symcalc.parsing.parser")
    fn = parse_mod.parse_latex if latex else parse_mod.parse
    ctx.expressions += 1
    if ctx.expressions > LIMITS["max_expressions"]:
        raise ctx.over_limit(
            key, f"more than {LIMITS['max_expressions']} expressions to read", "max_expressions"
        )
    try:
        return fn(text, namespace)
    except SymcalcError as exc:
        raise ProblemFileError(
            f"{ctx.source}: [{key}]: cannot read the expression: {_located(exc)}"
        ) from None


def _located(exc: SymcalcError, width: int = 60) -> str:
    """A parse error as one line, then the part of the expression's line around the
    position with a caret under it (an expression may be long or span lines).

    >>> from symcalc.errors import ParseError
    >>> print(_located(ParseError("unknown name 'z'", "x +\\n2 z", 6)))
    unknown name 'z' (line 2 of the expression)
      2 z
        ^
    """
    text, pos = getattr(exc, "text", None), getattr(exc, "position", None)
    message = str(exc).split("\n", 1)[0]
    if text is None or pos is None:
        return message
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    if "\n" in text:
        message += f" (line {text.count(chr(10), 0, pos) + 1} of the expression)"
    left = max(start, pos - width // 2)
    right = min(end, left + width)
    shown = ("..." if left > start else "") + text[left:right] + ("..." if right < end else "")
    caret = pos - left + (3 if left > start else 0)
    return f"{message}\n  {shown}\n  {' ' * caret}^"


def _to_scalar(expr: Any, ctx: _Ctx, key: str) -> Any:
    if isinstance(expr, sp.MatrixBase):
        if expr.shape == (1, 1):
            return expr[0, 0]
        raise ctx.error(key, "a scalar expression", f"a {expr.shape[0]} x {expr.shape[1]} matrix")
    return expr


def _build_claim(i: int, spec: Any, namespace: dict, ctx: _Ctx, has_obj: bool) -> Claim:
    key = f"claims[{i}]"
    if not isinstance(spec, dict):
        raise ctx.error(key, "a table with of, expr or latex, text", spec)
    _check_keys(spec, CLAIM_KEYS, ctx, key)
    of = spec.get("of")
    allowed = ("gradient", "hessian") if has_obj else ("jacobian", "potential")
    if of not in allowed:
        raise ctx.error(f"{key}.of", " or ".join(allowed), of)
    if ("expr" in spec) == ("latex" in spec):
        raise ctx.error(key, "exactly one of expr / latex")
    is_latex = "latex" in spec
    src = spec["latex" if is_latex else "expr"]
    sub = f"{key}.{'latex' if is_latex else 'expr'}"
    if isinstance(src, list) and src and all(isinstance(r, list) for r in src):
        if not all(isinstance(s, str) for r in src for s in r) or len({len(r) for r in src}) != 1:
            raise ctx.error(sub, "rows of equal length, of strings", src)
        expr = sp.Matrix(
            [
                [
                    _to_scalar(_parse(s, namespace, ctx, f"{sub}[{i}][{j}]", is_latex), ctx, sub)
                    for j, s in enumerate(r)
                ]
                for i, r in enumerate(src)
            ]
        )
        shown = "; ".join(", ".join(r) for r in src)
    elif isinstance(src, list):
        if not src or not all(isinstance(s, str) for s in src):
            raise ctx.error(sub, "a list of strings (or a list of rows)", src)
        expr = sp.Matrix(
            [
                _to_scalar(_parse(s, namespace, ctx, f"{sub}[{j}]", is_latex), ctx, sub)
                for j, s in enumerate(src)
            ]
        )
        shown = src
    elif isinstance(src, str):
        expr = _parse(src, namespace, ctx, sub, is_latex)
        shown = src
    else:
        raise ctx.error(sub, "a string or a list of strings", src)
    text = _expect(spec.get("text", ""), str, ctx, f"{key}.text", "a string")
    return Claim(
        of=of,
        text=text,
        source=shown if isinstance(shown, str) else ", ".join(shown),
        expr=expr,
        is_latex=is_latex,
    )


def _build_gaussian(spec: Any, problem: Problem, ctx: _Ctx) -> dict:
    _expect(spec, dict, ctx, "gaussian", "a table with variable, mean, covariance")
    _check_keys(spec, GAUSSIAN_KEYS, ctx, "gaussian")
    out = {}
    for k, want in (("variable", 1), ("mean", 1), ("covariance", 2)):
        var = problem.lookup(spec.get(k))
        if var is None or len(var.shape) != want:
            raise ctx.error(
                f"gaussian.{k}", GAUSSIAN_KEYS[k] + " declared in the file", spec.get(k)
            )
        out[k] = var
    n = out["variable"].shape[0]
    if out["mean"].shape != (n,) or out["covariance"].shape != (n, n):
        raise ctx.error("gaussian", f"mean of shape [{n}] and covariance of shape [{n}, {n}]")
    return out


def _build_report(spec: Any, problem: Problem, ctx: _Ctx) -> ReportOptions:
    _expect(spec, dict, ctx, "report", "a table of report options")
    _check_keys(spec, REPORT_KEYS, ctx, "report")
    opts = ReportOptions(
        title=_expect(spec.get("title", ""), str, ctx, "report.title", "a string"),
        kernel=_expect(
            spec.get("kernel", "kernel" in problem.analyses),
            bool,
            ctx,
            "report.kernel",
            "true or false",
        ),
        figure=_expect(spec.get("figure", True), bool, ctx, "report.figure", "true or false"),
        steps=_expect(spec.get("steps", 40), int, ctx, "report.steps", "an integer"),
        bold_vectors=_expect(
            spec.get("bold_vectors", False), bool, ctx, "report.bold_vectors", "true or false"
        ),
    )
    if "slice" in spec:
        opts.slice = _build_slice(spec["slice"], problem, ctx)
    else:
        scalars = problem.explicit_wrt
        if len(scalars) == 2:
            opts.slice = SliceSpec(scalars[0], scalars[1])
    return opts


def _build_slice(spec: Any, problem: Problem, ctx: _Ctx) -> SliceSpec:
    _expect(spec, dict, ctx, "report.slice", "a table (x, y, xlim, ylim, fix)")
    _check_keys(spec, SLICE_KEYS, ctx, "report.slice")
    by_name = {str(s).replace("{", "").replace("}", ""): s for s in problem.explicit_wrt}
    axes = []
    for k in ("x", "y"):
        name = spec.get(k)
        if name not in by_name:
            raise ctx.error(f"report.slice.{k}", "one of the unknowns " + ", ".join(by_name), name)
        axes.append(by_name[name])
    lims = []
    for k in ("xlim", "ylim"):
        lim = spec.get(k, [-2.0, 2.0])
        if not (
            isinstance(lim, list)
            and len(lim) == 2
            and all(isinstance(v, (int, float)) for v in lim)
            and lim[0] < lim[1]
        ):
            raise ctx.error(f"report.slice.{k}", "[low, high] with low < high", lim)
        lims.append((float(lim[0]), float(lim[1])))
    fix_spec = _expect(spec.get("fix", {}), dict, ctx, "report.slice.fix", "a table name = number")
    fix = {}
    for name, val in fix_spec.items():
        if name not in by_name or not isinstance(val, (int, float)):
            raise ctx.error(f"report.slice.fix.{name}", "an unknown of the problem = a number", val)
        fix[by_name[name]] = float(val)
    return SliceSpec(axes[0], axes[1], lims[0], lims[1], fix)


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
        return _materialize(expr, subs)

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
        return _run(self, progress or (lambda msg: None))


# ---------------------------------------------------------------------------
# Running: each analysis reads the engine modules (derive, calculus, landscape,
# verify, vectorize, compile); the small adapters below keep their call shapes
# in one place.
# ---------------------------------------------------------------------------


def _run(problem: Problem, progress: Callable[[str], None]) -> Study:
    study = Study(problem=problem)
    wanted = set(problem.analyses)
    if problem.objective is not None:
        _run_objective(problem, study, wanted, progress)
    else:
        _run_field(problem, study, wanted, progress)
    if problem.vectorization is not None:
        progress("vectorizing " + problem.vectorization.name)
        study.vectorization = _vectorization_table(problem.vectorization)
    if problem.report.kernel or "kernel" in wanted:
        progress("generating the NumPy kernel")
        study.kernel_source = _kernel_source(problem, study)
    progress("done")
    return study


def _run_objective(problem: Problem, study: Study, wanted: set, progress) -> None:
    f, wrt = problem.objective, problem.wrt
    order = 2 if wanted & {"hessian", "critical_points", "gaussian"} else 1
    what = "gradient and Hessian" if order == 2 else "gradient"
    progress(f"deriving the {what} of the objective in {_count_unknowns(problem)} unknowns")
    d = _derive(f, wrt, order, problem)
    study.derivations["objective"] = d
    study.results["gradient"] = d.results.get("gradient")
    if order == 2:
        study.results["hessian"] = d.results.get("hessian")
    _check_numbers_and_claims(problem, study, wanted, progress)
    if "critical_points" in wanted or "descent" in wanted:
        study.landscape = Landscape()
    if "critical_points" in wanted:
        progress("solving grad L = 0 for critical points")
        _landscape(problem, study)
    if "descent" in wanted:
        progress("checking the descent identity along gradient flow")
        study.landscape.descent = _descent_identity(problem, study.results["gradient"])
    if "gaussian" in wanted:
        progress("checking the Gaussian identities")
        study.gaussian = _gaussian_identity(problem, study.results)
        study.results["score"] = study.gaussian.score


def _check_numbers_and_claims(problem: Problem, study: Study, wanted: set, progress) -> None:
    """Finite differences of the derived results (when asked) and every hand derivation."""
    if "finite_differences" in wanted:
        progress("checking against central finite differences")
        study.finite_differences = _finite_differences(problem, study.results)
    for i, claim in enumerate(problem.claims):
        progress(f"verifying hand derivation {i + 1} of {len(problem.claims)} ({claim.of})")
        study.claims.append(_verify_claim(problem, claim, study.results))


def _count_unknowns(problem: Problem) -> int:
    return sum(math.prod(v.shape) if v.shape else 1 for v in problem.variables)


def _run_field(problem: Problem, study: Study, wanted: set, progress) -> None:
    F, wrt = problem.field, problem.wrt
    progress(f"deriving the Jacobian of the {len(F)}-component field")
    d = _derive(sp.Matrix(F), wrt, 1, problem)
    study.derivations["field"] = d
    fa = FieldAnalysis(components=list(F))
    fa.jacobian = d.results.get("jacobian")
    if fa.jacobian is None:
        fa.jacobian = sp.Matrix(F).jacobian(wrt)
    study.results["jacobian"] = fa.jacobian
    if "divergence" in wanted:
        fa.divergence = sp.simplify(sum(fa.jacobian[i, i] for i in range(len(F))))
        study.results["divergence"] = fa.divergence
    if wanted & {"curl", "potential"}:
        progress("computing the curl")
        fa.curl = _curl(F, wrt)
        study.results["curl"] = fa.curl
        fa.conservative = _is_conservative(F, wrt)
    if "potential" in wanted and fa.conservative:
        progress("integrating a potential")
        fa.potential = _potential(F, wrt)
        study.results["potential"] = fa.potential
    if len(F) == 2 and wanted & {"curl", "potential"}:
        progress("integrating the work around a closed loop")
        fa.loop_work = _loop_work(problem)
    study.field = fa
    _check_numbers_and_claims(problem, study, wanted, progress)


def _loop_work(problem: Problem) -> dict:
    """The work of a 2-D field around a circle (numerical quadrature, 30 digits).

    The circle: centred in the figure's slice, radius a third of its smaller side
    (default: the unit circle around the origin).
    """
    import mpmath

    sl = problem.report.slice
    if sl is not None:
        cx, cy = (sl.xlim[0] + sl.xlim[1]) / 2, (sl.ylim[0] + sl.ylim[1]) / 2
        r = min(sl.xlim[1] - sl.xlim[0], sl.ylim[1] - sl.ylim[0]) / 3
    else:
        cx, cy, r = 0.0, 0.0, 1.0
    t = sp.Symbol("t")
    x, y = problem.wrt
    values = problem.constant_values()
    path = {x: cx + r * sp.cos(t), y: cy + r * sp.sin(t)}
    P, Q = (sp.sympify(c, strict=True).subs(values).subs(path) for c in problem.field)
    integrand = safe_lambdify(
        [t], P * sp.diff(path[x], t) + Q * sp.diff(path[y], t), modules="mpmath"
    )
    with mpmath.workdps(30):
        work = mpmath.quad(
            integrand, [0, mpmath.pi / 2, mpmath.pi, 3 * mpmath.pi / 2, 2 * mpmath.pi]
        )
    return {"center": (cx, cy), "radius": r, "work": float(mpmath.re(work))}


def _is_zero(value: Any) -> bool:
    if isinstance(value, sp.MatrixBase):
        return all(sp.simplify(e) == 0 for e in value)
    return sp.simplify(value) == 0


# --- adapters to the engine modules ---------------------------------------

_STAGE_MODULES = {
    "verify": "symcalc.verification.claims",
    "landscape": "symcalc.analysis.landscape",
    "vectorize": "symcalc.expr.vectorize",
}


def _module(name: str):
    """The module symcalc.<name> (not the same-named public function, e.g. verify)."""
    import importlib

    return importlib.import_module(_STAGE_MODULES[name])


def _derive(f: Any, wrt: list, order: int, problem: Problem) -> Derivation:
    """symcalc.derivation.walker.derive with the problem's unknowns."""
    from symcalc.derivation.walker import derive

    target = wrt[0] if problem.notation == "matrix" and len(wrt) == 1 else wrt
    return derive(f, target, order)


def _curl(F: list, wrt: list) -> Any:
    from symcalc.derivation.calculus import curl

    return curl(sp.Matrix(F), wrt)


def _is_conservative(F: list, wrt: list) -> bool:
    from symcalc.derivation.calculus import is_conservative

    return bool(is_conservative(sp.Matrix(F), wrt))


def _potential(F: list, wrt: list) -> Any:
    from symcalc.derivation.calculus import potential

    return potential(sp.Matrix(F), wrt)


# --- numbers ----------------------------------------------------------------


def _random_assignment(problem: Problem, rng: random.Random) -> dict[Any, Any]:
    """Values for every symbol: constants' values, random draws otherwise."""
    subs: dict[Any, Any] = dict(problem.constant_values())
    for v in problem.variables + problem.constants:
        syms = v.symbol
        if isinstance(syms, sp.MatrixSymbol):
            if syms in subs:
                continue
            rows, cols = syms.shape
            if "positive_definite" in v.structure:
                A = sp.Matrix(rows, cols, lambda i, j: sp.Rational(rng.randint(-5, 5), 10))
                subs[syms] = A * A.T + sp.eye(rows)
            elif "symmetric" in v.structure:
                A = sp.Matrix(rows, cols, lambda i, j: sp.Rational(rng.randint(-9, 9), 10))
                subs[syms] = (A + A.T) / 2
            else:
                subs[syms] = sp.Matrix(rows, cols, lambda i, j: sp.Rational(rng.randint(-9, 9), 10))
            continue
        entries = syms if isinstance(syms, sp.MatrixBase) else sp.Matrix([syms])
        pd = "positive_definite" in v.structure
        for k, s in enumerate(entries):
            if not isinstance(s, sp.Symbol) or s in subs:
                continue
            if pd:
                i, j = divmod(k, entries.shape[1])
                subs[s] = (
                    sp.Rational(rng.randint(20, 30), 10)
                    if i == j
                    else sp.Rational(rng.randint(-3, 3), 10)
                )
            elif "positive" in v.structure:
                subs[s] = sp.Rational(rng.randint(5, 20), 10)
            else:
                subs[s] = sp.Rational(rng.randint(-15, 15), 10)
    return subs


def _materialize(expr: Any, subs: dict) -> Any:
    """Substitute explicit matrices and evaluate matrix expressions to Matrices."""
    out = expr.subs(subs) if subs else expr
    if isinstance(out, sp.Basic) and out.has(sp.OneMatrix, sp.Identity):
        out = out.replace(
            lambda e: isinstance(e, (sp.OneMatrix, sp.Identity)),
            lambda e: sp.ones(*e.shape) if isinstance(e, sp.OneMatrix) else sp.eye(e.shape[0]),
        )
    if hasattr(out, "doit"):
        out = out.doit()
    if isinstance(out, sp.MatrixExpr) and not isinstance(out, sp.MatrixBase):
        out = out.as_explicit()
    return out


def _explicit(expr: Any, subs: dict) -> Any:
    """Substitute and evaluate to explicit numbers (Matrix or Float)."""
    out = _materialize(expr, subs)
    if hasattr(out, "rewrite"):
        out = expand_named(out) if needs_rewrite(out) else out  # registry hook
    return out.evalf(30) if hasattr(out, "evalf") else out


def _as_float_list(value: Any) -> list[float]:
    """The entries as floats, column-major (vec order: the order of the Hessian's rows
    when the value is the gradient with respect to a matrix)."""
    if isinstance(value, (sp.MatrixBase,)):
        return [float(v) for v in value.T]
    return [float(value)]


def _scalar_entries(problem: Problem, subs: dict) -> list[tuple[Any, Any]]:
    """(symbol-or-(MatrixSymbol, i, j), current value) for every unknown scalar."""
    out = []
    for w in problem.wrt:
        if isinstance(w, sp.MatrixSymbol):
            for j in range(w.shape[1]):
                for i in range(w.shape[0]):
                    out.append(((w, i, j), subs[w][i, j]))
        else:
            out.append((w, subs[w]))
    return out


def _entry_name(key: Any) -> Any:
    """A scalar unknown as a Symbol: x, or w_{2} / A_{12} for an entry of a MatrixSymbol."""
    if not isinstance(key, tuple):
        return key
    w, i, j = key
    return sp.Symbol(f"{w.name}_{i + 1}" if w.shape[1] == 1 else f"{w.name}_{i + 1}{j + 1}")


def _perturbed(subs: dict, key: Any, delta: Any) -> dict:
    new = dict(subs)
    if isinstance(key, tuple):
        w, i, j = key
        m = sp.Matrix(new[w])
        m[i, j] += delta
        new[w] = m
    else:
        new[key] = new[key] + delta
    return new


def _finite_differences(problem: Problem, results: dict) -> list[FiniteDifference]:
    """Central differences of the objective (field) against gradient/Hessian (Jacobian)."""
    rng = random.Random(problem.seed)
    subs = _draw_valid_point(problem, rng)
    h = sp.Rational(1, 10**6)
    point = {_entry_name(k): float(v) for k, v in _scalar_entries(problem, subs)}
    checks = []
    pairs = []
    if problem.objective is not None:
        pairs.append(("gradient", problem.objective, results.get("gradient")))
        if results.get("hessian") is not None:
            pairs.append(("hessian", results.get("gradient"), results.get("hessian")))
    else:
        pairs.append(("jacobian", sp.Matrix(problem.field), results.get("jacobian")))
        if results.get("potential") is not None:
            pairs.append(
                ("gradient of the potential", results["potential"], sp.Matrix(problem.field))
            )
    for name, base, derived in pairs:
        if derived is None or base is None:
            continue
        columns = []
        for key, _ in _scalar_entries(problem, subs):
            plus = _as_float_list(_explicit(base, _perturbed(subs, key, h)))
            minus = _as_float_list(_explicit(base, _perturbed(subs, key, -h)))
            columns.append([(a - b) / (2 * float(h)) for a, b in zip(plus, minus)])
        approx = [c[r] for r in range(len(columns[0])) for c in columns]  # row r = output r
        exact = _flat_derivative(_explicit(derived, subs), len(columns[0]), len(columns))
        err = max(abs(a - b) for a, b in zip(approx, exact))
        scale = max(abs(b) for b in exact) if exact else 0.0
        checks.append(
            FiniteDifference(name, point, float(h), err, scale, err <= 1e-5 * (1 + scale))
        )
    return checks


def _flat_derivative(value: Any, rows: int, cols: int) -> list[float]:
    """A derived result as rows x cols, row-major (outputs by unknowns).

    A gradient of a scalar (rows == 1) is flattened column-major, the order
    the unknowns of a matrix variable are perturbed in.
    """
    if not isinstance(value, sp.MatrixBase):
        return [float(value)]
    if rows == 1:
        return [float(v) for v in value.T]  # column-major
    if value.shape == (rows, cols):
        return [float(value[i, j]) for i in range(rows) for j in range(cols)]
    return [float(v) for v in value]


def _draw_valid_point(problem: Problem, rng: random.Random) -> dict:
    """A random point where the objective/field is finite and real."""
    for _ in range(20):
        subs = _random_assignment(problem, rng)
        try:
            base = problem.objective if problem.objective is not None else sp.Matrix(problem.field)
            vals = _as_float_list(_explicit(base, subs))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if all(math.isfinite(v) for v in vals):
            return subs
    raise SymcalcError(f"{problem.source}: no random point found where the expression is finite")


# --- hand derivations -------------------------------------------------------


def _verify_claim(problem: Problem, claim: Claim, results: dict) -> ClaimResult:
    V = _module("verify")
    f = problem.objective if problem.objective is not None else sp.Matrix(problem.field)
    wrt = problem.wrt
    target = wrt[0] if problem.notation == "matrix" and len(wrt) == 1 else wrt
    claimed = claim.expr
    # constants with a value are that value in the claim and the truth, not free symbols
    fixed = {k: v for k, v in problem.constant_values().items() if isinstance(k, sp.Symbol)}
    if fixed:
        f, claimed = f.subs(fixed), claimed.subs(fixed)
    if (
        claim.of in ("gradient", "jacobian")
        and isinstance(claimed, sp.MatrixBase)
        and claimed.shape[1] != 1
        and claim.of == "gradient"
    ):
        claimed = claimed.T
    if claim.of == "potential":
        # a potential phi is right when grad phi equals the field
        verdict = V.verify_gradient(claimed, target, sp.Matrix(problem.field))
    else:
        fn = {
            "gradient": V.verify_gradient,
            "hessian": V.verify_hessian,
            "jacobian": V.verify_jacobian,
        }[claim.of]
        verdict = fn(f, target, claimed)
    ce = getattr(verdict, "counterexample", None)
    if ce is not None and "point" not in ce:
        ce = {
            "point": ce,
            "claimed": getattr(verdict, "claim_value", None),
            "derived": getattr(verdict, "truth_value", None),
            "wrong entries": list(getattr(verdict, "wrong_entries", []) or []),
        }
        ce = {k: v for k, v in ce.items() if v is not None and v != []}
    return ClaimResult(
        claim,
        verdict.holds,
        str(getattr(verdict, "method", "")),
        str(getattr(verdict, "explanation", "")),
        ce,
    )


# --- the landscape ----------------------------------------------------------


def _landscape(problem: Problem, study: Study) -> None:
    L = _module("landscape")
    values = problem.constant_values()
    f, wrt = problem.explicit()
    f = f.subs(values)
    try:
        points = L.critical_points(f, wrt)
    except SymcalcError as exc:
        study.landscape.complete = False
        study.landscape.note = str(exc)
        return
    complete = getattr(points, "complete", True)
    study.landscape.complete = bool(complete)
    study.landscape.note = str(getattr(points, "reason", "") or "")
    for pt in points:
        point = dict(pt) if isinstance(pt, dict) else dict(zip(wrt, pt))
        c = L.classify(f, wrt, point)
        vecs = list(getattr(c, "eigenvectors", []) or [])
        study.landscape.points.append(
            PointReport(point, c.hessian, list(c.eigenvalues), vecs, c.kind)
        )


def _descent_identity(problem: Problem, gradient: Any) -> DescentIdentity:
    """dL/dt along x' = -grad L, by the chain rule on a path x(t): an independent route.

    The rate shown is -||grad L||^2 in the problem's notation; the identity is
    checked entry by entry: d/dt L(x(t)) with x' replaced by minus the derived
    gradient must equal -sum of its squared entries.
    """
    t = sp.Symbol("t")
    f, wrt = problem.explicit()
    g = problem.to_explicit(gradient)
    g = list(g.T) if isinstance(g, sp.MatrixBase) else [g]  # column-major, like wrt
    paths = {w: sp.Function(f"{w.name}_path")(t) for w in wrt}
    rate = sp.diff(f.subs(paths), t)
    flow = {sp.Derivative(paths[w], t): -g[i].subs(paths) for i, w in enumerate(wrt)}
    rate = rate.subs(flow).subs({p: w for w, p in paths.items()})
    norm2 = sum((e**2 for e in g), sp.S.Zero)
    holds = _is_zero_expr(rate + norm2, problem)
    from symcalc.analysis.landscape import descent_rate

    proof = descent_rate(f, wrt)
    holds = holds and bool(proof.holds)
    if problem.notation == "matrix":
        G = gradient
        shown = -(G.T * G) if G.shape[1] == 1 else -sp.Trace(G.T * G)
        return DescentIdentity(shown, -shown, holds, list(proof.steps))
    return DescentIdentity(-norm2, norm2, holds, list(proof.steps))


def _is_zero_expr(e: Any, problem: Problem) -> bool:
    """Zero symbolically, or (when simplify cannot tell) at random points."""
    e = expand_named(e) if needs_rewrite(e) else e  # registry hook
    if sp.simplify(e) == 0:
        return True
    rng = random.Random(problem.seed + 2)
    syms = sorted(e.free_symbols, key=str)
    for _ in range(5):
        val = e.subs({s: sp.Rational(rng.randint(-15, 15), 10) for s in syms}).evalf(30)
        if not val.is_number or abs(complex(val)) > 1e-15:
            return False
    return True


# --- the Gaussian -----------------------------------------------------------


def _gaussian_identity(problem: Problem, results: dict) -> GaussianIdentity:
    g = problem.gaussian
    x, mu, S = g["variable"].symbol, g["mean"].symbol, g["covariance"].symbol
    if problem.notation == "matrix":
        inv = -S.I
        score = -(S.I * (x - mu))
    else:
        inv = -S.inv()
        score = inv * (x - mu)
    H, grad = results.get("hessian"), results.get("gradient")
    hess_ok = _equal(H, inv, problem)
    score_ok = _equal(grad, score, problem)
    return GaussianIdentity(
        score=score,
        hessian=H,
        minus_inverse_covariance=inv,
        hessian_holds=hess_ok,
        score_holds=score_ok,
    )


def _equal(a: Any, b: Any, problem: Problem) -> bool:
    """Symbolic (components) or at random points (matrix notation)."""
    if a is None:
        return False
    if problem.notation == "components":
        return _is_zero(sp.Matrix(a) - sp.Matrix(b))
    rng = random.Random(problem.seed + 1)
    for _ in range(3):
        subs = _random_assignment(problem, rng)
        da = _explicit(a, subs)
        db = _explicit(b, subs)
        if max(abs(float(u) - float(v)) for u, v in zip(sp.Matrix(da), sp.Matrix(db))) > 1e-9:
            return False
    return True


# --- vectorization ----------------------------------------------------------


def _vectorization_table(var: Variable) -> VectorizationTable:
    VZ = _module("vectorize")
    A = var.symbol if isinstance(var.symbol, sp.MatrixBase) else var.symbol.as_explicit()
    m, n = A.shape
    v = VZ.vec(A)
    v_row = VZ.vec(A, order="row")
    K = VZ.commutation_matrix(m, n)
    S = A if m == n and A.is_symmetric() else A * A.T  # vech needs a symmetric matrix
    vech = sp.Matrix(VZ.vech(S))
    D = sp.Matrix(VZ.duplication_matrix(S.rows))
    holds = sp.Matrix(K) * sp.Matrix(v) == sp.Matrix(VZ.vec(A.T)) and (
        D * vech - sp.Matrix(VZ.vec(S))
    ).applyfunc(sp.expand) == sp.zeros(S.rows**2, 1)
    return VectorizationTable(A, v, v_row, K, vech, D, S, bool(holds))


# --- the kernel -------------------------------------------------------------


def _kernel_source(problem: Problem, study: Study) -> str | None:
    """The NumPy source symcalc.compile generates for the objective (constants as params)."""
    if problem.objective is None:
        study.notes.append("kernel source: only objectives are compiled, not vector fields")
        return None
    from symcalc.codegen.kernels import compile as compile_kernel

    wrt = problem.wrt[0] if problem.notation == "matrix" and len(problem.wrt) == 1 else problem.wrt
    params = []
    for c in problem.constants:
        sym = c.symbol
        if isinstance(sym, sp.MatrixBase):
            params += [e for e in sym.free_symbols if e not in params]
        else:
            params.append(sym)
    try:
        kernel = compile_kernel(
            problem.objective,
            wrt,
            params,
            gradient=study.results.get("gradient"),
            hessian=study.results.get("hessian"),
            name=problem.title,
        )
        return kernel.source
    except (NotImplementedError, SymcalcError) as exc:
        study.notes.append(f"kernel source not available: {str(exc) or type(exc).__name__}")
        return None
