#!/usr/bin/env bash
# Set up a virtual environment with symcalc and its test extras, then run the whole suite
# (unit and property tests, the doctests, the examples' PDF builds, and the notebooks).
set -euo pipefail
cd "$(dirname "$0")/.."
SYMCALC_EXTRAS="[test]" . scripts/venv.sh
ruff check symcalc tests benchmarks scripts
ruff format --check symcalc tests benchmarks scripts
mypy
python -m pytest -q -p no:cacheprovider --doctest-modules --nbmake --nbmake-timeout=600 symcalc tests notebooks
