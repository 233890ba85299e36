r"""Issue 11, finding 2: user text never runs in, or reads files into, a LaTeX/PDF build.

Hostile text goes into every string a problem file or the Python API can put in a
report (title, description, claim text, a variable's ``latex`` key, symbol names,
the generated kernel listing). Each test asserts what an attacker wanted does not
happen: no line of /etc/passwd in the PDF, no sentinel file, no forbidden command
from user text in the .tex, and either a clean symcalc error or a document that
shows the text as written.

The .tex checks compare the hostile document with the same problem holding
benign text: every control word of the hostile .tex must be one symcalc's
templates use anyway or one the escaping function itself emits.
"""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import sympy as sp
from helpers_toml import toml_string
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symcalc as sc
from symcalc.errors import InputError, LaTeXBuildError, ProblemFileError, SymcalcError
from symcalc.printing.latex import latex
from symcalc.printing.texsafe import (
    ALLOWED_COMMANDS,
    LINE_BREAKS,
    check_math,
    escape_text,
    is_safe_math,
    listing_text,
    math_problem,
)
from symcalc.records import Derivation
from symcalc.reporting.build import Report, _latexmk_command, _tex_environment, _value_latex

PASSWD = re.compile(r"root:[^\s]*:0:0")  # the first line of /etc/passwd, however it is typeset
FORBIDDEN = (
    "input",
    "include",
    "openin",
    "openout",
    "read",
    "write",
    "csname",
    "endcsname",
    "catcode",
    "def",
    "edef",
    "gdef",
    "xdef",
    "let",
    "lstinputlisting",
    "immediate",
    "special",
    "usepackage",
    "makeatletter",
    "expandafter",
    "newcommand",
    "renewcommand",
    "directlua",
    "pdfprimitive",
    "scantokens",
    "detokenize",
    "verb",
    "documentclass",
    "end",
    "begin",
    "jobname",
    "loop",
    "uppercase",
    "lowercase",
    "string",
)

# escape_text's own output for every character it may meet: the commands it emits
_ESCAPE_COMMANDS = set(
    re.findall(r"\\([A-Za-z]+)", escape_text("".join(chr(i) for i in range(1, 0x3000))))
)
_ESCAPE_SYMBOLS = set(
    "{}$&#%_|-"
)  # \{ \} \$ ... : escape_text's escaped characters (\| inside \ensuremath)

HOSTILE_TEXTS = [
    r"\input{/etc/passwd}",
    r"\end{lstlisting}\lstinputlisting{/etc/passwd}\begin{lstlisting}",
    r"\immediate\write18{touch SENTINEL}",
    r"^^5cinput{/etc/passwd}",
    r"^^5c^^69nput{/etc/passwd}",
    r"50% \catcode`\%=12 \def\x{\input{/etc/passwd}}\x",
    r"\csname input\endcsname{/etc/passwd}",
    r"unbalanced } brace { and } more }}}",
    "line\nbreaks\r\n\nand\x0bcontrol\x0c\x1c\x1d\x1e\x85\u2028\u2029chars\x00\x07\x1b\x7f\x9f",
    r"[optional] & # $ $$ ~ _ ^ \\ \par \newline",
    r"\makeatletter\@@input /etc/passwd ",
    r"\openin5=/etc/passwd \read5 to\x \x",
]


def _control_sequences(tex: str) -> Counter:
    """The control sequences of a .tex with their counts, read as TeX reads them
    (\\\\ is one token, a line break, not a backslash and a word)."""
    return Counter(m.group(1) for m in re.finditer(r"\\([A-Za-z]+|.)", tex, re.S))


def _commands(tex: str) -> set[str]:
    """The control words of a .tex."""
    return {c for c in _control_sequences(tex) if c.isalpha()}


def _unescaped(tex: str, ch: str) -> int:
    """How often ``ch`` occurs in ``tex`` as itself (not as \\ch, not inside a control word)."""
    return sum(1 for m in re.finditer(r"\\([A-Za-z]+|.)|(.)", tex, re.S) if m.group(2) == ch)


_MAPPED_MATHS = re.compile(r"\\ensuremath\{(?:[^{}]|\{[^{}]*\})*\}")


