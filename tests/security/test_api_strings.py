"""No string handed to the Python API is ever evaluated (issue 11, finding 3).

For EVERY callable in ``symcalc.__all__`` and every parameter it has, a hostile
string (one that would create a sentinel file if Python ran it) goes into that
slot, bare and wrapped (``[s]``, ``[[s]]``, ``(s,)``, ``{s: 1}``, ``{x: s}``),
with the other slots holding valid objects. The sentinel must never appear; the
call must raise a :class:`symcalc.errors.SymcalcError` (a clean, one-line
refusal), except where the slot legitimately takes text: math text is read by
symcalc's own parser (``parse``, ``parse_latex``, a verify claim), a problem file
by ``load_problem``, names and messages are stored as data (records, error
messages, the names of matrix variables). Those may return, but still never run
the text.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symcalc as sc
from symcalc.errors import InputTypeError, SymcalcError
from symcalc.inputs import as_expr, as_matrix, reject_text
from symcalc.records import Derivation

x, y, z = sp.symbols("x y z")
V3, W3 = sc.vector("v", 3), sc.vector("w", 3)
A3 = sc.matrix_symbol("A", 3, 3)
P3 = sc.positive_definite("P", 3)
X23 = sc.matrix_symbol("X", 2, 3)
Y2 = sc.vector("yv", 2)
TOML = 'objective = "x^2 + y^2"\nanalyses = ["gradient"]\n[variables]\nx = "scalar"\ny = "scalar"\n'
FAST = dict(isolate=False, budget=5.0)

#: valid arguments for each function: (positional args, keyword args)
VALID: dict[str, tuple[tuple, dict]] = {
    "as_scalar": ((V3.T * V3,), {}),
    "classify": ((x**2 + y**2, [x, y], {x: 0, y: 0}), {}),
    "commutation_matrix": ((2, 3), {}),
    "compile": ((x**2 * y, [x, y]), {}),
    "compile_array_api": ((x**2 * y, [x, y]), {}),
    "lambdify": (([x, y], x**2 * y), {}),
    "critical_points": ((x**2 - 2 * x, [x]), {"budget": 5.0}),
    "curl": (([-y, x, sp.S.Zero], [x, y, z]), {}),
    "derive": ((x**2 * y, [x, y]), {}),
    "descent_rate": ((x**2 + y**2, [x, y]), {}),
    "diagonal": (("D", 3), {}),
    "divergence": (([x, y], [x, y]), {}),
    "dot": ((V3, W3), {}),
    "duplication_matrix": ((2,), {}),
    "elementwise": ((sp.exp, V3), {}),
    "elimination_matrix": ((2,), {}),
    "gaussian_logpdf": ((V3, W3, P3), {}),
    "gradient": ((x**2 * y, [x, y]), {}),
    "hadamard": ((V3, W3), {}),
    "hadamard_power": ((V3, 2), {}),
    "hessian": ((x**2 * y, [x, y]), {}),
    "is_conservative": (([y, x], [x, y]), {}),
    "jacobian": (([x * y, x + y], [x, y]), {}),
    "hvp": ((sp.Trace(V3.T * V3), V3, W3), {}),  # issue 14
    "gauss_newton": ((V3 - W3, V3), {}),  # issue 14
    "layer_norm": ((V3.T,), {}),  # issue 14
    "mean": ((V3,), {"axis": 0}),  # issue 14
    "laplacian": ((x**2 * y, [x, y]), {}),
    "load_problem": ((TOML,), {}),
    "logistic_loss": ((X23.T, Y2, W3), {}),
    "logsumexp": ((V3,), {}),
    "matrix_symbol": (("M", 2, 3), {}),
    "norm": ((V3,), {}),
    "norm_squared": ((V3,), {}),
    "ones": ((3, 1), {}),
    "parse": (("x^2", {"x": x}), {}),
    "parse_latex": (("x^2", {"x": x}), {}),
    "positive_definite": (("Q", 3), {}),
    "potential": (([y, x], [x, y]), {}),
    "quadratic_form": ((V3, A3), {}),
    "report": (
        (Derivation(expr=x**2, wrt=(x,), results={"gradient": sp.Matrix([2 * x])}),),
        {"figures": False, "kernel": False},
    ),
    "sigmoid": ((x,), {}),
    "softmax": ((V3,), {}),
    "softmax_cross_entropy": ((V3, W3), {}),
    "softplus": ((x,), {}),
    "log_sigmoid": ((x,), {}),
    "relu": ((x,), {}),
    "leaky_relu": ((x, sp.Rational(1, 5)), {}),
    "gelu": ((x,), {}),
    "heaviside": ((x,), {}),
    "squared_error": ((A3, V3, W3), {}),
    "structure_of": ((A3,), {}),
    "sum_entries": ((V3,), {}),
    "symmetric": (("S", 3), {}),
    "symmetrizer": ((2,), {}),
    "text": ((x**2,), {}),
    "unvec": ((sp.Matrix([1, 2, 3, 4]), (2, 2)), {}),
    "vec": ((sp.Matrix([[1, 2], [3, 4]]),), {}),
    "vech": ((sp.Matrix([[1, 2], [2, 3]]),), {}),
    "vector": (("u", 3), {}),
    "verify": (("2x", 2 * x), FAST),
    "verify_gradient": ((x**2 * y, [x, y], "[2xy, x^2]"), FAST),
    "verify_hessian": ((x**2 * y, [x, y], "[[2y, 2x], [2x, 0]]"), FAST),
    "verify_jacobian": (([x * y, x + y], [x, y], "[[y, x], [1, 1]]"), FAST),
    "CommutationMatrix": ((2, 3), {}),
    "Vec": ((A3,), {}),
    "check_derivation": ((["f = x^2", "df/dx = 2x"],), {"wrt": x, "budget": 20.0}),
}

#: classes that store what they are given (records, results, errors): text is data there
RECORDS = {
    "ArrayKernel",
    "Check",
    "Classification",
    "CriticalPoints",
    "Derivation",
    "DescentRate",
    "DerivationCheck",
    "Kernel",
    "MatrixKernel",
    "MultiMatrixKernel",
    "Problem",
    "Report",
    "Rule",
    "Step",
    "Study",
    "Verdict",
    "SymcalcError",
    "InputError",
    "ShapeError",
    "NotConservativeError",
    "NotCriticalError",
    "NoRuleError",
    "ParseError",
    "SelfCheckError",
    "TeXNotFoundError",
    "LaTeXBuildError",
    "ProblemFileError",
    "BudgetExceededError",
}

#: (function, parameter) slots that legitimately take text; it is read, never run
TEXT_SLOTS = {
    ("parse", "text"),
    ("parse_latex", "text"),
    ("verify", "claim"),
    ("check_derivation", "lines"),  # a derivation is math text, read by symcalc's parser
    ("verify", "truth"),
    ("verify_gradient", "claimed"),
    ("verify_hessian", "claimed"),
    ("verify_jacobian", "claimed"),
    ("load_problem", "path_or_text"),
    ("text", "expr"),  # printing a string returns it: nothing is run
    ("report", "title"),  # a title is text (escaped by the LaTeX stage)
    ("compile", "name"),
    ("compile_array_api", "name"),  # a kernel's title (a comment)
    # the name of a matrix variable is text, kept as its name (never evaluated)
    ("matrix_symbol", "name"),
    ("vector", "name"),
    ("symmetric", "name"),
    ("positive_definite", "name"),
    ("diagonal", "name"),
}

#: parameters that take a function, not data (a callable is called, by design)
CALLABLE_SLOTS = {("report", "progress")}

#: on/off options read for their truth value only: a string there is never read as text
FLAG_SLOTS = {
    ("parse", "allow_undeclared"),
    ("parse_latex", "allow_undeclared"),
    ("report", "figures"),
    ("report", "kernel"),
    ("compile", "opt_level"),
    ("check_derivation", "diagnose_slips"),
}

#: (function, parameter) -> why it is a known hole; strict xfail, so a fixed hole fails the
#: sweep until its entry goes. Empty: every hole the sweep found is closed.
KNOWN_HOLES: dict[tuple[str, str], str] = {}


def _payloads(sentinel: Path) -> list[str]:
    run = f"__import__('os').system('touch {sentinel}')"
    return [
        run,
        f"open('{sentinel}', 'w').write('x')",
        f'"""\n{run}\n"""',
        f't"""; {run}; """',
        f"x\r{run}\r#",
        f"\\end{{lstlisting}}{run}",
    ]


def _wrapped(s: str) -> list:
    return [
        s,
        [s],
        [[s]],
        (s,),
        {s: 1},
        {x: s},
        {x: [s]},
        [[1, s]],
        np.array([s]),
        np.array([[1, s]], dtype=object),
    ]


def _callables() -> list[str]:
    names = [n for n in sc.__all__ if callable(getattr(sc, n))]
    return sorted(names)


def test_every_public_callable_is_in_the_sweep():
    missing = [n for n in _callables() if n not in VALID and n not in RECORDS]
    assert not missing, f"add valid arguments for {missing} to VALID (or to RECORDS)"


def test_the_valid_arguments_are_valid():
    """The sweep's base calls succeed, so a refusal in the sweep is the hostile slot's doing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (args, kwargs) in VALID.items():
            getattr(sc, name)(*args, **kwargs)


