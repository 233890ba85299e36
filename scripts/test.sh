#!/usr/bin/env bash
# Set up a virtual environment with symcalc and its test extras, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q ".[test]"
python -m pytest -q -p no:cacheprovider tests notebooks --nbmake-timeout=600
