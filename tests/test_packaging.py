"""The built wheel works on its own: imports, ships its templates, runs its CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # build from a copy: setuptools leaves build/ and *.egg-info behind
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "reports", ".hypothesis"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp / "dist"),
            str(source),
        ],
        check=True,
    )
    (wheel,) = (tmp / "dist").glob("symcalc-*.whl")
    target = tmp / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    return target


def _run(target, code):
    env = dict(os.environ, PYTHONPATH=str(target))
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=target.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_wheel_imports_from_site_packages_not_the_checkout(installed):
    out = _run(
        installed,
        "import symcalc, sympy as sp; x = sp.Symbol('x');"
        "print(symcalc.__file__); print(symcalc.gradient(x**3, [x])[0])",
    )
    assert out.returncode == 0, out.stderr
    path, grad = out.stdout.split()
    assert path.startswith(str(installed))
    assert grad == "3*x**2"


def test_wheel_ships_the_jinja_templates(installed):
    out = _run(
        installed,
        "import importlib.resources as r;"
        "print(sorted(p.name for p in r.files('symcalc.templates').iterdir()))",
    )
    assert out.returncode == 0, out.stderr
    assert "report.tex.j2" in out.stdout


def test_import_is_fast_and_light(installed):
    code = (
        "import sys, time; t = time.perf_counter(); import symcalc; dt = time.perf_counter() - t;"
        "heavy = [m for m in ('jax', 'torch', 'matplotlib', 'sympy', 'symengine') if m in sys.modules];"
        "print(dt, heavy)"
    )
    out = _run(installed, code)
    assert out.returncode == 0, out.stderr
    assert "[]" in out.stdout  # the package imports nothing heavy until a name is used


def test_version_is_written_once(installed):
    """pyproject.toml reads the version from symcalc/__init__.py: the wheel's metadata agrees."""
    out = _run(
        installed,
        "import importlib.metadata as m, symcalc; print(m.version('symcalc'), symcalc.__version__)",
    )
    assert out.returncode == 0, out.stderr
    meta, package = out.stdout.split()
    assert meta == package
    assert (
        "version =" not in (ROOT / "pyproject.toml").read_text().split("[project]")[1].split("[")[0]
    )