def _text_specials(tex: str, ch: str) -> int:
    """Unescaped ``ch`` outside escape_text's fixed maths (\\ensuremath{^2} for ², ...) and its
    bracket groups ({[} for [)."""
    return _unescaped(_MAPPED_MATHS.sub("", tex).replace("{[}", "").replace("{]}", ""), ch)


def _braces_balance(tex: str) -> bool:
    depth = 0
    for m in re.finditer(r"\\([A-Za-z]+|.)|(.)", tex, re.S):
        depth += {"{": 1, "}": -1}.get(m.group(2), 0)
        if depth < 0:
            return False
    return depth == 0


def _problem(
    title: str, description: str, claim_text: str, var_description: str, kernel: bool = False
) -> str:
    analyses = (
        '["gradient", "hessian", "finite_differences"' + (', "kernel"' if kernel else "") + "]"
    )
    return f"""
title = {toml_string(title)}
description = {toml_string(description)}
objective = "x^2 + 3*y^2"
analyses = {analyses}
[variables]
x = {{ shape = [], description = {toml_string(var_description)} }}
y = "scalar"
[[claims]]
of = "gradient"
expr = "[2*x, 6*y]"
text = {toml_string(claim_text)}
[report]
figure = false
"""


def _report_tex(
    title="T", description="D", claim_text="C", var_description="V", kernel=False
) -> str:
    return sc.report(
        sc.load_problem(_problem(title, description, claim_text, var_description, kernel)),
        figures=False,
    ).tex


_BASELINE: dict[bool, str] = {}


def _baseline(kernel: bool = False) -> str:
    if kernel not in _BASELINE:
        _BASELINE[kernel] = _report_tex(
            "Plain title", "Plain words.", "a claim", "a variable", kernel
        )
    return _BASELINE[kernel]


def assert_no_user_tex(tex: str, kernel: bool = False) -> None:
    """The .tex holds nothing from user text that TeX would act on."""
    base = _baseline(kernel)
    extra = _commands(tex) - _commands(base) - _ESCAPE_COMMANDS
    assert not extra, f"control words from user text: {sorted(extra)}"
    ours, theirs = _control_sequences(base), _control_sequences(tex)
    for cs in set(ours) | set(theirs):  # the same document around different text: the same commands
        if cs not in _ESCAPE_COMMANDS and cs not in _ESCAPE_SYMBOLS:
            assert theirs[cs] == ours[cs], f"\\{cs} from user text ({theirs[cs]} vs {ours[cs]})"
    assert "^^" not in tex
    for ch in "%#$&~^_[]":
        assert _text_specials(tex, ch) == _text_specials(base, ch), (
            f"an unescaped {ch!r} from user text"
        )
    assert theirs["\\"] == ours["\\"]  # \\\\ line breaks: only the templates'
    assert _braces_balance(tex)
    assert not any(ch in tex for ch in LINE_BREAKS - {"\n"})
    for name in FORBIDDEN:
        users = len(re.findall(rf"\\{name}(?![A-Za-z])", tex))
        ours = len(re.findall(rf"\\{name}(?![A-Za-z])", base))
        assert users == ours, f"\\{name} from user text"


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def _need_tex():
    assert shutil.which("latexmk") and shutil.which("pdftotext"), (
        "TeX and pdftotext are needed (CI installs them)"
    )


# ---------------------------------------------------------------------------
# The escaping function
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_escaped_text_has_no_tex_of_its_own(text):
    out = escape_text(text)
    assert _commands(out) <= _ESCAPE_COMMANDS
    assert "^^" not in out and not any(ch in out for ch in LINE_BREAKS)
    for ch in "%#$&~^_[]":
        assert _text_specials(out, ch) == 0
    assert _braces_balance(out)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in out)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text())
def test_escape_text_of_any_text_is_inert(text):
    out = escape_text(text)
    assert _commands(out) <= _ESCAPE_COMMANDS
    assert "^^" not in out
    for ch in "%#$&~^_[]":
        assert _text_specials(out, ch) == 0
    assert _braces_balance(out)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in LINE_BREAKS for c in out)


# ---------------------------------------------------------------------------
# The validated maths path (a variable's latex key; names printed as maths)
# ---------------------------------------------------------------------------

