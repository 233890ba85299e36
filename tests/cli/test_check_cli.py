"""symcalc check: per-line verdicts, the first wrong line marked, exit 0 / 1 / 2."""

from __future__ import annotations

import io
import json
from pathlib import Path

from symcalc.cli import main

ROOT = Path(__file__).resolve().parents[2]
WRONG = r"""
L = \operatorname{tr}(A X B) \\
\mathrm{d}L = \operatorname{tr}(A\, \mathrm{d}X\, B) \\
= \operatorname{tr}(A B\, \mathrm{d}X) \\
\nabla L = (AB)^\top
"""


def _run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_a_wrong_line_is_marked_and_exits_1(tmp_path):
    f = tmp_path / "d.tex"
    f.write_text(WRONG)
    code, out, _ = _run("check", str(f), "--wrt", "X:n×n", "--const", "A:n×n", "B:n×n")
    assert code == 1
    marked = [ln for ln in out.splitlines() if ln.startswith(">>")]
    assert len(marked) == 1 and "line 3" in marked[0]
    assert "not cyclic" in out and "counterexample" in out


def test_a_right_derivation_exits_0_and_json(tmp_path):
    f = tmp_path / "d.txt"
    f.write_text("f = x^3\ndf/dx = 3x^2\n")
    code, out, _ = _run("check", str(f), "--wrt", "x", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data[0]["holds"] is True and [ln["holds"] for ln in data[0]["lines"]] == [True, True]


def test_bad_input_exits_2_with_one_line(tmp_path):
    f = tmp_path / "d.txt"
    f.write_text("f = __import__('os')\n")
    code, out, err = _run("check", str(f), "--wrt", "x")
    assert code == 2 and err.startswith("symcalc: error:") and "Traceback" not in err


def test_the_example_problem_file_marks_its_wrong_line():
    code, out, _ = _run("check", str(ROOT / "examples" / "wrong_derivation.toml"))
    assert code == 1
    assert any(ln.startswith(">> line 3") for ln in out.splitlines())
    assert "symmetric" in out
