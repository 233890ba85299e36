#!/usr/bin/env bash
# The main job: install what is needed, then build the derivation report (PDF) of every
# bundled example (examples/*.toml) into reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q .
python scripts/build_reports.py --out reports/ "$@"
echo "Reports written to $(pwd)/reports/"