ALLOWED_MATHS = [
    r"\Sigma",
    r"\mathbf{x}",
    r"\hat{\beta}_1",
    r"\boldsymbol{\mu}",
    r"\tilde{X}^{(2)}",
    "w_t",
    r"\Sigma^{-1}",
    r"\mathcal{L}",
    r"\bar{x}'",
    r"\vec{v}",
    r"\ddot{q}",
    r"\mathrm{d}x",
    r"\varphi",
    r"\left( a \right)",
    r"\mathbb{R}",
    r"\operatorname{softmax}",
    r"x_{i,j}^{2}",
    r"\hat\beta",
    r"\left\| w \right\|",
    r"\theta\,\prime",
    r"\|x\|",
    r"\Omega_{\mathrm{in}}",
    r"{\hat{X}_{2}}^{3}",
    r"{\mathbf{X}^{2}}^{3}",
    r"{\hat{X}^{2}{}}^{3}",
]
REFUSED_MATHS = [
    r"\input{/etc/passwd}",
    r"\include{x}",
    r"\openin5=x",
    r"\read5 to\x",
    r"\write18{touch x}",
    r"\csname input\endcsname",
    r"\catcode`\^=7",
    r"\def\x{y}",
    r"\let\x\y",
    r"\lstinputlisting{a}",
    r"\immediate",
    r"\special{x}",
    r"\usepackage{x}",
    "x^^5cinput",
    r"x % comment",
    "x}",
    "{x",
    r"a \\ b",
    "a\rb",
    "a\nb",
    "a\x00b",
    "x#1",
    "a & b",
    "$x$",
    "~x",
    r"\text{x}",
    r"\verb|x|",
    r"\mathbf",
    "x_",
    "x^",
    "x_1_2",
    "x^1^2",
    r"\left( x",
    r"x \right)",
    r"\hat{x}^{2}'",
    "λ",
    r"\alphax",
    "@",
    r"\@",
    r"\mathscr{L}",
    "x" * 201,
    r"\begin{x}",
    r"\end{lstlisting}",
    r"{\hat{X}^{2}}^{3}",
    r"{{\vec{v}_1}}_2",
    "x_1 _2",
]  # the last three: TeX's double scripts


@pytest.mark.parametrize("tex", ALLOWED_MATHS)
def test_allowed_maths_is_accepted(tex):
    assert math_problem(tex) is None
    assert check_math(tex) == tex


@pytest.mark.parametrize("tex", REFUSED_MATHS)
def test_everything_outside_the_allow_list_is_refused_with_a_reason(tex):
    why = math_problem(tex)
    assert isinstance(why, str) and why
    with pytest.raises(InputError, match="the key"):
        check_math(tex, "the key")


