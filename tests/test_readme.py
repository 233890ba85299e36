"""The README's Python examples run as written, and say what they print."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_examples_run_and_print_what_their_comments_say():
    blocks = _python_blocks()
    assert len(blocks) >= 2
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks:  # the project's own documentation, not user input
            exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    printed = out.getvalue().split()
    assert printed == ["minimum", "True", "True"]
    assert (
        str(namespace["sc"].gradient(namespace["logp"], namespace["x"])) == "-Sigma**(-1)*(-mu + x)"
    )
    assert namespace["d"].all_checks_passed
