"""A bounded fuzz run of the parser and of the problem-file loader (issue 11).

Fixed seeds, a few thousand inputs, well under a minute: random tokens, random
bytes and mutations of valid formulas and of the bundled example files. Each
input either parses / loads, or raises a SymcalcError; any other exception (a
traceback from deep inside SymPy or tomllib) fails the run, naming the input.
A hypothesis property test puts random text in every string field of a problem
file: load_problem loads it or raises ProblemFileError, never anything else.
"""

from __future__ import annotations

import importlib
import random
import time
from pathlib import Path

import pytest
import sympy as sp
from helpers_toml import toml_string
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symcalc as sc
from symcalc.errors import ProblemFileError, SymcalcError

ROOT = Path(__file__).resolve().parents[2]
RUN_LIMIT = 60.0  # seconds for a whole fuzz run (on a loaded 2-core machine)

n = sp.Symbol("n", integer=True, positive=True)
SYMBOLS = {
    "x": sp.Symbol("x"),
    "y": sp.Symbol("y"),
    "a": sp.Symbol("a"),
    "n": n,
    "A": sp.MatrixSymbol("A", n, n),
    "w": sp.MatrixSymbol("w", n, 1),
    "X": sp.MatrixSymbol("X", 3, 2),
}

FORMULAS = [
    "2x cos(x^2)",
    "x^2 y + sin^2 x",
    "sigmoid(w^T w) (1 - sigmoid(x))",
    "x^T A x",
    "2*A.T*(A*w - w)",
    "log(det(A)) + tr(inv(A))",
    "[[x, 1], [1, y]]^3",
    "det([[x, 1], [1, y]])",
    "|x - 3| + sqrt(y)",
    "kron([[1, 2], [3, 4]], [[x], [y]])",
    "exp(-x^2/2) / sqrt(2 pi)",
    "softplus(a x) - log(1 + e^x)",
    "x² + y⁻¹",
    "(x+1)^10 (y-1)^-2",
    "hadamard(w, w) + w .* w",
    "diag(w) A",
    "sum(w) + x",
    r"\frac{e^{-x}}{(1+e^{-x})^2}",
    r"\sigma(x)\left(1-\sigma(x)\right)",
    r"x^\top A x",
    r"\begin{pmatrix} x & 1 \\ 1 & y \end{pmatrix}^{-1}",
    r"\sqrt[3]{x^2 + y^2}",
    r"\mathbf{w}^\top \mathbf{w} + \lambda",
    r"\log\det A - \operatorname{tr}(A^{-1})",
    r"\begin{vmatrix} x & y \\ a & 1 \end{vmatrix}",
    r"x_1^2 + \alpha_{12}",
    "grad f = 2x + y",
]
TOKENS = [
    "x",
    "y",
    "a",
    "A",
    "w",
    "X",
    "n",
    "2",
    "0",
    "1.5",
    "+",
    "-",
    "*",
    "/",
    "^",
    "(",
    ")",
    "[",
    "]",
    ",",
    ";",
    "|",
    "'",
    ".T",
    ".*",
    "sin",
    "log",
    "det",
    "inv",
    "kron",
    "tr",
    "diag",
    "sum",
    "sigmoid",
    "e",
    "pi",
    "T",
    "^T",
    "^-1",
    "1000",
    "=",
    " ",
    "\\frac",
    "{",
    "}",
    "\\begin{pmatrix}",
    "\\end{pmatrix}",
    "&",
    "\\\\",
    "\\left(",
    "\\right)",
    "_",
    "\\top",
    "\\sqrt",
    "\\otimes",
    "\\cdot",
    "²",
    "⁻",
    "λ",
    "·",
    "__import__",
    "lambda",
    "\x00",
    "\n",
    "\u202e",
    "٣",
    "ᵀ",
    "−",
    "\\mathbf{",
    "\\lambda",
    "!",
]