_PIECES = st.sampled_from(
    [
        r"\alpha",
        r"\Sigma",
        r"\hat",
        r"\mathbf",
        r"\left(",
        r"\right)",
        r"\,",
        r"\|",
        r"\input",
        r"\def",
        r"\csname",
        r"\\",
        "{",
        "}",
        "_",
        "^",
        "'",
        "x",
        "1",
        " ",
        "%",
        "#",
        "&",
        "$",
        "~",
        "^^5c",
        "(",
        ")",
        "[",
        "]",
        "+",
        "-",
        "=",
        "\n",
        "@",
        "\\",
        "é",
    ]
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_accepted_maths_uses_only_allowed_commands(tex):
    if math_problem(tex) is not None:
        return
    assert set(re.findall(r"\\([A-Za-z]+)", tex)) <= ALLOWED_COMMANDS
    assert "^^" not in tex and _braces_balance(tex)
    assert not re.search(r"[%#&$~\n@\x00-\x1f\x7f-\uffff]", tex)
    assert "\\\\" not in tex


# ---------------------------------------------------------------------------
# Names reach LaTeX through the printer: unsafe ones are set as escaped text
# ---------------------------------------------------------------------------

HOSTILE_NAMES = [
    r"\input{/etc/passwd}",
    r"x}\input{/etc/passwd}",
    r"\write18{touch SENTINEL}",
    "a%b",
    "a$b",
    "x#1",
    r"\def\x",
    "^^5cinput",
    "line\nbreak",
    r"\mathscr{L}",
    "Lscr",
    "x&y",
    "θ",
    "bell\x07",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize(
    "make",
    [
        sp.Symbol,
        lambda n: sp.MatrixSymbol(n, 2, 1),
        lambda n: sp.Function(n)(sp.Symbol("t")),
        lambda n: sp.Function(n)(sp.Symbol("t")) ** 2,
        lambda n: sp.Dummy(n),
    ],
    ids=["Symbol", "MatrixSymbol", "Function", "Function-power", "Dummy"],
)
def test_unsafe_names_print_as_escaped_text(name, make):
    tex = latex(make(name))
    assert _commands(tex) <= _ESCAPE_COMMANDS | {"text", "left", "right"} | ALLOWED_COMMANDS
    for word in FORBIDDEN:
        assert not re.search(rf"\\{word}(?![A-Za-z])", tex)
    assert "^^" not in tex and _unescaped(tex, "%") == 0 and _unescaped(tex, "#") == 0
    assert _braces_balance(tex)


def test_safe_names_keep_their_maths():
    assert latex(sp.Symbol("alpha_1")) == r"\alpha_{1}"
    assert latex(sp.Symbol(r"\Sigma_12")) == r"\Sigma_{12}"
    assert latex(sp.Symbol(r"\hat{\beta}_3")) == r"{\hat{\beta}{}}_{3}"
    assert latex(sp.MatrixSymbol("W", 2, 2).T) == r"W^\top"
    assert latex(sp.Function("f")(sp.Symbol("x"))) == r"f{\left(x \right)}"
    assert latex(r"text $ %") == r"\text{text \$ \%}"  # a str is text, never raw TeX


def test_objects_without_a_printer_print_as_escaped_text():
    class Evil:
        def __str__(self):
            return "\\input{/etc/passwd}\n\n%"

    for tex in (latex(Evil()), latex([Evil()]), latex(sp.Tuple(1, 2)) + latex(Evil())):
        assert (
            not re.search(r"\\input(?![A-Za-z])", tex)
            and "\n" not in tex
            and _unescaped(tex, "%") == 0
        )


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(min_size=1, max_size=20))
def test_any_symbol_name_prints_as_safe_maths_or_as_its_escaped_text(name):
    tex = latex(sp.Symbol(name))
    assert is_safe_math(tex) or tex == r"\text{" + escape_text(name) + "}"


# ---------------------------------------------------------------------------
# Problem files: the latex key is validated at load time
# ---------------------------------------------------------------------------


def _latex_key_problem(key: str) -> str:
    return f"""
title = "latex key"
objective = "w^T w"
[variables]
w = {{ shape = [2], latex = {toml_string(key)} }}
"""


def test_a_latex_key_that_reads_a_file_is_a_problem_file_error(tmp_path):
    path = tmp_path / "hostile.toml"
    path.write_text(_latex_key_problem(r"\input{/etc/passwd}"))
    with pytest.raises(ProblemFileError) as err:
        sc.load_problem(path)
    msg = str(err.value)
    assert (
        str(path) in msg
        and "[variables.w.latex]" in msg
        and r"\input is not an allowed command" in msg
    )
    assert len(msg.splitlines()) == 1


@pytest.mark.parametrize("key", REFUSED_MATHS + [r"\Sigma\input{/etc/passwd}"])
def test_every_refused_latex_key_is_a_problem_file_error(key):
    with pytest.raises(ProblemFileError, match=r"\[variables\.w\.latex\]"):
        sc.load_problem(_latex_key_problem(key))


def test_an_allowed_latex_key_names_the_entries():
    p = sc.load_problem(_latex_key_problem(r"\hat{\beta}"))
    tex = sc.report(p, figures=False).tex
    assert r"{\hat{\beta}{}}_{1}" in tex and r"{\hat{\beta}{}}_{2}" in tex


# ---------------------------------------------------------------------------
# Reports: hostile text in every field
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_hostile_text_in_every_field_adds_no_tex(text):
    tex = _report_tex(f"Bowl {text}", text, text, text)
    assert_no_user_tex(tex)


def test_the_kernel_listing_is_a_file_symcalc_wrote(tmp_path):
    title = r"Bowl \end{lstlisting}\lstinputlisting{/etc/passwd}\begin{lstlisting}"
    r = sc.report(sc.load_problem(_problem(title, "D", "C", "V", kernel=True)), figures=False)
    assert_no_user_tex(r.tex, kernel=True)
    assert r"\begin{lstlisting}" not in r.tex and r.tex.count(r"\lstinputlisting") == 1
    assert r"\lstinputlisting{report-kernel.py}" in r.tex
    assert set(r.listings) == {"report-kernel.py"} and "def value" in r.listings["report-kernel.py"]
    path = r.write_tex(tmp_path / "out.tex")
    written = (tmp_path / "report-kernel.py").read_text(encoding="ascii")
    assert written == listing_text(r.listings["report-kernel.py"])
    assert path.read_text() == r.tex


def test_write_tex_writes_only_plain_file_names_in_its_directory(tmp_path):
    for bad in ("../escape.pdf", "/tmp/abs.pdf", ".hidden.py", "a/b.py", "x y.pdf", "x\n.pdf", ""):
        with pytest.raises(InputError, match="plain file name"):
            Report(tex="x", figures={bad: b""}).write_tex(tmp_path / "r.tex")
        with pytest.raises(InputError):
            Report(tex="x", listings={bad: ""}).write_tex(tmp_path / "r.tex")
    assert not (tmp_path / "r.tex").exists() and not (tmp_path.parent / "escape.pdf").exists()


def test_listing_text_is_printable_ascii_and_shows_every_character():
    src = "x = 1\r\n# \x0b\x0c\x1c\x85\u2028 caf\u00e9 ^^5c \\end{lstlisting}\t\x00\x7f\n"
    out = listing_text(src)
    assert all(ch == "\n" or " " <= ch <= "~" for ch in out)
    assert out.count("\n") == 2 and r"\x0b" in out and r"\u2028" in out and r"\xe9" in out
    assert r"\end{lstlisting}" in out  # shown as written: a listing file cannot end the listing


def test_report_never_evaluates_text_it_is_given(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    code = f"__import__('os').system('touch {sentinel}')"
    out = _value_latex(code)
    assert out == r"\text{" + escape_text(code) + "}"
    assert not sentinel.exists()


def test_tex_runs_paranoid_and_without_shell_escape():
    cmd = " ".join(_latexmk_command("latexmk", "report.tex"))
    assert "-pdflatex=pdflatex -no-shell-escape %O %S" in cmd
    env = _tex_environment()
    assert env["openin_any"] == "p" and env["openout_any"] == "p"


def test_figure_labels_never_break_drawing():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from symcalc.reporting.figures import axis_label

    for name in HOSTILE_NAMES + [
        "$",
        "$$",
        r"\frac{",
        "{",
        "}",
        r"$\alpha$",
        r"\\",
        "x_1",
        r"\hat{\beta}_1",
    ]:
        label = axis_label(sp.Symbol(name))
        assert not any(ch in label for ch in LINE_BREAKS)
        fig, ax = plt.subplots()
        ax.set_xlabel(label)
        ax.set_title(label)
        fig.savefig(io.BytesIO(), format="pdf")  # mathtext errors surface here
        plt.close(fig)
    assert axis_label(sp.Symbol("x_1")) == "$x_{1}$"
    assert axis_label(sp.Symbol("a$b")) == r"a\$b"


@settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    title=st.text(min_size=1, max_size=40),
    description=st.text(min_size=1, max_size=80),
    claim=st.text(min_size=1, max_size=40),
)
def test_random_text_in_every_field_adds_no_tex(title, description, claim):
    assert_no_user_tex(_report_tex(title, description, claim, description))


# ---------------------------------------------------------------------------
# PDF builds (TeX needed): nothing runs, nothing is read, the text shows as written
# ---------------------------------------------------------------------------


@pytest.mark.tex
def test_a_title_cannot_end_the_kernel_listing_and_read_passwd(tmp_path):
    _need_tex()
    title = r"Bowl \end{lstlisting}\lstinputlisting{/etc/passwd}\begin{lstlisting}"
    r = sc.report(sc.load_problem(_problem(title, "D", "C", "V", kernel=True)), figures=False)
    text = _pdf_text(r.to_pdf(tmp_path / "hostile.pdf"))
    assert not PASSWD.search(text)
    assert r"\end{lstlisting}\lstinputlisting{/etc/passwd}" in text.replace(
        "\n", ""
    )  # shown as written
    assert "def value" in text  # the listing itself is there


@pytest.mark.tex
def test_hostile_descriptions_neither_run_nor_read(tmp_path):
    _need_tex()
    sentinel = tmp_path / "SENTINEL"
    hostile = [t.replace("SENTINEL", str(sentinel)) for t in HOSTILE_TEXTS]
    r = sc.report(
        sc.load_problem(
            _problem("Bowl " + hostile[2], " ".join(hostile), hostile[0], hostile[3], kernel=True)
        ),
        figures=False,
    )
    assert_no_user_tex(r.tex, kernel=True)
    text = _pdf_text(r.to_pdf(tmp_path / "hostile.pdf"))
    assert not PASSWD.search(text) and not sentinel.exists()
    flat = re.sub(r"\s+", "", text)
    for shown in (
        r"\input{/etc/passwd}",
        r"\immediate\write18{touch",
        "^^5cinput{/etc/passwd}",
        "50%",
        "unbalanced}brace{",
        "[optional]&#$$$",
    ):
        assert shown.replace(" ", "") in flat.replace("ˆ", "^")


@pytest.mark.tex
def test_symbol_names_with_tex_in_them_via_the_python_api(tmp_path):
    _need_tex()
    sentinel = tmp_path / "SENTINEL"
    x = sp.Symbol(r"\input{/etc/passwd}")
    w = sp.Symbol(rf"x}}\immediate\write18{{touch {sentinel}}}")
    f = sp.Function(r"f%\input{/etc/passwd}")
    d = Derivation(
        expr=f(x) + x**2 * w,
        wrt=(x, w),
        results={"gradient": sp.Matrix([sp.Derivative(f(x), x) + 2 * x * w, x**2])},
    )
    r = sc.report(d)
    assert not re.search(r"\\(input|write|immediate)(?![A-Za-z])", r.tex)
    text = _pdf_text(r.to_pdf(tmp_path / "names.pdf"))
    assert not PASSWD.search(text) and not sentinel.exists()
    assert r"\input{/etc/passwd}" in text.replace("\n", "")


@pytest.mark.tex
def test_a_kernel_listing_with_hostile_source_shows_it_as_written(tmp_path):
    _need_tex()
    tex = sc.report(sc.load_problem(_problem("T", "D", "C", "V", kernel=True)), figures=False).tex
    source = (
        "# \\end{lstlisting}\\input{/etc/passwd}\\begin{lstlisting}\n"
        "s = '^^5cinput{/etc/passwd} % \\x00 caf\u00e9 \u2028'\x0c\x00\x7f\n"
    )
    text = _pdf_text(
        Report(tex=tex, listings={"report-kernel.py": source}).to_pdf(tmp_path / "k.pdf")
    )
    assert not PASSWD.search(text)
    assert r"\end{lstlisting}\input{/etc/passwd}" in text and "^^5cinput" in text.replace("ˆ", "^")


@pytest.mark.tex
def test_tex_itself_may_not_read_outside_its_directory_nor_shell_out(tmp_path):
    """Even TeX that symcalc did not escape (a hand-made Report) cannot read /etc/passwd or run commands."""
    _need_tex()
    head = "\\documentclass{article}\n\\begin{document}\n"
    for body in (
        r"\input{/etc/passwd}",
        r"\input{../../../../../../etc/passwd}",
        r"\input{.profile}",
    ):
        try:
            text = _pdf_text(
                Report(tex=head + "ok " + body + "\n\\end{document}\n").to_pdf(tmp_path / "r.pdf")
            )
        except LaTeXBuildError:
            continue  # refused: the run stops at the \input
        assert not PASSWD.search(text)
    text = _pdf_text(
        Report(tex=head + "shell=\\the\\pdfshellescape.\n\\end{document}\n").to_pdf(
            tmp_path / "s.pdf"
        )
    )
    assert "shell=0." in text  # 0: no shell escape at all (TeX Live's default is 2, restricted)


@pytest.mark.tex
@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(title=st.text(min_size=1, max_size=30), description=st.text(min_size=1, max_size=60))
def test_random_text_builds_to_a_pdf(tmp_path, title, description):
    _need_tex()
    r = sc.report(sc.load_problem(_problem(title, description, title, description)), figures=False)
    try:
        r.to_pdf(tmp_path / "random.pdf")
    except SymcalcError as exc:  # pragma: no cover - the assertion message shows the text
        pytest.fail(f"{title!r} / {description!r}: {exc}")


@pytest.mark.tex
def test_every_escapable_character_and_allowed_maths_build(tmp_path):
    """Every character below U+0180 (plus mapped symbols) as text; allowed maths, and names (hostile,
    random) as the printer sets them, in $...$: one document, and it builds."""
    _need_tex()
    from symcalc.reporting.build import template_env

    chars = "".join(chr(i) for i in range(1, 0x180)) + "λ≥∇ℝ‖…—“”学😀"
    rng = random.Random(11)
    pieces = [
        "\\",
        "{",
        "}",
        "_",
        "^",
        "$",
        "%",
        "#",
        "&",
        "~",
        "'",
        " ",
        "x",
        "1",
        "alpha",
        "hat",
        "mathbf",
        "input",
        "λ",
        "\n",
        "[",
        "]",
    ]
    randoms = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 8))) for _ in range(80)]
    names = (
        ALLOWED_MATHS
        + HOSTILE_NAMES
        + randoms
        + [
            "Lscr",
            "xnorm",
            "x__1",
            "_x",
            "x_",
            "a b",
            "x_1_2",
            r"\hat{\beta}_1_2",
            r"\tilde{X}^{(2)}_3",
            r"\mathbf{x}_12",
        ]
    )
    maths_pieces = [
        r"\alpha",
        r"\hat",
        r"\mathbf",
        r"\left(",
        r"\right)",
        r"\,",
        "{",
        "}",
        "_",
        "^",
        "'",
        "x",
        "1",
        " ",
        "(",
        "]",
        "+",
        r"\vec",
        r"\prime",
        r"\|",
    ]
    accepted = [
        t
        for t in (
            "".join(rng.choice(maths_pieces) for _ in range(rng.randint(1, 10)))
            for _ in range(3000)
        )
        if math_problem(t) is None
    ]
    assert len(accepted) > 100
    printed = [latex(sp.Symbol(n)) for n in names] + [
        latex(sp.Function(n)(sp.Symbol("t")) ** 2) for n in names
    ]
    preamble = template_env().get_template("preamble.tex.j2").render(title=chars)
    body = (
        escape_text(chars)
        + "\n\n"
        + "\n\n".join(f"${t}$" for t in ALLOWED_MATHS + accepted)
        + "\n\n"
        + "\n\n".join(f"${t}$" for t in printed)
    )
    Report(tex=preamble + "\\begin{document}\n" + body + "\n\\end{document}\n").to_pdf(
        tmp_path / "chars.pdf"
    )