def _slots(name: str) -> list[str]:
    params = inspect.signature(getattr(sc, name)).parameters
    return [p for p, v in params.items() if v.kind is not v.VAR_KEYWORD]


def _call(name: str, slot: str, value):
    """The valid call of VALID[name] with ``value`` in parameter ``slot``."""
    fn = getattr(sc, name)
    args, kwargs = VALID[name]
    sig = inspect.signature(fn)
    param = sig.parameters[slot]
    if param.kind is param.VAR_POSITIONAL:  # hadamard(*Ms)
        return fn(value, *args[1:], **kwargs)
    bound = sig.bind_partial(*args, **kwargs)
    bound.arguments[slot] = value
    return fn(*bound.args, **bound.kwargs)


def _attempts(sentinel: Path):
    for payload in _payloads(sentinel):
        yield from _wrapped(payload)


CASES = [
    pytest.param(
        name,
        slot,
        id=f"{name}.{slot}",
        marks=[pytest.mark.xfail(reason=KNOWN_HOLES[name, slot], strict=True)]
        if (name, slot) in KNOWN_HOLES
        else [],
    )
    for name in _callables()
    if name not in RECORDS
    for slot in _slots(name)
    if (name, slot) not in CALLABLE_SLOTS
]


@pytest.mark.parametrize("name, slot", CASES)
def test_hostile_text_in_every_slot_never_runs(name, slot, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sentinel = tmp_path / "SENTINEL"
    unclean = []
    for value in _attempts(sentinel):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _call(name, slot, value)
            accepted = True
        except SymcalcError as exc:
            accepted = False
            first = str(exc).splitlines()[0] if str(exc) else ""
            assert first and "Traceback" not in str(exc), (name, slot, value)
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            accepted = False
            unclean.append(f"{value!r:.70}: {type(exc).__name__}: {str(exc)[:120]}")
        assert not sentinel.exists(), f"{name}({slot}={value!r}) ran the text"
        if accepted and (name, slot) not in TEXT_SLOTS | FLAG_SLOTS:
            unclean.append(f"{value!r:.70}: accepted (expected a SymcalcError)")
    assert not list(tmp_path.iterdir()), "a file appeared in the working directory"
    assert not unclean, f"{name}({slot}=...) did not refuse cleanly:\n" + "\n".join(unclean)


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_records_keep_text_as_data(name, tmp_path, monkeypatch):
    """Records, results and errors store what they are given; constructing one runs nothing."""
    monkeypatch.chdir(tmp_path)
    sentinel = tmp_path / "SENTINEL"
    cls = getattr(sc, name)
    try:
        params = [
            p
            for p, v in inspect.signature(cls).parameters.items()
            if v.default is inspect.Parameter.empty and v.kind is v.POSITIONAL_OR_KEYWORD
        ]
    except (TypeError, ValueError):  # an exception class: one message
        params = None
    for value in _attempts(sentinel):
        try:
            record = cls(value) if params is None else cls(**{p: value for p in params})
            repr(record), str(record)
        except Exception:  # noqa: BLE001 - a record may reject garbage any way it likes
            pass
        assert not sentinel.exists(), f"{name}({value!r}) ran the text"


# --------------------------------------------------------------------------------------
# Text hidden anywhere in a nested object is found (property test)
# --------------------------------------------------------------------------------------
_leaf = st.one_of(st.integers(-5, 5), st.just(x), st.just(sp.Rational(1, 3)))
_nested = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.integers(0, 3), inner, min_size=1, max_size=2),
    ),
    max_leaves=8,
)