def _mutate(text: str, rng: random.Random, alphabet: list[str]) -> str:
    """One random edit: insert a token, delete or duplicate a slice, replace a character."""
    if not text:
        return rng.choice(alphabet)
    i = rng.randrange(len(text) + 1)
    j = min(len(text), i + rng.randint(1, 8))
    kind = rng.randrange(5)
    if kind == 0:
        return text[:i] + rng.choice(alphabet) + text[i:]
    if kind == 1:
        return text[:i] + text[j:]
    if kind == 2:
        return text[:j] + text[i:j] * rng.randint(1, 4) + text[j:]
    if kind == 3:
        return (
            text[:i]
            + chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0x3000)]))
            + text[j:]
        )
    return text[:i] + text[i:j][::-1] + text[j:]


def _formula_inputs(rng: random.Random, count: int):
    for k in range(count):
        mode = k % 4
        if mode == 0:
            yield "".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 25)))
        elif mode == 1:
            yield bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))).decode(
                "utf-8", "replace"
            )
        else:
            text = rng.choice(FORMULAS)
            for _ in range(rng.randint(1, 4)):
                text = _mutate(text, rng, TOKENS)
            yield text


def _check(fn, text):
    try:
        fn(text)
    except SymcalcError:
        return "error"
    except Exception as exc:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{type(exc).__name__}: {exc} -- from input {text!r}")
    return "ok"


def test_fuzz_the_parser():
    parse_any = importlib.import_module("symcalc.parsing.parser").parse_any
    rng = random.Random(20260611)
    start = time.monotonic()
    outcomes = {"ok": 0, "error": 0}
    for i, text in enumerate(_formula_inputs(rng, 3000)):
        syntax = ("math", "latex", "auto")[i % 3]
        outcomes[_check(lambda t, s=syntax: parse_any(t, SYMBOLS, syntax=s, budget=5), text)] += 1
    assert time.monotonic() - start < RUN_LIMIT
    assert outcomes["ok"] > 80 and outcomes["error"] > 1000, outcomes  # both paths exercised


def test_fuzz_with_undeclared_names():
    rng = random.Random(7)
    for text in _formula_inputs(rng, 600):
        _check(lambda t: sc.parse(t, budget=5), text)


TOML_TOKENS = [
    "[",
    "]",
    "{",
    "}",
    "=",
    '"',
    "'",
    '"""',
    ",",
    "\n",
    "#",
    ".",
    "[[claims]]",
    "[variables]",
    "[constants]",
    "[report]",
    "shape = [0]",
    "shape = [1000000]",
    'x = "scalar"',
    'structure = ["symmetric"]',
    "value = [1, 2]",
    "1e400",
    "nan",
    "true",
    "-",
    "\\u0000",
    "\\",
    "lambda",
    'of = "hessian"',
    'expr = ["2x", "2y"]',
    "x² ",
    "\x00",
    "\u2028",
]


def _example_texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.toml"))]