# ---------------------------------------------------------------------------
# The command line: the same guarantees, one clean line for a refused file
# ---------------------------------------------------------------------------


def _cli(*argv):
    from symcalc.cli.entry import main

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_report_refuses_a_latex_key_that_reads_a_file_in_one_line(tmp_path):
    path = tmp_path / "hostile.toml"
    path.write_text(_latex_key_problem(r"\input{/etc/passwd}"))
    code, _, err = _cli("report", str(path), "--tex", "-o", str(tmp_path / "out.tex"))
    assert code != 0 and "[variables.w.latex]" in err and "hostile.toml" in err
    assert "Traceback" not in err and not (tmp_path / "out.tex").exists()


def test_cli_report_tex_writes_the_listing_next_to_the_tex(tmp_path):
    title = r"Bowl \end{lstlisting}\lstinputlisting{/etc/passwd}\begin{lstlisting}"
    path = tmp_path / "bowl.toml"
    path.write_text(_problem(title, "D", "C", "V", kernel=True))
    code, _, err = _cli("report", str(path), "--tex", "-o", str(tmp_path / "out" / "bowl.tex"))
    assert code == 0, err
    tex = (tmp_path / "out" / "bowl.tex").read_text()
    assert r"\lstinputlisting{bowl-kernel.py}" in tex and tex.count(r"\lstinputlisting") == 1
    assert "def value" in (tmp_path / "out" / "bowl-kernel.py").read_text()
