#!/usr/bin/env bash
# Set up a virtual environment with symcalc and its test extras, then run the whole suite
# (unit tests, doctests of the package, and the notebooks through nbmake).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q ".[test]"
python -m pytest -q -p no:cacheprovider --nbmake --nbmake-timeout=600 tests notebooks