def _mutate_lines(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    kind = rng.randrange(3)
    if kind == 0:
        del lines[i]
    elif kind == 1:
        lines.insert(i, lines[j])
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def test_fuzz_the_problem_loader():
    rng = random.Random(11)
    examples = _example_texts()
    start = time.monotonic()
    outcomes = {"ok": 0, "error": 0}
    for _ in range(700):
        text = rng.choice(examples)
        for _ in range(rng.randint(1, 3)):
            text = (
                _mutate_lines(text, rng) if rng.random() < 0.3 else _mutate(text, rng, TOML_TOKENS)
            )
        if "\n" not in text and "=" not in text:
            text += "\n#"  # text, not a path
        outcomes[_check(lambda t: sc.load_problem(t, budget=10), text)] += 1
    assert time.monotonic() - start < RUN_LIMIT
    assert outcomes["ok"] > 50 and outcomes["error"] > 200, outcomes


# ---------------------------------------------------------------------------
# hypothesis: random text in every string field of a problem file
# ---------------------------------------------------------------------------


def test_toml_string_round_trips():
    import tomllib

    for text in ["", 'a"b', "a\\b", "\x00\x1f\x7f\n\r", "\u2028λ😀"]:
        assert tomllib.loads("k = " + toml_string(text))["k"] == text


FIELDS = [
    "title",
    "description",
    "objective",
    "objective_latex",
    "name",
    "variables.description",
    "variables.latex",
    "constants.name",
    "claims.expr",
    "claims.latex",
    "claims.text",
    "claims.of",
    "report.title",
    "notation",
    "analyses",
    "field",
    "slice.x",
    "gaussian.variable",
    "vectorization.matrix",
]

NAMES = st.sampled_from(
    [
        "lambda",
        "def",
        "class",
        "np",
        "numpy",
        "t0",
        "x0",
        "v0",
        "p0",
        "print",
        "__import__",
        "_x",
        "sum",
        "e",
        "x'y",
        'x"y',
        "x\ny",
        "x\ry",
        "é",
        "x y",
        "",
        "A1",
        "I_3",
        "I",
        "T",
        "sigma",
        "None",
        "True",
        "self",
        "out",
    ]
)
TEXT = st.one_of(
    st.text(max_size=60),
    NAMES,
    st.text(alphabet="xyz^*+-()[]{}\\_0123456789 ²⁻λ=,;|'T", max_size=40),
)


def problem_with(field: str, text: str) -> str:
    """A valid problem file with ``text`` in ``field``."""
    s = toml_string(text)
    top = {"title": '"A bowl"', "objective": '"x^2 + 3*y^2"'}
    variables = {"x": '"scalar"', "y": '"scalar"'}
    extra = ""
    if field in ("title", "description", "notation"):
        top[field] = s
    elif field in ("objective", "objective_latex"):
        top.pop("objective")
        top[field] = s
    elif field == "field":
        top.pop("objective")
        top["field"] = f'[{s}, "x"]'
    elif field == "analyses":
        top["analyses"] = f'["gradient", {s}]'
    elif field == "name":
        variables[s] = '"scalar"'
    elif field == "variables.description":
        variables["x"] = "{ description = " + s + " }"
    elif field == "variables.latex":
        variables["x"] = "{ shape = [], latex = " + s + " }"
    elif field == "constants.name":
        extra += f"[constants]\n{s} = 2.0\n"
    elif field.startswith("claims."):
        key = field.split(".")[1]
        claim = {"of": '"gradient"', "expr": '["2x", "6y"]'}
        if key == "latex":
            claim.pop("expr")
        claim[key] = s
        extra += "[[claims]]\n" + "".join(f"{k} = {v}\n" for k, v in claim.items())
    elif field == "report.title":
        extra += f"[report]\ntitle = {s}\n"
    elif field == "slice.x":
        extra += f'[report]\nslice = {{ x = {s}, y = "y" }}\n'
    elif field == "gaussian.variable":
        top["analyses"] = '["gaussian"]'
        extra += f'[gaussian]\nvariable = {s}\nmean = "m"\ncovariance = "S"\n'
    elif field == "vectorization.matrix":
        extra += f"[vectorization]\nmatrix = {s}\n"
    head = "".join(f"{k} = {v}\n" for k, v in top.items())
    return head + "[variables]\n" + "".join(f"{k} = {v}\n" for k, v in variables.items()) + extra


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(field=st.sampled_from(FIELDS), text=TEXT)
def test_random_text_in_any_string_field_loads_or_is_a_problem_file_error(field, text):
    source = problem_with(field, text)
    try:
        problem = sc.load_problem(source, budget=10)
    except ProblemFileError as err:
        assert str(err).startswith("<text>: "), str(err)
        return
    except SymcalcError as err:  # a budget: also clean, but a plain file should never need it
        pytest.fail(f"{type(err).__name__} (not a ProblemFileError): {err} -- {field} = {text!r}")
    except Exception as exc:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{type(exc).__name__}: {exc} -- {field} = {text!r}")
    if field == "title":
        assert problem.title == text
    if field == "description":
        assert problem.description == text


def test_the_base_problem_of_the_property_test_loads():
    for field in FIELDS:
        if field not in (
            "gaussian.variable",
            "vectorization.matrix",
            "slice.x",
            "name",
            "constants.name",
            "analyses",
            "notation",
            "claims.of",
        ):
            sc.load_problem(
                problem_with(
                    field,
                    {
                        "objective": "x^2 + 3*y^2",
                        "objective_latex": "x^2 + 3 y^2",
                        "field": "y",
                        "claims.expr": "2x",
                        "claims.latex": "2x",
                    }.get(field, "words"),
                )
            )
