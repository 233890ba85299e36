"""The hostile corpus: problem files built from the seven groups of findings of issue 11.

Each case is run end to end as a user of the CLI would run it (load, run every analysis it asks
for, write the report's LaTeX, and for a few, build the PDF and compile a kernel). For every case:

- no sentinel file appears (no code ran),
- a secret file outside the output directory is never read into an output (.tex, PDF text,
  kernel source, log),
- the call ends well within its budget,
- and it either raises ONE clean SymcalcError or returns a result (never another exception).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers_toml import toml_string

import symcalc as sc
from symcalc.errors import SymcalcError

#: wall-clock guard per case: a hang guard for a loaded 2-core machine, not a timing test
GUARD = 60.0
SECRET_TOKEN = "SECRET-7f3a9c-NEVER-IN-OUTPUT"


@pytest.fixture()
def arena(tmp_path):
    """(sentinel path, secret file path, output dir): the secret lies outside the output dir."""
    secret_dir = tmp_path / "private"
    secret_dir.mkdir()
    secret = secret_dir / "secret.txt"
    secret.write_text(SECRET_TOKEN + "\n")
    out = tmp_path / "out"
    out.mkdir()
    return tmp_path / "SENTINEL", secret, out


BASE = """
title = {title}
description = {description}
notation = "matrix"
objective = "x.T*A*x + sum(softplus(x))"
analyses = ["gradient", "hessian", "kernel"]

[variables]
x = {{ shape = [2], description = {vdesc} }}

[constants]
A = {{ shape = [2, 2], description = "a matrix" }}

[[claims]]
of = "gradient"
expr = "(A + A.T)*x + sigmoid(x)"
text = {ctext}

[report]
title = {rtitle}
kernel = true
"""


def _payloads(sentinel: Path, secret: Path) -> list[str]:
    s, f = str(sentinel), str(secret)
    return [
        # group 1: code in generated Python
        f'"""; import os; os.system("touch {s}"); """',
        f"'''; import os; os.system('touch {s}'); '''",
        f'\\r import os; os.system("touch {s}")',
        f'x\r__import__("os").system("touch {s}")\r',
        f'x\u2028__import__("os").system("touch {s}")',
        f'x\x0b__import__("os").system("touch {s}")\x0c',
        "\\x",
        "\\N{oops}",
        "\\",
        # group 2: file reads in the PDF build
        f"\\end{{lstlisting}}\\lstinputlisting{{{f}}}",
        f"\\input{{{f}}}",
        f"\\include{{{f}}}",
        f"\\openin1={f} \\read1 to \\x \\x",
        f"^^5cinput{{{f}}}",
        f"\\csname input\\endcsname{{{f}}}",
        f"\\catcode`\\@=0 @input{{{f}}}",
        f"\\immediate\\write18{{touch {s}}}",
        f"\\write18{{touch {s}}}",
        f"$\\input{{{f}}}$",
        "}}}}} \\end{document}",
        "% comment {",
        "#1 & ~ _ ^ $",
    ]


def _outputs_ok(texts: list[str], sentinel: Path) -> None:
    assert not sentinel.exists(), "a payload ran code"
    for t in texts:
        assert SECRET_TOKEN not in t, "a file outside the output directory was read into an output"


def _run_case(text: str, out: Path, sentinel: Path, *, pdf: bool = False) -> list[str]:
    """Load, run, write the .tex (and PDF): the texts produced. Raises only SymcalcError."""
    threads = threading.active_count()
    start = time.monotonic()
    outputs: list[str] = []
    try:
        problem = sc.load_problem(text)
        study = problem.run()
        if study.kernel_source:
            outputs.append(study.kernel_source)
            ast.parse(study.kernel_source)  # valid Python, whatever the names and titles
        rep = sc.report(study)
        outputs.append(rep.tex)
        if pdf:
            pdf_path = rep.to_pdf(out / "case.pdf")
            outputs.append(
                subprocess.run(
                    ["pdftotext", str(pdf_path), "-"], capture_output=True, text=True, check=True
                ).stdout
            )
            outputs.extend(p.read_text(errors="replace") for p in out.glob("*.log"))
    except SymcalcError:
        pass
    assert time.monotonic() - start < GUARD
    assert threading.active_count() <= threads, "a worker thread runs on after the call returned"
    _outputs_ok(outputs, sentinel)
    return outputs


PAYLOAD_COUNT = len(_payloads(Path("S"), Path("F")))


@pytest.mark.parametrize("k", range(PAYLOAD_COUNT))
def test_payloads_in_text_fields_never_run_or_read(arena, k):
    """Payload k in every text field at once (title, description, variable description, claim
    text, report title), through load, run (gradient, Hessian, kernel) and the report."""
    sentinel, secret, out = arena
    payload = _payloads(sentinel, secret)[k]
    values = {
        key: toml_string(payload) for key in ("title", "description", "vdesc", "ctext", "rtitle")
    }
    _run_case(BASE.format(**values), out, sentinel)


HAVE_TEX = shutil.which("latexmk") is not None and shutil.which("pdftotext") is not None


@pytest.mark.tex
@pytest.mark.skipif(not HAVE_TEX, reason="needs latexmk and pdftotext")
def test_pdf_never_typesets_a_file_outside_the_output(arena):
    sentinel, secret, out = arena
    f = str(secret)
    payload = f"\\end{{lstlisting}}\\lstinputlisting{{{f}}} \\input{{{f}}} ^^5cinput{{{f}}}"
    values = {k: toml_string(payload) for k in ("title", "description", "vdesc", "ctext", "rtitle")}
    texts = _run_case(BASE.format(**values), out, sentinel, pdf=True)
    assert len(texts) >= 3, "the report was not built"


@pytest.mark.parametrize(
    "latex_key",
    [
        "\\input{SECRET}",
        "x\\r\\input{SECRET}",
        "\\lstinputlisting{SECRET}",
        "^^5cinput{SECRET}",
        "\\csname input\\endcsname{SECRET}",
        "\\def\\x{1}",
        "x}",
        "{x",
        "\\write18{touch SENTINEL}",
        "x\rimport os",
        "x\nimport os",
    ],
)
def test_latex_key_is_validated_at_load(arena, latex_key):
    sentinel, secret, out = arena
    key = latex_key.replace("SECRET", str(secret)).replace("SENTINEL", str(sentinel))
    text = f"""
