"""User text is never run as Python: injection payloads are refused, quickly, with no effect."""

from __future__ import annotations

import os
import time

import pytest
import sympy as sp

import symcalc as sc
from symcalc.errors import InputError, ParseError
from symcalc.parsing.parser import LIMITS, parse, parse_latex
from symcalc.verification.claims import verify_from_text

x = sp.Symbol("x")
PROMPT = 5.0  # seconds: a hang guard, not a performance test


def _payloads(sentinel: str):
    return [
        f"__import__('os').system('touch {sentinel}')",
        f'__import__("os").system("touch {sentinel}")',
        f"open('{sentinel}', 'w').write('x')",
        "().__class__",
        "().__class__.__bases__[0].__subclasses__()",
        "x.__class__",
        "x._sympy_",
        "__builtins__",
        "_",
        "lambda: 0",
        "lambda x: x",
        "(lambda: __import__('os'))()",
        "exec('import os')",
        "eval('1+1')",
        "getattr(x, 'func')",
        "globals()",
        "[c for c in ().__class__.__base__.__subclasses__()]",
        "x if x else 0",
        "import os",
        "x; import os",
        "x\nimport os",
        "'string'",
        "f'{x}'",
        "x # comment",
        "9**9**9**9",
        "9^9^9^9",
        "2**(2**(2**(2**(2**2))))",
        "10^10^10",
        "x^(10^10)",
        "(x^1000)^1000",
        "1" * 200,
        "(" * 5000 + "x" + ")" * 5000,
        "-" * 3000 + "x",
        "x+" * 6000 + "x",
        "sin(" * 400 + "x" + ")" * 400,
    ]


@pytest.fixture()
def sentinel(tmp_path):
    path = tmp_path / "PWNED"
    yield str(path)
    assert not path.exists(), "a payload had a side effect"


@pytest.mark.parametrize("index", range(len(_payloads("S"))))
def test_math_payloads_are_refused(index, sentinel):
    payload = _payloads(sentinel)[index]
    start = time.monotonic()
    with pytest.raises(ParseError) as info:
        parse(payload, {"x": x})
    assert time.monotonic() - start < PROMPT
    message = str(info.value)
    assert message and "Traceback" not in message
    assert len(message.splitlines()[0]) < 300  # a clear, short first line


@pytest.mark.parametrize(
    "payload",
    [
        r"\input{/etc/passwd}",
        r"\include{x}",
        r"\write18{touch PWNED}",
        r"\immediate\write18{ls}",
        r"\def\x{1}",
        r"\newcommand{\x}{1}",
        r"\csname x\endcsname",
        r"\catcode`\@=11",
        r"\frac{__import__('os')}{2}",
        r"x^{9^{9^{9^9}}}",
        r"\operatorname{__class__}(x)",
        "{" * 3000 + "x" + "}" * 3000,
    ],
)
def test_latex_payloads_are_refused(payload, sentinel):
    start = time.monotonic()
    with pytest.raises(ParseError):
        parse_latex(payload, {"x": x})
    assert time.monotonic() - start < PROMPT


def test_refusals_say_why():
    with pytest.raises(ParseError, match="not math"):
        parse("__import__('os')", {"x": x})
    with pytest.raises(ParseError, match="attribute access is not math"):
        parse("().__class__", {"x": x})
    with pytest.raises(ParseError, match="Python, not math"):
        parse("lambda", {"x": x})
    with pytest.raises(ParseError, match="too large"):
        parse("9**9**9**9", {"x": x})
    with pytest.raises(ParseError, match="characters long"):
        parse("x" * (LIMITS["max_length"] + 1), {"x": x})
    with pytest.raises(ParseError, match="nested more than"):
        parse("(" * 300 + "x" + ")" * 300, {"x": x})


def test_verify_refuses_payload_claims(sentinel):
    payload = f"__import__('os').system('touch {sentinel}')"
    with pytest.raises(ParseError):
        sc.verify(payload, x**2)
    with pytest.raises(ParseError):
        sc.verify_gradient(x**2, [x], payload)
    with pytest.raises(ParseError):
        verify_from_text(payload, ["x"], "2x")
    with pytest.raises((ParseError, InputError)):
        verify_from_text("x^2", [f"x; __import__('os').system('touch {sentinel}')"], "2x")


def test_no_eval_in_the_readers():
    """The modules that read user text never call eval/exec/compile/parse_expr/__import__."""
    import ast
    import importlib
    import inspect

    parse_module = importlib.import_module("symcalc.parsing.parser")
    verify_modules = [
        importlib.import_module(f"symcalc.verification.{name}")
        for name in (
            "claims",
            "verdict",
            "assumptions",
            "reading",
            "sampling",
            "decision",
            "sandbox",
        )
    ]
    forbidden = {"eval", "exec", "compile", "__import__", "parse_expr", "parse_latex_lark"}
    for module in (parse_module, *verify_modules):
        tree = ast.parse(inspect.getsource(module))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else None
                if isinstance(f, ast.Attribute) and f.attr in ("parse_expr", "eval", "exec"):
                    name = f.attr
                assert name not in forbidden, (module.__name__, ast.unparse(node))
                if isinstance(f, ast.Attribute) and f.attr == "sympify":  # never on text
                    assert not any(
                        isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args
                    )


def test_numeric_sympify_only_sees_sympy_objects():
    """Where verify calls sympify it is on sizes and values it built, never on text."""
    with pytest.raises(InputError):
        sc.verify(object(), x)


def test_environment_untouched(sentinel):
    before = dict(os.environ)
    for payload in _payloads(sentinel)[:10]:
        with pytest.raises(ParseError):
            parse(payload, {"x": x})
    assert dict(os.environ) == before
