"""The tables of a problem file (already read into a dict) checked and built into a Problem."""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Sequence
from typing import Any

import sympy as sp

from symcalc.errors import ProblemFileError, SymcalcError
from symcalc.expr.registry import REGISTRY
from symcalc.study.schema import (
    ANALYSES,
    CLAIM_KEYS,
    CONSTANT_KEYS,
    GAUSSIAN_KEYS,
    LIMITS,
    REPORT_KEYS,
    SLICE_KEYS,
    STRUCTURES,
    TOP_KEYS,
    VARIABLE_KEYS,
    VECTORIZATION_KEYS,
    Claim,
    Problem,
    ReportOptions,
    SliceSpec,
    Variable,
    _entry_matrix,
    _value_matrix,
)
from symcalc.study.scorematching import build_score_matching

# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


class _Ctx:
    """Where we are in the problem, for error messages.

    ``where(key)`` says where a key is in the user's own terms: by default
    ``"<source>: [key]"``; the command line names its flags instead (``--wrt x``).
    """

    def __init__(self, source: str, where: Callable[[str], str] | None = None):
        self.source = source
        self.where = where or (lambda key: f"{source}: [{key}]")
        self.expressions = 0  # expression strings read so far
        self.entries = 0  # entries of the variables and constants declared so far

    def error(self, key: str, expected: str, got: Any = None) -> ProblemFileError:
        msg = f"{self.where(key)}: expected {expected}"
        if got is not None:
            msg += f", got {_shown(got)}"
        return ProblemFileError(msg)

    def over_limit(self, key: str, what: str, limit: str) -> ProblemFileError:
        return ProblemFileError(
            f"{self.where(key)}: {what}; the limit is {LIMITS[limit]} "
            f"(symcalc.study.schema.LIMITS['{limit}'])"
        )


_SHOWN = reprlib.Repr()
_SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxlevel = 80, 80, 6, 6, 3


def _shown(value: Any) -> str:
    """A short one-line repr of a value from the file (bounded in length and depth).

    >>> _shown(list(range(100)))
    '[0, 1, 2, 3, 4, 5, ...]'
    """
    return _SHOWN.repr(value)


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
    obj_only = {"gradient", "hessian", "critical_points", "descent", "gaussian", "score_matching"}
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
    if "score_matching" in data or "score_matching" in problem.analyses:
        problem.score_matching = build_score_matching(data.get("score_matching"), problem, ctx)
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


# ---------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------


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
            f"{ctx.where(key)}: cannot read the expression: {_located(exc)}"
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