title = "t"
objective = "w.T*w"
analyses = ["gradient", "kernel"]
[variables]
w = {{ shape = [2], latex = {toml_string(key)} }}
"""
    with pytest.raises(SymcalcError) as info:
        sc.load_problem(text).run()
    assert "latex" in str(info.value)
    _outputs_ok([str(info.value)], sentinel)


# group 4: user names that are keywords, builtins, NumPy's alias or the generator's temporaries
@pytest.mark.parametrize(
    "names",
    [
        ("lambda", "x0"),
        ("np", "t0"),
        ("def", "x1"),
        ("print", "v0"),
        ("None", "p0"),
        ("import", "out"),
    ],
)
def test_hostile_names_compile_and_agree(arena, names):
    sentinel, _, out = arena
    a, b = names
    text = f"""
title = "names"
objective = "{a}^2*{b} + 3*{b}^3 + {a}*{b}"
analyses = ["gradient", "hessian", "kernel"]
[variables]
{a} = "scalar"
{b} = "scalar"
"""
    try:
        problem = sc.load_problem(text)
    except SymcalcError as exc:  # a name the grammar reserves (a function name) is refused cleanly
        assert a in str(exc) or b in str(exc)
        return
    study = problem.run()
    ast.parse(study.kernel_source)
    f, wrt = problem.explicit()
    k = sc.compile(f, wrt)
    import numpy as np

    pt = np.array([1.5, -0.75])
    want = float(f.subs(dict(zip(wrt, pt))))
    assert k.value(pt) == pytest.approx(want, rel=1e-12)
    _outputs_ok([study.kernel_source], sentinel)


# group 5: work that must be refused before it starts
HUGE = [
    ('objective = "x.T*x"\n[variables]\nx = { shape = [1000000] }', "shape"),
    ('objective = "sum(X)"\n[variables]\nX = { shape = [10000, 10000] }', "shape"),
    ('objective = "(((3*x)^1000)^1000)^1000"\n[variables]\nx = "scalar"', ""),
    (
        'objective = "'
        + "+".join(f"v{i}" for i in range(400))
        + '"\n[variables]\n'
        + "\n".join(f'v{i} = "scalar"' for i in range(400)),
        "variables",
    ),
    (
        'objective = "x^2"\n[variables]\nx = "scalar"\n'
        + '[[claims]]\nof = "gradient"\nexpr = "2*x"\n' * 3000,
        "claims",
    ),
    ("a = " + "[" * 20000 + "]" * 20000 + '\nobjective = "x"\n[variables]\nx = "scalar"', "nest"),
    (
        'objective = "det([[x,1,1,1,1,1,1,1,1],[1,x,1,1,1,1,1,1,1],[1,1,x,1,1,1,1,1,1],[1,1,1,x,1,1,1,1,1],'
        '[1,1,1,1,x,1,1,1,1],[1,1,1,1,1,x,1,1,1],[1,1,1,1,1,1,x,1,1],[1,1,1,1,1,1,1,x,1],[1,1,1,1,1,1,1,1,x]])"'
        '\n[variables]\nx = "scalar"',
        "",
    ),
    ('objective = "sum([[x,1],[1,x]]^1000)"\n[variables]\nx = "scalar"', ""),
    ('objective = "x²"\n[variables]\nx = "scalar"', ""),
]


@pytest.mark.parametrize("text,word", HUGE, ids=[f"huge{i}" for i in range(len(HUGE))])
def test_oversized_work_is_refused_cleanly(arena, text, word):
    sentinel, _, out = arena
    start = time.monotonic()
    threads = threading.active_count()
    try:
        sc.load_problem(text).run()
    except SymcalcError as exc:
        message = str(exc)
        assert "Traceback" not in message
        if word:
            assert word in message.lower()
    assert time.monotonic() - start < GUARD
    assert threading.active_count() <= threads


# group 7: a claim wrong by a tiny constant or outside the usual sampling box never "holds"
@pytest.mark.parametrize(
    "claim",
    ["2*x + exp(-100)", "2*x + sign(x - 3) + 1", "2*x + sign(x - 700) + 1", "2*x + 10^(-30)"],
)
def test_nearly_right_claims_fail(claim):
    text = f"""