def _plant(obj, text: str, path: list[int]):
    """obj with ``text`` replacing the leaf that ``path`` leads to (or appended)."""
    if isinstance(obj, list):
        i = path[0] % len(obj) if obj else 0
        return obj[:i] + [_plant(obj[i], text, path[1:]) if path[1:] else text] + obj[i + 1 :]
    if isinstance(obj, tuple):
        return tuple(_plant(list(obj), text, path))
    if isinstance(obj, dict):
        k = sorted(obj)[path[0] % len(obj)]
        return {**obj, k: _plant(obj[k], text, path[1:]) if path[1:] else text}
    return text


@settings(max_examples=200, deadline=None)
@given(
    _nested, st.lists(st.integers(0, 5), min_size=1, max_size=6), st.text(min_size=0, max_size=8)
)
def test_text_anywhere_in_a_nested_object_is_refused(obj, path, text):
    planted = _plant(obj, text, path)
    with pytest.raises(InputTypeError, match="never evaluates text"):
        reject_text(planted, "arg")
    with pytest.raises(InputTypeError):
        as_expr(planted, "arg")
    with pytest.raises(SymcalcError):
        as_matrix(planted, "arg")


@settings(max_examples=100, deadline=None)
@given(_nested)
def test_objects_without_text_pass_the_text_check(obj):
    reject_text(obj, "arg")  # nothing to refuse: no error


