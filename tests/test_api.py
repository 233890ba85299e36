"""The public API: every name resolves, and stage functions stay functions."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import symcalc as sc


@pytest.mark.parametrize("name", sorted(sc._API))
def test_every_public_name_resolves(name):
    assert getattr(sc, name) is not None


def test_stage_functions_stay_functions_after_their_modules_are_imported():
    code = ("import symcalc.derive, symcalc.compile, symcalc.verify, symcalc.report, symcalc.parse\n"
            "import symcalc as sc, types\n"
            "bad = [n for n in ('derive', 'compile', 'verify', 'report', 'parse')"
            " if isinstance(getattr(sc, n), types.ModuleType)]\n"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert importlib.import_module("symcalc.compile").__name__ == "symcalc.compile"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'gradiant'"):
        sc.gradiant  # noqa: B018