objective = "x^2"
analyses = ["gradient"]
[variables]
x = "scalar"
[[claims]]
of = "gradient"
expr = "{claim}"
"""
    study = sc.load_problem(text).run()
    assert study.claims[0].holds is not True


def test_cli_gives_one_line_errors_for_hostile_files(arena):
    sentinel, secret, out = arena
    cases = [
        HUGE[5][0],
        'objective = "x^"\n[variables]\nx = "scalar"',
        'title = 3\nobjective = "x"\n[variables]\nx = "scalar"',
        f'objective = "x"\n[variables]\nx = {{ shape = [2], latex = "\\\\input{{{secret}}}" }}',
    ]
    for i, text in enumerate(cases):
        p = out / f"bad{i}.toml"
        p.write_text(text)
        r = subprocess.run(
            [sys.executable, "-m", "symcalc.cli", "derive", str(p)],
            capture_output=True,
            text=True,
            timeout=GUARD,
        )
        assert r.returncode == 2, (text[:80], r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        assert SECRET_TOKEN not in r.stdout + r.stderr
    assert not sentinel.exists()


# property: any two names a problem file may declare (keywords, builtins, NumPy's alias, the
# generator's own temporaries among them) go through run, kernel and report without running
# anything, and the kernel's value is SymPy's
import keyword  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

NAME_POOL = sorted(
    set(keyword.kwlist)
    | {
        "np",
        "_np",
        "numpy",
        "t0",
        "t1",
        "x0",
        "x1",
        "v0",
        "v1",
        "p0",
        "out",
        "xs",
        "f",
        "grad",
        "hess",
        "value",
        "gradient",
        "hessian",
        "print",
        "open",
        "exec",
        "eval",
        "os",
        "sys",
        "N_VARIABLES",
        "self",
        "cls",
        "w",
        "alpha",
        "lam",
    }
)
names = st.one_of(
    st.sampled_from(NAME_POOL), st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,6}", fullmatch=True)
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(a=names, b=names, title=st.text(max_size=40))
def test_random_names_and_titles_round_trip(arena, a, b, title):
    if a == b:
        return
    sentinel, _, out = arena
    text = (
        f'title = {toml_string(title)}\nobjective = "{a}^2*{b} + 3*{b}^3"\n'
        f'analyses = ["gradient", "kernel"]\n[variables]\n{a} = "scalar"\n{b} = "scalar"\n'
    )
    try:
        problem = sc.load_problem(text)
        study = problem.run()
    except SymcalcError:
        return  # e.g. a name the grammar reserves for a function: refused cleanly
    ast.parse(study.kernel_source)
    tex = sc.report(study).tex
    f, wrt = problem.explicit()
    import numpy as np

    pt = np.array([0.5, -1.25])
    assert sc.compile(f, wrt).value(pt) == pytest.approx(
        float(f.subs(dict(zip(wrt, pt)))), rel=1e-12
    )
    _outputs_ok([study.kernel_source, tex], sentinel)