def test_no_non_strict_sympify_in_the_package():
    """No module calls sympify non-strictly (a non-strict sympify parses and runs a string it
    meets), nor eval / exec / parse_expr: the one exec is the kernel loader's, of generated
    source it has checked with ast.parse."""
    import ast
    import importlib
    import pkgutil

    import symcalc

    modules = [
        m.name
        for m in pkgutil.walk_packages(symcalc.__path__, "symcalc.")
        if not m.name.endswith("__main__")
    ]
    assert len(modules) > 30
    found = []
    for name in modules:
        path = Path(importlib.import_module(name).__file__)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "sympify"
            ):
                owner = ast.unparse(node.func.value)
                strict = any(
                    k.arg == "strict"
                    and isinstance(k.value, ast.Constant)
                    and k.value.value is True
                    for k in node.keywords
                )
                if not (strict or owner in ("se", "_se()")):  # SymEngine's own parser, no eval
                    found.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and (name, node.func.id) != ("symcalc.codegen.loader", "exec")
            ):
                if node.func.id in ("eval", "exec", "sympify", "parse_expr"):
                    found.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    assert not found, "\n".join(found)


def test_matrix_names_cannot_carry_line_breaks():
    for bad in ("x\ny", "x\r#", "A\u2028B", "v\x00"):
        with pytest.raises(SymcalcError, match="line breaks"):
            sc.vector(bad, 3)
    assert sc.vector("W_1", 2).name == "W_1"


# --------------------------------------------------------------------------------------
# The issue's own reproductions (finding 3), one by one
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call",
    [
        lambda s: sc.derive(s, [x]),
        lambda s: sc.sigmoid(s),
        lambda s: sc.softplus(s),
        lambda s: sc.hadamard_power(V3, s),
        lambda s: sc.verify("x", [[s]], isolate=False),
        lambda s: sc.verify("x", [s, x], isolate=False),
        lambda s: sc.gradient((s,), [x]),  # sympify(tuple, strict=True) ran it
        lambda s: sc.gradient(s, V3),  # the matrix engine's entry point
        lambda s: sc.as_scalar(s),
        lambda s: sc.vec([[s]]),
        lambda s: sc.symmetrizer(s),
        lambda s: sc.CommutationMatrix(s, 2),
        lambda s: sc.elementwise(lambda t: s, V3),  # a function returning text
    ],
    ids=[
        "derive",
        "sigmoid",
        "softplus",
        "hadamard_power",
        "verify-truth-[[s]]",
        "verify-truth-[s]",
        "gradient-tuple",
        "gradient-matrix",
        "as_scalar",
        "vec",
        "symmetrizer",
        "CommutationMatrix",
        "elementwise",
    ],
)
def test_the_reported_calls_refuse_text(call, tmp_path):
    sentinel = tmp_path / "SENTINEL"
    with pytest.raises(SymcalcError, match="never evaluates text|name must be an identifier"):
        call(f"__import__('os').system('touch {sentinel}')")
    assert not sentinel.exists()


def test_a_claim_is_still_text_and_read_safely():
    """verify's claim (and a top-level truth) is math text, read by symcalc.parse."""
    assert sc.verify("2x", 2 * x, isolate=False).holds is True
    assert sc.verify("2x", "2 x", symbols=[x], isolate=False).holds is True
    with pytest.raises(SymcalcError):
        sc.verify("__import__('os')", 2 * x, isolate=False)
